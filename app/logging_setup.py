"""Logging of the review window: a rotating file in the user's log folder, and no crash on a stray exception.

``setup_logging`` writes every record (INFO and up) to ``vad_core.paths.log_dir() / "vad-review.log"``
(rotated at 1 MB, five old files kept) and WARNING and up to stderr. A hard crash (segfault in a
native library) leaves its Python stack in ``faults.log`` next to it.

``install_exception_hooks`` routes ``sys.excepthook``, ``threading.excepthook`` and Qt's message
handler into that log. An uncaught exception, on any thread, is logged with its traceback and the
operator sees a short dialog naming the error and the log file - never a traceback - while the
window keeps running. Qt's own warnings are logged, not shown.

Example::

    log_file = setup_logging()
    app = create_application()
    install_exception_hooks(log_file)
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import logging.handlers
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

LOG_NAME = "vad-review.log"
FAULTS_NAME = "faults.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
DIALOG_MIN_INTERVAL_S = 2.0  # a burst of errors (e.g. in a paint handler) opens one dialog, not hundreds

log = logging.getLogger("vad-review")

_state: dict[str, Any] = {
    "log_file": None,
    "handlers": [],
    "faults": None,
    "bridge": None,
    "dialog": None,
    "last": 0.0,
}


def _writable_log_dir() -> Path:
    """``vad_core.paths.log_dir()``, or a temporary folder when it cannot be created."""
    from vad_core.paths import log_dir

    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
        return folder
    except OSError as error:
        fallback = Path(tempfile.gettempdir()) / "vad-review-logs"
        fallback.mkdir(parents=True, exist_ok=True)
        print(f"vad-review: cannot write logs to {folder} ({error}); using {fallback}", file=sys.stderr)
        return fallback


def setup_logging(
    level: int = logging.INFO, console_level: int = logging.WARNING, crash_log: bool = True
) -> Path:
    """Log to the rotating file (and stderr); returns the log file's path. Calling it again changes nothing.

    ``crash_log`` also points ``faulthandler`` at ``faults.log`` (leave it off where a test runner
    owns faulthandler).
    """
    if _state["handlers"]:
        return _state["log_file"]
    folder = _writable_log_dir()
    log_file = folder / LOG_NAME
    root = logging.getLogger()
    root.setLevel(min(level, console_level))
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False
    )
    file_handler.setLevel(level)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    handlers: list[logging.Handler] = [file_handler]
    if sys.stderr is not None:  # a windowed build on Windows has no stderr
        console = logging.StreamHandler()
        console.setLevel(console_level)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(console)
        handlers.append(console)
    _state["handlers"] = handlers
    if crash_log:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            faults = open(folder / FAULTS_NAME, "a", encoding="utf-8")  # noqa: SIM115 - open for the process
            faulthandler.enable(faults, all_threads=True)
            _state["faults"] = faults
    _state["log_file"] = log_file
    log.info("log started (pid %d, %s)", os.getpid(), " ".join(sys.argv))
    return log_file


def shutdown_logging() -> None:
    """Undo ``setup_logging``: remove and close its handlers, stop the crash log (tests use this)."""
    root = logging.getLogger()
    for handler in _state["handlers"]:
        root.removeHandler(handler)
        handler.close()
    _state["handlers"] = []
    if _state["faults"] is not None:
        with contextlib.suppress(RuntimeError, ValueError):
            faulthandler.disable()
        _state["faults"].close()
        _state["faults"] = None
    _state["log_file"] = None


def current_log_file() -> Path | None:
    """The log file ``setup_logging`` opened (None before it ran)."""
    return _state["log_file"]


def summarize(exc_type: type[BaseException], exc: BaseException | None, limit: int = 300) -> str:
    """``ExceptionType: first line of the message``, at most ``limit`` characters (no traceback)."""
    message = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    text = f"{exc_type.__name__}: {message}" if message else exc_type.__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_dialog_text(summary: str, log_file: Path | None) -> str:
    """The dialog's text: what happened in one line and where the details are."""
    where = f"The details were written to the log:\n{log_file}" if log_file else "The details were logged."
    return (
        f"vad-review hit an unexpected error:\n\n{summary}\n\n{where}\n\n"
        "The window stays open; if it misbehaves, save your work and restart it. "
        "Please attach the log to a bug report."
    )


