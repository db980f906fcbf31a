"""Entry point of the review window: ``vad-review [PATH] [--model CKPT] [--device D] [--self-test]``.

PATH is a video file, a folder of frames, a dataset folder (a clip is then chosen) or
``DATASET::CLIP``. Without PATH, the first start offers the built-in synthetic demo.

Start-up is staged so that something is on screen at once: the QApplication and a splash screen
(the app icon and what is loading) are painted first, then the engine (torch, scipy, the model zoo:
several seconds on a small CPU) is imported on a background thread while the splash stays
responsive, then the review window is built and shown. ``--print-startup-time`` prints, as one
JSON line, how long after the process started the splash and the review window were first
painted; with ``VAD_REVIEW_QUIT_AFTER_PAINT=1`` the program then quits (``benchmarks/startup_time.py``).

Everything is logged to the user's log folder (``app.logging_setup``); an uncaught exception opens
a short dialog naming the log file instead of closing the window.

Example::

    vad-review ../shared/datasets/ucsd_ped2/testing/frames/01 --model runs/bcae1.safetensors
    vad-review --self-test                   # offscreen check of the installation, exit code 0/1
    python -m app --demo
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

_IMPORTED_AT = time.perf_counter()

log = logging.getLogger(__name__)

#: Engine modules imported on a background thread while the splash is up (none of them imports Qt).
PRELOAD_MODULES = (
    "torch",
    "scipy.signal",
    "vad_core.models",
    "vad_core.checkpoint",
    "vad_core.inference.scoring_loop",
    "vad_core.scoring",
    "vad_core.inference.score_cache",
    "vad_core.sources",
)
QUIT_AFTER_PAINT_ENV = "VAD_REVIEW_QUIT_AFTER_PAINT"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``vad-review`` (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="vad-review", description="Review surveillance video for anomalous events."
    )
    parser.add_argument("path", nargs="?", help="video file, frame folder, dataset folder or DATASET::CLIP")
    parser.add_argument("--model", metavar="CKPT", help="checkpoint (.safetensors) to score with")
    parser.add_argument(
        "--device", choices=("auto", "cuda", "cpu"), help="compute device [last used, else auto]"
    )
    parser.add_argument("--batch-size", type=int, help="frames per model call [last used, else 32]")
    parser.add_argument("--demo", action="store_true", help="open the built-in synthetic demo")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="score the demo clip with the bundled model in an offscreen window, print each check, "
        "exit 0 when all passed",
    )
    parser.add_argument(
        "--print-startup-time",
        action="store_true",
        help="print (one JSON line) when the splash and the window were first painted",
    )
    return parser


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc, 10 ms resolution; else since import)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as up:
            fields = stat.read().rsplit(")", 1)[1].split()
            start_ticks = int(fields[19])  # field 22 of proc(5), counted after "pid (comm)"
            uptime = float(up.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _IMPORTED_AT


def configure_plots() -> None:
    """pyqtgraph options of the window (row-major images, no antialiasing); imports pyqtgraph."""
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def create_application(argv: Sequence[str] | None = None, plots: bool = True):
    """The QApplication (created once): Fusion style, dark palette, app icon; pyqtgraph configured.

    ``plots=False`` leaves pyqtgraph alone (``configure_plots`` later): start-up paints its splash
    before paying for the pyqtgraph import.
    """
    from PySide6.QtWidgets import QApplication

    from app.compat import guard_none_refcount

    if plots:
        configure_plots()
    guard_none_refcount()
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        app.setApplicationName("vad-review")
        app.setOrganizationName("vad-review")
        app.setDesktopFileName("vad-review")  # Wayland / X11 task bars match it to vad-review.desktop
        app.setStyle("Fusion")
        from app.about import app_icon
        from app.theme import dark_palette

        app.setPalette(dark_palette())
        app.setWindowIcon(app_icon())
    return app


class StartupClock:
    """Times (seconds after the process started) of the first paint of the splash and of the window."""

    def __init__(self) -> None:
        self.origin = time.perf_counter() - process_age()
        self.marks: dict[str, float] = {}
        self._spies: list[Any] = []

    def mark(self, name: str) -> None:
        """Record ``name`` at the current time (the first call of a name counts)."""
        self.marks.setdefault(name, round(time.perf_counter() - self.origin, 3))

    def on_first_paint(self, widget: Any, name: str, then: Callable[[], None] | None = None) -> None:
        """Mark ``name`` once ``widget`` has been painted for the first time (then call ``then``)."""
        from PySide6.QtCore import QEvent, QObject, QTimer

        clock = self

        class Spy(QObject):
            def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt naming
                if event.type() == QEvent.Type.Paint and name not in clock.marks:
                    obj.removeEventFilter(self)
                    QTimer.singleShot(0, done)  # runs once this paint has finished
                return False

        def done() -> None:
            clock.mark(name)
            if then is not None:
                then()

        spy = Spy(widget)
        widget.installEventFilter(spy)
        self._spies.append(spy)

    def report(self) -> str:
        """One line: ``startup-time: {"splash_painted": 0.31, ...}`` (seconds after the process started)."""
        return "startup-time: " + json.dumps(self.marks)


def _splash_class() -> type:
    """The splash widget class (defined on first use, so importing this module does not import Qt)."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
    from PySide6.QtWidgets import QApplication, QWidget

    from app.about import app_icon

    class StartupSplash(QWidget):
        """The icon, the name and a status line in a frameless window (QSplashScreen blocks up to 1 s
        waiting for the window manager on some platforms; this does not)."""

        def __init__(self) -> None:
            super().__init__(
                None,
                Qt.WindowType.SplashScreen
                | Qt.WindowType.FramelessWindowHint
                | Qt.WindowType.WindowStaysOnTopHint,
            )
            self.setObjectName("startupSplash")
            self.setFixedSize(520, 200)
            self.icon = app_icon().pixmap(128, 128)
            self.message = ""
            screen = QApplication.primaryScreen()
            if screen is not None:
                self.move(screen.availableGeometry().center() - self.rect().center())

        def set_message(self, text: str) -> None:
            """Show ``text`` as the status line at once."""
            self.message = text
            self.repaint()

        def paintEvent(self, event) -> None:  # Qt naming
            painter = QPainter(self)
            painter.fillRect(self.rect(), QColor("#1c2833"))
            painter.drawPixmap(28, 36, QPixmap(self.icon))
            font = QFont(self.font())
            font.setPointSize(20)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor("#e6e6e6"))
            painter.drawText(180, 88, "vad-review")
            font.setPointSize(10)
            font.setBold(False)
            painter.setFont(font)
            painter.setPen(QColor("#9fb3c8"))
            painter.drawText(180, 116, "Review surveillance video for anomalous events")
            painter.drawText(QRect(180, 150, 330, 30), Qt.AlignmentFlag.AlignLeft, self.message)
            painter.end()

    return StartupSplash


