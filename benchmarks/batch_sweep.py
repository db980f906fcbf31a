"""Sweep ``vad batch`` layouts (actors x threads, chunk size) on one footage, against the model alone.

``benchmarks/batch_throughput.py`` compares one layout with the single process and the decode
ceilings; this only runs Ray layouts, so that many fit in one lease of the GPU machine:

    python benchmarks/batch_sweep.py --device cuda --model unet_predictor 1x4@2048 1x8@256 1x16@256
    python benchmarks/batch_sweep.py --clips 4 --frames 200 1x1@2048 2x1@128          # CPU
    python benchmarks/batch_sweep.py --device cuda --model unet_predictor 1x4@2048 --batch 32 128

Every layout runs at each ``--batch`` size; on CUDA the model alone is measured at each size too.

Each run prints two rates: "steady" (frames over the time from the first worker up to the last clip
indexed, ``BatchSummary.scoring_frames_per_second``) and "mid-run" (frames scored between 10 % and
90 % of the run's frames, over the time between, from the progress reports). The mid-run rate leaves
out the pipeline filling (the first chunks' decoding) and draining (the last chunks, with fewer
threads busy), which weigh less the longer the archive. On CUDA, with ``nvidia-smi`` on the PATH,
the GPU's utilisation (percent of time a kernel ran, sampled every 100 ms) is averaged over the
mid-run window too.

A layout is ``ACTORSxTHREADS@CHUNK_FRAMES[+DECODERS]``; on CUDA each actor gets ``1 / ACTORS`` of the
GPU; ``+DECODERS`` adds that many one-CPU tasks that decode and resize for the actors (``--decoders``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import torch
from batch_throughput import make_footage, model_only_throughput

from vad_core.batch import BatchConfig, BatchProgress, run_batch
from vad_core.checkpoint import save_checkpoint
from vad_core.inference.config import InferenceConfig
from vad_core.inference.device import describe_device, resolve_device
from vad_core.models import ModelConfig, build_model

LAYOUT = re.compile(r"^(\d+)x(\d+)@(\d+)(?:\+(\d+))?$")
MID_RUN = (0.1, 0.9)  # the mid-run window, as fractions of the run's frames


def mid_run_window(samples: list[tuple[float, int]], total: int) -> tuple[float, float, float] | None:
    """(frames/s, start, end) between the reports where 10 % and 90 % of ``total`` frames were done;
    ``samples`` are (monotonic time, frames done). None when the run is too short to tell."""
    low, high = (fraction * total for fraction in MID_RUN)
    first = next((s for s in samples if s[1] >= low), None)
    last = next((s for s in samples if s[1] >= high), None)
    if first is None or last is None or last[0] <= first[0]:
        return None
    return (last[1] - first[1]) / (last[0] - first[0]), first[0], last[0]


def fill_drain(
    samples: list[tuple[float, int]], window: tuple[float, float, float] | None, began: float
) -> str:
    """When the run reached 10 % of its frames, and how long the last 10 % took (``mid_run_window``)."""
    if window is None:
        return "too short for a mid-run window"
    _, start, end = window
    return f"10 % at {start - began:.1f} s, last 10 % took {samples[-1][0] - end:.1f} s"


def add_on_off_axis(parser: argparse.ArgumentParser, flag: str, default: str, what: str) -> None:
    """``flag on off``: every layout runs with each value given."""
    parser.add_argument(
        flag, nargs="+", choices=("on", "off"), default=[default], help=f"{what}; every layout runs with each"
    )


class GpuUtilisation:
    """``nvidia-smi`` sampling the GPU's utilisation every 100 ms in the background, if it exists."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (monotonic time, percent)
        self._process = None
        if shutil.which("nvidia-smi"):
            self._process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "100"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._process.stdout:
            try:
                self.samples.append((time.monotonic(), float(line.split(",")[0])))
            except ValueError:
                continue

    def mean(self, start: float, end: float) -> float | None:
        inside = [percent for moment, percent in self.samples if start <= moment <= end]
        return sum(inside) / len(inside) if inside else None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("layouts", nargs="+", help="ACTORSxTHREADS@CHUNK_FRAMES[+DECODERS], e.g. 1x8@256+12")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--frames", type=int, default=1000, help="frames per clip")
    parser.add_argument("--footage-size", default="240x360")
    parser.add_argument("--codec", choices=("mjpg", "raw"), default="mjpg")
    parser.add_argument("--model", default="bcae1", help="architecture of an untrained model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[32], help="batch sizes; every layout runs at each"
    )
    add_on_off_axis(parser, "--graphs", "off", "CUDA graphs")
    parser.add_argument("--no-amp", action="store_true")
    add_on_off_axis(parser, "--maps", "on", "error maps written with the scores")
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--seconds", type=float, default=5.0, help="model-only measurement time (cuda)")
    args = parser.parse_args()
    layouts = []
    for text in args.layouts:
        match = LAYOUT.match(text)
        if not match:
            parser.error(f"layout {text!r} is not ACTORSxTHREADS@CHUNK_FRAMES")
        layouts.append(tuple(int(group or 0) for group in match.groups()))

    import ray

    device = resolve_device(args.device)
    amp = not args.no_amp and device.type == "cuda"
    height, width = (int(v) for v in args.footage_size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="vad-batch-sweep-"))
    try:
        make_footage(work / "footage", args.clips, args.frames, (height, width), codec=args.codec)
        torch.manual_seed(0)
        checkpoint = save_checkpoint(build_model(ModelConfig(args.model, 1, (128, 128))), work / args.model)
        print(
            f"footage: {args.clips} x {args.frames} frames {height}x{width} {args.codec}; {args.model} 128x128, "
            f"{describe_device(device)}{', AMP bf16' if amp else ''}; {args.cpus} CPUs",
            flush=True,
        )
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="warning")
        utilisation = GpuUtilisation() if device.type == "cuda" else None
        results = []
        for batch, graphs, maps in itertools.product(args.batch, args.graphs, args.maps):
            inference = InferenceConfig(
                batch_size=batch,
                device=str(device),
                amp=amp,
                keep_maps=maps == "on",
                cuda_graphs=graphs == "on",
            )
            for actors, threads, chunk, decoders in layouts:
                began = time.monotonic()
                samples: list[tuple[float, int]] = []

                def record(progress: BatchProgress, samples: list[tuple[float, int]] = samples) -> None:
                    if not samples or progress.frames_done != samples[-1][1]:
                        samples.append((time.monotonic(), progress.frames_done))

                summary = run_batch(
                    BatchConfig(
                        root=work / "footage",
                        checkpoint=checkpoint,
                        results=work / "results",
                        inference=inference,
                        workers=actors,
                        cpus_per_worker=None if device.type == "cuda" else max(1, args.cpus // actors),
                        gpus_per_task=1.0 / actors if device.type == "cuda" else 0.0,
                        threads=threads if device.type == "cuda" else None,
                        chunk_frames=chunk,
                        decoders=decoders,
                        progress=False,
                    ),
                    on_progress=record,
                )
                rate = summary.scoring_frames_per_second
                window = mid_run_window(samples, summary.frames)
                mid_rate = window[0] if window else None
                busy = utilisation.mean(window[1], window[2]) if (utilisation and window) else None
                name = (
                    f"{actors}x{threads}@{chunk}"
                    + (f"+{decoders}" if decoders else "")
                    + f", graphs {graphs}, maps {maps}"
                )
                results.append((batch, name, rate, mid_rate, busy))
                mid_text = f", mid-run {mid_rate:,.0f}" if mid_rate else ""
                busy_text = f", GPU busy {busy:.0f} % mid-run" if busy is not None else ""
                print(
                    f"  batch {batch}, graphs {graphs}, maps {maps}: {actors} actors x {threads} threads, chunks of {chunk}, {decoders} decoders: "
                    f"{rate:,.0f} frames/s steady{mid_text}{busy_text} "
                    f"({summary.frames} frames, {time.monotonic() - began:.1f} s with start-up; "
                    f"{fill_drain(samples, window, began)}; writing {summary.writing_s:.1f} s, "
                    f"chunks held back for writes {summary.held_back_s:.1f} s)",
                    flush=True,
                )
                # each run writes gigabytes of maps: delete them, so that no run pays for an earlier
                # run's writing (the page cache's dirty data, the disk's write-back)
                shutil.rmtree(work / "results", ignore_errors=True)
        ray.shutdown()
        if utilisation is not None:
            utilisation.stop()
        if device.type == "cuda":
            for batch in args.batch:
                alone = model_only_throughput(checkpoint, device, batch, amp, args.seconds)
                print(f"batch {batch}: model only (zoo benchmark): {alone:,.0f} frames/s")
                for _, name, rate, mid_rate, _busy in (row for row in results if row[0] == batch):
                    mid_text = f"; mid-run {mid_rate:,.0f} = {mid_rate / alone:.0%}" if mid_rate else ""
                    print(
                        f"  {name:<22} steady {rate:>8,.0f} frames/s = {rate / alone:.0%} of the model alone{mid_text}"
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
