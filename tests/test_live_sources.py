"""Live frame sources without a network: a folder frames keep arriving in, a file played in time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad_core.datasets.synthetic import write_frames
from vad_core.errors import SourceError
from vad_core.sources.live import Backoff, LiveFrame, LiveSource


def _write_png(folder: Path, name: str, value: int) -> None:
    cv2.imwrite(str(folder / name), np.full((16, 24), value, np.uint8))


def test_folder_source_hands_out_frames_as_they_arrive_in_natural_order(tmp_path: Path) -> None:
    for number in (2, 10, 1):
        _write_png(tmp_path, f"{number}.png", number)
    source = LiveSource(str(tmp_path))
    source.reader.settle = 0.0
    stop = threading.Event()
    frames = source.stream(stop)
    first = [next(frames) for _ in range(3)]
    assert [int(f.image[0, 0]) for f in first] == [1, 2, 10]
    threading.Timer(0.2, lambda: _write_png(tmp_path, "11.png", 11)).start()
    later = next(frames)
    assert isinstance(later, LiveFrame) and later.index == 3 and int(later.image[0, 0]) == 11
    assert later.arrival - first[-1].arrival >= 0.15  # it arrived when the file did
    stop.set()


def test_video_file_is_played_at_its_own_frame_rate_and_ends(tmp_path: Path) -> None:
    clip = write_frames(np.zeros((10, 32, 32), np.uint8), tmp_path / "clip", fps=25.0, video=True)
    source = LiveSource(str(clip))
    began = time.monotonic()
    frames = [item for item in source.stream(threading.Event()) if isinstance(item, LiveFrame)]
    assert len(frames) == 10 and source.state == "ended"
    assert time.monotonic() - began >= 9 / 25.0 - 0.02
    assert frames[-1].arrival - frames[0].arrival == pytest.approx(9 / 25.0, abs=0.05)


def test_missing_file_fails_at_once_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a camera index"):
        LiveSource(str(tmp_path / "nothing.avi"))


def test_unreachable_stream_keeps_retrying_until_stopped() -> None:
    source = LiveSource("http://127.0.0.1:9/none.mjpg", backoff=Backoff(0.05, 0.1))
    attempts = []
    opening = source.reader.open
    source.reader.open = lambda: (attempts.append(time.monotonic()), opening())
    stop = threading.Event()
    items: list = []
    reading = threading.Thread(target=lambda: items.extend(source.stream(stop)))
    reading.start()
    time.sleep(0.5)
    assert source.state == "connecting" and reading.is_alive()
    stop.set()
    reading.join(timeout=2)
    assert not reading.is_alive() and source.state == "ended"
    assert len(attempts) >= 3 and items == []  # retried with back-off, never failed


def test_a_name_prefix_names_the_stream_and_urls_with_queries_stay_whole() -> None:
    from vad_core.live.session import named_source

    assert named_source("lobby=rtsp://cam/1") == ("lobby", "rtsp://cam/1")
    assert named_source("http://cam/video.mjpg?user=a") == (None, "http://cam/video.mjpg?user=a")
    assert named_source("0") == (None, "0")
