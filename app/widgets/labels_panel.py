"""The labels panel: the label file's state, live metrics of the model against the labels, the intervals.

Top to bottom:

* where the labels are saved and whether the last edit is on disk ("saved 14:02:11", "saving…",
  "NOT saved: the file changed on disk");
* live metrics: frame-level AUROC, EER and F1 of the current model's anomaly score against the
  labels (``vad_core.metrics.frame_metrics``; anomaly intervals are the positives, every other
  frame counts as normal; F1 at the event threshold). Recomputed only when the document's
  revision, the scores or the threshold changed (``update_metrics``);
* buttons for the label actions of the window (accept / reject the selected event, split, merge,
  delete, undo, redo, export), each showing its key;
* one row per interval: its kind (■ anomaly, ▨ reviewed negative, coloured as on the label band),
  first and last frame (inclusive, as operators read them), length, tag and note. Tag and note are edited in place (double-click or F2); ``tagEdited`` /
  ``noteEdited`` report the new text, the controller turns it into an undoable command.

Example::

    panel = LabelsPanel(window.actions_by_name)
    panel.set_intervals(doc.intervals, fps=25.0)
    panel.update_metrics(scores.score, doc, threshold=0.5)
    panel.tagEdited.connect(lambda interval_id, tag: controller.set_tag(interval_id, tag))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vad_core.labels import LabelDocument, LabelInterval
from vad_core.metrics import FrameMetrics, frame_metrics
from vad_core.scoring.vocabulary import flag_rule, percent

COLUMNS = ("", "first", "last", "length", "tag", "note")
TAG_COLUMN, NOTE_COLUMN = 4, 5
ANOMALY_TEXT_COLOR = "#ce93d8"
NEGATIVE_TEXT_COLOR = "#90caf9"
#: (action name, button text); a one-key shortcut is added to the text, every key to the tooltip.
BUTTONS = (
    ("accept_event", "Accept"),
    ("reject_event", "Reject"),
    ("split_label", "Split"),
    ("merge_labels", "Merge"),
    ("delete_label", "Delete"),
    ("undo", "Undo"),
    ("redo", "Redo"),
    ("export_selected", "Export…"),
)
BUTTON_COLUMNS = 4


def label_metrics(
    score: np.ndarray | None, labels: np.ndarray | None, threshold: float
) -> FrameMetrics | None:
    """Frame metrics of ``score`` against the per-frame ``labels`` (True = anomalous), or None.

    None when there is nothing to compare: no scores, no labelled anomaly, or lengths that differ.
    Frames whose score is not finite (a diverged model) are left out.
    """
    if score is None or labels is None or len(score) != len(labels) or not np.any(labels):
        return None
    score = np.asarray(score, np.float64)
    finite = np.isfinite(score)
    if not finite.any():
        return None
    return frame_metrics(score[finite], np.asarray(labels, bool)[finite], threshold=threshold)


def _number(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else percent(value)


def _shortcut(action: QAction) -> str:
    keys = action.shortcuts()
    return keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""


class LabelsPanel(QWidget):
    """Label file state, live metrics and the interval list (see the module docstring)."""

    selectionChanged = Signal(list)  # selected interval ids
    tagEdited = Signal(str, str)  # id, new tag
    noteEdited = Signal(str, str)  # id, new note
    intervalActivated = Signal(str)  # double-click on a frame column: go there

    def __init__(self, actions: Mapping[str, QAction] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        self.file_label = QLabel("No video open.")
        self.file_label.setWordWrap(True)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_label.setStyleSheet("color: #b0b0b0;")
        layout.addWidget(self.file_label)
        self.metrics_label = QLabel()
        self.metrics_label.setTextFormat(Qt.TextFormat.RichText)
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setToolTip(
            "Frame-level AUROC, equal error rate and F1 of the loaded model's anomaly score against "
            "your labels: frames inside anomaly intervals are positives, all other frames (reviewed "
            "negatives included) count as normal. F1 is taken at the event threshold. Updated on every edit."
        )
        layout.addWidget(self.metrics_label)
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(3)
        for index, (name, text) in enumerate(BUTTONS):
            action = (actions or {}).get(name)
            if action is None:
                continue
            button = QPushButton(self._button_text(text, action))
            button.setToolTip(action.toolTip())
            button.setMinimumWidth(40)  # the dock may be narrow: buttons shrink rather than widen it
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the window's shortcuts
            button.clicked.connect(action.trigger)
            button.setEnabled(action.isEnabled())
            action.changed.connect(lambda b=button, a=action: b.setEnabled(a.isEnabled()))
            grid.addWidget(button, index // BUTTON_COLUMNS, index % BUTTON_COLUMNS)
            self.buttons[name] = button
        layout.addLayout(grid)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        for column in range(len(COLUMNS)):
            mode = QHeaderView.ResizeMode.ResizeToContents
            if column in (TAG_COLUMN, NOTE_COLUMN):
                mode = QHeaderView.ResizeMode.Stretch
            header.setSectionResizeMode(column, mode)
        self.table.setToolTip(
            "Your label intervals (frames are inclusive). Double-click a tag or note to edit it; "
            "double-click a frame to go there; Ctrl+click selects several (M merges them)."
        )
        layout.addWidget(self.table, 1)
        self.empty_hint = QLabel(
            "No labels yet. Drag on the purple <b>labels</b> row under the timeline, press "
            "<b>B</b> / <b>N</b> at the first / last frame, or <b>A</b> to accept a flagged event."
        )
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #9e9e9e;")
        layout.addWidget(self.empty_hint)
        self.intervals: list[LabelInterval] = []
        self._metrics_key: tuple | None = None
        self.metrics: FrameMetrics | None = None
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.show_metrics(None, "Open a video and a model; label some anomalies to see AUROC / EER / F1.")

    @staticmethod
    def _button_text(text: str, action: QAction) -> str:
        key = _shortcut(action)
        return f"{text}  {key}" if len(key) == 1 else text

    # -- file state ----------------------------------------------------------------------------------
    def set_file_state(self, text: str, level: str = "ok", path: str = "") -> None:
        """One line about the label file; ``level`` is ``ok``, ``busy`` or ``problem`` (drawn red)."""
        color = {"ok": "#a5d6a7", "busy": "#b0b0b0", "problem": "#ef9a9a"}.get(level, "#b0b0b0")
        self.file_label.setText(text)
        self.file_label.setStyleSheet(f"color: {color};")
        self.file_label.setToolTip(f"Labels are saved to {path}" if path else "")

    # -- intervals -----------------------------------------------------------------------------------
    def set_intervals(self, intervals: Sequence[LabelInterval], fps: float = 25.0) -> None:
        """Fill the table (the selection of ids that still exist is kept, no signal)."""
        selected = self.selected_ids()
        self.intervals = list(intervals)
        fps = fps if fps and fps > 0 else 25.0
        with QSignalBlocker(self.table):
            self.table.clearContents()
            self.table.setRowCount(len(self.intervals))
            for row, interval in enumerate(self.intervals):
                anomaly = interval.is_anomaly
                kind = QTableWidgetItem("■" if anomaly else "▨")
                kind.setForeground(QColor(ANOMALY_TEXT_COLOR if anomaly else NEGATIVE_TEXT_COLOR))
                kind.setToolTip(
                    f"{'anomaly' if anomaly else 'reviewed negative (rejected false alarm)'}, "
                    f"from {interval.origin}; edited {interval.edited or '?'} by {interval.author or '?'}"
                )
                cells = [
                    kind,
                    QTableWidgetItem(str(interval.start)),
                    QTableWidgetItem(str(interval.last)),
                    QTableWidgetItem(f"{interval.duration / fps:.1f} s"),
                    QTableWidgetItem(interval.tag),
                    QTableWidgetItem(interval.note.replace("\n", " ⏎ ")),
                ]
                cells[1].setToolTip(f"frame {interval.start}, {interval.start / fps:.2f} s")
                cells[2].setToolTip(f"frame {interval.last}, {interval.last / fps:.2f} s")
                cells[3].setToolTip(f"{interval.duration} frames")
                cells[NOTE_COLUMN].setToolTip(interval.note or "double-click to add a note")
                cells[TAG_COLUMN].setToolTip(interval.tag or "double-click to add a tag (bike, cart, …)")
                for column, item in enumerate(cells):
                    item.setData(Qt.ItemDataRole.UserRole, interval.id)
                    if column not in (TAG_COLUMN, NOTE_COLUMN):
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(row, column, item)
        self.select_ids(selected)
        self.table.setVisible(bool(self.intervals))
        self.empty_hint.setVisible(not self.intervals)

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.intervals[row].id for row in rows if row < len(self.intervals)]

    def select_ids(self, ids: Sequence[str]) -> None:
        """Select the rows of ``ids`` (no signal)."""
        wanted = set(ids)
        with QSignalBlocker(self.table), QSignalBlocker(self.table.selectionModel()):
            self.table.clearSelection()
            mode = self.table.selectionMode()
            self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
            first = None
            for row, interval in enumerate(self.intervals):
                if interval.id in wanted:
                    self.table.selectRow(row)
                    first = row if first is None else first
            self.table.setSelectionMode(mode)
            if first is not None:
                self.table.scrollToItem(self.table.item(first, 0))
        self.table.viewport().update()

    def _selection_changed(self) -> None:
        self.selectionChanged.emit(self.selected_ids())

    def _item_changed(self, item: QTableWidgetItem) -> None:
        interval_id = item.data(Qt.ItemDataRole.UserRole)
        if not interval_id:
            return
        if item.column() == TAG_COLUMN:
            self.tagEdited.emit(interval_id, item.text())
        elif item.column() == NOTE_COLUMN:
            self.noteEdited.emit(interval_id, item.text().replace(" ⏎ ", "\n"))

    def _double_clicked(self, row: int, column: int) -> None:
        if column not in (TAG_COLUMN, NOTE_COLUMN) and 0 <= row < len(self.intervals):
            self.intervalActivated.emit(self.intervals[row].id)

    # -- metrics -------------------------------------------------------------------------------------
    def update_metrics(
        self,
        score: np.ndarray | None,
        doc: LabelDocument | None,
        threshold: float,
        model: str = "",
        ground_truth: np.ndarray | None = None,
    ) -> FrameMetrics | None:
        """Recompute the metrics when the scores, the labels or the threshold changed.

        They compare against the operator's labels when the label file holds an anomaly, else
        against the dataset's ground truth (the "truth" band) when the clip has one; the line
        under them says which."""
        fingerprint = None if score is None else (id(score), len(score), float(np.nansum(score)))
        truth_key = None if ground_truth is None else (id(ground_truth), int(np.sum(ground_truth)))
        key = (fingerprint, id(doc), getattr(doc, "revision", None), threshold, truth_key)
        if key == self._metrics_key:
            return self.metrics
        self._metrics_key = key
        mask, against = self._reference(score, doc, ground_truth)
        if mask is None:
            self.show_metrics(None, against)
            return None
        if score is None:
            self.show_metrics(None, f"Score the video (F5) to compare the model with {against}.")
            return None
        metrics = label_metrics(score, mask, threshold)
        detail = (
            f"{model + ' ' if model else ''}vs {against} ({int(mask.sum())} of {len(mask)} frames anomalous) · "
            f"F1 where {flag_rule(threshold)}"
        )
        self.show_metrics(metrics, detail)
        return metrics

    @staticmethod
    def _reference(
        score: np.ndarray | None, doc: LabelDocument | None, ground_truth: np.ndarray | None
    ) -> tuple[np.ndarray | None, str]:
        """The per-frame labels the metrics use and how to name them; ``(None, why not)`` without any."""
        length = len(score) if score is not None else None
        if doc is not None:
            mask = doc.to_frame_mask(length)
            if mask.any():
                count = len(doc.anomalies)
                return mask, f"your labels ({count} interval{'s' if count != 1 else ''})"
        if (
            ground_truth is not None
            and np.any(ground_truth)
            and (length is None or len(ground_truth) == length)
        ):
            return np.asarray(ground_truth, bool), "the dataset's ground truth"
        if doc is None:
            return None, "Labels are not available for this video."
        return None, "Label an anomaly to compare the model with your labels."

    def show_metrics(self, metrics: FrameMetrics | None, detail: str) -> None:
        """Show ``metrics`` (or dashes) and one line saying what they compare."""
        self.metrics = metrics
        if metrics is None:
            values = ("–", "–", "–")
        else:
            values = (_number(metrics.auroc), _number(metrics.eer), _number(metrics.f1))
        cells = "".join(
            f"<td align='center' style='padding-right:18px'><span style='color:#9e9e9e'>{name}</span><br>"
            f"<span style='font-size:14pt; font-weight:bold'>{value}</span></td>"
            for name, value in zip(("AUROC", "EER", "F1"), values, strict=True)
        )
        self.metrics_label.setText(
            f"<table><tr>{cells}</tr></table><span style='color:#9e9e9e; font-size:8pt'>{detail}</span>"
        )
