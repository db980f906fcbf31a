"""``vad watch``: score live streams as frames arrive; events, incident clips with pre-roll, logs.

SOURCE is a camera index (``0``), an ``rtsp://`` or ``http(s)://`` stream (MJPEG or anything OpenCV's
FFmpeg backend reads), a video file (played at its own frame rate, for rehearsal) or a folder that
frames keep arriving in; ``NAME=SOURCE`` names the stream (its clips go to ``OUT/NAME/``). Scores are causal: against the checkpoint's calibration (``vad train
--holdout``) or, without one, the first ``--calibrate`` seconds of each stream.

Example::

    vad watch lobby=rtsp://cam1/stream http://cam2/video.mjpg --model bcae1.safetensors --out watch/ \\
        --pre-roll 3 --post-roll 3 --threshold 1.0 --duration 3600
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys


def register(sub) -> None:
    """Add ``vad watch`` to the ``vad`` parser."""
    watch = sub.add_parser(
        "watch", help="score live streams (camera, rtsp, http, file, folder) as frames arrive"
    )
    watch.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="camera index, URL, video file or folder; NAME=SOURCE names the stream",
    )
    watch.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    watch.add_argument("--out", required=True, help="folder for events.jsonl, scores.csv and the clips")
    watch.add_argument("--duration", type=float, help="stop after this many seconds [until Ctrl+C]")
    watch.add_argument("--pre-roll", type=float, default=3.0, help="seconds before an event in its clip [3]")
    watch.add_argument("--post-roll", type=float, default=3.0, help="seconds after an event in its clip [3]")
    watch.add_argument(
        "--threshold",
        type=float,
        default=1.0,
        help="event threshold on the causal score (1 = the largest error on normal footage) [1.0]",
    )
    watch.add_argument("--min-duration", type=int, default=5, help="shortest event in frames [5]")
    watch.add_argument(
        "--merge-gap", type=int, default=5, help="frames below threshold merged into an event [5]"
    )
    watch.add_argument(
        "--calibrate",
        type=float,
        default=10.0,
        help="seconds of each stream that calibrate the score when the checkpoint has no calibration [10]",
    )
    watch.add_argument(
        "--queue", type=int, default=64, help="frames waiting before the oldest are dropped [64]"
    )
    watch.add_argument("--batch-size", type=int, default=16, help="most frames scored in one model call [16]")
    watch.add_argument("--device", default="auto", help="auto | cuda | cpu [auto]")
    watch.add_argument("--fps", type=float, help="frame rate of a folder source [25]")
    watch.add_argument("--quiet", action="store_true", help="no status line")
    watch.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from vad_core.live import WatchConfig, WatchSession

    config = WatchConfig(
        threshold=args.threshold,
        min_duration=args.min_duration,
        merge_gap=args.merge_gap,
        pre_roll=args.pre_roll,
        post_roll=args.post_roll,
        queue_size=args.queue,
        batch_size=args.batch_size,
        calibration_seconds=args.calibrate,
    )
    session = WatchSession(args.sources, args.model, args.out, config, device=args.device, fps=args.fps)
    signal.signal(signal.SIGTERM, _interrupt)
    for worker in session.workers:
        print(
            f"watching {worker.source.spec} as {worker.name}: {worker.normaliser.describe()}", file=sys.stderr
        )
    with contextlib.suppress(KeyboardInterrupt):  # the session has stopped cleanly
        session.run(
            args.duration,
            status=None if args.quiet else _print_status,
            on_interrupt=lambda: print("\nstopping: finishing the clips being written ...", file=sys.stderr),
        )
    _summary(session)
    return 0


def _interrupt(_signal: int, _frame: object) -> None:
    """SIGTERM ends a watch like Ctrl+C: clips being written are finished."""
    raise KeyboardInterrupt


def _print_status(lines: list[str]) -> None:
    """One stream on a terminal: the line is rewritten in place; otherwise one line per stream."""
    if len(lines) == 1 and sys.stderr.isatty():
        print("\r" + lines[0], end="", file=sys.stderr, flush=True)
        return
    for line in lines:
        print(line, file=sys.stderr, flush=True)


def _summary(session) -> None:
    print(file=sys.stderr)
    for worker in session.workers:
        stats = worker.stats()
        gaps = len(worker.source.gaps)
        print(
            f"{worker.name}: {stats.frames_in} frames, {stats.frames_out} scored, {stats.dropped} dropped, "
            f"{gaps} gap(s), {stats.events} event(s)" + (f"; error: {worker.error}" if worker.error else "")
        )
    for problem in session.writer.failures:
        print(f"clip not written: {problem}", file=sys.stderr)
    print(f"events: {session.out / 'events.jsonl'}  scores: {session.out / 'scores.csv'}")