class _Preloader(threading.Thread):
    """Imports ``PRELOAD_MODULES`` in the background; ``error`` holds what failed (re-raised later)."""

    def __init__(self, modules: Sequence[str] = PRELOAD_MODULES) -> None:
        super().__init__(name="preload-engine", daemon=True)
        self.modules = modules
        self.current = ""
        self.error: BaseException | None = None
        self.seconds: dict[str, float] = {}

    def run(self) -> None:
        import importlib

        for name in self.modules:
            self.current = name
            began = time.perf_counter()
            try:
                importlib.import_module(name)
            except BaseException as error:  # reported on the GUI thread
                self.error = error
                return
            self.seconds[name] = round(time.perf_counter() - began, 2)
        self.current = ""


def _fatal_start_error(app: Any, error: BaseException, log_file: Any) -> int:
    """Log why start-up failed and say it in one short dialog (stderr only when nobody could see one)."""
    from PySide6.QtWidgets import QMessageBox

    from app.logging_setup import error_dialog_text, summarize

    log.critical("vad-review could not start", exc_info=(type(error), error, error.__traceback__))

    text = error_dialog_text(summarize(type(error), error), log_file).replace(
        "The window stays open; if it misbehaves, save your work and restart it. ", ""
    )
    if sys.stderr is not None:
        print(f"vad-review cannot start: {text}", file=sys.stderr)
    if app.platformName() not in ("offscreen", "minimal") and os.environ.get(QUIT_AFTER_PAINT_ENV) != "1":
        QMessageBox.critical(None, "vad-review cannot start", text)  # nobody could close it offscreen
    return 1


