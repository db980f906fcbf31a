"""Decoding tasks (Ray, 1 CPU each) with OpenCV's default thread pool against one OpenCV thread.

Ray gives a task ``OMP_NUM_THREADS=1``, but OpenCV's pool ignores it and keeps one thread per core
in every process; ``decode_chunk`` now sets one thread. This decodes the same chunks both ways,
interleaved round by round, and prints frames/s:

    python benchmarks/decoder_threads.py --cpus 2 --rounds 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from batch_throughput import make_footage

from vad_core.batch.runner import decode_chunk


def decode_with_threads(threads: int, *args):
    """``decode_chunk`` with OpenCV's pool at ``threads`` (-1: OpenCV's default, one per core)."""
    from unittest import mock

    import cv2

    cv2.setNumThreads(threads)
    # decode_chunk sets one thread itself; for the comparison it must keep the pool it is given
    with mock.patch.object(cv2, "setNumThreads", lambda count: None):
        return decode_chunk(*args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--chunk-frames", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="vad-decoder-threads-"))
    try:
        paths = make_footage(work / "footage", args.clips, args.frames, (240, 360))
        ray.init(num_cpus=args.cpus, include_dashboard=False)
        task = ray.remote(num_cpus=1)(decode_with_threads)
        starts = range(0, args.frames, args.chunk_frames)
        for round_ in range(args.rounds):
            for label, threads in (("OpenCV default", -1), ("one thread", 1)):
                began = time.perf_counter()
                refs = [
                    task.remote(
                        threads,
                        str(p),
                        "video",
                        s,
                        min(s + args.chunk_frames, args.frames),
                        (128, 128),
                        1,
                        None,
                    )
                    for p in paths
                    for s in starts
                ]
                frames = sum(len(chunk) for chunk in ray.get(refs))
                rate = frames / (time.perf_counter() - began)
                print(
                    f"round {round_}: {label:<15} {rate:>7,.0f} frames/s ({args.cpus} decoding tasks at once)"
                )
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
