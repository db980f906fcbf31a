"""Sweep ``vad batch`` layouts (actors x threads, chunk size) on one footage, against the model alone.

``benchmarks/batch_throughput.py`` compares one layout with the single process and the decode
ceilings; this only runs Ray layouts, so that many fit in one lease of the GPU machine:

    python benchmarks/batch_sweep.py --device cuda --model unet_predictor 1x4@2048 1x8@256 1x16@256
    python benchmarks/batch_sweep.py --clips 4 --frames 200 1x1@2048 2x1@128          # CPU
    python benchmarks/batch_sweep.py --device cuda --model unet_predictor 1x4@2048 --batch 32 128

Every layout runs at each ``--batch`` size; on CUDA the model alone is measured at each size too.

A layout is ``ACTORSxTHREADS@CHUNK_FRAMES[+DECODERS]``; on CUDA each actor gets ``1 / ACTORS`` of the
GPU; ``+DECODERS`` adds that many one-CPU tasks that decode and resize for the actors (``--decoders``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import torch
from batch_throughput import make_footage, model_only_throughput

from vad_core.batch import BatchConfig, run_batch
from vad_core.checkpoint import save_checkpoint
from vad_core.device import describe_device, resolve_device
from vad_core.inference_config import InferenceConfig
from vad_core.models import ModelConfig, build_model

LAYOUT = re.compile(r"^(\d+)x(\d+)@(\d+)(?:\+(\d+))?$")


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
    parser.add_argument(
        "--graphs",
        nargs="+",
        choices=("on", "off"),
        default=["off"],
        help="CUDA graphs; every layout runs with each",
    )
    parser.add_argument("--no-amp", action="store_true")
    parser.add_argument("--no-maps", action="store_true")
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
        results = []
        for batch, graphs in itertools.product(args.batch, args.graphs):
            inference = InferenceConfig(
                batch_size=batch,
                device=str(device),
                amp=amp,
                keep_maps=not args.no_maps,
                cuda_graphs=graphs == "on",
            )
            for actors, threads, chunk, decoders in layouts:
                began = time.perf_counter()
                summary = run_batch(
                    BatchConfig(
                        root=work / "footage",
                        checkpoint=checkpoint,
                        results=work / f"run{len(results)}",
                        inference=inference,
                        workers=actors,
                        cpus_per_worker=None if device.type == "cuda" else max(1, args.cpus // actors),
                        gpus_per_task=1.0 / actors if device.type == "cuda" else 0.0,
                        threads=threads if device.type == "cuda" else None,
                        chunk_frames=chunk,
                        decoders=decoders,
                        progress=False,
                    )
                )
                rate = summary.scoring_frames_per_second
                name = (
                    f"{actors}x{threads}@{chunk}"
                    + (f"+{decoders}" if decoders else "")
                    + f", graphs {graphs}"
                )
                results.append((batch, name, rate))
                print(
                    f"  batch {batch}, graphs {graphs}: {actors} actors x {threads} threads, chunks of {chunk}, {decoders} decoders: "
                    f"{rate:,.0f} frames/s steady "
                    f"({summary.frames} frames, {time.perf_counter() - began:.1f} s with start-up)",
                    flush=True,
                )
        ray.shutdown()
        if device.type == "cuda":
            for batch in args.batch:
                alone = model_only_throughput(checkpoint, device, batch, amp, args.seconds)
                print(f"batch {batch}: model only (zoo benchmark): {alone:,.0f} frames/s")
                for _, name, rate in (row for row in results if row[0] == batch):
                    print(f"  {name:<22} {rate:>8,.0f} frames/s = {rate / alone:.0%} of the model alone")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