class _Startup:
    """The staged start of the window: paint it, import the engine, then open what was asked."""

    def __init__(
        self, app: Any, window: Any, args: argparse.Namespace, clock: StartupClock, log_file: Any
    ) -> None:
        self.app, self.window, self.args, self.clock, self.log_file = app, window, args, clock, log_file
        self.preloader = _Preloader()  # torch, scipy and the model zoo: started once the window has painted
        self.quit_after_paint = os.environ.get(QUIT_AFTER_PAINT_ENV) == "1"

    def window_painted(self) -> None:
        self.preloader.start()  # not earlier: its imports would hold the GIL while the window is built
        if self.args.print_startup_time:
            print(self.clock.report(), flush=True)
        log.info("%s", self.clock.report())
        if self.quit_after_paint:
            self.window.close()
            self.app.exit(0)  # ends app.exec() if it runs already; main() returns below if not

    def wait_for_paint(self) -> int:
        """The start-up benchmark: paint, report, quit."""
        deadline = time.monotonic() + 60.0
        while "window_painted" not in self.clock.marks and time.monotonic() < deadline:
            self.app.processEvents()
            time.sleep(0.002)
        return 0 if "window_painted" in self.clock.marks else 1

    def open_requested(self) -> None:
        """Once the engine is imported: fill the window's engine parts, then open what was asked."""
        from PySide6.QtCore import QTimer

        preloader, window = self.preloader, self.window
        if preloader.ident is None or preloader.is_alive():  # not started (window unpainted) or busy
            QTimer.singleShot(50, self.open_requested)
            return
        self.clock.mark("engine_imported")
        if preloader.error is not None:
            window.close()
            self.app.exit(_fatal_start_error(self.app, preloader.error, self.log_file))
            return
        log.info("engine imported in the background: %s", preloader.seconds)
        window.engine_ready()
        if self.args.device:
            window.model_panel.set_device(self.args.device)
        self._open()

    def _open(self) -> None:
        """The model (asked for, else the last one unless --demo) and the video, the demo or the offer."""
        from pathlib import Path

        args, window = self.args, self.window
        last = window.settings.last_checkpoint()
        if args.model:
            window.load_checkpoint(args.model)
        elif last and not args.demo and Path(last).is_file():
            window.load_checkpoint(last)
        if args.path:
            window.opening.open_path(args.path)
        elif args.demo:
            window.demo.open_demo()
        elif not window.settings.demo_offered():
            window.demo.offer_demo()


def main(argv: Sequence[str] | None = None) -> int:
    """Start the review window (or run ``--self-test``); returns the exit code."""
    clock = StartupClock()
    args = build_parser().parse_args(argv)
    from app.logging_setup import install_exception_hooks, setup_logging

    log_file = setup_logging()
    install_exception_hooks(log_file)  # Qt messages go to the log from now on
    if args.self_test:
        from app.self_test import run_self_test

        return run_self_test()
    app = create_application(plots=False)
    splash = _splash_class()()
    clock.on_first_paint(splash, "splash_painted")
    splash.show()
    app.processEvents()
    splash.set_message("building the window…")
    try:
        configure_plots()
        from app.windows.review_window import ReviewWindow

        window = ReviewWindow(load_engine=False)
    except Exception as error:  # a start-up failure is shown, not a traceback
        splash.close()
        return _fatal_start_error(app, error, log_file)
    if args.batch_size:
        window.model_panel.set_batch_size(args.batch_size)
    startup = _Startup(app, window, args, clock, log_file)
    clock.on_first_paint(window, "window_painted", startup.window_painted)
    window.show()
    splash.close()
    if startup.quit_after_paint:
        return startup.wait_for_paint()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, startup.open_requested)
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
