"""Choosing and loading a checkpoint, for both windows: the file dialog, and the load in a worker.

Loading imports torch the first time, hashes the weights and builds the model: seconds on a small
CPU, so it runs as ``app.jobs.checkpoint.checkpoint_job`` on the window's pool while the window
stays usable and its status bar says what is loading. The loaded ``Checkpoint`` goes to the
window's ``set_checkpoint``; a failure is shown as one line naming the file ("Cannot load
checkpoint"), and the model in use stays. A newer load replaces one still running.

Example::

    window.checkpoints.load("runs/bcae1.safetensors")     # returns at once
    window.checkpoints.loaded.connect(print)              # the Checkpoint, once the window took it
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from app.jobs.checkpoint import checkpoint_job
from app.jobs.current_job import CurrentJob

if TYPE_CHECKING:
    from app.windows.base import AppWindow
    from vad_core.checkpoint import Checkpoint

CHECKPOINT_FILES = "Checkpoints (*.safetensors *.json)"
BUSY_TASK = "checkpoint"


class CheckpointLoader(QObject):
    """The window's checkpoint dialog and loader (see the module docstring)."""

    loaded = Signal(object)  # the Checkpoint the window took
    failed = Signal(str)  # why nothing was taken (one line)

    def __init__(self, window: AppWindow, title: str, remember: bool) -> None:
        """``title`` of the file dialog; ``remember``: the loaded path becomes the settings' last checkpoint."""
        super().__init__(window)
        self.window = window
        self.title = title
        self.remember = remember
        self.job = CurrentJob(window.pool, self)
        self.path: Path | None = None  # what is loading (or was loaded last)

    @property
    def loading(self) -> bool:
        return self.job.running

    def choose(self, start: str = "") -> None:
        """Ask for a checkpoint file (starting beside the last one) and load it."""
        start = self.window.settings.last_checkpoint() or start or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self.window, self.title, str(Path(start).parent), CHECKPOINT_FILES
        )
        if path:
            self.load(path)

    def load(self, path: str | Path) -> None:
        """Start loading ``path`` in a worker (see the module docstring); returns at once."""
        self.path = Path(path)
        name = self.path.name
        self.window.busy_indicator.begin(BUSY_TASK, f"loading the model {name}…")
        self.job.start(
            lambda: checkpoint_job(path),
            "checkpoint",
            message=lambda text: self.window.notify(text, 15000),
            done=self._loaded,
            failed=self._failed,
            finished=lambda: self.window.busy_indicator.end(BUSY_TASK),  # also when it ended otherwise
        )

    def _loaded(self, checkpoint: Checkpoint) -> None:
        self.window.busy_indicator.end(BUSY_TASK)
        if not self.window.set_checkpoint(checkpoint):
            self.failed.emit(f"{checkpoint.display_name}: not usable in this window")
            return
        if self.remember and checkpoint.path is not None:
            self.window.settings.set_last_checkpoint(checkpoint.path)
        self.loaded.emit(checkpoint)

    def _failed(self, message: str) -> None:
        self.window.busy_indicator.end(BUSY_TASK)
        self.window.show_error("Cannot load checkpoint", message)
        self.failed.emit(message)