def show_error_dialog(summary: str, log_file: Path | None) -> None:
    """A short, non-blocking warning with an "Open log folder" button (GUI thread only)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance()
    if app is None:
        return
    previous = _state["dialog"]
    if previous is not None:
        with contextlib.suppress(RuntimeError):
            previous.close()
    parent = app.activeWindow()
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Unexpected error",
        error_dialog_text(summary, log_file),
        QMessageBox.StandardButton.Close,
        parent,
    )
    box.setObjectName("unexpectedErrorDialog")
    if log_file is not None:
        folder = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.connect(lambda: open_folder(log_file.parent))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _state["dialog"] = box
    box.open()


def open_folder(folder: Path) -> bool:
    """Show ``folder`` in the desktop's file manager; False when that is not possible."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    folder.mkdir(parents=True, exist_ok=True)
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))


def _on_gui_thread() -> bool:
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def _notify(summary: str) -> None:
    """Show the dialog on the GUI thread (now, or queued from a worker thread); rate-limited."""
    now = time.monotonic()
    if now - _state["last"] < DIALOG_MIN_INTERVAL_S:
        return
    _state["last"] = now
    if _on_gui_thread():
        # looked up at call time so tests (and a headless self-test) can replace it
        sys.modules[__name__].show_error_dialog(summary, _state["log_file"])
    elif _state["bridge"] is not None:
        _state["bridge"].raised.emit(summary)


def handle_exception(
    exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None, where: str = ""
) -> None:
    """Log an uncaught exception with its traceback and tell the operator in one short dialog."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc or exc_type(), tb)
        return
    try:
        log.critical("uncaught exception%s", f" in {where}" if where else "", exc_info=(exc_type, exc, tb))
        _notify(summarize(exc_type, exc))
    except Exception:
        sys.__excepthook__(exc_type, exc or exc_type(), tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    handle_exception(args.exc_type, args.exc_value, args.exc_traceback, where=f"thread {name}")


_QT_LEVELS = {
    "QtDebugMsg": logging.DEBUG,
    "QtInfoMsg": logging.INFO,
    "QtWarningMsg": logging.WARNING,
    "QtCriticalMsg": logging.ERROR,
    "QtFatalMsg": logging.CRITICAL,
}


#: Qt messages that say nothing is wrong (logged at DEBUG instead of WARNING).
QT_NOISE = ("This plugin does not support propagateSizeHints()",)


def _qt_message_handler(mode: Any, context: Any, message: str) -> None:
    level = _QT_LEVELS.get(getattr(mode, "name", str(mode)).split(".")[-1], logging.WARNING)
    if message in QT_NOISE:
        level = logging.DEBUG
    where = ""
    if context is not None and getattr(context, "file", None):
        where = f" ({context.file}:{context.line})"
    logging.getLogger("qt").log(level, "%s%s", message, where)


def install_exception_hooks(log_file: Path | None = None) -> Callable[[], None]:
    """Route uncaught exceptions (all threads) and Qt messages to the log; returns an ``uninstall``.

    Call it on the GUI thread (the dialog bridge lives there), before or after the QApplication exists.
    """
    from PySide6.QtCore import QObject, Signal, qInstallMessageHandler

    class _Bridge(QObject):
        raised = Signal(str)

    if log_file is not None:
        _state["log_file"] = log_file
    bridge = _Bridge()
    bridge.raised.connect(
        lambda summary: sys.modules[__name__].show_error_dialog(summary, _state["log_file"])
    )
    _state["bridge"] = bridge
    previous = (sys.excepthook, threading.excepthook)
    sys.excepthook = handle_exception
    threading.excepthook = _thread_hook
    previous_qt = qInstallMessageHandler(_qt_message_handler)

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = previous
        qInstallMessageHandler(previous_qt)
        _state["bridge"] = None

    return uninstall
