"""Thumbnails of a category's test images, most anomalous first, each framed by its ground truth.

A ``QListWidget`` in icon mode. Each item shows the image shrunk to ``side`` px inside a frame that
is red for a defective part and green for a good one (the ground truth), its rank, its defect type
and, once scored, its anomaly score. ``set_scores`` re-orders the items by score (descending; ties
keep the dataset order). Items remember their test-set index, which ``imageSelected`` reports.

Example::

    thumbnails = ThumbnailList()
    thumbnails.set_samples(dataset.test)
    thumbnails.set_thumbnail(0, inspection.thumbnail(0))
    thumbnails.set_scores(inspection.scores, threshold=inspection.threshold)
    thumbnails.imageSelected.connect(window.show_image)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from vad_core.datasets.base import ImageSample

DEFECT_COLOUR = "#ef5350"
GOOD_COLOUR = "#66bb6a"
BORDER = 4
INDEX_ROLE = Qt.ItemDataRole.UserRole


def to_qimage(image: np.ndarray) -> QImage:
    """uint8 ``(H, W)`` or ``(H, W, 3)`` RGB -> a ``QImage`` that owns its pixels."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def framed_icon(image: np.ndarray | None, anomalous: bool, side: int) -> QIcon:
    """The thumbnail centred on a ``side`` px square with a ground-truth coloured frame."""
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor("#303030"))
    painter = QPainter(pixmap)
    if image is not None:
        picture = QPixmap.fromImage(to_qimage(image)).scaled(
            side - 2 * BORDER,
            side - 2 * BORDER,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        painter.drawPixmap((side - picture.width()) // 2, (side - picture.height()) // 2, picture)
    pen = QPen(QColor(DEFECT_COLOUR if anomalous else GOOD_COLOUR))
    pen.setWidth(BORDER)
    painter.setPen(pen)
    painter.drawRect(BORDER // 2, BORDER // 2, side - BORDER, side - BORDER)
    painter.end()
    return QIcon(pixmap)


class ThumbnailList(QListWidget):
    """Icon-mode list of test images (see module docstring)."""

    #: The test-set index of the image the operator selected.
    imageSelected = Signal(int)

    def __init__(self, side: int = 96, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 30, side + 38))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.samples: list[ImageSample] = []
        self.scores: np.ndarray | None = None
        self.threshold: float | None = None
        self._items: list[QListWidgetItem] = []
        self._thumbnails: dict[int, np.ndarray] = {}
        self.currentItemChanged.connect(self._current_changed)

    # -- content -----------------------------------------------------------------------------------
    def set_samples(self, samples: Sequence[ImageSample]) -> None:
        """One item per test image, in dataset order, with a blank icon until its thumbnail arrives."""
        self.clear()
        self.samples = list(samples)
        self.scores = None
        self.threshold = None
        self._thumbnails = {}
        self._items = []
        for index, sample in enumerate(self.samples):
            item = QListWidgetItem(framed_icon(None, sample.anomalous, self.side), "")
            item.setData(INDEX_ROLE, index)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self._items.append(item)
            self.addItem(item)
            self._update_text(index, None)

    def set_thumbnail(self, index: int, image: np.ndarray) -> None:
        if 0 <= index < len(self._items):
            self._thumbnails[index] = image
            self._items[index].setIcon(framed_icon(image, self.samples[index].anomalous, self.side))

    def set_scores(self, scores: np.ndarray | None, threshold: float | None = None) -> None:
        """Show the scores and sort by them, most anomalous first (None: dataset order, no scores)."""
        current = self.current_index()
        self.scores = None if scores is None else np.asarray(scores, np.float64)
        self.threshold = threshold
        order = self.order()
        with _SignalsBlocked(self):
            while self.count():
                self.takeItem(0)
            for rank, index in enumerate(order):
                self.addItem(self._items[index])
                self._update_text(index, rank)
        if current is not None:
            self.select_index(current, emit=False)

    def _update_text(self, index: int, rank: int | None) -> None:
        sample = self.samples[index]
        item = self._items[index]
        head = "" if rank is None else f"#{rank + 1}"
        tip = [
            str(sample.path),
            f"ground truth: {'defective' if sample.anomalous else 'good'} ({sample.defect_type})",
        ]
        if self.scores is not None:
            score = float(self.scores[index])
            head = f"{head} · {score:.3g}"
            tip.append(f"score {score:.6g}")
            if self.threshold is not None and math.isfinite(self.threshold):
                flagged = score >= self.threshold
                tip.append(
                    f"{'flagged' if flagged else 'not flagged'} at the G-mean threshold {self.threshold:.4g}"
                )
        item.setText(f"{head}\n{sample.defect_type}" if head else sample.defect_type)
        item.setToolTip("\n".join(tip))

    def order(self) -> list[int]:
        """Test-set indices in display order (by score, descending, once scored)."""
        if self.scores is None:
            return list(range(len(self.samples)))
        return sorted(range(len(self.samples)), key=lambda i: (-self.scores[i], i))  # type: ignore[index]

    def displayed_order(self) -> list[int]:
        """Test-set indices of the items as they are shown now, top-left first."""
        return [int(self.item(row).data(INDEX_ROLE)) for row in range(self.count())]

    # -- selection ---------------------------------------------------------------------------------
    def current_index(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(INDEX_ROLE))

    def select_index(self, index: int, emit: bool = True) -> None:
        """Make test image ``index`` current (and scroll to it)."""
        if not 0 <= index < len(self._items):
            return
        item = self._items[index]
        if emit:
            self.setCurrentItem(item)
        else:
            with _SignalsBlocked(self):
                self.setCurrentItem(item)
        self.scrollToItem(item)

    def _current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.imageSelected.emit(int(current.data(INDEX_ROLE)))


class _SignalsBlocked:
    """``with _SignalsBlocked(widget):`` - like ``QSignalBlocker`` but usable on a Python subclass."""

    def __init__(self, widget: QWidget) -> None:
        self.widget = widget
        self.was = False

    def __enter__(self) -> None:
        self.was = self.widget.blockSignals(True)

    def __exit__(self, *exc: object) -> None:
        self.widget.blockSignals(self.was)
