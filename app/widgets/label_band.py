"""The label band under the timeline: the operator's intervals, drawn and edited with the mouse.

One extra plot row of the ``TimelineWidget`` (``timeline.add_plot``), sharing its frame axis and
playhead. Each label interval is a ``LabelRegion`` (a pyqtgraph ``LinearRegionItem``):

* drag its body to move it, drag either edge to resize it; the change is reported once, on
  release (``changeRequested(id, start, end)``), snapped to whole frames;
* click it to select it (Ctrl / Shift + click adds to the selection, for merging);
* drag on an empty part of the band to draw a new interval (``createRequested(start, end)``);
  a click on an empty part seeks there and clears the selection.

Anomalies are filled purple; reviewed negatives (rejected false alarms) are hatched blue-grey, so
the two differ in pattern as well as colour. The selected intervals are brighter, with white
edges. Items are reused, never cleared and re-added; the band only *shows* the document - every
change goes back through signals to ``LabelsController``, which edits the document (undoably)
and calls ``set_intervals`` again.

Intervals are half-open ``[start, end)`` frame ranges drawn from ``x = start`` to ``x = end``,
like the flagged events on the curve above.

Example::

    band = LabelBand(timeline)
    band.set_length(240)
    band.set_intervals(doc.intervals)
    band.createRequested.connect(lambda a, b: controller.add(a, b))
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from vad_core.labels.interval import LabelInterval

ANOMALY_COLOR = (186, 104, 200)  # purple: unlike flagged (red), truth (orange), normal marks (green)
NEGATIVE_COLOR = (120, 170, 200)  # blue-grey, hatched
ROW_HEIGHT = 34
MIN_DRAG_FRAMES = 1


def _brush(color: tuple[int, int, int], alpha: int, hatched: bool) -> QBrush:
    brush = QBrush(QColor(*color, alpha))
    if hatched:
        brush.setStyle(Qt.BrushStyle.BDiagPattern)
    return brush


def snap(low: float, high: float, length: int) -> tuple[int, int]:
    """Region edges in frame coordinates -> a half-open whole-frame interval inside ``[0, length)``.

    >>> snap(10.4, 19.6, 100)
    (10, 20)
    >>> snap(5.2, 5.3, 100)          # at least one frame
    (5, 6)
    """
    start, end = sorted((round(low), round(high)))
    start = int(min(max(0, start), max(0, length - 1)))
    end = int(min(max(start + MIN_DRAG_FRAMES, end), max(1, length)))
    if end <= start:
        start = max(0, end - 1)
    return start, end


class LabelRegion(pg.LinearRegionItem):
    """One interval on the band; reports presses to its band (selection) besides moving."""

    def __init__(self, band: LabelBand) -> None:
        super().__init__(values=(0, 1), movable=True, swapMode="sort", span=(0.06, 0.94))
        self._band = band
        self.interval_id = ""
        self.kind = "anomaly"
        self.setZValue(10)
        for line in self.lines:
            line.addMarker("<|>", position=0.5, size=9)  # visible grab handles, and a wider grab area
            line.sigDragged.connect(lambda _line: self._band._pressed(self, keep=True))
        self.text = pg.TextItem("", color=(240, 240, 240), anchor=(0.5, 0.5))
        self.text.setParentItem(self)
        self.text.setZValue(11)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and not self.moving:
            ev.accept()
            additive = bool(
                ev.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
            )
            self._band._pressed(self, additive=additive)
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev) -> None:
        if ev.isStart() and ev.button() == Qt.MouseButton.LeftButton:
            self._band._pressed(self, keep=True)
        super().mouseDragEvent(ev)

    def style(self, selected: bool) -> None:
        """Colours for the interval's kind and selection state."""
        negative = self.kind != "anomaly"
        color = NEGATIVE_COLOR if negative else ANOMALY_COLOR
        alpha = 200 if selected else 120
        self.setBrush(_brush(color, alpha, negative))
        self.setHoverBrush(_brush(color, 230, negative))
        edge = pg.mkPen((255, 255, 255) if selected else color, width=2 if selected else 1.5)
        for line in self.lines:
            line.setPen(edge)
            line.setHoverPen(pg.mkPen((255, 255, 255), width=4))
        self.update()


class LabelViewBox(pg.ViewBox):
    """The band's view: a left drag on empty space draws a new interval; a left click selects or seeks."""

    sigClicked = Signal(float, object)  # x, keyboard modifiers
    sigDrawing = Signal(float, float, bool)  # x where the drag started, x now, finished

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigClicked.emit(self.mapSceneToView(ev.scenePos()).x(), ev.modifiers())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos()).x()
        self.sigDrawing.emit(start, self.mapSceneToView(ev.scenePos()).x(), bool(ev.isFinish()))

    def wheelEvent(self, ev, axis=None) -> None:
        ev.ignore()  # zooming happens on the curve above


