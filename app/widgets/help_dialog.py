"""The keyboard-shortcut help: every action of the main window with its keys, plus mouse gestures.

Built from the window's ``QAction``s, so the list cannot drift from what the keys really do.

Example::

    HelpDialog(window.shortcut_actions(), parent=window).open()
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MOUSE_HINTS = (
    ("Click or drag on the curve", "Seek to that frame"),
    ("Drag the yellow line", "Seek"),
    ("Drag the red dashed line", "Change the event threshold"),
    ("Mouse wheel on the curve", "Zoom the frame axis"),
    ("Right-drag on the curve", "Pan the frame axis"),
    ("Click an events-table row", "Jump to that event"),
    ("Drag on an empty part of the labels row", "Label those frames as an anomaly"),
    ("Drag a label / its edge", "Move it / resize it (Ctrl+Z undoes)"),
    ("Click a label (Ctrl+click: several)", "Select it (Delete, S split, M merge)"),
    ("Double-click a tag or note in the Labels panel", "Edit it"),
    ("Double-click a clip in Batch results", "Review it with its stored scores"),
    ("Mouse wheel on an explanation tile (X panel)", "Zoom all tiles together; double-click resets"),
    ("⚙ on an explanation tile", "That method's settings (samples, superpixels, epsilon, grid)"),
    ("Drop a file or folder on the window", "Open it (an MVTec category opens image inspection)"),
)


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str]]:
    """``(keys, what)`` for every action that has a shortcut, in the given order."""
    rows = []
    for action in actions:
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()]
        if keys:
            rows.append((" / ".join(keys), action.text().replace("&", "").rstrip("…").rstrip(".")))
    return rows


class HelpDialog(QDialog):
    """A two-column table of keys and what they do, then the mouse gestures."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Keys</b> (J / K / L work like a video editor: reverse, pause, forward)"))
        rows = shortcut_rows(actions)
        self.table = self._table(rows, ("Keys", "Action"))
        layout.addWidget(self.table, 3)
        layout.addWidget(QLabel("<b>Mouse</b>"))
        layout.addWidget(self._table(list(MOUSE_HINTS), ("Gesture", "Action")), 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 780)

    @staticmethod
    def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str]) -> QTableWidget:
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(list(header))
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (keys, what) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(what))
        return table
