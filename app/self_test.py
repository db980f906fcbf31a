"""``vad-review --self-test``: does this installation work? Scores the demo clip in the real window, offscreen.

The checks, printed one per line as they run:

1. the bundled demo model (``demo_model_path("frame")``, BCAE1) is installed, weights and metadata;
2. the review window starts and paints offscreen (no display needed);
3. the window loads the bundled model;
4. the built-in synthetic demo clip opens (three anomalies with ground truth);
5. scoring runs through the window's own worker thread and finishes without an error;
6. the regularity curve has one finite point per frame (raw s(t) in [0, 1]) and the timeline shows it;
7. the demo's spatial anomaly (a square among circles) is flagged as an event;
8. the error heatmap of the event's peak frame has the frame's size;
9. when the ``xai`` extra is installed, SHAP and LIME explain the event's frame (small runs);
10. no exception went uncaught (in the window or its worker threads) meanwhile.

Then a summary line; the exit code is 0 when every check passed, 1 otherwise. A deadline
(``timeout_s``) makes a stuck step fail instead of waiting forever, and a hard watchdog ends the
process if even that does not return. Preferences and the score cache stay in a temporary folder;
the report also goes to the log.

Example::

    vad-review --self-test                      # the whole 400-frame demo clip
    python -c "from app.self_test import run_self_test; raise SystemExit(run_self_test(frames=120))"
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
HARD_TIMEOUT_MARGIN_S = 60.0


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        mark = " ok " if self.ok else "FAIL"
        detail = f": {self.detail}" if self.detail else ""
        return f"[{mark}] {self.name}{detail} ({self.seconds:.1f} s)"


class SelfTestFailed(Exception):
    """A check that cannot pass; its message is the detail printed."""


class _Report:
    """Runs the checks in order, prints each line; a failed check skips the ones that need it."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.checks: list[Check] = []

    def run(self, name: str, step: Callable[[], str]) -> bool:
        began = time.perf_counter()
        try:
            detail, ok = step(), True
        except SelfTestFailed as error:
            detail, ok = str(error), False
        except Exception as error:  # a self-test reports every failure as a line
            log.exception("self-test step %r raised", name)
            detail, ok = f"{type(error).__name__}: {error}", False
        check = Check(name, ok, detail, time.perf_counter() - began)
        self.checks.append(check)
        self.emit(check.line())
        return ok

    def skip(self, name: str, reason: str) -> None:
        check = Check(name, False, f"skipped ({reason})")
        self.checks.append(check)
        self.emit(check.line())

    def emit(self, line: str) -> None:
        log.info("self-test: %s", line)
        self.out(line)


def _print(line: str) -> None:
    stream = sys.stdout
    if stream is not None:  # a windowed Windows build has no console: the log still has it
        print(line, file=stream, flush=True)


def _wait(app: Any, condition: Callable[[], bool], deadline: float) -> bool:
    """Run the event loop until ``condition()`` or the deadline (``time.monotonic()``)."""
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.005)
    return True


def _error_shown(window: Any) -> str | None:
    box = getattr(window, "error_dialog", None)
    try:
        if box is not None and box.isVisible():
            return f"{box.windowTitle()}: {box.text()}"
    except RuntimeError:  # the dialog was deleted
        return None
    return None


