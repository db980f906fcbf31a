"""The one background worker of both windows: any generator, run on a thread pool.

Long work (scoring, training, reconstructing a frame, explaining, exporting) is written as a plain
generator in the napari style: every ``yield`` hands over a partial result (or a ``Progress`` /
``Notice``), ``return`` hands over the final result, and an exception ends the job. ``Worker``
runs such a generator on a ``QThreadPool`` thread and turns it into signals that arrive on the GUI
thread:

* ``chunk(object)``     - every yielded item that is not a ``Progress`` or ``Notice``;
* ``progress(int, int)`` and ``message(str)`` - from ``Progress`` / ``Notice`` items;
* ``failed(str)``       - the exception, as one line (``str(error)`` for the engine's typed errors);
* ``done(object)``      - the generator's return value (not sent when cancelled or failed);
* ``finished()``        - always last, whatever happened.

``cancel()`` sets a flag that is checked between yields; the generator is then closed (its
``finally`` blocks run) and no further chunk, ``done`` or ``failed`` is sent. Slots can tell jobs
apart by ``worker.sent(self.sender())``: every worker has its own ``signals`` object (and no
back-reference to the worker, so no Qt-Python reference cycle outlives it).

Example::

    def count(n):
        for i in range(n):
            yield Progress(i + 1, n)
        return n

    worker = Worker(lambda: count(10), name="count")
    worker.signals.done.connect(print)
    pool.start(worker)
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal

from vad_core.errors import Cancelled, VadError

log = logging.getLogger(__name__)
_ids = itertools.count(1)


@dataclass(frozen=True)
class Progress:
    """Yield this to report ``done`` of ``total`` units (and optionally say what is happening)."""

    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Notice:
    """Yield this to put a one-line message in the status bar (e.g. "batch halved to 16")."""

    text: str


class WorkerSignals(QObject):
    """Signals of one worker; created on the GUI thread so queued slots run there."""

    chunk = Signal(object)
    progress = Signal(int, int)
    message = Signal(str)
    failed = Signal(str)
    done = Signal(object)
    finished = Signal()


def describe_error(error: BaseException) -> str:
    """One line for a dialog: the engine's typed errors say it all, others get their type name."""
    if isinstance(error, VadError):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Worker(QRunnable):
    """Runs ``factory()``'s generator on a pool thread and reports through ``signals``."""

    def __init__(self, factory: Callable[[], Generator[Any, None, Any]], name: str = "job") -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side (WorkerPool) owns it
        self.factory = factory
        self.name = name
        self.id = next(_ids)
        self.signals = WorkerSignals()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self.result: Any = None
        self.error: str | None = None

    def sent(self, sender: object) -> bool:
        """True when ``sender`` (a slot's ``self.sender()``) is this job's signals object."""
        return sender is self.signals

    def cancel(self) -> None:
        """Ask the job to stop at its next yield."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (tests and shutdown only); True when it did."""
        return self._finished.wait(timeout)

    def _emit(self, signal: Any, *args: Any) -> None:
        """Emit unless the receiving side is gone (the window was destroyed without waiting for us)."""
        try:
            signal.emit(*args)
        except RuntimeError:  # "Signal source has been deleted": nobody is listening any more
            self._cancel.set()

    def run(self) -> None:  # noqa: C901 - one loop, every branch is a signal
        generator: Generator[Any, None, Any] | None = None
        signals = self.signals
        try:
            generator = self.factory()
            while True:
                if self._cancel.is_set():
                    generator.close()
                    return
                try:
                    item = next(generator)
                except StopIteration as stop:
                    if not self._cancel.is_set():
                        self.result = stop.value
                        self._emit(signals.done, stop.value)
                    return
                if self._cancel.is_set():
                    generator.close()
                    return
                if isinstance(item, Progress):
                    self._emit(signals.progress, int(item.done), int(item.total))
                    if item.message:
                        self._emit(signals.message, item.message)
                elif isinstance(item, Notice):
                    self._emit(signals.message, item.text)
                else:
                    self._emit(signals.chunk, item)
        except Cancelled:
            return
        except Exception as error:
            if not isinstance(error, VadError):
                log.exception("%s failed", self.name)
            self.error = describe_error(error)
            if not self._cancel.is_set():
                self._emit(signals.failed, self.error)
        finally:
            self._finished.set()
            self._emit(signals.finished)


class WorkerPool(QObject):
    """A thread pool that keeps each worker alive until its last signal has reached the GUI thread.

    A slot that calls ``self.sender()`` must find the sender alive: Qt hands out the raw pointer,
    and a signals object deleted while its queued signals wait in the event queue would be a
    dangling one. So a worker is released one event-loop turn after its ``finished`` signal was
    delivered (``finished`` is always its last signal), never earlier.
    """

    def __init__(self, max_threads: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._workers: dict[int, Worker] = {}

    def start(self, worker: Worker) -> Worker:
        self._workers[worker.id] = worker
        # connected after the caller's own slots, so this queued call runs after theirs
        worker.signals.finished.connect(self._finished, Qt.ConnectionType.QueuedConnection)
        self.pool.start(worker)
        return worker

    def _finished(self) -> None:
        sender = self.sender()
        for worker_id, worker in list(self._workers.items()):
            if worker.sent(sender):
                QTimer.singleShot(0, lambda worker_id=worker_id: self._workers.pop(worker_id, None))

    @property
    def running(self) -> list[Worker]:
        """Jobs started and not finished yet."""
        return [w for w in self._workers.values() if not w.is_finished]

    def cancel_all(self) -> None:
        for worker in self.running:
            worker.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job and wait for the threads; True when all stopped in time."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)
