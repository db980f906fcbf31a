"""The live view: opens from the review window, shows the stream, alerts and records events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from live_fixtures import calibrated_demo_checkpoint
from PySide6.QtCore import Qt, QTimer

from vad_core.datasets.synthetic import make_demo_clip
from vad_core.live import read_journal
from vad_core.live.loopback import MjpegServer


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    return calibrated_demo_checkpoint("frame", tmp_path_factory.mktemp("model"), clips=1)


class StallMeter:
    """The longest gap between ticks of a 10 ms timer: how long the GUI thread was kept busy."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.monotonic()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self._last)
        self._last = now


def test_live_view_shows_the_stream_alerts_and_opens_recorded_incidents(
    qtbot, window, calibrated: Path, tmp_path: Path
) -> None:
    clip = make_demo_clip(length=200)
    with MjpegServer(clip.frames, fps=25.0) as server:
        live = window.live.watch(server.url, model=str(calibrated), out=tmp_path / "watch")
        qtbot.addWidget(live)
        meter = StallMeter()
        qtbot.waitUntil(lambda: live.state_label.text().startswith("connected"), timeout=20_000)
        qtbot.waitUntil(lambda: live.alerts >= 1, timeout=20_000)
        flashed = "e53935" in live.events.styleSheet()
        qtbot.waitUntil(lambda: _written_row(live) is not None, timeout=20_000)
        meter.timer.stop()
        assert flashed  # the panel flashed when the event opened
        assert len(live.curve.getData()[0]) > 50 and live.video.frame_item.image is not None
        row = _written_row(live)
        live.events.itemDoubleClicked.emit(row)
        assert window.session.source is not None
        assert window.session.source.name == Path(row.data(Qt.ItemDataRole.UserRole)).name
        assert live.stop()
    print(f"longest GUI stall while watching: {meter.longest * 1000:.0f} ms")
    assert meter.longest < 0.5
    kinds = [record["kind"] for record in read_journal(tmp_path / "watch" / "events.jsonl")]
    assert "event" in kinds and "stream ended" in kinds  # a clip closed by the stop may follow it


def _written_row(live):
    for number in range(live.events.count()):
        item = live.events.item(number)
        if item.data(Qt.ItemDataRole.UserRole):
            return item
    return None
