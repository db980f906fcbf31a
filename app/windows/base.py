"""What both windows (review and image inspection) share, so it lives once: ``AppWindow``.

* actions and docks: ``add_action(name, ...)`` (kept in ``actions_by_name``; its shortcut works
  wherever the focus is in the window) and ``add_dock(title, widget, area)``; controllers use
  these, never the window's internals;
* messages: ``show_error(title, message)`` (a non-blocking warning, the window stays usable) and
  ``notify(message)`` (the status bar);
* the status bar's ``progress`` bar (scoring) and ``busy`` indicator (work without progress:
  loading a model, reading a batch clip);
* the scoring job's lifecycle: ``start_score_job`` runs a scoring generator as the window's one
  ``score_job`` (progress, messages, failure dialog, the bar hidden at the end), ``cancel_scoring``,
  ``cancel_jobs`` (Esc) and ``busy``;
* choosing and loading a checkpoint in a worker: ``checkpoints`` (``CheckpointLoader``), which
  calls the window's ``set_checkpoint`` with the loaded model;
* ``closeEvent``: closes the training dialog, lets the window shut its parts down
  (``shut_down_parts``), cancels every job and waits for the worker threads.

A window fills in ``set_checkpoint``, ``update_enabled`` and, when it has more to stop or
drop, ``scoring_cancelled``, ``cancel_other_jobs`` and ``shut_down_parts``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QProgressBar, QStyle, QWidget

from app.controllers.checkpoints import CheckpointLoader
from app.jobs.current_job import CurrentJob
from app.jobs.worker import Worker, WorkerPool
from app.settings import AppSettings
from app.widgets.busy_indicator import BusyIndicator
from vad_core.checkpoint import Checkpoint

log = logging.getLogger(__name__)

#: How long a scoring job's messages stay in the status bar.
SCORE_MESSAGE_MS = 15000


class AppWindow(QMainWindow):
    """The shared base of the review and the image inspection window (see the module docstring)."""

    def __init__(
        self,
        settings: AppSettings | None,
        checkpoint_title: str,
        remember_checkpoint: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.pool = WorkerPool(max_threads=3, parent=self)
        self.actions_by_name: dict[str, QAction] = {}
        self.error_dialog: QMessageBox | None = None
        self.train_dialog: Any = None
        self.closing = False
        self.score_job = CurrentJob(self.pool, self)
        self.checkpoints = CheckpointLoader(self, checkpoint_title, remember_checkpoint)
        self.busy_indicator = BusyIndicator()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setMaximumHeight(16)
        self.progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.busy_indicator)
        self.statusBar().addPermanentWidget(self.progress)

    # ================================================================================ actions and docks
    def add_action(
        self,
        name: str,
        text: str,
        slot: Callable,
        shortcuts: tuple[str, ...] = (),
        icon: QStyle.StandardPixmap | QIcon | None = None,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        """A window action named ``name`` (``actions_by_name[name]``); checkable ones start checked."""
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if isinstance(icon, QIcon):
            action.setIcon(icon)
        elif icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        action.setChecked(checkable)  # checkable actions start on (connected below, so no slot runs now)
        keys = ", ".join(shortcuts)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({keys})" if keys else ""))
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        self.actions_by_name[name] = action
        return action

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A movable, floatable, closable dock holding ``widget`` (its object name follows the title)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    # ================================================================================ messages
    def show_error(self, title: str, message: str) -> QMessageBox:
        """A short, non-blocking warning naming the file and the problem; the window stays usable."""
        if self.error_dialog is not None:
            self.error_dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_dialog = box
        box.open()
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        return box

    def notify(self, message: str, timeout_ms: int = 8000) -> None:
        """One line in the status bar for ``timeout_ms``."""
        self.statusBar().showMessage(message, timeout_ms)

    # ================================================================================ the scoring job
    def start_score_job(
        self,
        factory: Callable[[], Generator[Any, None, Any]],
        total: int,
        name: str,
        chunk: Callable[[Any], None] | None = None,
        done: Callable[[Any], None] | None = None,
    ) -> Worker:
        """Run a scoring generator as the window's scoring job (the previous one is cancelled).

        ``chunk`` gets its partial results and ``done`` its result; progress goes to the bar,
        messages to the status bar, a failure to an error dialog.
        """
        handlers: dict[str, Callable[..., Any]] = {"chunk": chunk} if chunk is not None else {}
        if done is not None:
            handlers["done"] = done
        worker = self.score_job.start(
            factory,
            name,
            progress=self._score_progress,
            message=self._score_message,
            failed=self._score_failed,
            finished=self._score_finished,
            **handlers,
        )
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(0)
        self.progress.setFormat("scoring %p%")
        self.progress.setVisible(True)
        self.update_enabled()
        return worker

    def _score_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _score_message(self, text: str) -> None:
        self.notify(text, SCORE_MESSAGE_MS)

    def _score_failed(self, message: str) -> None:
        self.show_error("Scoring failed", message)

    def _score_finished(self) -> None:
        self.progress.setVisible(False)
        self.update_enabled()

    @property
    def busy(self) -> bool:
        """True while the scoring job runs."""
        return self.score_job.running

    def cancel_scoring(self) -> bool:
        """Stop the scoring job (its late results are dropped); True when one was running."""
        if not self.score_job.cancel():
            return False
        self.progress.setVisible(False)
        self.scoring_cancelled()
        self.update_enabled()
        return True

    def scoring_cancelled(self) -> None:
        """The scoring job was cancelled: drop what it left half done."""

    def cancel_other_jobs(self) -> None:
        """Esc stops these too (a window's own jobs: the running explanation, ...)."""

    def cancel_jobs(self) -> None:
        """Esc / Cancel: stop scoring, the window's other jobs and a training run (its dialog stays open)."""
        was_scoring = self.cancel_scoring()
        self.cancel_other_jobs()
        if self.train_dialog is not None and self.train_dialog.running:
            self.train_dialog.stop()
        if was_scoring:
            self.notify("Scoring cancelled.")

    # ================================================================================ the model
    def set_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Use ``checkpoint`` (loaded by ``checkpoints``); False when the window cannot use it."""
        raise NotImplementedError

    def load_checkpoint(self, path: str | Path) -> None:
        """Load the checkpoint at ``path`` in a worker; ``set_checkpoint`` gets it (errors: a dialog)."""
        self.checkpoints.load(path)

    def update_enabled(self) -> None:
        """Enable what can be done now (after every change of what is open or running)."""

    # ================================================================================ closing
    def shut_down_parts(self) -> None:
        """Closing: stop the window's own parts (timers, label writer, panels) before the threads."""

    def closeEvent(self, event) -> None:  # Qt naming
        """Closing cancels every job and waits for the worker threads (a few seconds at most)."""
        self.closing = True
        if self.train_dialog is not None:
            self.train_dialog.close()
        self.score_job.cancel()
        self.checkpoints.job.cancel()
        self.shut_down_parts()
        if not self.pool.shutdown(10_000):
            log.warning("worker threads still running at exit")
        super().closeEvent(event)