def run_self_test(
    frames: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    out: Callable[[str], None] = _print,
    hard_timeout: bool = True,
    explanations: bool = True,
) -> int:
    """Run every check (see the module docstring); 0 when all passed, else 1.

    ``frames`` shortens the demo clip (None: the full clip the demo opens); ``hard_timeout`` arms a
    watchdog that ends the whole process ``timeout_s + 60`` s after the start (leave it off inside
    a test run); ``explanations=False`` only imports SHAP and LIME instead of running them (their
    first run compiles code with numba: ~10 s on a small CPU).
    """
    began = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    if hard_timeout:
        faulthandler.dump_traceback_later(timeout_s + HARD_TIMEOUT_MARGIN_S, exit=True)
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the self-test never needs (or opens on) a display
    report = _Report(out)
    report.emit(f"vad-review self-test (python {sys.version.split()[0]}, {sys.platform})")
    workdir = tempfile.TemporaryDirectory(prefix="vad-review-self-test-")
    run = SelfTestRun(frames, deadline, Path(workdir.name), explanations)
    uncaught: list[str] = []
    previous_hooks = (sys.excepthook, threading.excepthook)

    def collect(exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None) -> None:
        log.error("uncaught exception during the self-test", exc_info=(exc_type, exc, tb))
        uncaught.append(f"{exc_type.__name__}: {exc}")

    sys.excepthook = collect
    threading.excepthook = lambda args: collect(args.exc_type, args.exc_value, args.exc_traceback)
    try:
        _run_checks(report, run)
    finally:
        window = run.window
        if window is not None:
            window.close()
            window.deleteLater()
            app = QApplication.instance()
            if app is not None:
                app.processEvents()
        sys.excepthook, threading.excepthook = previous_hooks
        workdir.cleanup()
        if hard_timeout:
            faulthandler.cancel_dump_traceback_later()

    def nothing_uncaught() -> str:
        if uncaught:
            raise SelfTestFailed(f"{len(uncaught)}: {'; '.join(uncaught[:3])}")
        return ""

    report.run("no uncaught exception", nothing_uncaught)
    failed = [c for c in report.checks if not c.ok]
    seconds = time.perf_counter() - began
    if failed:
        report.emit(
            f"self-test FAILED: {len(failed)} of {len(report.checks)} checks failed "
            f"({', '.join(c.name for c in failed)}) in {seconds:.1f} s"
        )
        return 1
    report.emit(f"self-test passed: {len(report.checks)} of {len(report.checks)} checks in {seconds:.1f} s")
    return 0


#: The optional explanation back-ends (the ``xai`` extra): package -> module the explain methods import.
XAI_MODULES = {"shap": "shap", "lime": "lime.lime_image", "skimage": "skimage.segmentation"}
#: Small runs: enough to exercise every library (numba, scikit-image), not to give good maps.
XAI_RUNS = (("lime", {"num_samples": 32}), ("shap", {"max_evals": 32}))


def explanation_check(model: Any, image: Any, run: bool) -> str:
    """SHAP and LIME import (and explain ``image`` when ``run``) if the ``xai`` extra is installed.

    A package that is installed but does not import or run is a failure (e.g. a bundle missing a
    library); without the extra the explain panel offers LRP and counterfactuals only, which passes.
    """
    import importlib
    import importlib.util

    import numpy as np

    present, missing = [], []
    for package, module in XAI_MODULES.items():
        if importlib.util.find_spec(package) is None:
            missing.append(package)
            continue
        try:
            importlib.import_module(module)
        except Exception as error:  # a broken install
            raise SelfTestFailed(
                f"{module} is installed but does not import: {type(error).__name__}: {error}"
            ) from error
        present.append(package)
    if missing:
        return f"{', '.join(present) or 'none'} available; not installed: {', '.join(missing)} (LRP and counterfactuals only)"
    if not run:
        return f"{', '.join(present)} available (imported, not run)"
    from vad_core.explain import explain

    ran = []
    for method, options in XAI_RUNS:
        began = time.perf_counter()
        heatmap = np.asarray(explain(method, model, image, seed=0, **options).heatmap)
        if heatmap.shape[:2] != image.shape[:2] or not np.all(np.isfinite(heatmap)):
            raise SelfTestFailed(f"{method}: a {heatmap.shape} heatmap for a {image.shape[:2]} image")
        ran.append(f"{method} {time.perf_counter() - began:.1f} s")
    return f"{', '.join(present)} available; explained the event frame ({', '.join(ran)})"


@dataclass
class SelfTestRun:
    """What the checks share: the settings of the run and what earlier checks made."""

    frames: int | None
    deadline: float
    workdir: Path
    explanations: bool
    model_path: Path | None = None
    app: Any = None
    window: Any = None
    clip: Any = None
    event: Any = None


def check_model_installed(run: SelfTestRun) -> str:
    from vad_core.resources import demo_model_path

    model_path = run.model_path = demo_model_path("frame")
    missing = [p for p in (model_path, model_path.with_suffix(".json")) if not p.is_file()]
    if missing:
        raise SelfTestFailed(f"missing {', '.join(str(p) for p in missing)}")
    return f"{model_path} ({model_path.stat().st_size / 1e6:.1f} MB)"


