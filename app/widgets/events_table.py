"""The events table: one row per flagged event (start, end, duration, peak score); a click seeks.

Frames are counted from 0 and ``end`` is the last frame of the event (the engine's half-open
``[start, end)`` shown inclusively, as operators read it). When ground truth is known a last
column says whether the event overlaps a true anomaly ("hit") or not ("false alarm"). Once the
video has labels, ``set_decisions`` adds the operator's decision per event (✓ accepted, ✗
rejected: keys A / R).

Example::

    table = EventsTable()
    table.set_events(session.events, fps=25.0, ground_truth=session.ground_truth)
    table.eventActivated.connect(lambda i: player.seek(session.events[i].start))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from vad_core.scoring import Event
from vad_core.scoring.vocabulary import SCORE_MEANING, SCORE_NAME

COLUMNS = ("start", "end", "duration", "peak")
TRUTH_COLUMN = "truth"
HEADER_TIPS = {
    "start": "first frame of the event",
    "end": "last frame of the event (inclusive, as everywhere in vad-review)",
    "duration": "length of the event in seconds (frames in the tooltip)",
    "peak": f"highest {SCORE_NAME} of the event ({SCORE_MEANING}); frames are flagged by the threshold on it",
    "truth": "hit: overlaps a ground-truth anomaly; false alarm: does not",
}
DECISION_COLUMN = "label"


class EventsTable(QTableWidget):
    """Flagged events; ``eventActivated(index)`` when the operator clicks or selects a row."""

    eventActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self._set_header(list(COLUMNS))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # never "luratio"
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.setToolTip("Flagged events. Click a row to jump to the event (Shift+←/→ for previous/next).")
        self.events: list[Event] = []
        self.cellClicked.connect(lambda row, _col: self._activate(row))
        self.itemSelectionChanged.connect(self._selection_changed)

    def set_events(
        self, events: Sequence[Event], fps: float = 25.0, ground_truth: np.ndarray | None = None
    ) -> None:
        """Fill the table (selection is cleared, no signal)."""
        self.events = list(events)
        columns = [*COLUMNS, TRUTH_COLUMN] if ground_truth is not None else list(COLUMNS)
        with QSignalBlocker(self):
            self.clearContents()
            self.setColumnCount(len(columns))
            self._set_header(columns)
            self.setRowCount(len(self.events))
            fps = fps if fps > 0 else 25.0
            for row, event in enumerate(self.events):
                cells = [
                    (f"{event.start}", f"frame {event.start}, {event.start / fps:.2f} s"),
                    (f"{event.end - 1}", f"frame {event.end - 1}, {(event.end - 1) / fps:.2f} s"),
                    (f"{event.duration / fps:.1f} s", f"{event.duration} frames"),
                    (f"{event.peak_score:.2f}", f"highest anomaly score, at frame {event.peak_frame}"),
                ]
                if ground_truth is not None:
                    hit = bool(np.any(ground_truth[event.start : event.end]))
                    cells.append(
                        ("hit" if hit else "false alarm", "overlaps a ground-truth anomaly" if hit else "")
                    )
                for column, (text, tip) in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setToolTip(tip or text)
                    if column == len(COLUMNS) and text == "false alarm":
                        item.setForeground(QColor("#ef9a9a"))
                    self.setItem(row, column, item)
            if ground_truth is not None:
                self.horizontalHeader().setSectionResizeMode(
                    len(COLUMNS), QHeaderView.ResizeMode.ResizeToContents
                )

    def _set_header(self, columns: Sequence[str]) -> None:
        """Column titles with what each means (frames inclusive; the score is the anomaly score)."""
        self.setHorizontalHeaderLabels(list(columns))
        for column, name in enumerate(columns):
            item = self.horizontalHeaderItem(column)
            if item is not None:
                item.setToolTip(HEADER_TIPS.get(name, name))

    def set_decisions(self, decisions: Sequence[str | None]) -> None:
        """Add a last column with the operator's decision per event: ✓ accepted, ✗ rejected or blank."""
        if len(decisions) != self.rowCount():
            return
        columns = [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]
        with QSignalBlocker(self):
            if DECISION_COLUMN in columns:
                column = columns.index(DECISION_COLUMN)
            else:
                column = self.columnCount()
                self.setColumnCount(column + 1)
                self.setHorizontalHeaderItem(column, QTableWidgetItem(DECISION_COLUMN))
                self.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
            for row, decision in enumerate(decisions):
                item = QTableWidgetItem({"accepted": "✓", "rejected": "✗"}.get(decision or "", ""))
                item.setData(Qt.ItemDataRole.UserRole, decision)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(
                    {"accepted": "accepted as a label (A)", "rejected": "rejected as a false alarm (R)"}.get(
                        decision or "", "not decided: A accepts, R rejects"
                    )
                )
                if decision:
                    item.setForeground(QColor("#ce93d8" if decision == "accepted" else "#90caf9"))
                self.setItem(row, column, item)

    def select_event(self, index: int | None) -> None:
        """Highlight row ``index`` (None clears) without emitting ``eventActivated``."""
        with QSignalBlocker(self):
            if index is None or not 0 <= index < self.rowCount():
                self.clearSelection()
            else:
                self.selectRow(index)
                self.scrollToItem(self.item(index, 0))

    def selected_event(self) -> int | None:
        rows = {index.row() for index in self.selectionModel().selectedRows()}
        return min(rows) if rows else None

    def _activate(self, row: int) -> None:
        if 0 <= row < len(self.events):
            self.eventActivated.emit(row)

    def _selection_changed(self) -> None:
        row = self.selected_event()
        if row is not None:
            self._activate(row)
