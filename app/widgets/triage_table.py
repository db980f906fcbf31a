"""The triage table: the results index of a batch run, worst clips first; double-click opens a clip.

``vad batch score`` writes ``RESULTS/index.sqlite`` (``vad_core.batch.index.ResultsIndex``) with
one row per clip. This panel shows those rows in a ``QTableView`` over ``TriageModel`` (a
``QAbstractTableModel``) behind ``TriageFilter`` (a ``QSortFilterProxyModel``):

* sorted by **max error** (the raw per-frame error e(t)) by default: it compares clips scored by
  one model. **max score** is shown too, but it is normalised per clip, so nearly every clip
  reaches 1 somewhere; every column sorts by a click on its header, and clips without a value
  (failed ones) stay at the bottom in either direction;
* filters by status, camera (the first folder under the archive root) and a text in the clip name;
* failed clips are drawn red with the reason in the "error" column and as the tooltip of the row;
* a double-click on a done clip emits ``clipActivated(row, scores_path)``; the review window then
  opens the clip with its stored scores (``MainWindow.open_batch_clip``) - nothing is recomputed.

The index is opened read-only (a run may still be writing it: the write-ahead log shows the last
committed state); "Reload" reads it again.

Example::

    panel = TriagePanel()
    panel.load("results/site7")
    panel.clipActivated.connect(window.open_batch_clip)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vad_core.batch.index import ClipRow, ResultsIndex
from vad_core.errors import VadError

#: (ClipRow field, header, tooltip)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("clip", "clip", "path under the archive root"),
    ("camera", "camera", "first folder under the archive root"),
    ("folder", "folder", "folder of the clip"),
    ("status", "status", "done, or failed (the reason is in the error column)"),
    ("max_error", "max error", "highest raw per-frame error e(t): compares clips scored by one model"),
    ("max_score", "max score", "highest anomaly score; normalised per clip, so most clips reach 1"),
    ("n_events", "events", "events above the threshold"),
    ("mean_error", "mean error", "mean per-frame error"),
    ("frames", "frames", "length of the clip"),
    ("error", "error", "why the clip failed"),
    ("model", "model", "the model that scored it"),
)
FIELDS = tuple(name for name, _, _ in COLUMNS)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
FAILED_COLOR = QColor("#ef9a9a")
ALL = "all"


def _format(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in ("max_error", "mean_error"):
        return f"{value:.4g}"
    if name in ("max_score", "mean_score"):
        return f"{value:.3f}"
    if name == "error":
        return str(value).splitlines()[0] if str(value) else ""
    return str(value)


class TriageModel(QAbstractTableModel):
    """``ClipRow``s as a table (see ``COLUMNS``); ``SORT_ROLE`` gives raw values, ``ROW_ROLE`` the row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[ClipRow] = []

    def set_rows(self, rows: Sequence[ClipRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][2]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        name = FIELDS[index.column()]
        value = getattr(row, name)
        failed = row.status != "done"
        if role == Qt.ItemDataRole.DisplayRole:
            if name == "error" and value and row.path and str(value).startswith(row.path):
                value = Path(row.path).name + str(value)[len(row.path) :]  # the reason, not the folder
            return _format(name, value)
        if role == SORT_ROLE:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return value
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            if failed:
                return f"{row.clip} failed ({row.error_kind or 'error'}): {row.error or 'no reason recorded'}"
            return f"{row.clip}: {row.frames} frames, {row.n_events} events; double-click to review it"
        if role == Qt.ItemDataRole.ForegroundRole and failed:
            return FAILED_COLOR
        if role == Qt.ItemDataRole.TextAlignmentRole and name in (
            "max_error",
            "max_score",
            "mean_error",
            "n_events",
            "frames",
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class TriageFilter(QSortFilterProxyModel):
    """Status / camera / text filters; missing values sort last in both directions."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.status = ALL
        self.camera = ALL
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_filters(self, status: str = ALL, camera: str = ALL, text: str = "") -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated there
            self.beginFilterChange()
            self.status, self.camera, self.text = status, camera, text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.status, self.camera, self.text = status, camera, text.strip().lower()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, TriageModel) or not 0 <= source_row < len(model.rows):
            return False
        row = model.rows[source_row]
        return (
            (self.status == ALL or row.status == self.status)
            and (self.camera == ALL or row.camera == self.camera)
            and (not self.text or self.text in row.clip.lower())
        )

    def lessThan(
        self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex
    ) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a is None or b is None:
            if a is None and b is None:
                return str(left.siblingAtColumn(0).data()) < str(right.siblingAtColumn(0).data())
            return (a is None) if descending else (b is None)  # missing values last either way
        if isinstance(a, str) or isinstance(b, str):
            return str(a).lower() < str(b).lower()
        return a < b


class TriagePanel(QWidget):
    """Results index of a batch run as a sortable, filterable table (see the module docstring)."""

    clipActivated = Signal(object, object)  # ClipRow, Path of its scores file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index: ResultsIndex | None = None
        self._sorted = False
        self.model = TriageModel(self)
        self.proxy = TriageFilter(self)
        self.proxy.setSourceModel(self.model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.summary = QLabel("No batch results open (File ▸ Open batch results…).")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("status"))
        self.status_filter = QComboBox()
        self.status_filter.addItems([ALL, "done", "failed"])
        top.addWidget(self.status_filter)
        top.addWidget(QLabel("camera"))
        self.camera_filter = QComboBox()
        self.camera_filter.addItem(ALL)
        self.camera_filter.setMinimumContentsLength(8)
        top.addWidget(self.camera_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("clip name contains…")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(200)
        top.addWidget(self.search)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the index again (a batch run may still be adding clips)")
        top.addWidget(self.reload_button)
        layout.addLayout(top)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.view.setToolTip("Double-click a clip to review it with its stored scores.")
        layout.addWidget(self.view, 1)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ef9a9a;")
        self.message.setVisible(False)
        layout.addWidget(self.message)
        self.view.doubleClicked.connect(self._activated)
        self.status_filter.currentTextChanged.connect(self._filter)
        self.camera_filter.currentTextChanged.connect(self._filter)
        self.search.textChanged.connect(self._filter)
        self.reload_button.clicked.connect(self._reload_clicked)

    # -- loading -------------------------------------------------------------------------------------
    def load(self, results: str | Path) -> int:
        """Open the results index of ``results`` (a folder or ``index.sqlite``); returns the row count.

        Raises ``ResultsIndexError`` naming the file when it is missing, not an index or too new.
        """
        index = ResultsIndex.open(results, readonly=True)
        if self.index is not None:
            self.index.close()
        self.index = index
        return self.reload()

    def _reload_clicked(self) -> None:
        """Reload; an index that became unreadable meanwhile is a sentence under the table."""
        try:
            self.reload()
        except VadError as error:
            self.message.setText(str(error))
            self.message.setVisible(True)

    def reload(self) -> int:
        """Read the rows again, keeping sort order and filters."""
        if self.index is None:
            return 0
        rows = self.index.rows(order_by="max_error")
        counts = self.index.counts()
        self.model.set_rows(rows)
        cameras = sorted({r.camera for r in rows if r.camera})
        current = self.camera_filter.currentText()
        self.camera_filter.blockSignals(True)
        self.camera_filter.clear()
        self.camera_filter.addItems([ALL, *cameras])
        self.camera_filter.setCurrentText(current if current in cameras else ALL)
        self.camera_filter.blockSignals(False)
        self._filter()
        if not self._sorted:
            self.sort_by("max_error")  # the worst clips first; later reloads keep the operator's order
            self._sorted = True
        header = self.view.horizontalHeader()
        for column, name in enumerate(FIELDS[:-1]):
            self.view.resizeColumnToContents(column)
            widest = 420 if name == "error" else 260
            if header.sectionSize(column) > widest:
                header.resizeSection(column, widest)
        models = sorted({r.model for r in rows if r.model})
        self.summary.setText(
            f"<b>{self.index.results_dir.name}</b> &nbsp;{len(rows)} clips: {counts.get('done', 0)} done, "
            f"<span style='color:#ef9a9a'>{counts.get('failed', 0)} failed</span>"
            + (f" &nbsp;· model {', '.join(models)}" if models else "")
            + " &nbsp;· sorted by max error (comparable across clips)"
        )
        self.summary.setToolTip(str(self.index.path))
        self.message.setVisible(False)
        return len(rows)

    def close_index(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    # -- table ---------------------------------------------------------------------------------------
    def sort_by(self, name: str, order: Qt.SortOrder = Qt.SortOrder.DescendingOrder) -> None:
        """Sort by the column of ClipRow field ``name``."""
        self.view.sortByColumn(FIELDS.index(name), order)

    def visible_rows(self) -> list[ClipRow]:
        """The rows as shown (filtered and sorted)."""
        return [self.proxy.index(r, 0).data(ROW_ROLE) for r in range(self.proxy.rowCount())]

    def view_index(self, clip: str, column: str = "clip") -> QModelIndex:
        """The view's index of ``clip``'s cell in ``column`` (invalid when filtered out)."""
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(ROW_ROLE).clip == clip:
                return self.proxy.index(r, FIELDS.index(column))
        return QModelIndex()

    def _filter(self) -> None:
        self.proxy.set_filters(
            self.status_filter.currentText(), self.camera_filter.currentText(), self.search.text()
        )

    def _activated(self, index: QModelIndex) -> None:
        row: ClipRow | None = index.data(ROW_ROLE)
        if row is None or self.index is None:
            return
        if row.status != "done":
            self.message.setText(f"{row.clip} failed and has no scores: {row.error or 'no reason recorded'}")
            self.message.setVisible(True)
            return
        scores = self.index.scores_file(row)
        if scores is None:
            self.message.setText(f"{row.clip}: the index names no scores file")
            self.message.setVisible(True)
            return
        self.message.setVisible(False)
        self.clipActivated.emit(row, scores)
