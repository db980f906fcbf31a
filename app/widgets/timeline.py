"""The timeline: regularity curve s(t), playhead, threshold, flagged events and interval bands.

Top plot (x = frame, y = regularity s(t), 1 = normal):

* ``curve`` - one ``PlotDataItem`` updated with ``setData`` as chunks arrive (the shown s(t):
  live raw s(t) while scoring, Savitzky-Golay smoothed s(t) when done) and ``raw_curve``, the
  unsmoothed s(t), faint behind it;
* ``threshold_line`` - a draggable horizontal ``InfiniteLine`` at ``1 - anomaly threshold``:
  frames whose smoothed s(t) is at or below it form the events;
* ``playhead`` - a draggable vertical ``InfiniteLine``; clicking or dragging anywhere on the plot
  seeks as well (``SeekViewBox``); the wheel zooms the frame axis, right-drag pans;
* ``EventRegions`` - one shaded ``LinearRegionItem`` per flagged event, the selected one brighter.

Bottom plot: horizontal bands sharing the frame axis, one ``IntervalBand`` (a ``BarGraphItem``) per
row: "flagged" events, "truth" (ground truth, when known) and "normal" (frames marked for
training). ``add_band`` adds more rows without touching the rest; ``add_plot`` adds a whole plot
row under them that shares the frame axis and the playhead (the editable label band,
``app.widgets.label_band``).

Example::

    timeline = TimelineWidget()
    timeline.set_length(400)
    timeline.set_curve(x, raw, smoothed)
    timeline.set_events(events); timeline.band("truth").set_intervals([(80, 120)])
    timeline.seekRequested.connect(player.seek)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.theme import PLOT_BACKGROUND
from vad_core.scoring import Event

CURVE_COLOR = "#4fc3f7"
RAW_COLOR = (160, 160, 160, 110)
PLAYHEAD_COLOR = "#ffd54f"
THRESHOLD_COLOR = "#ef5350"
EVENT_BRUSH = (239, 83, 80, 45)
SELECTED_EVENT_BRUSH = (239, 83, 80, 110)
BAND_ROW_HEIGHT = 18


class SeekViewBox(pg.ViewBox):
    """A ViewBox where a left click or left drag asks to seek to the frame under the mouse."""

    sigSeek = Signal(float)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigSeek.emit(self.mapSceneToView(ev.scenePos()).x())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigSeek.emit(self.mapSceneToView(ev.scenePos()).x())
        elif ev.button() == Qt.MouseButton.RightButton:
            # right-drag pans along the frame axis (the default would zoom)
            ev.accept()
            if ev.isStart() or ev.isFinish():
                return
            delta = self.mapSceneToView(ev.lastScenePos()).x() - self.mapSceneToView(ev.scenePos()).x()
            self.translateBy(x=delta)
        else:
            super().mouseDragEvent(ev, axis)


class IntervalBand:
    """One row of the band plot: half-open frame intervals drawn as bars in one colour."""

    def __init__(self, plot: pg.PlotItem, name: str, row: float, color: str, label: str) -> None:
        self.name = name
        self.row = row
        self.label = label
        self.color = color
        self.item = pg.BarGraphItem(x0=[0], width=[0], y0=[row - 0.4], height=[0.8], brush=color, pen=None)
        self.item.setVisible(False)
        plot.addItem(self.item)
        self.intervals: list[tuple[int, int]] = []

    def set_intervals(self, intervals: Sequence[tuple[int, int]]) -> None:
        self.intervals = [(int(a), int(b)) for a, b in intervals if b > a]
        if not self.intervals:
            self.item.setVisible(False)
            return
        starts = np.array([a for a, _ in self.intervals], float)
        widths = np.array([b - a for a, b in self.intervals], float)
        n = len(starts)
        self.item.setOpts(
            x0=starts, width=widths, y0=np.full(n, self.row - 0.4), height=np.full(n, 0.8), brush=self.color
        )
        self.item.setVisible(True)


class EventRegions:
    """Shaded ``LinearRegionItem``s for flagged events; items are reused, never cleared and re-added."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.items: list[pg.LinearRegionItem] = []
        self.selected: int | None = None

    def set_events(self, events: Sequence[Event], selected: int | None = None) -> None:
        while len(self.items) < len(events):
            item = pg.LinearRegionItem(movable=False, brush=EVENT_BRUSH, pen=pg.mkPen(None))
            item.setZValue(-10)
            for line in item.lines:
                line.setPen(pg.mkPen(None))
            self.plot.addItem(item)
            self.items.append(item)
        for i, item in enumerate(self.items):
            if i < len(events):
                item.setRegion((events[i].start, events[i].end))
                item.setVisible(True)
            else:
                item.setVisible(False)
        self.select(selected if selected is not None and selected < len(events) else None)

    def select(self, index: int | None) -> None:
        self.selected = index
        for i, item in enumerate(self.items):
            item.setBrush(pg.mkBrush(SELECTED_EVENT_BRUSH if i == index else EVENT_BRUSH))
            item.update()

    @property
    def visible_count(self) -> int:
        return sum(item.isVisible() for item in self.items)