class LabelBand(QObject):
    """The label row of the timeline (see the module docstring)."""

    createRequested = Signal(int, int)  # start, end (exclusive)
    changeRequested = Signal(str, int, int)  # id, new start, new end (exclusive)
    selectionChanged = Signal(list)  # selected interval ids
    seekRequested = Signal(int)

    def __init__(self, timeline, parent: QObject | None = None) -> None:
        super().__init__(parent or timeline)
        self.view = LabelViewBox(enableMenu=False)
        self.plot: pg.PlotItem = timeline.add_plot(self.view, ROW_HEIGHT)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setYRange(0, 1, padding=0)
        axis = self.plot.getAxis("left")
        axis.setTicks([[(0.5, "labels")]])
        axis.setStyle(tickLength=0)
        self.plot.setToolTip(
            "Your labels. Drag on an empty part to add an interval; drag an interval to move it, its "
            "edges to resize it; click to select (Ctrl+click: several). Purple = anomaly, "
            "hatched blue = reviewed false alarm."
        )
        self.length = 0
        self.regions: list[LabelRegion] = []
        self.intervals: dict[str, LabelInterval] = {}
        self.selected: list[str] = []
        self._syncing = False
        self.preview = pg.LinearRegionItem(
            values=(0, 1),
            movable=False,
            brush=_brush(ANOMALY_COLOR, 90, False),
            pen=pg.mkPen((255, 255, 255), width=1, style=Qt.PenStyle.DashLine),
            span=(0.06, 0.94),
        )
        self.preview.setZValue(20)
        self.preview.setVisible(False)
        self.plot.addItem(self.preview)
        self.mark = pg.InfiniteLine(
            pos=0, angle=90, movable=False, pen=pg.mkPen(ANOMALY_COLOR, width=2, style=Qt.PenStyle.DashLine)
        )
        self.mark.setZValue(25)
        self.mark.setVisible(False)
        self.plot.addItem(self.mark)
        self.view.sigClicked.connect(self._clicked)
        self.view.sigDrawing.connect(self._drawing)

    # -- content -------------------------------------------------------------------------------------
    def set_length(self, frames: int) -> None:
        """A new video: no intervals, no selection, edges bounded to ``[0, frames]``."""
        self.length = int(frames)
        self.set_intervals([])
        self.set_selection([])
        for region in self.regions:
            region.setBounds((0, max(1, self.length)))

    def set_intervals(self, intervals: Sequence[LabelInterval]) -> None:
        """Show ``intervals`` (the document's), reusing the band's items."""
        self.intervals = {i.id: i for i in intervals}
        while len(self.regions) < len(intervals):
            region = LabelRegion(self)
            region.setBounds((0, max(1, self.length)))
            region.sigRegionChangeFinished.connect(self._region_finished)
            region.sigRegionChanged.connect(self._region_moving)
            self.plot.addItem(region)
            self.regions.append(region)
        self._syncing = True
        try:
            for index, region in enumerate(self.regions):
                if index < len(intervals):
                    interval = intervals[index]
                    region.interval_id = interval.id
                    region.kind = interval.kind
                    region.setRegion((interval.start, interval.end))
                    region.text.setText(interval.tag)
                    region.text.setPos((interval.start + interval.end) / 2, 0.5)
                    region.setVisible(True)
                else:
                    region.interval_id = ""
                    region.setVisible(False)
        finally:
            self._syncing = False
        self.selected = [i for i in self.selected if i in self.intervals]
        self._restyle()

    def set_selection(self, ids: Sequence[str]) -> None:
        """Highlight ``ids`` (no signal)."""
        self.selected = [i for i in dict.fromkeys(ids) if i in self.intervals]
        self._restyle()

    def set_mark(self, frame: int | None) -> None:
        """Show where a label begins after mark-in (B), until mark-out (N); None hides it."""
        if frame is None:
            self.mark.setVisible(False)
        else:
            self.mark.setValue(frame)
            self.mark.setVisible(True)

    def region_of(self, interval_id: str) -> LabelRegion | None:
        """The item that shows ``interval_id`` (tests, screenshots)."""
        for region in self.regions:
            if region.isVisible() and region.interval_id == interval_id:
                return region
        return None

    def _restyle(self) -> None:
        for region in self.regions:
            if region.isVisible():
                region.style(region.interval_id in self.selected)

    # -- interaction ----------------------------------------------------------------------------------
    def _pressed(self, region: LabelRegion, additive: bool = False, keep: bool = False) -> None:
        interval_id = region.interval_id
        if not interval_id:
            return
        if additive:
            ids = [i for i in self.selected if i != interval_id]
            if interval_id not in self.selected:
                ids.append(interval_id)
        elif keep and interval_id in self.selected:
            return  # dragging one of several selected intervals keeps the selection
        else:
            ids = [interval_id]
        if ids != self.selected:
            self.set_selection(ids)
            self.selectionChanged.emit(list(self.selected))

    def _clicked(self, x: float, modifiers) -> None:
        if not self.length:
            return
        frame = int(min(max(0, round(x)), self.length - 1))
        if self.selected and not modifiers & Qt.KeyboardModifier.ControlModifier:
            self.set_selection([])
            self.selectionChanged.emit([])
        self.seekRequested.emit(frame)

    def _drawing(self, x0: float, x1: float, finished: bool) -> None:
        if not self.length:
            return
        start, end = snap(x0, x1, self.length)
        if not finished:
            self.preview.setRegion((start, end))
            self.preview.setVisible(True)
            return
        self.preview.setVisible(False)
        if abs(x1 - x0) >= 0.5:
            self.createRequested.emit(start, end)

    def _region_moving(self, region: LabelRegion) -> None:
        if not self._syncing:
            region.text.setPos(sum(region.getRegion()) / 2, 0.5)

    def _region_finished(self, region: LabelRegion) -> None:
        if self._syncing or not region.interval_id:
            return
        interval = self.intervals.get(region.interval_id)
        if interval is None:
            return
        start, end = snap(*region.getRegion(), self.length)
        if (start, end) != (interval.start, interval.end):
            self.changeRequested.emit(interval.id, start, end)
        else:  # a drag that ended where it began (or a cancelled one): back onto whole frames
            self._syncing = True
            try:
                region.setRegion((interval.start, interval.end))
                region.text.setPos((interval.start + interval.end) / 2, 0.5)
            finally:
                self._syncing = False
