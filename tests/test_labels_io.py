"""Import of UCSD .m, Avenue .mat, CSV and per-frame arrays; export to JSON, CSV and .npy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from vad_core.errors import GroundTruthError, LabelFileError
from vad_core.labels import LabelDocument, VideoInfo, add_interval, reject_event
from vad_core.labels.io import (
    csv_text,
    default_label_path,
    export_csv,
    export_json,
    export_labels,
    export_npy,
    import_csv,
    import_labels,
    read_frame_labels,
    select_clip,
)
from vad_core.labels.store import load_document
from vad_core.scoring import Event

UCSD_M = """TestVideoFile = {};
TestVideoFile{end+1}.gt_frame = [61:180];
TestVideoFile{end+1}.gt_frame = [5:20, 95:180];   % two ranges
TestVideoFile{end+1}.gt_frame = [];
"""


@pytest.fixture
def ucsd_m(tmp_path):
    path = tmp_path / "UCSDped2.m"
    path.write_text(UCSD_M)
    return path


def spans(doc: LabelDocument) -> list[tuple[int, int]]:
    return [(i.start, i.end) for i in doc.intervals]


# ------------------------------------------------------------------------------ import
def test_ucsd_m_becomes_one_document_per_clip_with_zero_based_half_open_intervals(ucsd_m):
    docs = import_labels(ucsd_m)
    assert list(docs) == ["01", "02", "03"]
    assert spans(docs["01"]) == [(60, 180)]  # 1-based 61:180 inclusive
    assert spans(docs["02"]) == [(4, 20), (94, 180)]
    assert spans(docs["03"]) == []
    assert all(i.origin == "import" for i in docs["02"].intervals)


def test_ucsd_m_clip_selection_and_video_check(ucsd_m):
    video = VideoInfo(name="Test002", path="Test002", frame_count=180, fps=10.0)
    (doc,) = import_labels(ucsd_m, video=video).values()  # the clip is found from the video's number
    assert spans(doc) == [(4, 20), (94, 180)] and doc.video == video
    assert list(import_labels(ucsd_m, clip="1")) == ["01"]
    with pytest.raises(LabelFileError, match=r"UCSDped2.m: no clip '7' \(clips: 01, 02, 03\)"):
        import_labels(ucsd_m, clip="7")
    short = VideoInfo(name="01", frame_count=150)
    with pytest.raises(
        LabelFileError, match=r"frames 60..179 \(0-based\) run past the end of 01 \(150 frames\)"
    ):
        import_labels(ucsd_m, clip="01", video=short)


def test_malformed_ucsd_m_names_file_and_line(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text("TestVideoFile{end+1}.gt_frame = [61:180];\nTestVideoFile{end+1}.gt_frame = [x];\n")
    with pytest.raises(GroundTruthError, match=r"UCSDped1.m: line 2: cannot read frame range 'x'"):
        import_labels(path)


def test_avenue_label_mat_with_per_frame_labels(tmp_path):
    path = tmp_path / "3_label.mat"
    labels = np.zeros(40)
    labels[10:15] = 1
    labels[30:] = 1
    scipy.io.savemat(path, {"volLabel": labels})
    ((name, doc),) = import_labels(path).items()
    assert name == "03" and spans(doc) == [(10, 15), (30, 40)] and doc.video.frame_count == 40
    with pytest.raises(LabelFileError, match="40 per-frame labels, but the video '03' has 50 frames"):
        import_labels(path, video=VideoInfo(name="03", frame_count=50))


def test_avenue_mat_cell_of_ranges(tmp_path):
    path = tmp_path / "avenue.mat"
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[3, 30], [10, 35]])  # columns [start; end], 1-based inclusive
    cell[0, 1] = np.zeros((0, 0))
    scipy.io.savemat(path, {"gt": cell})
    docs = import_labels(path, format="avenue-mat")
    assert spans(docs["01"]) == [(2, 10), (29, 35)] and spans(docs["02"]) == []


def test_csv_import_reads_inclusive_ends_tags_and_notes(tmp_path):
    path = tmp_path / "clip.csv"
    path.write_text("# exported by hand\nstart,end,tag,note\n10,19,bike,fast rider\n40,40,,one frame\n")
    (doc,) = import_labels(path, video=VideoInfo(name="clip", frame_count=50)).values()
    assert spans(doc) == [(10, 20), (40, 41)]
    assert [(i.tag, i.note) for i in doc.intervals] == [("bike", "fast rider"), ("", "one frame")]


def test_csv_import_with_clip_column_and_errors_naming_the_line(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text("clip,start_frame,end_frame,kind\n01,5,9,anomaly\n02,1,2,normal\n01,20,29,\n")
    docs = import_csv(path)
    assert spans(docs["01"]) == [(5, 10), (20, 30)] and docs["02"].intervals[0].kind == "normal"
    bad = tmp_path / "bad.csv"
    bad.write_text("start_frame,end_frame\n5,9\n12,3\n")
    with pytest.raises(GroundTruthError, match=r"bad.csv: line 3: end_frame 3 is before start_frame 12"):
        import_csv(bad)
    bad.write_text("start_frame,end_frame\n5,nine\n")
    with pytest.raises(GroundTruthError, match=r"line 2: end_frame must be a frame number, found 'nine'"):
        import_csv(bad)
    bad.write_text("from,to\n1,2\n")
    with pytest.raises(GroundTruthError, match="header must name start_frame,end_frame"):
        import_csv(bad)


def test_per_frame_npy_and_txt(tmp_path):
    mask = np.zeros(30, np.uint8)
    mask[3:7] = 1
    np.save(tmp_path / "a.npy", mask)
    (tmp_path / "b.txt").write_text(" ".join(map(str, mask)))
    for name in ("a.npy", "b.txt"):
        (doc,) = import_labels(tmp_path / name).values()
        assert spans(doc) == [(3, 7)] and doc.video.frame_count == 30
    np.save(tmp_path / "c.npy", np.array([0, 2, 1]))
    with pytest.raises(GroundTruthError, match="must be 0 or 1"):
        import_labels(tmp_path / "c.npy")


def test_unknown_extension_asks_for_a_format(tmp_path):
    with pytest.raises(LabelFileError, match="cannot tell the label format from .xlsx"):
        import_labels(tmp_path / "labels.xlsx")


def test_select_clip_matches_numbers_and_names():
    assert select_clip(["01", "02"], "Test002", "f") == "02"
    assert select_clip(["01", "02"], "2", "f") == "02"


# ------------------------------------------------------------------------------ export
@pytest.fixture
def doc() -> LabelDocument:
    doc = LabelDocument(VideoInfo(name="cam1", frame_count=60, fps=10.0))
    doc.apply(add_interval(doc, 10, 20, tag="bike", note='said "hi", left', author="ana"))
    doc.apply(reject_event(doc, Event(30, 35, 32, 0.8)))
    return doc


def test_csv_export_round_trips_and_leaves_negatives_out_by_default(tmp_path, doc):
    assert (
        csv_text(doc).splitlines()[0].startswith("clip,id,kind,start_frame,end_frame,start_s,end_s,tag,note")
    )
    path = export_csv(doc, tmp_path / "cam1.csv")
    back = import_csv(path, video=doc.video)["cam1"]
    assert back.intervals == doc.anomalies
    everything = export_csv(doc, tmp_path / "all.csv", include_negatives=True)
    assert import_csv(everything, video=doc.video)["cam1"].intervals == doc.intervals


def test_npy_and_json_export(tmp_path, doc):
    mask = np.load(export_npy(doc, tmp_path / "cam1.npy"))
    assert mask.dtype == np.uint8 and mask.shape == (60,) and mask.sum() == 10 and mask[10:20].all()
    assert load_document(export_json(doc, tmp_path / "copy.json")) == doc
    assert export_labels(doc, tmp_path / "x.npy").is_file()
    with pytest.raises(LabelFileError, match="use .json, .csv or .npy"):
        export_labels(doc, tmp_path / "x.txt")


def test_export_never_replaces_an_existing_file_unless_forced(tmp_path, doc):
    target = tmp_path / "out.csv"
    target.write_text("precious")
    with pytest.raises(LabelFileError, match="already exists"):
        export_csv(doc, target)
    assert target.read_text() == "precious"
    export_csv(doc, target, force=True)
    assert target.read_text().startswith("clip,")


# ------------------------------------------------------------------------------ per-frame labels for vad eval
def test_read_frame_labels_from_a_document_a_folder_and_a_csv(tmp_path, doc):
    (tmp_path / "labels").mkdir()
    export_json(doc, tmp_path / "labels" / "cam1.labels.json")
    other = LabelDocument(VideoInfo(name="cam2", frame_count=20))
    other.apply(add_interval(other, 0, 5))
    export_json(other, tmp_path / "labels" / "cam2.labels.json")
    single = read_frame_labels(tmp_path / "labels" / "cam1.labels.json")
    assert list(single) == ["cam1"] and single["cam1"].shape == (60,) and single["cam1"].sum() == 10
    folder = read_frame_labels(tmp_path / "labels")
    assert sorted(folder) == ["cam1", "cam2"] and folder["cam2"].sum() == 5
    csv_path = export_csv(doc, tmp_path / "cam1.csv")
    assert read_frame_labels(csv_path, lengths={"cam1": 60})["cam1"].shape == (60,)
    assert read_frame_labels(csv_path)["cam1"].shape == (20,)  # unknown length: ends at the last label


def test_vad_eval_reads_label_documents_through_read_frame_labels(tmp_path, doc):
    from vad_core.cli.eval_cmd import _read_label_file

    path = export_json(doc, tmp_path / "cam1.labels.json")
    assert _read_label_file(str(path))["cam1"].sum() == 10


def test_default_label_path(tmp_path):
    assert default_label_path(tmp_path / "cam.avi").name == "cam.labels.json"
    (tmp_path / "frames" / "01").mkdir(parents=True)
    assert default_label_path(tmp_path / "frames" / "01") == tmp_path / "frames" / "01.labels.json"
