"""Heatmap controls: show / hide the error overlay, its opacity and its colour map.

Example::

    controls = HeatmapControls(opacity=0.6, colormap="inferno")
    controls.opacityChanged.connect(video_view.set_opacity)
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QWidget

from app.widgets.colormaps import COLORMAPS


class HeatmapControls(QWidget):
    """Overlay on/off (H), opacity slider (0-100 %), colour map."""

    overlayToggled = Signal(bool)
    opacityChanged = Signal(float)
    colormapChanged = Signal(str)

    def __init__(
        self, opacity: float = 0.6, colormap: str = "inferno", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        layout = QFormLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.overlay = QCheckBox("Show error overlay")
        self.overlay.setChecked(True)
        self.overlay.setToolTip("Per-pixel reconstruction error over the frame (H)")
        self.overlay.toggled.connect(self.overlayToggled)
        layout.addRow(self.overlay)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(opacity * 100))
        self.opacity.setToolTip("Overlay opacity")
        self.opacity_label = QLabel(f"{self.opacity.value()} %")
        self.opacity_label.setMinimumWidth(38)
        self.opacity.valueChanged.connect(self._opacity_changed)
        row = QHBoxLayout()
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_label)
        layout.addRow("Opacity", row)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        if colormap in COLORMAPS:
            self.colormap.setCurrentText(colormap)
        self.colormap.currentTextChanged.connect(self.colormapChanged)
        layout.addRow("Colours", self.colormap)

    def _opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        self.opacityChanged.emit(value / 100.0)

    def set_overlay_checked(self, checked: bool) -> None:
        with QSignalBlocker(self.overlay):
            self.overlay.setChecked(checked)
