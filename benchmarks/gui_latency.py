"""Review-window quality bars, measured: event-loop stalls during CPU inference, playback fps, scoring time.

Prints three groups of numbers (no asserts; the issue's bars are given beside them):

1. **Event-loop latency while scoring on the CPU** (bar: no stall over 100 ms). A ``QTimer`` probe
   fires every 10 ms on the GUI thread while the real window scores a 240x360 clip with BCAE1 in
   its worker thread; a stall is how much later than 10 ms a tick arrives. Reported: max, p99,
   median, over all ticks of ``--passes`` scoring runs (the score cache is off).
2. **Playback fps at 360x240 with the error overlay on** (bar: >= 25 fps, the source fps). The real
   window plays the scored clip at 1x for ``--seconds`` and counts frames shown; then at 4x to
   show the headroom; then at 1x again while a scoring job runs in the background.
3. **Scoring time of a 200-frame 240x360 clip with BCAE1** (bar: under 5 s on this CPU): the engine's
   ``score_all`` on a synthetic clip, on 200 real UCSD Ped2 frames (when ../shared/datasets is
   there), and the GUI's worker job (which leaves one core to the GUI thread).

Run it under a virtual X server for realistic painting (``offscreen`` also works)::

    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/gui_latency.py [--model CKPT]

Without ``--model`` an untrained BCAE1 at 128x128 (the thesis input size) is used: the speed
does not depend on the weights.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import argument_parser, print_header

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PED2 = Path(os.environ.get("VAD_DATASETS", REPO.parent / "shared" / "datasets")) / "ucsd_ped2"


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def wait(app, condition, timeout: float = 300.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("benchmark step did not finish")
        app.processEvents()
        time.sleep(0.001)


def untrained_bcae1(folder: Path) -> Path:
    from vad_core.checkpoint import save_checkpoint
    from vad_core.models import ModelConfig, build_model

    model = build_model(ModelConfig("bcae1", 1, (128, 128))).eval()
    return save_checkpoint(
        model, folder / "bcae1_untrained", {"training": {"dataset": "nothing (benchmark)"}}
    )


def synthetic_clip(frames: int):
    from vad_core.datasets.synthetic import SyntheticConfig, make_demo_clip
    from vad_core.sources.base import ArraySource

    clip = make_demo_clip(SyntheticConfig(height=240, width=360, radius=14), length=frames)
    return ArraySource(clip.frames, fps=25.0, name=f"synthetic {frames} frames 240x360"), clip


def ped2_frames(count: int):
    """``count`` real 240x360 UCSD Ped2 training frames in memory (or None without the dataset)."""
    from vad_core.sources import open_source
    from vad_core.sources.base import ArraySource

    root = PED2 / "training" / "frames"
    if not root.is_dir():
        return None
    frames = []
    for folder in sorted(root.iterdir()):
        source = open_source(folder, fps=10.0)
        frames.extend(source.read(0, min(len(source), count - len(frames))))
        if len(frames) >= count:
            break
    return ArraySource(np.stack(frames), fps=10.0, name=f"UCSD Ped2, {count} training frames")


class LatencyProbe:
    """A 10 ms ``QTimer`` on the GUI thread; a stall is how much later than 10 ms a tick arrives."""

    interval_ms = 10

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000.0 - self.interval_ms)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()  # so the first tick after a restart measures no pause
        self.timer.start(self.interval_ms)

    def stop(self) -> None:
        self.timer.stop()

    def stats(self) -> dict[str, float]:
        stalls = np.maximum(np.asarray(self.gaps), 0.0)
        return {
            "max": float(stalls.max()),
            "p99": float(np.percentile(stalls, 99)),
            "median": float(np.median(stalls)),
            "ticks": len(stalls),
        }


def idle_latency(app, seconds: float) -> dict[str, float]:
    """The probe with no job running: what the machine (other processes) costs by itself."""
    probe = LatencyProbe()
    probe.start()
    end = time.perf_counter() + seconds
    wait(app, lambda: time.perf_counter() > end, timeout=seconds + 5)
    probe.stop()
    return probe.stats()


def event_loop_latency(app, window, source, passes: int) -> dict[str, float]:
    """Score ``passes`` times with the probe running; return stall statistics (ms) and scoring time."""
    probe = LatencyProbe()
    window.opening.open_source(source, source.name)
    wait(app, lambda: window.session.complete and not window.score_job.running)  # the first (cached?) run
    seconds = []
    for _ in range(passes):
        window.scoring.cache.clear()
        probe.start()
        began = time.perf_counter()
        window.scoring.start()
        wait(app, lambda: window.session.complete and not window.score_job.running)
        seconds.append(time.perf_counter() - began)
        probe.stop()
    return {**probe.stats(), "scoring_s": float(np.mean(seconds))}


def playback_fps(app, window, speed: float, seconds: float) -> tuple[float, float, float]:
    """Play from frame 0 at ``speed`` for ``seconds``.

    Returns (frames shown per second, frames of video advanced per second, source fps x speed): the
    clock keeps the video at the asked speed and skips frames it cannot paint in time.
    """
    window.playback.pause()
    window.transport.set_speed(speed)
    window.playback.seek(0)
    shown = 0
    advanced = 0
    began = time.perf_counter()
    window.playback.play(1)
    start_frame, start_shown = window.playback.frame_index, window.playback.frames_shown
    target = window.session.fps * window.transport.current_speed()
    while time.perf_counter() - began < seconds:
        app.processEvents()
        time.sleep(0.0005)
        if not window.playback.playing:  # reached the end: loop
            advanced += window.playback.frame_index - start_frame
            shown += window.playback.frames_shown - start_shown
            window.playback.seek(0)
            window.playback.play(1)
            start_frame, start_shown = window.playback.frame_index, window.playback.frames_shown
    elapsed = time.perf_counter() - began
    advanced += window.playback.frame_index - start_frame
    shown += window.playback.frames_shown - start_shown
    window.playback.pause()
    return shown / elapsed, advanced / elapsed, target


def scoring_time(model, source, batch_size: int, threads: int | None) -> float:
    import torch

    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import score_all

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        score_all(model, source, InferenceConfig(batch_size=batch_size, device="cpu"))  # warm-up
        began = time.perf_counter()
        score_all(model, source, InferenceConfig(batch_size=batch_size, device="cpu"))
        return time.perf_counter() - began
    finally:
        torch.set_num_threads(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--model", help="BCAE1 checkpoint [an untrained BCAE1 at 128x128]")
    parser.add_argument("--passes", type=int, default=2, help="scoring runs under the latency probe [2]")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of playback per measurement [6]")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    print_header()
    os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"
    home = Path(tempfile.mkdtemp(prefix="vad-review-bench-"))
    os.environ["VAD_REVIEW_HOME"] = str(home)

    import torch

    from app.main import create_application
    from app.windows.review_window import ReviewWindow
    from vad_core.checkpoint import load_checkpoint

    app = create_application()
    checkpoint_path = Path(args.model) if args.model else untrained_bcae1(home)
    checkpoint = load_checkpoint(checkpoint_path)
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {cores} cores, load average {load:.1f}, torch {torch.__version__}, Qt platform "
        f"{app.platformName()}, model {checkpoint.display_name} {checkpoint.config.size}"
    )

    print("\n== 3. scoring time, 200 frames 240x360, BCAE1, CPU (bar: < 5 s) ==")
    synthetic200, _ = synthetic_clip(200)
    for label, threads in (("all cores", cores), ("cores - 1 (as the GUI worker)", max(1, cores - 1))):
        seconds = scoring_time(checkpoint.model, synthetic200, args.batch_size, threads)
        print(f"  synthetic, torch threads = {label}: {seconds:.2f} s ({200 / seconds:.0f} frames/s)")
    real = ped2_frames(200)
    if real is not None:
        seconds = scoring_time(checkpoint.model, real, args.batch_size, cores)
        print(f"  {real.name} (in memory): {seconds:.2f} s ({200 / seconds:.0f} frames/s)")
        from vad_core.inference.config import InferenceConfig
        from vad_core.inference.scoring_loop import score_all
        from vad_core.sources import open_source

        folder = open_source(PED2 / "testing" / "frames" / "01", fps=10.0)
        began = time.perf_counter()
        score_all(checkpoint.model, folder, InferenceConfig(batch_size=args.batch_size, device="cpu"))
        seconds = time.perf_counter() - began
        print(
            f"  UCSD Ped2 testing/frames/01 from disk ({len(folder)} JPEGs, decoding included): {seconds:.2f} s "
            f"-> {seconds * 200 / len(folder):.2f} s per 200 frames"
        )
    else:
        print(f"  (UCSD Ped2 not found at {PED2}: real-frame timing skipped)")

    window = ReviewWindow()
    window.resize(1280, 800)
    window.show()
    window.fit_docks()
    pump(app, 0.5)
    window.model_panel.set_device("cpu")
    window.model_panel.set_batch_size(args.batch_size)
    window.set_checkpoint(checkpoint)
    began = time.perf_counter()
    window.opening.open_source(
        synthetic200, synthetic200.name
    )  # scoring starts: the GUI's own path, empty cache
    wait(app, lambda: window.session.complete and not window.score_job.running)
    print(
        f"  through the review window (worker job, open -> all events shown): {time.perf_counter() - began:.2f} s"
    )
    clip, _ = synthetic_clip(400)

    print(
        f"\n== 1. GUI event-loop stalls while scoring on the CPU (bar: max <= 100 ms), {args.passes} runs =="
    )
    stats = event_loop_latency(app, window, clip, args.passes)
    idle = idle_latency(app, stats["scoring_s"])
    print(
        f"  baseline, no job running ({stats['scoring_s']:.1f} s): max stall {idle['max']:.1f} ms, "
        f"p99 {idle['p99']:.1f} ms over {idle['ticks']} ticks (what the machine's other load costs)"
    )
    print(
        f"  {clip.name}: max stall {stats['max']:.1f} ms, p99 {stats['p99']:.1f} ms, median "
        f"{stats['median']:.1f} ms over {stats['ticks']} ticks; scoring took {stats['scoring_s']:.1f} s per run "
        f"({400 / stats['scoring_s']:.0f} frames/s in the worker)"
    )

    print("\n== 2. playback at 360x240 with the error overlay on (bar: >= 25 fps) ==")
    assert window.video_view.overlay_visible and window.session.complete
    for speed in (1.0, 4.0):
        fps, advanced, target = playback_fps(app, window, speed, args.seconds)
        print(
            f"  {speed:g}x: {fps:.1f} frames painted per second, video advanced {advanced:.1f} frames/s "
            f"(asked for {target:.0f})"
        )
    began = time.perf_counter()
    for index in range(200):
        window.playback.show_frame(index)
    per_frame = (time.perf_counter() - began) / 200 * 1000
    print(
        f"  show_frame (read + overlay + playhead), no event loop: {per_frame:.2f} ms per frame "
        f"(= {1000 / per_frame:.0f} fps ceiling)"
    )
    window.scoring.cache.clear()
    window.scoring.start()
    fps, advanced, target = playback_fps(app, window, 1.0, min(args.seconds, 3.0))
    running = "still scoring" if window.score_job.running else "scoring ended during the measurement"
    print(
        f"  1x while a scoring job runs in the worker ({running}): {fps:.1f} frames painted per second, "
        f"video advanced {advanced:.1f} frames/s (asked for {target:.0f})"
    )
    wait(app, lambda: not window.score_job.running)
    folder = PED2 / "testing" / "frames" / "01"
    if folder.is_dir():
        window.opening.open_path(folder)  # a frame folder: JPEGs decoded on the GUI thread while playing
        wait(app, lambda: window.session.complete and not window.score_job.running)
        fps, advanced, target = playback_fps(app, window, 1.0, args.seconds)
        print(
            f"  1x, real UCSD Ped2 frame folder (JPEG decoding on the GUI thread, played at 25 fps): "
            f"{fps:.1f} frames painted per second, video advanced {advanced:.1f} frames/s (asked for {target:.0f})"
        )
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
