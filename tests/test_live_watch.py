"""``vad watch`` over the loopback MJPEG server: events with clips, gaps, a kill mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from live_fixtures import calibrated_demo_checkpoint

from vad_core.datasets.synthetic import make_demo_clip
from vad_core.live import WatchConfig, WatchSession, read_journal
from vad_core.live.loopback import MjpegServer

REPO = Path(__file__).resolve().parents[1]
FPS = 25.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """The bundled BCAE1 demo checkpoint with a calibration record (frame model, fast)."""
    return calibrated_demo_checkpoint("frame", tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def demo():
    """A 200-frame demo clip (8 s at 25 fps): anomalies at frames 30-69, 80-119 and 130-169."""
    return make_demo_clip(length=200)


def planted(labels: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.r_[0, labels.astype(int), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def test_watch_catches_the_planted_anomalies_as_events_with_clips_including_pre_roll(
    checkpoint: Path, demo, tmp_path: Path
) -> None:
    out = tmp_path / "watch"
    config = WatchConfig(pre_roll=1.0, post_roll=0.5)
    with MjpegServer(demo.frames, fps=FPS) as server:
        session = WatchSession([f"door={server.url}"], checkpoint, out, config, device="cpu")
        session.run(duration=len(demo.frames) / FPS + 0.5)
        offset = server.frame_at(session.workers[0].source.first_arrival)
    events = [r for r in read_journal(out / "events.jsonl") if r["kind"] == "event"]
    assert events, read_journal(out / "events.jsonl")
    caught = set()
    for event in events:
        start, end = event["start_frame"] + offset, event["end_frame"] + offset + 1
        hits = [k for k, (a, b) in enumerate(planted(demo.labels)) if a - 5 < end and start < b + 5]
        assert hits, f"false alarm at clip frames {start}-{end}"
        caught.update(hits)
        clip, sidecar = Path(event["clip"]), json.loads(Path(event["sidecar"]).read_text())
        capture = cv2.VideoCapture(str(clip))
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        assert clip.is_file() and frames == sidecar["clip_range"]["frames"]
        assert event["pre_roll_frames"] == 25 and sidecar["stream"]["pre_roll_frames"] == 25
        assert sidecar["format"] == "vad-review incident"
        assert event["stream"] == "door" and clip.parent.name == "door"
    assert {0, 2} <= caught  # the square (spatial) and the fast square (spatio-temporal) anomalies


def test_server_stopped_and_restarted_mid_run_gives_a_recorded_gap_and_the_run_goes_on(
    checkpoint: Path, demo, tmp_path: Path
) -> None:
    out = tmp_path / "watch"
    from vad_core.sources.live import Backoff

    server = MjpegServer(demo.frames, fps=FPS).start()
    session = WatchSession(
        [server.url], checkpoint, out, WatchConfig(), device="cpu", backoff=Backoff(0.1, 0.5)
    )

    def outage() -> None:
        time.sleep(2.0)
        server.stop()
        time.sleep(1.5)
        server.start()

    cut = threading.Thread(target=outage)
    cut.start()
    try:
        session.run(duration=6.0)
    finally:
        cut.join()
        server.stop()
    journal = read_journal(out / "events.jsonl")
    gaps = [r for r in journal if r["kind"] == "gap"]
    assert len(gaps) == 1, journal
    gap = gaps[0]
    assert 1.2 < gap["seconds"] < 3.5 and gap["frames_lost"] >= 25
    ended = next(r for r in journal if r["kind"] == "stream ended")
    assert ended["frames"] > gap["next_frame"] + 25  # frames kept coming after the gap
    assert ended["gaps"] == 1


def test_killed_watch_leaves_events_jsonl_loadable(checkpoint: Path, demo, tmp_path: Path) -> None:
    out = tmp_path / "watch"
    with MjpegServer(demo.frames, fps=FPS) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        command = [
            sys.executable,
            "-m",
            "vad_core",
            "watch",
            server.url,
            "--model",
            str(checkpoint),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--pre-roll",
            "0.5",
            "--post-roll",
            "0.2",
            "--quiet",
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if any(r["kind"] == "event" for r in read_journal(out / "events.jsonl")):
                    break
                time.sleep(0.1)
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert records[0]["kind"] == "stream started"
    assert any(r["kind"] == "event" for r in records)
    assert "stream ended" not in [r["kind"] for r in records]  # it really was killed mid-run


def test_ctrl_c_ends_watch_cleanly_and_finishes_the_clip_being_written(
    checkpoint: Path, demo, tmp_path: Path
) -> None:
    out = tmp_path / "watch"
    with MjpegServer(demo.frames, fps=FPS) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        command = [
            sys.executable,
            "-m",
            "vad_core",
            "watch",
            server.url,
            "--model",
            str(checkpoint),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--post-roll",
            "5",
            "--quiet",
        ]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:  # interrupt while the first event is open
                if any(r["kind"] == "alert" for r in read_journal(out / "events.jsonl")):
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            summary, _ = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0
    journal = read_journal(out / "events.jsonl")
    events = [r for r in journal if r["kind"] == "event"]
    assert "stream ended" in [r["kind"] for r in journal] and events
    assert all(Path(r["clip"]).is_file() and Path(r["sidecar"]).is_file() for r in events)
    assert f"{len(events)} event(s)" in summary