def threshold_text(anomaly_threshold: float) -> str:
    """The threshold line's label: the one flag rule, on the anomaly score and on the plotted s(t)."""
    return f"flag: anomaly score ≥ {anomaly_threshold:.2f} (s(t) ≤ {1.0 - anomaly_threshold:.2f})"


class TimelineWidget(QWidget):
    """The s(t) plot and the interval bands under it (see the module docstring)."""

    seekRequested = Signal(int)
    thresholdChanged = Signal(float)  # the anomaly-score threshold, i.e. 1 - the line's s(t)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(PLOT_BACKGROUND)
        layout.addWidget(self.graphics)
        self.length = 0
        self._fps = 25.0
        self._build_curve_plot()
        self._build_band_plot()
        self.graphics.ci.layout.setRowStretchFactor(0, 5)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.band_plot.scene().sigMouseClicked.connect(self._band_clicked)

        self.viewbox.sigSeek.connect(self._seek_to_x)
        self.playhead.sigPositionChanged.connect(self._playhead_dragged)
        self.threshold_line.sigPositionChanged.connect(self._threshold_dragged)
        self.set_length(0)

    def _build_curve_plot(self) -> None:
        """The s(t) plot (row 0): raw and smoothed curves, event regions, threshold line, playhead."""
        self.viewbox = SeekViewBox(enableMenu=False)
        self.plot = self.graphics.addPlot(row=0, col=0, viewBox=self.viewbox)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot.setLabel("left", "regularity s(t)")
        self.plot.setTitle(
            f"<span style='color:{CURVE_COLOR}'>━</span> s(t), smoothed &nbsp; "
            "<span style='color:#a0a0a0'>━</span> s(t), raw &nbsp; "
            f"<span style='color:{THRESHOLD_COLOR}'>┅</span> threshold &nbsp; "
            "<span style='color:#ef5350'>█</span> flagged event &nbsp; "
            f"<span style='color:{PLAYHEAD_COLOR}'>│</span> current frame",
            size="9pt",
            color="#c8c8c8",
        )
        self.plot.setLabel("bottom", "frame")
        self.plot.setYRange(-0.06, 1.08, padding=0)
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1 normal")]])
        self.plot.getAxis("left").setWidth(70)
        self.raw_curve = self.plot.plot([], [], pen=pg.mkPen(RAW_COLOR, width=1))
        self.curve = self.plot.plot([], [], pen=pg.mkPen(CURVE_COLOR, width=2))
        self.curve.setZValue(5)
        self.events = EventRegions(self.plot)

        self.threshold_line = pg.InfiniteLine(
            pos=0.5,
            angle=0,
            movable=True,
            pen=pg.mkPen(THRESHOLD_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
            hoverPen=pg.mkPen(THRESHOLD_COLOR, width=3),
            bounds=(0.0, 1.0),
            label=threshold_text(0.5),
            labelOpts={
                "position": 0.99,
                "anchors": [(1, 1), (1, 1)],
                "color": THRESHOLD_COLOR,
                "fill": pg.mkBrush(30, 30, 30, 210),
            },
        )
        self.threshold_line.setZValue(8)
        self.plot.addItem(self.threshold_line)
        self.playhead = pg.InfiniteLine(
            pos=0,
            angle=90,
            movable=True,
            pen=pg.mkPen(PLAYHEAD_COLOR, width=2),
            hoverPen=pg.mkPen("w", width=3),
        )
        self.playhead.setZValue(10)
        self.plot.addItem(self.playhead)

    def _build_band_plot(self) -> None:
        """The band plot (row 1, x linked to the curve): flagged, truth and normal rows, a playhead."""
        self.band_plot = self.graphics.addPlot(row=1, col=0)
        self.band_plot.setMouseEnabled(x=False, y=False)
        self.band_plot.hideButtons()
        self.band_plot.setMenuEnabled(False)
        self.band_plot.setXLink(self.plot)
        self.band_plot.hideAxis("bottom")
        self.band_plot.getAxis("left").setWidth(62)
        self.band_plot.getAxis("left").setStyle(tickLength=0)
        self.band_playhead = pg.InfiniteLine(
            pos=0, angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_COLOR, width=1)
        )
        self.band_plot.addItem(self.band_playhead)
        self._row_playheads: list[pg.InfiniteLine] = [self.band_playhead]
        self.bands: dict[str, IntervalBand] = {}
        self.add_band("flagged", "#ef5350", "flagged")
        self.add_band("truth", "#ffb74d", "truth")
        self.add_band("normal", "#66bb6a", "normal")

    # -- bands -------------------------------------------------------------------------------------
    def add_band(self, name: str, color: str, label: str) -> IntervalBand:
        """Add a row to the band plot (rows are stacked top to bottom in the order added)."""
        row = -float(len(self.bands))
        band = IntervalBand(self.band_plot, name, row, color, label)
        self.bands[name] = band
        ticks = [(b.row, b.label) for b in self.bands.values()]
        self.band_plot.getAxis("left").setTicks([ticks])
        self.band_plot.setYRange(row - 0.5, 0.5, padding=0)
        self.band_plot.setFixedHeight(int(BAND_ROW_HEIGHT * len(self.bands) + 8))
        return band

    def band(self, name: str) -> IntervalBand:
        return self.bands[name]

    def add_plot(self, viewbox: pg.ViewBox | None = None, height: int = 34) -> pg.PlotItem:
        """Add a plot row under the bands that shares the frame axis and shows the playhead (the label band)."""
        row = self.graphics.ci.layout.rowCount()
        plot = self.graphics.addPlot(row=row, col=0, viewBox=viewbox)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setXLink(self.plot)
        plot.hideAxis("bottom")
        plot.getAxis("left").setWidth(62)
        plot.setFixedHeight(height)
        self.graphics.ci.layout.setRowStretchFactor(row, 0)
        playhead = pg.InfiniteLine(
            pos=self.playhead.value(), angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_COLOR, width=1)
        )
        playhead.setZValue(30)
        plot.addItem(playhead)
        self._row_playheads.append(playhead)
        return plot

    # -- content -----------------------------------------------------------------------------------
    def set_length(self, frames: int, fps: float = 25.0) -> None:
        """A new video of ``frames`` frames: clear the curve, events and bands; show all of it."""
        self.length = int(frames)
        self._fps = fps
        self.curve.setData([], [])
        self.raw_curve.setData([], [])
        self.events.set_events([])
        for band in self.bands.values():
            band.set_intervals([])
        high = max(1, self.length - 1)
        self.plot.setLimits(xMin=-0.5, xMax=high + 0.5, minXRange=min(20, high + 1))
        self.plot.setXRange(0, high, padding=0.01)
        self.playhead.setBounds((0, high))
        self.set_playhead(0)

    def set_curve(self, x: np.ndarray, raw: np.ndarray, shown: np.ndarray) -> None:
        """Draw s(t): ``shown`` in full colour, ``raw`` faint behind it (the same array while live)."""
        self.curve.setData(x, shown, connect="finite")
        if raw is shown:
            self.raw_curve.setData([], [])
        else:
            self.raw_curve.setData(x, raw, connect="finite")

    def curve_points(self) -> int:
        """How many points the s(t) curve holds (one per scored frame)."""
        data = self.curve.getData()[0]
        return 0 if data is None else len(data)

    def set_events(self, events: Sequence[Event], selected: int | None = None) -> None:
        self.events.set_events(events, selected)
        self.bands["flagged"].set_intervals([(e.start, e.end) for e in events])

    def select_event(self, index: int | None) -> None:
        self.events.select(index)

    def set_threshold(self, anomaly_threshold: float) -> None:
        """Put the line at s(t) = 1 - ``anomaly_threshold`` without emitting ``thresholdChanged``."""
        with QSignalBlocker(self.threshold_line):
            self.threshold_line.setValue(1.0 - anomaly_threshold)
        self.threshold_line.label.setFormat(threshold_text(anomaly_threshold))

    def set_playhead(self, frame: int) -> None:
        with QSignalBlocker(self.playhead):
            self.playhead.setValue(frame)
        for line in self._row_playheads:
            line.setValue(frame)

    def keep_visible(self, frame: int) -> None:
        """Scroll a zoomed-in plot so ``frame`` stays in view (during playback)."""
        (low, high), _ = self.viewbox.viewRange()
        if not low <= frame <= high and self.length:
            width = high - low
            self.plot.setXRange(frame - 0.1 * width, frame + 0.9 * width, padding=0)

    # -- interaction -------------------------------------------------------------------------------
    def _frame_of(self, x: float) -> int:
        return int(min(max(0, round(x)), max(0, self.length - 1)))

    def _seek_to_x(self, x: float) -> None:
        if self.length:
            self.seekRequested.emit(self._frame_of(x))

    def _playhead_dragged(self) -> None:
        self._seek_to_x(self.playhead.value())

    def _band_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.length:
            return
        view = self.band_plot.vb
        if view.sceneBoundingRect().contains(ev.scenePos()):
            self._seek_to_x(view.mapSceneToView(ev.scenePos()).x())

    def _threshold_dragged(self) -> None:
        threshold = float(min(1.0, max(0.0, 1.0 - self.threshold_line.value())))
        self.threshold_line.label.setFormat(threshold_text(threshold))
        self.thresholdChanged.emit(threshold)
