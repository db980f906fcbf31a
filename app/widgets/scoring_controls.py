"""Scoring controls: the event threshold, Savitzky-Golay smoothing, minimum duration and merge gap.

They fill a ``vad_core.scoring.ScoringConfig`` (the same dataclass the CLI fills); the events are
recomputed from the cached errors whenever one changes, no re-scoring needed. The threshold is the
anomaly score ``1 - smoothed s(t)`` at or above which a frame is flagged; the timeline draws it as
the line ``s(t) = 1 - threshold``.

Example::

    controls = ScoringControls(ScoringConfig())
    controls.configChanged.connect(session.set_scoring)
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from vad_core.scoring import ScoringConfig


class ScoringControls(QWidget):
    """Threshold / smoothing / duration / gap; emits a complete ``ScoringConfig``."""

    configChanged = Signal(object)

    def __init__(self, config: ScoringConfig | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = config or ScoringConfig()
        layout = QFormLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.01)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip(
            "Frames whose anomaly score 1 − s(t) is at least this are flagged (drag the red line)"
        )
        layout.addRow("Threshold", self.threshold)
        self.smooth = QSpinBox()
        self.smooth.setRange(1, 151)
        self.smooth.setSingleStep(2)
        self.smooth.setSuffix(" frames")
        self.smooth.setToolTip("Savitzky-Golay window over s(t) (odd; 1 = off; thesis: 15)")
        layout.addRow("Smoothing", self.smooth)
        self.min_duration = QSpinBox()
        self.min_duration.setRange(1, 10_000)
        self.min_duration.setSuffix(" frames")
        self.min_duration.setToolTip("Shorter detections are dropped")
        layout.addRow("Min. length", self.min_duration)
        self.merge_gap = QSpinBox()
        self.merge_gap.setRange(0, 10_000)
        self.merge_gap.setSuffix(" frames")
        self.merge_gap.setToolTip("Detections separated by at most this many frames become one event")
        layout.addRow("Merge gap", self.merge_gap)
        self.set_config(self.config)
        self.threshold.valueChanged.connect(self._changed)
        self.smooth.valueChanged.connect(self._changed)
        self.min_duration.valueChanged.connect(self._changed)
        self.merge_gap.valueChanged.connect(self._changed)

    def set_config(self, config: ScoringConfig) -> None:
        """Show ``config`` without emitting."""
        self.config = config
        for widget, value in (
            (self.threshold, config.threshold),
            (self.smooth, config.smooth_window),
            (self.min_duration, config.min_duration),
            (self.merge_gap, config.merge_gap),
        ):
            with QSignalBlocker(widget):
                widget.setValue(value)

    def _changed(self) -> None:
        window = self.smooth.value()
        if window % 2 == 0:  # Savitzky-Golay needs an odd window
            window += 1
            with QSignalBlocker(self.smooth):
                self.smooth.setValue(window)
        polyorder = min(self.config.polyorder, max(0, window - 1))
        self.config = replace(
            self.config,
            threshold=round(self.threshold.value(), 4),
            smooth_window=window,
            polyorder=polyorder if window > 1 else 0,
            min_duration=self.min_duration.value(),
            merge_gap=self.merge_gap.value(),
        )
        self.configChanged.emit(self.config)
