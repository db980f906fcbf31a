"""The video view: the current frame with the per-pixel error as a colour overlay and a colour bar.

One ``ImageItem`` shows the frame, a second one above it the error map (resized to the frame and
divided by the video's robust maximum, so colours mean the same on every frame) through a colour
map whose alpha fades in with the error; ``setOpacity`` scales the whole overlay. A
``ColorBarItem`` beside the image gives the scale. A caption in the bottom-left corner says whether the frame
lies in a flagged event or a ground-truth interval. Both images are updated in place.

Example::

    view = VideoView()
    view.set_frame(source.frame(0))
    view.set_overlay(session.overlay(0))      # (H, W) float, 1.0 = the video's 99th percentile
    view.set_opacity(0.6); view.set_colormap("viridis")
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QSizePolicy

from app.theme import PLOT_BACKGROUND
from app.widgets.colormaps import colormap, overlay_lut

#: The overlay's colour scale: 0 .. OVERLAY_MAX times the per-video 99th percentile error.
OVERLAY_MAX = 1.0


class VideoView(pg.GraphicsLayoutWidget):
    """Frame + error overlay + colour bar, with a caption in the bottom-left corner."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(PLOT_BACKGROUND)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 160)
        self.ci.layout.setContentsMargins(4, 4, 4, 4)
        self.view = self.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.frame_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(10)
        self.view.addItem(self.frame_item)
        self.view.addItem(self.overlay_item)
        self.colormap_name = "inferno"
        self.colorbar = pg.ColorBarItem(
            values=(0.0, OVERLAY_MAX),
            colorMap=colormap(self.colormap_name),
            interactive=False,
            width=12,
            label="error / video p99",
            colorMapMenu=False,
        )
        self.addItem(self.colorbar, row=0, col=1)
        self.caption = pg.TextItem("", anchor=(0, 1), color="w", fill=pg.mkBrush(0, 0, 0, 170))
        self.caption.setZValue(20)
        self.view.addItem(self.caption)
        self._frame_shape: tuple[int, ...] | None = None
        self._overlay_visible = True
        self._opacity = 0.6
        self.overlay_item.setOpacity(self._opacity)
        self.overlay_item.setLookupTable(overlay_lut(self.colormap_name))

    # -- frame -----------------------------------------------------------------------------------
    def set_frame(self, frame: np.ndarray | None) -> None:
        """Show a uint8 gray ``(H, W)`` or RGB ``(H, W, 3)`` frame; ``None`` clears the view."""
        if frame is None:
            self.frame_item.clear()
            self.overlay_item.clear()
            self._frame_shape = None
            return
        first = self._frame_shape is None or self._frame_shape[:2] != frame.shape[:2]
        self.frame_item.setImage(frame, autoLevels=False, levels=(0, 255))
        if first:
            self._frame_shape = frame.shape
            self.view.setRange(xRange=(0, frame.shape[1]), yRange=(0, frame.shape[0]), padding=0)
            self.caption.setPos(0, frame.shape[0])  # bottom-left corner, clear of the top of the scene

    # -- overlay ---------------------------------------------------------------------------------
    def set_overlay(self, error: np.ndarray | None) -> None:
        """Show a frame-sized error map (1.0 = the per-video scale); ``None`` hides it."""
        if error is None or not self._overlay_visible:
            self.overlay_item.setVisible(False)
            return
        self.overlay_item.setImage(error, autoLevels=False, levels=(0.0, OVERLAY_MAX))
        self.overlay_item.setVisible(True)

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = bool(visible)
        if not visible:
            self.overlay_item.setVisible(False)
        self.colorbar.setVisible(bool(visible))

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(min(1.0, max(0.0, opacity)))
        self.overlay_item.setOpacity(self._opacity)

    def set_colormap(self, name: str) -> None:
        self.colormap_name = name
        self.overlay_item.setLookupTable(overlay_lut(name))
        self.colorbar.setColorMap(colormap(name))

    # -- caption ---------------------------------------------------------------------------------
    def set_caption(self, html: str) -> None:
        """A short rich-text note over the bottom-left corner of the frame ("" hides it)."""
        self.caption.setHtml(html)
        self.caption.setVisible(bool(html))
