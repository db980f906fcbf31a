"""The live view (File > Watch stream… in the review window): one stream scored as it arrives.

The picture with the heatmap overlay (:class:`app.widgets.video_view.VideoView`), a scrolling curve
of the causal score over the last minute with the threshold line, the event list that grows (an
alert row when an event opens, completed when it closes and its clip is written; double-click a
written one to open the clip in the review window), the connection state, and a red flash of the
picture and the list when an event opens. The watch run is the engine's generator
(:func:`vad_core.live.monitor.watch_updates`) on the app's :class:`Worker`: the GUI thread only
paints the updates it yields, at most ten a second, and never waits on the stream. Closing the
window cancels the worker, which stops the run and finishes the clips being written.

Example::

    window = LiveWindow("http://127.0.0.1:8080/stream.mjpg", "bcae1.safetensors", "watch/")
    window.show()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.jobs.worker import Worker, WorkerPool
from app.theme import PLOT_BACKGROUND
from app.widgets.video_view import VideoView

CURVE_FRAMES = 1500  # one minute at 25 frames/s
FLASH_MS = 700
STATE_COLOURS = {
    "connected": "#2e7d32",
    "reconnecting": "#ef6c00",
    "connecting": "#ef6c00",
    "ended": "#616161",
}


class LiveWindow(QMainWindow):
    """Watches one stream (see the module docstring)."""

    def __init__(
        self,
        source: str,
        model: str | Path,
        out: str | Path,
        config=None,
        open_clip: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Watching {source}")
        self.source, self.model, self.out, self.config = source, model, Path(out), config
        self.open_clip = open_clip
        self.pool = WorkerPool(max_threads=1, parent=self)
        self.worker: Worker | None = None
        self.alert_rows: dict[tuple[str, int], QListWidgetItem] = {}
        self.alerts = 0
        self.failure = ""
        self._indices = np.full(CURVE_FRAMES, np.nan)
        self._scores = np.full(CURVE_FRAMES, np.nan)
        self._build()
        self.resize(1100, 700)

    # -- widgets ---------------------------------------------------------------------------------
    def _build(self) -> None:
        from vad_core.live.stream_worker import WatchConfig

        threshold = (self.config or WatchConfig()).threshold
        self.state_label = QLabel("connecting…")
        self.status_label = QLabel("")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.video = VideoView()
        self.plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        self.plot.setLabel("left", "causal score")
        self.plot.setLabel("bottom", "frame")
        self.plot.setMinimumHeight(140)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#4fc3f7", width=1.5), connect="finite")
        self.threshold_line = pg.InfiniteLine(
            pos=threshold, angle=0, pen=pg.mkPen("#e53935", style=Qt.PenStyle.DashLine)
        )
        self.plot.addItem(self.threshold_line)
        self.events = QListWidget()
        self.events.itemDoubleClicked.connect(self._open_item)
        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self.state_label)
        column.addWidget(self.video, 3)
        column.addWidget(self.plot, 1)
        column.addWidget(self.status_label)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.events)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([800, 380])
        self.setCentralWidget(splitter)

    # -- the run ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching on the worker thread (checkpoint loading included)."""
        from vad_core.live.monitor import watch_updates

        source, model, out, config = self.source, self.model, self.out, self.config
        self.worker = Worker(lambda: watch_updates([source], model, out, config), name="watch")
        self.worker.signals.chunk.connect(self._show)
        self.worker.signals.failed.connect(self._failed)
        self.pool.start(self.worker)

    def stop(self, timeout_ms: int = 15_000) -> bool:
        """Cancel the run and wait for it to finish its clips (closing, tests)."""
        if self.worker is None:
            return True
        self.worker.cancel()
        return self.pool.shutdown(timeout_ms)

    def closeEvent(self, event) -> None:  # Qt's name
        self.stop()
        super().closeEvent(event)

    # -- painting updates (GUI thread) -----------------------------------------------------------
    def _show(self, updates) -> None:
        for update in updates:
            self._set_state(update.state, update.gaps)
            self.status_label.setText(update.status)
            if update.frame is not None:
                self.video.set_frame(update.frame)
                self.video.set_overlay(update.overlay)
            self._extend_curve(update.scores)
            for change in update.changes:
                self._event_changed(update.stream, change)
            for clip in update.clips:
                self._clip_written(clip)

    def _set_state(self, state: str, gaps: int) -> None:
        text = state + (f" · {gaps} gap(s) recorded" if gaps else "")
        colour = STATE_COLOURS.get(state, "#616161")
        self.state_label.setText(text)
        self.state_label.setStyleSheet(f"color: white; background: {colour}; padding: 2px 6px;")

    def _extend_curve(self, scores: list[tuple[int, float]]) -> None:
        if not scores:
            return
        new = np.asarray(scores, np.float64)[-CURVE_FRAMES:]
        keep = CURVE_FRAMES - len(new)
        self._indices = np.concatenate([self._indices[len(new) :], new[:, 0]]) if keep else new[:, 0]
        self._scores = np.concatenate([self._scores[len(new) :], new[:, 1]]) if keep else new[:, 1]
        shown = np.isfinite(self._indices)
        self.curve.setData(self._indices[shown], self._scores[shown], connect="finite")

    def _event_changed(self, stream: str, change) -> None:
        event = change.event
        key = (stream, event.start)
        item = self.alert_rows.get(key)
        if item is None:
            item = QListWidgetItem()
            self.events.insertItem(0, item)
            self.alert_rows[key] = item
        if change.kind == "opened":
            self.alerts += 1
            item.setText(f"ALERT  frame {event.start}  peak {event.peak_score:.2f}")
            self._flash(item)
        else:
            item.setText(
                f"event  frames {event.start}-{event.end - 1}  peak {event.peak_score:.2f}  (writing clip)"
            )

    def _clip_written(self, clip: dict) -> None:
        item = self.alert_rows.get((clip["stream"], clip["start_frame"]))
        if item is None:
            return
        item.setText(
            f"event  frames {clip['start_frame']}-{clip['end_frame']}  peak {clip['peak_score']:.2f}"
            f"  {clip['start_time']}  clip: {Path(clip['clip']).name}"
        )
        item.setData(Qt.ItemDataRole.UserRole, clip["clip"])

    def _flash(self, item: QListWidgetItem) -> None:
        item.setBackground(QColor("#c62828"))
        self.events.setStyleSheet("QListWidget { border: 3px solid #e53935; }")
        self.video.setStyleSheet("border: 3px solid #e53935;")
        QTimer.singleShot(FLASH_MS, lambda: self._unflash(item))

    def _unflash(self, item: QListWidgetItem) -> None:
        item.setBackground(QColor(0, 0, 0, 0))
        self.events.setStyleSheet("")
        self.video.setStyleSheet("")

    def _open_item(self, item: QListWidgetItem) -> None:
        clip = item.data(Qt.ItemDataRole.UserRole)
        if clip and self.open_clip is not None:
            self.open_clip(str(clip))

    def _failed(self, message: str) -> None:
        self.failure = message
        self.state_label.setText(f"stopped: {message}")
        self.state_label.setStyleSheet("color: white; background: #b71c1c; padding: 2px 6px;")
