"""Where label files live (``vad_core.labels.locations``) and the ``vad`` commands that find them."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad_core.cli.main import main
from vad_core.errors import LabelFileError
from vad_core.inference.scores_file import write_scores
from vad_core.labels.document import LabelDocument, LabelInterval, VideoInfo
from vad_core.labels.locations import (
    find_label_file,
    label_location,
    resolve_label_argument,
    safe_stem,
)
from vad_core.labels.store import save_document

FRAMES = 12


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VAD_REVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@contextmanager
def read_only(folder: Path):
    os.chmod(folder, 0o555)
    try:
        yield
    finally:
        os.chmod(folder, 0o755)


def frame_folder(parent: Path, name: str = "01") -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    for i in range(FRAMES):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((16, 16), 10 * i, np.uint8))
    return folder


def labels_doc(name: str, *spans: tuple[int, int]) -> LabelDocument:
    intervals = [LabelInterval(f"a{n}", start, end) for n, (start, end) in enumerate(spans, 1)]
    return LabelDocument(VideoInfo(name, frame_count=FRAMES), intervals)


def test_labels_of_a_writable_folder_live_beside_the_video(tmp_path, home):
    video = tmp_path / "clip.avi"
    assert label_location(video, "clip.avi") == (tmp_path / "clip.labels.json", None)
    clip = frame_folder(tmp_path / "frames")
    assert label_location(clip)[0] == tmp_path / "frames" / "01.labels.json"


def test_labels_of_a_read_only_video_folder_go_to_the_data_folder(tmp_path, home):
    videos = tmp_path / "dataset"
    videos.mkdir()
    video = videos / "clip.avi"
    video.write_bytes(b"")
    beside = videos / "clip.labels.json"
    save_document(labels_doc("clip.avi", (2, 5)), beside)
    with read_only(videos):
        path, seed = label_location(video, "clip.avi")
    assert path.parent == home / "data" / "labels" and path.name.startswith("clip-")
    assert seed == beside
    assert label_location(video, "clip.avi") == (beside, None)  # writable again: beside the video


def test_two_read_only_clips_of_the_same_name_do_not_share_a_label_file(tmp_path, home):
    first, second = frame_folder(tmp_path / "a" / "frames"), frame_folder(tmp_path / "b" / "frames")
    with read_only(first.parent), read_only(second.parent):
        one, two = label_location(first)[0], label_location(second)[0]
    assert one != two and one.parent == two.parent == home / "data" / "labels"


def test_a_video_without_a_file_is_named_by_its_title(home):
    assert label_location(None, "demo (synthetic)") == (
        home / "data" / "labels" / "demo_synthetic.labels.json",
        None,
    )
    assert safe_stem("../..") == "video"


def test_find_label_file_prefers_the_windows_copy_over_the_read_only_seed(tmp_path, home):
    clip = frame_folder(tmp_path / "frames")
    beside = tmp_path / "frames" / "01.labels.json"
    save_document(labels_doc("01", (1, 3)), beside)
    with read_only(clip.parent):
        assert find_label_file(clip) == beside  # nothing written yet: the seed
        saved, _ = label_location(clip)
        save_document(labels_doc("01", (4, 9)), saved)
        assert find_label_file(clip) == saved
    assert find_label_file(tmp_path / "nothing.avi") is None


def test_a_label_argument_may_be_a_video(tmp_path, home):
    clip = frame_folder(tmp_path / "frames")
    label_file = tmp_path / "x.labels.json"
    assert resolve_label_argument(label_file) == label_file  # a label file stays what it is
    assert resolve_label_argument(tmp_path) == tmp_path  # a folder without frames: a folder of label files
    with pytest.raises(
        LabelFileError, match=r"01: no label file for this video \(looked for .*01.labels.json"
    ):
        resolve_label_argument(clip)
    save_document(labels_doc("01", (1, 3)), tmp_path / "frames" / "01.labels.json")
    assert resolve_label_argument(clip) == tmp_path / "frames" / "01.labels.json"


def test_vad_labels_finds_what_the_window_wrote_for_a_read_only_dataset_clip(tmp_path, home, capsys):
    clip = frame_folder(tmp_path / "dataset" / "testing")
    with read_only(clip.parent):
        saved, seed = label_location(clip, "01")  # what the review window saves to
        assert seed is None and saved.parent == home / "data" / "labels"
        save_document(labels_doc("01", (2, 6)), saved)

        assert main(["labels", "where", str(clip)]) == 0
        where = capsys.readouterr().out
        assert f"label file   {saved} (exists)" in where

        assert main(["labels", "show", str(clip)]) == 0
        shown = capsys.readouterr().out
        assert f"label file   {saved}" in shown and "1 interval(s), 4 of 12 frames anomalous" in shown

        out = tmp_path / "01.csv"
        assert main(["labels", "export", str(clip), "--out", str(out)]) == 0
        assert out.read_text().splitlines()[1].split(",")[3:5] == ["2", "5"]


def test_vad_eval_takes_the_labels_the_window_keeps_for_a_video(tmp_path, home, capsys):
    clip = frame_folder(tmp_path / "dataset" / "testing")
    errors = np.full(FRAMES, 0.1, np.float32)
    errors[2:6] = 1.0
    scores = write_scores(tmp_path / "scores" / "01", errors, meta={"name": "01", "source": str(clip)})
    with read_only(clip.parent):
        save_document(labels_doc("01", (2, 6)), label_location(clip)[0])
        assert main(["eval", str(scores), "--labels", str(clip)]) == 0
    table = capsys.readouterr().out
    assert "01" in table and "100.0" in table  # the flagged frames are exactly the labelled ones


def test_vad_labels_show_of_a_video_without_labels_names_it(tmp_path, home, capsys):
    clip = frame_folder(tmp_path / "frames")
    assert main(["labels", "show", str(clip)]) != 0
    assert "no label file for this video" in capsys.readouterr().err
