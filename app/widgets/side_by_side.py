"""Side-by-side view: what the model saw, what it made of it, and the per-pixel error between them.

Three linked image panes at the model's resolution: input, reconstruction (or prediction) and
the error map in the heatmap's colour map and scale. In a column in a tall dock, in a row in a
wide one (``orientation="auto"``), or fixed with ``"vertical"`` / ``"horizontal"``.

Example::

    view = SideBySideView()
    view.set_images(rec.input, rec.output, rec.error / session.map_scale)
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QSizePolicy

from app.theme import PLOT_BACKGROUND
from app.widgets.colormaps import opaque_lut
from app.widgets.video_view import OVERLAY_MAX
from vad_core.sources.preprocess import to_uint8_image

PANES = ("input", "reconstruction", "error")


class SideBySideView(pg.GraphicsLayoutWidget):
    """Input / reconstruction / error panes with captions.

    ``orientation="auto"`` (the default) stacks the panes vertically in a tall dock and puts them
    in a row in a wide one, whichever gives each pane more pixels, re-deciding as the dock resizes.
    """

    CAPTION_PX = 18  # height of a pane's caption, for choosing the orientation

    def __init__(self, orientation: str = "auto", parent=None) -> None:
        super().__init__(parent)
        if orientation not in ("auto", "vertical", "horizontal"):
            raise ValueError(f"orientation must be auto, vertical or horizontal, found {orientation!r}")
        self.setBackground(PLOT_BACKGROUND)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumWidth(160)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.ci.layout.setSpacing(2)
        self.views: dict[str, pg.ViewBox] = {}
        self.items: dict[str, pg.ImageItem] = {}
        self.titles: dict[str, pg.LabelItem] = {}
        first: pg.ViewBox | None = None
        for name in PANES:
            title = pg.LabelItem(name, size="9pt", color="#cccccc")
            view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
            view.setDefaultPadding(0.0)
            item = pg.ImageItem(axisOrder="row-major")
            view.addItem(item)
            if first is None:
                first = view
            else:
                view.setXLink(first)
                view.setYLink(first)
            self.views[name], self.items[name], self.titles[name] = view, item, title
        self.items["error"].setLookupTable(opaque_lut("inferno"))
        self._shape: tuple[int, int] | None = None
        self.message = pg.TextItem("", color="#aaaaaa", anchor=(0.5, 0.5))
        self.views["reconstruction"].addItem(self.message)
        self._auto = orientation == "auto"
        self.orientation = ""
        self._arrange("vertical" if self._auto else orientation)

    def _arrange(self, orientation: str) -> None:
        """Lay the panes out in a column (``"vertical"``) or a row (``"horizontal"``)."""
        if orientation == self.orientation:
            return
        for name in PANES:
            for part in (self.titles[name], self.views[name]):
                if part in self.ci.items:
                    self.ci.removeItem(part)
        for i, name in enumerate(PANES):
            if orientation == "vertical":
                self.ci.addItem(self.titles[name], row=2 * i, col=0)
                self.ci.addItem(self.views[name], row=2 * i + 1, col=0)
            else:
                self.ci.addItem(self.titles[name], row=0, col=i)
                self.ci.addItem(self.views[name], row=1, col=i)
        self.orientation = orientation

    def better_orientation(self, width: int, height: int) -> str:
        """The orientation giving square panes the larger side in a ``width x height`` widget."""
        in_column = min(width, (height - 3 * self.CAPTION_PX) / 3)
        in_row = min(width / 3, height - self.CAPTION_PX)
        return "horizontal" if in_row > in_column else "vertical"

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_auto", False):  # Qt resizes once inside __init__, before the panes exist
            self._arrange(self.better_orientation(self.width(), self.height()))

    def set_colormap(self, name: str) -> None:
        self.items["error"].setLookupTable(opaque_lut(name))

    def set_input(self, image: np.ndarray | None) -> None:
        """Just the input pane (e.g. while the reconstruction is being computed)."""
        if image is None:
            self.items["input"].clear()
            return
        self.items["input"].setImage(image, autoLevels=False, levels=(0, 255))
        self._fit(image.shape[:2])

    def set_error(self, error: np.ndarray | None) -> None:
        """Error map already divided by the per-video scale (1.0 = p99)."""
        if error is None:
            self.items["error"].clear()
            return
        self.items["error"].setImage(error, autoLevels=False, levels=(0.0, OVERLAY_MAX))
        self._fit(error.shape[:2])

    def set_reconstruction(self, output: np.ndarray | None, note: str = "") -> None:
        """float ``(C, h, w)`` in [0, 1] or uint8 image; ``note`` is shown when there is none."""
        if output is None:
            self.items["reconstruction"].clear()
        else:
            image = output if output.dtype == np.uint8 else to_uint8_image(output)
            self.items["reconstruction"].setImage(image, autoLevels=False, levels=(0, 255))
            self._fit(image.shape[:2])
        self.message.setText("" if output is not None else note)
        if self._shape is not None:
            self.message.setPos(self._shape[1] / 2, self._shape[0] / 2)

    def set_images(self, model_input: np.ndarray, output: np.ndarray, error: np.ndarray) -> None:
        """All three panes from a ``FrameReconstruction`` (float (C, h, w) input/output)."""
        self.set_input(to_uint8_image(model_input))
        self.set_reconstruction(output)
        self.set_error(error)

    def clear_images(self) -> None:
        """Empty all panes (not ``clear``: GraphicsLayoutWidget's ``clear`` removes the panes themselves)."""
        for item in self.items.values():
            item.clear()
        self.message.setText("")

    def _fit(self, shape: tuple[int, int]) -> None:
        if self._shape != tuple(shape):
            self._shape = (int(shape[0]), int(shape[1]))
            self.views["input"].setRange(xRange=(0, shape[1]), yRange=(0, shape[0]), padding=0)
