"""One tile of the explainability panel: a map (or image) with its title, caption and progress.

Signed maps use a diverging colour map (red = evidence for "anomalous", blue = for "normal"); a
ground-truth mask is outlined in green and counterfactual boxes are drawn in yellow.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs.explain import METHODS, TITLES
from app.theme import PLOT_BACKGROUND
from app.widgets.colormaps import opaque_lut

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    pass


#: Signed maps: blue (normal) - white (no evidence) - red (anomalous).
DIVERGING = "CET-D1"
MASK_PEN = pg.mkPen("#69f0ae", width=1.5)
BOX_COLOUR = "#ffd740"


@functools.lru_cache(maxsize=4)
def diverging_lut(transparent_centre: bool = False) -> np.ndarray:
    """(256, 4) RGBA of the diverging map; with ``transparent_centre`` alpha grows with |value|."""
    lut = opaque_lut(DIVERGING).copy()
    if transparent_centre:
        ramp = np.clip(np.abs(np.linspace(-1.0, 1.0, 256)) / 0.6, 0.0, 1.0)
        lut[:, 3] = (ramp * 255).astype(np.uint8)
    return lut


def as_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 gray copy of ``image`` to show under a map."""
    if image.ndim == 2:
        return image
    return np.asarray(image, np.float32).mean(axis=2).astype(np.uint8)


def robust_peak(values: np.ndarray, signed: bool) -> float:
    """The colour scale's end: the 99.5th percentile of ``values`` (of |values| when ``signed``)."""
    data = np.abs(values) if signed else values
    data = data[np.isfinite(data)]
    if data.size == 0:
        return 1.0
    peak = float(np.percentile(data, 99.5))
    if peak <= 0:
        peak = float(data.max())
    return peak if peak > 0 else 1.0


def draw_contours(curve: pg.PlotCurveItem, contours: Sequence[np.ndarray]) -> None:
    """Show mask contours (``(N, 2)`` x, y pixel arrays) as closed outlines through pixel centres on
    ``curve`` (a ``connect="finite"`` curve: NaN separates them); empty hides it."""
    if not contours:
        curve.setData([], [])
        return
    xs, ys = [], []
    for contour in contours:
        points = np.asarray(contour, np.float64).reshape(-1, 2) + 0.5
        points = np.vstack([points, points[:1]])
        xs += [points[:, 0], [np.nan]]
        ys += [points[:, 1], [np.nan]]
    curve.setData(np.concatenate(xs), np.concatenate(ys))


class TileView(pg.GraphicsLayoutWidget):
    """The image view of a tile: small size hint (the grid decides), double-click resets the zoom."""

    doubleClicked = Signal()

    def sizeHint(self) -> QSize:
        return QSize(160, 160)

    def mouseDoubleClickEvent(self, event) -> None:
        self.doubleClicked.emit()
        event.accept()


class MapTile(QFrame):
    """One tile: a title, an image view (map, mask outline, boxes), a caption and a progress bar."""

    runClicked = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        header = QHBoxLayout()
        header.setSpacing(2)
        self.title = QLabel(f"<b>{TITLES[name]}</b>")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(40)
        self.title.setToolTip(TITLES[name])
        self.title.setMinimumHeight(QToolButton().sizeHint().height())  # same header height on every tile
        header.addWidget(self.title, 1)
        self.settings_button: QToolButton | None = None
        self.run_button: QToolButton | None = None
        if name in METHODS:
            self.settings_button = QToolButton()
            self.settings_button.setText("⚙")
            self.settings_button.setToolTip(f"{TITLES[name]} settings")
            self.settings_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            self.settings_button.setAutoRaise(True)
            header.addWidget(self.settings_button)
            self.run_button = QToolButton()
            self.run_button.setText("Explain")
            # an icon: at 1280x800 the text button left the title as "Counterfac"
            self.run_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            self.run_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
            self.run_button.setToolTip(f"Compute the {TITLES[name]} map of this image")
            self.run_button.clicked.connect(lambda: self.runClicked.emit(self.name))
            header.addWidget(self.run_button)
        layout.addLayout(header)
        self.view_widget = TileView()
        self.view_widget.setBackground(PLOT_BACKGROUND)
        self.view_widget.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view_widget.setMinimumSize(96, 96)
        self.view = self.view_widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.under = pg.ImageItem(axisOrder="row-major")  # the dimmed gray image below a signed map
        self.under.setZValue(-1)
        self.view.addItem(self.under)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.outline = pg.PlotCurveItem(pen=MASK_PEN, connect="finite")
        self.outline.setZValue(10)
        self.view.addItem(self.outline)
        self.boxes: list[QGraphicsRectItem] = []
        layout.addWidget(self.view_widget, 1)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setStyleSheet("color: #bdbdbd; font-size: 8pt;")
        self.caption.setMinimumHeight(14)
        layout.addWidget(self.caption)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.state = "empty"  # empty | running | queued | done | failed | cancelled | n/a

    # -- content -----------------------------------------------------------------------------------
    def show_image(
        self,
        array: np.ndarray | None,
        size: tuple[int, int],
        levels: tuple[float, float] = (0, 255),
        lut: np.ndarray | None = None,
    ) -> None:
        """Show ``array`` stretched over the explained image's ``size`` = (H, W)."""
        if array is None:
            self.image.clear()
            return
        self.image.setImage(np.ascontiguousarray(array), autoLevels=False, levels=levels, lut=lut)
        self.image.setRect(QRectF(0, 0, size[1], size[0]))

    def show_under(self, gray: np.ndarray | None, size: tuple[int, int]) -> None:
        """A dimmed gray copy of the image below the map (None removes it)."""
        if gray is None:
            self.under.clear()
            return
        self.under.setImage(gray, autoLevels=False, levels=(-160.0, 400.0))  # low contrast, mid gray
        self.under.setRect(QRectF(0, 0, size[1], size[0]))

    def set_outline(self, contours: Sequence[np.ndarray]) -> None:
        """Draw the ground-truth mask contours (``(N, 2)`` x, y arrays); empty hides it."""
        draw_contours(self.outline, contours)

    def set_boxes(self, boxes: Sequence[dict[str, Any]]) -> None:
        for item in self.boxes:
            self.view.removeItem(item)
        self.boxes = []
        pen = QPen(QColor(BOX_COLOUR))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        for box in boxes:
            item = QGraphicsRectItem(box["x0"], box["y0"], box["x1"] - box["x0"], box["y1"] - box["y0"])
            item.setPen(pen)
            item.setZValue(20)
            self.view.addItem(item)
            self.boxes.append(item)

    def clear(self, caption: str = "") -> None:
        """No map, no boxes, idle (the button says Explain again)."""
        self.image.clear()
        self.under.clear()
        self.set_boxes([])
        self.set_state("empty", caption)

    def set_state(self, state: str, caption: str | None = None) -> None:
        """Running / queued show the progress bar and turn the button into Cancel."""
        self.state = state
        busy = state in ("running", "queued")
        self.progress.setVisible(busy)
        if state == "queued":
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        if self.run_button is not None:
            self.run_button.setText("Cancel" if busy else "Explain")
            icon = QStyle.StandardPixmap.SP_MediaStop if busy else QStyle.StandardPixmap.SP_MediaPlay
            self.run_button.setIcon(self.style().standardIcon(icon))
            self.run_button.setToolTip(
                f"Stop the {TITLES[self.name]} computation"
                if busy
                else f"Compute the {TITLES[self.name]} map"
            )
        if caption is not None:
            self.caption.setText(caption)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, max(1, total)))
