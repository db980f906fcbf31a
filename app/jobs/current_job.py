"""One running job of a kind (scoring, loading a model, reading thumbnails...), on the GUI thread's side.

Starting a new job of the kind cancels the running one; signals of a cancelled or replaced job
are dropped here, so the handlers only ever hear from the current job (the check every slot
used to make with ``worker.sent(self.sender())``). The handlers run on the GUI thread.

Example::

    loading = CurrentJob(pool, parent=window)
    loading.start(lambda: checkpoint_job(path), "checkpoint", done=window.set_checkpoint,
                  failed=lambda message: window.show_error("Cannot load checkpoint", message))
    loading.running         # True until its ``finished`` arrived (or it was cancelled)
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject

from app.jobs.worker import Worker, WorkerPool

#: The worker signals a handler may be given for (``CurrentJob.start`` keyword arguments).
HANDLERS = ("chunk", "progress", "message", "done", "failed", "finished")


class CurrentJob(QObject):
    """At most one job of one kind; see the module docstring."""

    def __init__(self, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.worker: Worker | None = None
        self._handlers: dict[str, Callable[..., Any]] = {}

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(
        self, factory: Callable[[], Generator[Any, None, Any]], name: str, **handlers: Callable[..., Any]
    ) -> Worker:
        """Cancel the running job, start ``factory()``'s generator; ``handlers`` by signal name."""
        unknown = set(handlers) - set(HANDLERS)
        if unknown:
            raise TypeError(f"no worker signal named {', '.join(sorted(unknown))}")
        self.cancel()
        worker = Worker(factory, name=name)
        signals = worker.signals
        signals.chunk.connect(self._chunk)
        signals.progress.connect(self._progress)
        signals.message.connect(self._message)
        signals.done.connect(self._done)
        signals.failed.connect(self._failed)
        signals.finished.connect(self._finished)
        self._handlers = handlers
        self.worker = worker
        self.pool.start(worker)
        return worker

    def cancel(self) -> bool:
        """Stop the running job (its later signals are dropped); True when one was running."""
        worker, self.worker = self.worker, None
        if worker is None:
            return False
        worker.cancel()
        return True

    # -- the worker's signals, passed on only while they come from the current job -------------------
    def _current(self) -> bool:
        return self.worker is not None and self.worker.sent(self.sender())

    def _call(self, name: str, *args: Any) -> None:
        handler = self._handlers.get(name)
        if handler is not None:
            handler(*args)

    def _chunk(self, item: object) -> None:
        if self._current():
            self._call("chunk", item)

    def _progress(self, done: int, total: int) -> None:
        if self._current():
            self._call("progress", done, total)

    def _message(self, text: str) -> None:
        if self._current():
            self._call("message", text)

    def _done(self, result: object) -> None:
        if self._current():
            self._call("done", result)

    def _failed(self, message: str) -> None:
        if self._current():
            self._call("failed", message)

    def _finished(self) -> None:
        if self._current():
            self.worker = None
            self._call("finished")