def check_window_paints(run: SelfTestRun) -> str:
    from PySide6.QtCore import QEvent, QObject

    from app.main import create_application
    from app.settings import AppSettings, _MemoryStore
    from app.windows.review_window import ReviewWindow
    from vad_core.inference.score_cache import ScoreCache

    app = run.app = create_application()
    painted: list[float] = []

    class PaintSpy(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt naming
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    created = time.perf_counter()
    window = run.window = ReviewWindow(
        settings=AppSettings(_MemoryStore()), cache=ScoreCache(run.workdir / "scores")
    )
    spy = PaintSpy(window)
    window.installEventFilter(spy)
    window.show()
    if not _wait(app, lambda: bool(painted), run.deadline):
        raise SelfTestFailed("the window was never painted")
    window.removeEventFilter(spy)
    image = window.grab().toImage()
    if image.isNull() or image.width() < 200:
        raise SelfTestFailed(f"the window renders as a {image.width()}x{image.height()} image")
    platform = app.platformName()
    return f"{image.width()}x{image.height()} on the '{platform}' platform, painted {painted[0] - created:.2f} s after creation"


def check_model_loads(run: SelfTestRun) -> str:
    window = run.window
    window.load_checkpoint(run.model_path)  # in the window's worker, as File > Open checkpoint does
    if not _wait(run.app, lambda: not window.checkpoints.loading, run.deadline):
        raise SelfTestFailed("the model did not load before the deadline")
    checkpoint = window.session.checkpoint
    if checkpoint is None:
        raise SelfTestFailed(_error_shown(window) or "the window did not take the model")
    return f"{checkpoint.display_name} ({checkpoint.config.name}, input {checkpoint.config.size[0]}x{checkpoint.config.size[1]})"


def check_clip_opens(run: SelfTestRun) -> str:
    from app.controllers.demo import DEMO_NAME
    from vad_core.datasets.synthetic import make_demo_clip
    from vad_core.sources.base import ArraySource

    window = run.window
    if run.frames is None:
        clip = make_demo_clip()
        window.demo.open_demo()  # what File > Open the built-in demo does (scoring starts at once)
    else:
        clip = make_demo_clip(length=run.frames)
        source = ArraySource(clip.frames, fps=25.0, name=DEMO_NAME)
        window.opening.open_source(source, DEMO_NAME, clip.labels, clip.categories, demo=True)
    run.clip = clip
    session = window.session
    if session.source is None or session.frame_count != len(clip.frames):
        raise SelfTestFailed(
            _error_shown(window) or f"expected {len(clip.frames)} frames, got {session.frame_count}"
        )
    if not window.score_job.running and not session.complete:
        raise SelfTestFailed(_error_shown(window) or "opening the clip did not start scoring")
    from vad_core.scoring import frame_range_text

    kinds = ", ".join(f"{kind} {frame_range_text(start, end)}" for start, end, kind in clip.intervals)
    height, width = session.source.frame_size[:2]
    return f"{session.frame_count} frames {width}x{height}, anomalies at frames {kinds}"


def check_scoring_finishes(run: SelfTestRun) -> str:
    window = run.window
    session = window.session
    finished = _wait(
        run.app,
        lambda: not window.score_job.running and (session.complete or _error_shown(window)),
        run.deadline,
    )
    if not finished:
        raise SelfTestFailed(
            f"not finished before the deadline ({session.scored} of {session.frame_count} frames scored)"
        )
    if not session.complete:
        raise SelfTestFailed(
            _error_shown(window) or f"stopped after {session.scored} of {session.frame_count} frames"
        )
    window.scoring.flush()
    summary = window.scoring.last_summary
    if summary is None:
        return "done"
    return f"{summary.frames} frames in {summary.seconds:.1f} s ({summary.frames_per_second:.0f} frames/s on {summary.device.upper()})"


def check_curve_complete(run: SelfTestRun) -> str:
    import numpy as np

    window = run.window
    x, raw, shown = window.session.curve()
    n = window.session.frame_count
    if len(shown) != n or len(raw) != n or len(x) != n:
        raise SelfTestFailed(f"{len(shown)} curve points for {n} frames")
    if not np.all(np.isfinite(shown)):
        raise SelfTestFailed(f"{int(np.sum(~np.isfinite(shown)))} points are not finite")
    if raw.min() < -1e-6 or raw.max() > 1 + 1e-6:  # the smoothed curve may overshoot a little
        raise SelfTestFailed(f"raw s(t) leaves [0, 1]: {raw.min():.3f}..{raw.max():.3f}")
    plotted = window.timeline.curve_points()
    if plotted != n:
        raise SelfTestFailed(f"the timeline shows {plotted} points for {n} frames")
    return f"{n} points, s(t) from {shown.min():.2f} to {shown.max():.2f}"


def check_spatial_flagged(run: SelfTestRun) -> str:
    events = run.window.session.events
    spatial = [(start, end) for start, end, kind in run.clip.intervals if kind == "spatial"]
    if not spatial:
        raise SelfTestFailed("the demo clip has no spatial anomaly")
    start, end = spatial[0]
    hits = [e for e in events if e.start < end and e.end > start]
    from vad_core.scoring import frame_range_text

    listed = ", ".join(frame_range_text(e.start, e.end) for e in events) or "none"
    square = frame_range_text(start, end)
    if not hits:
        raise SelfTestFailed(f"no event overlaps frames {square}; events: {listed}")
    run.event = hits[0]
    first = frame_range_text(hits[0].start, hits[0].end)
    return f"event {first} covers the square at {square} (all events: {listed}; frame ranges inclusive)"


def check_heatmap_shown(run: SelfTestRun) -> str:
    window, event = run.window, run.event
    window.playback.go_to_event(window.session.events.index(event))
    window.playback.seek(event.peak_frame)
    overlay = window.session.overlay(event.peak_frame)
    height, width = window.session.source.frame_size[:2]
    if overlay is None:
        raise SelfTestFailed(f"no error map for frame {event.peak_frame}")
    if overlay.shape[:2] != (height, width):
        raise SelfTestFailed(f"error map {overlay.shape[:2]} for a {height}x{width} frame")
    peak = float(overlay.max())
    return f"frame {event.peak_frame}: {width}x{height}, peak {peak:.1f}x the clip's 99th-percentile error"


def check_explanations(run: SelfTestRun) -> str:
    model = run.window.session.checkpoint.model
    return explanation_check(model, run.clip.frames[run.event.peak_frame], run.explanations)


@dataclass(frozen=True)
class NamedCheck:
    """One line of the report: ``run`` returns its detail or raises ``SelfTestFailed``.

    When it fails and ``stops_with`` is set, the later checks are skipped for that reason (they
    need what this one makes).
    """

    name: str
    run: Callable[[SelfTestRun], str]
    stops_with: str = ""


#: The checks, in order (the module docstring lists them; "no uncaught exception" comes last).
CHECKS = (
    NamedCheck("bundled demo model installed", check_model_installed, "no model"),
    NamedCheck("review window paints offscreen", check_window_paints, "no window"),
    NamedCheck("window loads the bundled model", check_model_loads, "no model"),
    NamedCheck("demo clip opens", check_clip_opens, "no clip"),
    NamedCheck("scoring finishes in the worker thread", check_scoring_finishes, "no scores"),
    NamedCheck("one curve point per frame", check_curve_complete, "no curve"),
    NamedCheck("spatial anomaly flagged", check_spatial_flagged, "no event"),
    NamedCheck("error heatmap of the event", check_heatmap_shown),
    NamedCheck("explanation methods (xai extra)", check_explanations),
)


def _run_checks(report: _Report, run: SelfTestRun, checks: Sequence[NamedCheck] = CHECKS) -> None:
    """Run ``checks`` in order; a failed one that others need skips them, naming why."""
    for index, check in enumerate(checks):
        if report.run(check.name, lambda check=check: check.run(run)) or not check.stops_with:
            continue
        for later in checks[index + 1 :]:
            report.skip(later.name, check.stops_with)
        return


def main(argv: list[str] | None = None) -> int:
    """``python -m app.self_test [--frames N] [--timeout S]``."""
    import argparse

    parser = argparse.ArgumentParser(description="vad-review self-test")
    parser.add_argument("--frames", type=int, help="shorter demo clip (default: the whole demo)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds [300]")
    args = parser.parse_args(argv)
    return run_self_test(args.frames, args.timeout)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
