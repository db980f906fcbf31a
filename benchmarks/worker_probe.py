"""A batch actor's scoring without Ray: ``ScoringWorker.score`` on chunks against ``score_all``.

On the H100, a Ray actor scored the 64-filter U-Net at 1,500-3,000 frames/s while the same loop
in a plain process ran at 5,300-6,000; this runs the actor's class in a plain process, on the same
clips cut into the same chunks, to tell whether the gap is in the worker's code or in Ray.

    python benchmarks/worker_probe.py --device cuda --model unet_predictor
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from batch_throughput import make_footage

from vad_core.batch.chunking import chunk_plan
from vad_core.batch.runner import ScoringWorker, _ChunkTask
from vad_core.checkpoint import save_checkpoint
from vad_core.inference import InferenceConfig, score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="bcae1")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--chunk-frames", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 16], help="worker threads to try")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vad-worker-probe-"))
    try:
        paths = make_footage(work / "footage", args.clips, args.frames, (240, 360))
        torch.manual_seed(0)
        checkpoint = save_checkpoint(build_model(ModelConfig(args.model, 1, (128, 128))), work / args.model)
        inference = InferenceConfig(batch_size=32, device=args.device, amp=args.device == "cuda")
        for threads in args.threads:
            worker = ScoringWorker(str(checkpoint), inference, threads=threads, fps=None)
            spec = worker.model.spec
            tasks = [
                _ChunkTask(path.name, str(path), "video", chunk)
                for path in paths
                for chunk in chunk_plan(args.frames, spec, inference, args.chunk_frames)
            ]
            worker.score(tasks[0])  # warm-up
            began, frames = time.perf_counter(), 0
            for task in tasks:
                frames += len(worker.score(task).scores.errors)
            chunked = frames / (time.perf_counter() - began)
            began, frames = time.perf_counter(), 0
            for path in paths:
                frames += len(score_all(worker.model, open_source(path), inference, worker.preprocess).errors)
            whole = frames / (time.perf_counter() - began)
            print(
                f"{args.model}, worker with {threads} threads: ScoringWorker.score {chunked:,.0f} frames/s "
                f"(chunks of {args.chunk_frames}); score_all of the whole clips {whole:,.0f}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
