"""Live monitoring on this machine: latency from a frame's arrival to its score, drops, streams sustained.

Serves the synthetic demo clip at 240x360 as an MJPEG stream on 127.0.0.1 at 25 frames/s
(:class:`vad_core.live.loopback.MjpegServer`, a thread of this process) and watches it with
:class:`vad_core.live.WatchSession`, exactly as ``vad watch`` does:

1. one stream each with the bundled BCAE1 and the 16-filter U-Net predictor: latency arrival ->
   score (median, 99th percentile), frames dropped per minute, frames/s in and out (the U-Net
   once more with a queue of 8 frames instead of 64: less latency, more drops);
2. BCAE1 on 1, 2, 3, ... streams at once (all reading the same server), until one run drops frames
   or falls behind: the largest count with no drops is what this machine sustains.

The server, the FFmpeg readers and the scorers all share the machine's CPUs (and, on the lent
2-core machine, other processes); the log's header records the load average before and after.

    python benchmarks/live_latency.py --seconds 60 --threads 2
    python benchmarks/live_latency.py --only-sweep --sweep-seconds 30 --max-streams 8
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import numpy as np
import torch
from _common import argument_parser, parse_size, print_header

from vad_core.datasets.synthetic import SyntheticConfig, make_demo_clip
from vad_core.live import WatchConfig, WatchSession
from vad_core.live.loopback import MjpegServer
from vad_core.resources import demo_model_path

FPS = 25.0
TARGET_P99 = 200.0  # ms, the target for BCAE1 on this CPU
WARM_UP = 3.0  # seconds of each run left out of the latencies (first model calls, connection)


def watch(url: str, model: str, streams: int, seconds: float, batch: int, queue: int = 64) -> dict:
    """Watch ``streams`` copies of ``url`` for ``seconds``; latency and drop figures of all of them."""
    latencies: list[float] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as out:
        config = WatchConfig(
            calibration_seconds=2.0, batch_size=batch, queue_size=queue, pre_roll=1.0, post_roll=1.0
        )
        session = WatchSession([url] * streams, model, out, config, device="cpu")
        began = time.monotonic()

        def record(scored, _score, _changes) -> None:
            now = time.monotonic()
            if now - began > WARM_UP:
                with lock:
                    latencies.append(now - scored.frame.arrival)

        for worker in session.workers:
            worker.listeners.append(record)
        session.run(duration=seconds)
        workers = session.workers
        frames_in = sum(w.source.frames for w in workers)
        frames_out = sum(w.scored for w in workers)
        dropped = sum(w.queue.dropped for w in workers)
        events = sum(w.events for w in workers)
    values = np.asarray(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "streams": streams,
        "fps_in": frames_in / seconds / streams,
        "fps_out": frames_out / seconds / streams,
        "dropped": dropped,
        "drops_per_min": dropped / (seconds / 60) / streams,
        "p50": float(np.median(values)),
        "p99": float(np.percentile(values, 99)),
        "max": float(np.max(values)),
        "events": events,
        "behind": frames_in - frames_out - dropped,
    }


def line(name: str, result: dict) -> str:
    return (
        f"{name:<22} streams {result['streams']}  in {result['fps_in']:5.1f}/s  out {result['fps_out']:5.1f}/s"
        f"  dropped {result['dropped']:4d} ({result['drops_per_min']:6.1f}/min/stream)"
        f"  latency p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms  max {result['max']:6.1f} ms"
        f"  events {result['events']}  unscored at end {result['behind']}"
    )


def sustains(result: dict) -> bool:
    """No drops, and (almost) every arrived frame scored by the end."""
    return result["dropped"] == 0 and result["behind"] <= 2 * result["streams"] + 16


def single_streams(url: str, models: list, args) -> None:
    print("== one stream per model", flush=True)
    for name, path in models:
        print(line(name, watch(url, str(path), 1, args.seconds, args.batch)), flush=True)
    if len(models) > 1:  # a short queue bounds the latency of a model at its limit, by dropping
        result = watch(url, str(models[1][1]), 1, args.seconds, args.batch, queue=8)
        print(line(f"{models[1][0]} q8", result), flush=True)


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per run [60]")
    parser.add_argument("--sweep-seconds", type=float, default=30.0, help="seconds per run of the sweep [30]")
    parser.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    parser.add_argument("--size", type=parse_size, default=(240, 360), help="stream frame size [240x360]")
    parser.add_argument("--max-streams", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16, help="most frames per model call [16]")
    parser.add_argument("--skip-unet", action="store_true")
    parser.add_argument("--only-sweep", action="store_true", help="only the BCAE1 streams sweep")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_header()
    print(f"# load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"# torch threads {torch.get_num_threads()}; stream {args.size[0]}x{args.size[1]} MJPEG at {FPS:g} fps"
    )
    height, width = args.size
    clip = make_demo_clip(SyntheticConfig(height=height, width=width))
    models = [("BCAE1", demo_model_path("frame"))]
    if not args.skip_unet:
        models.append(("U-Net predictor (16)", demo_model_path("temporal")))
    with MjpegServer(clip.frames, fps=FPS) as server:
        if not args.only_sweep:
            single_streams(server.url, models, args)
        print("== BCAE1 on several streams at once", flush=True)
        no_drops = fast = 0
        for streams in range(1, args.max_streams + 1):
            result = watch(server.url, str(models[0][1]), streams, args.sweep_seconds, args.batch)
            print(line("BCAE1", result) + ("" if sustains(result) else "  <- falls behind"), flush=True)
            if not sustains(result):
                break
            no_drops = streams
            fast = streams if fast == streams - 1 and result["p99"] < TARGET_P99 else fast
    print(
        f"BCAE1 sustains {no_drops} stream(s) of {height}x{width} at {FPS:g} fps without drops on this machine"
    )
    print(f"BCAE1: {fast} stream(s) in a row with p99 latency under {TARGET_P99:g} ms")
    print(f"# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
