"""``vad labels import/export/show`` and ``vad export-clips``, run through the real ``vad`` entry point."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vad_core.cli.export_cmd import parse_pad
from vad_core.cli.main import main
from vad_core.inference.scores_file import write_scores
from vad_core.labels.store import load_document

FRAMES = 40


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48), True)
    for t in range(FRAMES):
        frame = np.full((48, 64, 3), 50, np.uint8)
        frame[20:28, t : t + 8] = 230
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def scores(tmp_path):
    errors = np.full(FRAMES, 0.1)
    errors[15:25] = 1.0
    maps = np.zeros((FRAMES, 8, 8), np.float32)
    maps[15:25, 2:6, 2:6] = 1.0
    return write_scores(
        tmp_path / "scores" / "gate", errors, maps=maps, meta={"name": "gate", "fps": 10.0, "model": "BCAE1"}
    )


def test_labels_import_show_and_export(tmp_path, video, capsys):
    gt = tmp_path / "UCSDped2.m"
    gt.write_text("TestVideoFile{end+1}.gt_frame = [3:8];\nTestVideoFile{end+1}.gt_frame = [16:25, 31:35];\n")
    labels = tmp_path / "gate.labels.json"
    assert (
        main(["labels", "import", str(gt), "--clip", "2", "--video", str(video), "--out", str(labels)]) == 0
    )
    assert "02" not in capsys.readouterr().out.split(":")[0]  # named after the video
    doc = load_document(labels)
    assert doc.video.name == "gate.avi" and doc.video.frame_count == FRAMES  # the name vad score records
    assert [(i.start, i.end) for i in doc.intervals] == [(15, 25), (30, 35)]

    assert main(["labels", "show", str(labels)]) == 0
    shown = capsys.readouterr().out
    assert "2 interval(s), 15 of 40 frames anomalous" in shown and "15-24" in shown

    assert main(["labels", "export", str(labels), "--out", str(tmp_path / "gate.csv")]) == 0
    assert (tmp_path / "gate.csv").read_text().splitlines()[1].split(",")[3:5] == ["15", "24"]
    assert main(["labels", "export", str(labels), "--out", str(tmp_path / "gate.npy")]) == 0
    assert np.load(tmp_path / "gate.npy").sum() == 15
    capsys.readouterr()
    assert main(["labels", "export", str(labels), "--out", str(tmp_path / "gate.csv")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_labels_import_of_a_multi_clip_file_writes_a_folder(tmp_path, capsys):
    gt = tmp_path / "UCSDped2.m"
    gt.write_text("TestVideoFile{end+1}.gt_frame = [3:8];\nTestVideoFile{end+1}.gt_frame = [16:25];\n")
    out = tmp_path / "labels"
    assert main(["labels", "import", str(gt), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01.labels.json", "02.labels.json"]
    assert "frame counts are unknown" in capsys.readouterr().err


def test_labels_import_refuses_labels_longer_than_the_video(tmp_path, video, capsys):
    csv_path = tmp_path / "gate.csv"
    csv_path.write_text("start_frame,end_frame\n30,45\n")
    assert (
        main(["labels", "import", str(csv_path), "--video", str(video), "--out", str(tmp_path / "x.json")])
        == 2
    )
    assert "runs past the video's 40 frames" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_export_clips_of_accepted_labels_with_overlay(tmp_path, video, scores, capsys):
    labels = tmp_path / "gate.labels.json"
    csv_path = tmp_path / "gate.csv"
    csv_path.write_text("start_frame,end_frame,tag\n15,24,bike/../../x\n")
    assert main(["labels", "import", str(csv_path), "--video", str(video), "--out", str(labels)]) == 0
    out = tmp_path / "incidents"
    argv = [
        "export-clips",
        str(video),
        "--scores",
        str(scores),
        "--labels",
        str(labels),
        "--pad",
        "5f",
        "--overlay",
        "--note",
        "for the guard",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "incident_0001_f15-24_bike_x.json",
        "incident_0001_f15-24_bike_x.mp4",
        "incident_0001_f15-24_bike_x_sheet.png",
    ]
    capture = cv2.VideoCapture(str(out / names[1]))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 20  # 10 frames + 5 before + 5 after
    assert (capture.get(cv2.CAP_PROP_FRAME_HEIGHT), capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == (48, 64)
    capture.release()
    record = json.loads((out / names[0]).read_text())
    assert record["operator"]["note"] == "for the guard" and record["clip_range"]["overlay"] is True
    assert len(record["source"]["sha256"]) == 64
    assert main(argv) == 0  # a second run never replaces the first
    assert len(list(out.glob("*.mp4"))) == 2 and (out / "incident_0001_f15-24_bike_x-2.mp4").is_file()


def test_export_clips_of_flagged_events_and_mismatched_labels(tmp_path, video, scores, capsys):
    out = tmp_path / "flagged"
    assert (
        main(
            [
                "export-clips",
                str(video),
                "--scores",
                str(scores),
                "--events",
                "flagged",
                "--pad",
                "0",
                "--no-sheet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(list(out.glob("*.mp4"))) == 1 and not list(out.glob("*.png"))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros(99, np.uint8))
    assert main(["labels", "import", str(wrong), "--out", str(tmp_path / "wrong.json")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "export-clips",
                str(video),
                "--scores",
                str(scores),
                "--labels",
                str(tmp_path / "wrong.json"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert (
        "labels are for a video 'wrong' of 99 frames, but this video has 40 frames" in capsys.readouterr().err
    )


def test_parse_pad():
    assert (
        parse_pad("2") == (2.0, "s") and parse_pad("1.5s") == (1.5, "s") and parse_pad("50f") == (50.0, "f")
    )
    with pytest.raises(Exception, match="expected seconds"):
        parse_pad("soon")
