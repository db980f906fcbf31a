"""A status-bar indicator for work that cannot say how far it is (loading a model, reading a clip).

An indeterminate bar with a line saying what runs; shown while at least one task is active.
Tasks are named, so two of them can overlap (the newest one's text is shown).

Example::

    busy = BusyIndicator()
    window.statusBar().addPermanentWidget(busy)
    busy.begin("checkpoint", "loading bcae1…")
    busy.end("checkpoint")
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget


class BusyIndicator(QWidget):
    """An indeterminate progress bar and a line of text, visible while a task is active."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # indeterminate: it moves while the task runs
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(80)
        self.bar.setMaximumHeight(14)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self._tasks: dict[str, str] = {}
        self.setVisible(False)

    def begin(self, task: str, text: str) -> None:
        """``task`` runs; ``text`` says what (shown until ``end(task)``)."""
        self._tasks.pop(task, None)
        self._tasks[task] = text
        self._show()

    def end(self, task: str) -> None:
        self._tasks.pop(task, None)
        self._show()

    def active(self, task: str | None = None) -> bool:
        """Whether ``task`` (or any task) is running."""
        return bool(self._tasks) if task is None else task in self._tasks

    def text(self) -> str:
        return self.label.text()

    def _show(self) -> None:
        if self._tasks:
            self.label.setText(list(self._tasks.values())[-1])
            self.setToolTip("; ".join(self._tasks.values()))
        self.setVisible(bool(self._tasks))
