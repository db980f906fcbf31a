"""Incident export: clips read back with OpenCV, sidecars, contact sheets, safe names, cancelling."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import vad_core.export.clips as clips_module
from vad_core.errors import ExportError
from vad_core.export import (
    ExportConfig,
    ExportInputs,
    Incident,
    export_clip,
    export_incidents,
    key_frames,
    run,
    safe_name,
    select_incidents,
)
from vad_core.labels import LabelDocument, VideoInfo, add_interval, reject_event
from vad_core.scoring import Event, ScoringConfig
from vad_core.sources import ArraySource, VideoFileSource

FPS = 10.0
N = 60


def moving_square(frames: int = N, height: int = 48, width: int = 64) -> np.ndarray:
    video = np.full((frames, height, width), 40, np.uint8)
    for t in range(frames):
        x = (t * 2) % (width - 8)
        video[t, 10:18, x : x + 8] = 220
    return video


@pytest.fixture
def source() -> ArraySource:
    return ArraySource(moving_square(), fps=FPS, name="cam")


@pytest.fixture
def inputs() -> ExportInputs:
    score = np.zeros(N)
    score[20:30] = np.linspace(0.6, 1.0, 10)
    maps = np.zeros((N, 12, 16), np.float16)
    maps[20:30, 2:5, 4:8] = 1.0
    meta = {"model": "BCAE1", "checkpoint_sha256": "c" * 64}
    return ExportInputs(score=score, maps=maps, meta=meta, operator="ana", operator_note="check gate")


def read_back(path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    count, size = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        size = frame.shape[:2]
    capture.release()
    return count, size


def test_exported_clip_has_the_requested_frames_and_size(tmp_path, source, inputs):
    incident = Incident(20, 30, peak_frame=29, peak_score=1.0, tag="bike")
    config = ExportConfig(pad_before=0.5, pad_after=1.0, overlay=True)
    progress = []
    result = run(export_clip(source, incident, tmp_path, inputs, config), progress.append)
    assert (result.first_frame, result.end_frame) == (15, 40)  # 5 frames before, 10 after
    assert result.clip.name == "incident_0001_f20-29_bike.mp4" and result.codec == "mp4v"
    assert read_back(result.clip) == (25, (48, 64))
    assert progress[-1].stage == "finished" and progress[-1].fraction == 1.0
    assert [p.done for p in progress if p.stage == "writing"] == [0, 25]


def test_padding_is_cut_at_the_ends_of_the_video(tmp_path, source):
    result = run(
        export_clip(source, Incident(2, 5), tmp_path, config=ExportConfig(pad_before=5, pad_after=6))
    )
    assert (result.first_frame, result.end_frame) == (0, N)
    assert read_back(result.clip)[0] == N


def test_avi_fallback_when_the_mp4_codec_is_missing(tmp_path, source, monkeypatch):
    monkeypatch.setitem(clips_module.CODECS, "mp4", (("XXXX", ".mp4"), ("MJPG", ".avi")))
    result = run(
        export_clip(source, Incident(10, 20), tmp_path, config=ExportConfig(pad_before=0, pad_after=0))
    )
    assert result.clip.suffix == ".avi" and result.codec == "MJPG"
    assert read_back(result.clip) == (10, (48, 64))
    assert not list(tmp_path.glob(".*"))  # no partial files left behind


def test_odd_frame_sizes_are_padded_to_even(tmp_path):
    source = ArraySource(moving_square(12, 47, 63), fps=FPS, name="odd")
    result = run(
        export_clip(source, Incident(0, 12), tmp_path, config=ExportConfig(pad_before=0, pad_after=0))
    )
    assert result.frame_size == (48, 64)
    assert read_back(result.clip) == (12, result.frame_size)


def test_sidecar_records_source_range_model_scores_labels_and_note(tmp_path, inputs):
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 48), True)
    for frame in moving_square():
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    source = VideoFileSource(video)
    labels = LabelDocument(VideoInfo(name="cam", frame_count=N, fps=FPS))
    labels.apply(add_interval(labels, 22, 28, tag="bike", author="ana"))
    inputs.labels = labels
    (result,) = run(
        export_incidents(
            source,
            [Incident.from_interval(labels.intervals[0], inputs.score)],
            tmp_path / "out",
            inputs,
            ExportConfig(pad_before=0.2, pad_after=0.2),
        )
    )
    record = json.loads(result.sidecar.read_text())
    assert record["format"] == "vad-review incident" and record["clip"] == result.clip.name
    assert record["source"]["path"] == str(video) and len(record["source"]["sha256"]) == 64
    assert record["incident"]["start_frame"] == 22 and record["incident"]["end_frame"] == 27
    assert record["incident"]["peak_frame"] == 27 and record["incident"]["decision"] == "accepted"
    assert record["clip_range"]["start_frame"] == 20 and record["clip_range"]["end_frame"] == 29
    assert record["clip_range"]["start_time"] == "00:00:02.000"
    assert record["model"]["checkpoint_sha256"] == "c" * 64
    assert len(record["scores"]) == 10 and record["labels"]["frames"] == [0, 0] + [1] * 6 + [0, 0]
    assert record["labels"]["intervals"][0]["tag"] == "bike"
    assert record["operator"] == {"name": "ana", "note": "check gate"}


def test_contact_sheet_is_a_grid_of_key_frames_including_the_peak(tmp_path, source, inputs):
    incident = Incident(20, 30, peak_frame=27, peak_score=0.9)
    assert key_frames(incident, 8) == [20, 21, 23, 24, 25, 27, 28, 29]
    assert 27 in key_frames(Incident(0, 100, peak_frame=27), 8)
    assert key_frames(Incident(5, 7), 8) == [5, 6]
    config = ExportConfig(pad_before=0, pad_after=0, sheet_tile_width=100)
    result = run(export_clip(source, incident, tmp_path, inputs, config))
    sheet = cv2.imread(str(result.sheet))
    tile_height = round(48 * 100 / 64)
    assert sheet.shape == (30 + 2 * (tile_height + 22), 4 * 100, 3)


def test_names_never_overwrite_and_tags_cannot_escape_the_folder(tmp_path, source):
    out = tmp_path / "out"
    out.mkdir()
    (out / "incident_0001_f10-19.mp4").write_bytes(b"someone else's file")
    evil = Incident(10, 20, tag="../../etc/passwd")
    config = ExportConfig(pad_before=0, pad_after=0, contact_sheet=False)
    first = run(export_clip(source, Incident(10, 20), out, config=config))
    assert first.clip.name == "incident_0001_f10-19-2.mp4"
    assert (out / "incident_0001_f10-19.mp4").read_bytes() == b"someone else's file"
    second = run(export_clip(source, evil, out, config=config))
    assert second.clip.parent == out and second.clip.name == "incident_0001_f10-19_etc_passwd.mp4"
    assert {p.parent for p in out.iterdir()} == {out}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bike", "bike"),
        ("../../etc/passwd", "etc_passwd"),
        ("/abs/path", "abs_path"),
        ("C:\\Windows\\evil", "C_Windows_evil"),
        ("..", ""),
        ("tab\tnew\nline\x00", "tab_new_line"),
        ("Crème brûlée", "Creme_brulee"),
        ("x" * 100, "x" * 40),
    ],
)
def test_safe_name(text, expected):
    assert safe_name(text) == expected


def test_cancelling_removes_partial_files(tmp_path, source):
    generator = export_clip(source, Incident(0, N), tmp_path, config=ExportConfig(chunk=8))
    next(generator)
    next(generator)  # some frames written
    generator.close()
    assert list(tmp_path.iterdir()) == []


def test_scores_of_another_length_are_refused(tmp_path, source):
    with pytest.raises(ExportError, match="scores have 10 frames, the video has 60"):
        run(export_clip(source, Incident(0, 5), tmp_path, ExportInputs(score=np.zeros(10))))
    with pytest.raises(ExportError, match="outside the video"):
        run(export_clip(source, Incident(50, 70), tmp_path))


def test_select_incidents_accepted_flagged_and_all(inputs):
    doc = LabelDocument(VideoInfo(name="cam", frame_count=N))
    doc.apply(add_interval(doc, 22, 26, tag="bike"))
    doc.apply(reject_event(doc, Event(45, 50, 47, 0.7)))
    score = inputs.score.copy()
    score[45:50] = 0.9
    scoring = ScoringConfig(threshold=0.5, min_duration=1, merge_gap=0)
    accepted = select_incidents("accepted", doc, score)
    assert [(i.start, i.end, i.kind, i.tag, i.peak_frame) for i in accepted] == [
        (22, 26, "label", "bike", 25)
    ]
    flagged = select_incidents("flagged", doc, score, scoring)
    assert [(i.start, i.end, i.decision) for i in flagged] == [(20, 30, None), (45, 50, "rejected")]
    assert [(i.start, i.end) for i in select_incidents("all", doc, score, scoring)] == [(22, 26)]
    with pytest.raises(ExportError, match="needs a label file"):
        select_incidents("accepted", None, score)


def test_batch_export_numbers_incidents_and_reports_overall_progress(tmp_path, source, inputs):
    incidents = [Incident(5, 10), Incident(20, 30), Incident(40, 45)]
    progress = []
    results = run(
        export_incidents(source, incidents, tmp_path, inputs, ExportConfig(pad_before=0, pad_after=0)),
        progress.append,
    )
    assert [r.clip.name for r in results] == [
        "incident_0001_f5-9.mp4",
        "incident_0002_f20-29.mp4",
        "incident_0003_f40-44.mp4",
    ]
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [read_back(r.clip)[0] for r in results] == [5, 10, 5]


def test_caption_outline_is_not_a_second_wider_copy_of_the_text():
    from vad_core.export.rendering import _text

    image = np.full((40, 400, 3), 128, np.uint8)
    _text(image, "frame 31  1.24 s  anomaly 0.53  peak", (4, 25), 0.42)
    columns_white = np.flatnonzero((image > 200).all(axis=2).any(axis=0))
    columns_dark = np.flatnonzero((image < 60).all(axis=2).any(axis=0))
    assert columns_dark.max() <= columns_white.max() + 2  # the thicker outline ran ~4 px past the text


def test_sidecar_names_the_score_and_the_threshold_rule_it_was_flagged_by(tmp_path, source, inputs):
    inputs.meta = {
        **inputs.meta,
        "scoring": {"threshold": 0.6, "score": "error", "min_duration": 5, "merge_gap": 5},
    }
    (result,) = run(
        export_incidents(source, [Incident(20, 30, peak_frame=29, peak_score=1.0)], tmp_path, inputs)
    )
    scoring = json.loads(result.sidecar.read_text())["scoring"]
    assert scoring["rule"] == "anomaly score >= 0.60, inside an event" and scoring["threshold"] == 0.6
    assert scoring["score"].startswith("anomaly score = 1 - smoothed regularity s(t)")
    assert scoring["frame_ranges"] == "start_frame and end_frame inclusive"
