"""Does the GUI stay responsive while the explain panel runs SHAP (and LIME) in its worker?

Opens the real ``ExplainPanel`` (offscreen by default), explains one image with SHAP, and measures
the event loop's latency the whole time: a 10 ms ``QTimer`` records how late each tick arrives
(what a user feels as a stutter when dragging a slider or scrolling thumbnails). The same timer
runs for a few seconds idle first, as the baseline. The first SHAP call of a process also compiles
numba kernels (~17 s on 2 cores); it is measured separately from a warm call.

Image: a test image of MVTec bottle with the BCAE1 in ``runs/xai`` when both exist, else a 64 px
synthetic part with a freshly trained tiny BCAE1 (``tests/explain_fixtures``).

    python benchmarks/explain_gui_latency.py [--method shap] [--evals 500] [--checkpoint CKPT] [--image PNG]

Prints one table: phase, seconds, ticks, median / 95th percentile / max tick lateness in ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOTTLE = (
    REPO.parent / "shared" / "datasets" / "mvtec_bottle_256" / "bottle" / "test" / "broken_small" / "012.png"
)
CHECKPOINT = REPO / "runs" / "xai" / "bottle_bcae1_128.safetensors"


class LatencyProbe:
    """A timer that fires every ``interval_ms`` and records how late each tick is."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000.0
        self.late: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, now - self._last - self.interval))
        self._last = now

    def start(self) -> None:
        self.late = []
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.late


def summary(name: str, seconds: float, late: list[float]) -> str:
    import numpy as np

    values = np.asarray(late or [0.0]) * 1000.0
    return (
        f"{name:<22} {seconds:7.1f} s {len(late):6d} ticks   median {np.median(values):6.1f} ms   "
        f"p95 {np.percentile(values, 95):6.1f} ms   max {values.max():7.1f} ms"
    )


def target(args: argparse.Namespace):
    from app.explain_jobs import ExplainTarget
    from vad_core.sources.image_files import read_image

    if Path(args.checkpoint).is_file() and Path(args.image).is_file():
        from vad_core.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(args.checkpoint)
        image = read_image(args.image)
        return ExplainTarget(
            checkpoint.model,
            checkpoint.sha256 or "bottle",
            str(args.image),
            0,
            read=lambda: (image, None),
            title=f"{Path(args.image).parent.name}/{Path(args.image).name}",
        ), f"{Path(args.image).name} with {checkpoint.display_name} {checkpoint.config.size[0]} px"
    sys.path.insert(0, str(REPO / "tests"))
    from explain_fixtures import defective_parts, good_parts, train_tiny_cae

    model = train_tiny_cae(good_parts(32, 64), epochs=10, batch_size=8)
    image = defective_parts(1, 64)[0][0]
    return ExplainTarget(
        model, "tiny", "part", 0, read=lambda: (image, None), title="part"
    ), "64 px part, tiny BCAE1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="shap", choices=("shap", "lime", "lrp", "counterfactual"))
    parser.add_argument("--evals", type=int, default=500, help="SHAP evaluations / LIME samples [500]")
    parser.add_argument("--checkpoint", default=str(CHECKPOINT))
    parser.add_argument("--image", default=str(BOTTLE))
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline [3]")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"

    from app.main import create_application
    from app.widgets import explain_panel

    app = create_application()
    explain_panel.WARM_UP_SHAP = False  # the cold call is measured on its own below
    panel = explain_panel.ExplainPanel()
    panel.resize(1100, 700)
    panel.show()
    explain_target, what = target(args)
    panel.set_target(explain_target)
    key = "max_evals" if args.method == "shap" else "num_samples"
    if key in panel.settings[args.method].widgets:
        panel.settings[args.method].widgets[key].setValue(args.evals)
    probe = LatencyProbe()

    def run_until(condition, timeout: float = 900.0) -> float:
        began = time.perf_counter()
        while time.perf_counter() - began < timeout and not condition():
            app.processEvents()
            time.sleep(0.001)
        return time.perf_counter() - began

    run_until(lambda: panel.base is not None and not panel.busy, 120)
    print(
        f"explaining {what} with {args.method} ({key if args.method in ('shap', 'lime') else ''} {args.evals})"
    )
    probe.start()
    seconds = run_until(lambda: False, args.idle)
    rows = [summary("idle", seconds, probe.stop())]
    for phase in ("first run (cold)", "second run (warm)"):
        panel.cache.clear()
        panel.results.pop(args.method, None)
        probe.start()
        panel.explain(args.method)
        seconds = run_until(lambda: args.method in panel.results and not panel.busy)
        rows.append(summary(f"{args.method} {phase}", seconds, probe.stop()))
    for row in rows:
        print(row)
    panel.shutdown()
    panel.pool.shutdown(10_000)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
