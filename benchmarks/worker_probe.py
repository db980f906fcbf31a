"""Where a batch actor loses frames/s: ``ScoringWorker`` in a plain process, then in a Ray actor.

On the H100, a Ray actor scored the 64-filter U-Net at 1,500-3,000 frames/s while the same loop
in a plain process ran at 5,300-6,000 (frames in memory). This runs the actor's own class on the
same clips cut into the same chunks, step by step towards what ``vad batch`` does:

* ``plain score``: ``ScoringWorker.score`` (decodes the chunk from the file itself), from ``C`` threads;
* ``plain decoded``: ``ScoringWorker.score_decoded`` on chunks decoded beforehand (model-size uint8);
* ``ray score`` / ``ray decoded``: the same calls on a Ray actor with ``max_concurrency=C``;
* ``ray decoded, count``: as ``ray decoded`` but the actor returns a frame count, not the scores
  (what moving errors and maps back to the driver costs).

Every row is frames/s over all chunks, after one warm-up call; the model alone is the ceiling.

    python benchmarks/worker_probe.py --device cuda --model unet_predictor --concurrency 1 2 4 --ray

It first times a fresh worker's start and first chunks, without and with its warm-up.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from batch_throughput import make_footage, model_only_throughput

from vad_core.batch.chunking import chunk_plan
from vad_core.batch.runner import ScoringWorker, _ChunkTask, decode_chunk
from vad_core.checkpoint import save_checkpoint
from vad_core.inference.config import InferenceConfig
from vad_core.inference.device import resolve_device
from vad_core.models import ModelConfig, build_model


class CountingWorker(ScoringWorker):
    """A worker whose calls return only how many frames they scored."""

    def count_decoded(self, task: _ChunkTask, frames) -> int:
        outcome = self.score_decoded(task, frames)
        if outcome.scores is None:
            raise RuntimeError(outcome.error)
        return len(outcome.scores.errors)


def frames_of(outcome) -> int:
    if isinstance(outcome, int):
        return outcome
    if outcome.scores is None:
        raise RuntimeError(outcome.error)
    return len(outcome.scores.errors)


def rate(calls: list[Callable[[], object]], concurrency: int) -> float:
    """Frames/s of running ``calls`` from ``concurrency`` threads (after one warm-up call)."""
    frames_of(calls[0]())
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        frames = sum(frames_of(result) for result in pool.map(lambda call: call(), calls))
    return frames / (time.perf_counter() - began)


def ray_rate(submit: Callable[[int], object], count: int, concurrency: int) -> float:
    """Frames/s of ``count`` actor calls kept ``2 * concurrency`` deep (after one warm-up call)."""
    import ray

    frames_of(ray.get(submit(0)))
    began, frames, next_call, pending = time.perf_counter(), 0, 0, []
    while next_call < count or pending:
        while next_call < count and len(pending) < 2 * concurrency:
            pending.append(submit(next_call))
            next_call += 1
        done, pending = ray.wait(pending, num_returns=1)
        frames += sum(frames_of(value) for value in ray.get(done))
    return frames / (time.perf_counter() - began)


def cold_start(checkpoint: Path, inference: InferenceConfig, clip: Path, chunk_frames: int) -> ScoringWorker:
    """Seconds a fresh worker takes to start and to score its first chunks, without and with warm-up."""
    timings = {}
    for warm_up in (False, True):
        began = time.perf_counter()
        worker = ScoringWorker(str(checkpoint), inference, threads=1, fps=None, warm_up=warm_up)
        started = time.perf_counter() - began
        chunks = chunk_plan(len(worker._open(str(clip), "video")), worker.model.spec, inference, chunk_frames)
        calls = []
        for chunk in chunks[:2]:
            began = time.perf_counter()
            frames_of(worker.score(_ChunkTask(clip.name, str(clip), "video", chunk)))
            calls.append(time.perf_counter() - began)
        timings[warm_up] = (started, *calls)
    for warm_up, (started, first, second) in timings.items():
        print(
            f"fresh worker {'with' if warm_up else 'without'} warm-up: started in {started:.2f} s, "
            f"first chunk {first:.3f} s, second {second:.3f} s",
            flush=True,
        )
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="bcae1")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--chunk-frames", type=int, default=256)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2], help="chunks scored at once")
    parser.add_argument("--no-maps", action="store_true")
    parser.add_argument("--ray", action="store_true", help="also run the worker as a Ray actor")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray [all]")
    parser.add_argument("--seconds", type=float, default=5.0, help="model-only measurement time")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vad-worker-probe-"))
    try:
        paths = make_footage(work / "footage", args.clips, args.frames, (240, 360))
        torch.manual_seed(0)
        checkpoint = save_checkpoint(build_model(ModelConfig(args.model, 1, (128, 128))), work / args.model)
        device = resolve_device(args.device)
        amp = device.type == "cuda"
        inference = InferenceConfig(batch_size=32, device=str(device), amp=amp, keep_maps=not args.no_maps)
        probe = cold_start(checkpoint, inference, paths[0], args.chunk_frames)  # first: nothing warm yet
        alone = model_only_throughput(checkpoint, device, 32, amp, args.seconds)
        print(
            f"{args.model} on {device}, AMP {amp}, maps {not args.no_maps}: model alone {alone:,.0f} frames/s"
        )
        spec, preprocess = probe.model.spec, probe.preprocess
        tasks = [
            _ChunkTask(path.name, str(path), "video", chunk)
            for path in paths
            for chunk in chunk_plan(args.frames, spec, inference, args.chunk_frames)
        ]
        decoded = [
            decode_chunk(
                t.path,
                t.kind,
                t.chunk.read_start,
                t.chunk.read_stop,
                preprocess.size,
                preprocess.channels,
                None,
            )
            for t in tasks
        ]
        frames = sum(t.chunk.frames for t in tasks)
        print(f"{len(tasks)} chunks of {args.chunk_frames} frames, {frames} frames to score")

        def report(label: str, value: float) -> None:
            print(
                f"  {label:<34} {value:>8,.0f} frames/s = {value / alone:5.1%} of the model alone", flush=True
            )

        for concurrency in args.concurrency:
            worker = ScoringWorker(str(checkpoint), inference, threads=1, fps=None)
            report(
                f"plain score x{concurrency}",
                rate([lambda t=t, w=worker: w.score(t) for t in tasks], concurrency),
            )
            report(
                f"plain decoded x{concurrency}",
                rate(
                    [
                        lambda t=t, f=f, w=worker: w.score_decoded(t, f)
                        for t, f in zip(tasks, decoded, strict=True)
                    ],
                    concurrency,
                ),
            )
        if not args.ray:
            return
        import ray

        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=True)
        try:
            stored = [ray.put(f) for f in decoded]
            gpus = 1 if device.type == "cuda" else 0
            for concurrency in args.concurrency:
                actor = (
                    ray.remote(CountingWorker)
                    .options(num_cpus=1, num_gpus=gpus, max_concurrency=concurrency)
                    .remote(str(checkpoint), inference, 1, None)
                )
                report(
                    f"ray score x{concurrency}",
                    ray_rate(lambda i, a=actor: a.score.remote(tasks[i]), len(tasks), concurrency),
                )
                report(
                    f"ray decoded x{concurrency}",
                    ray_rate(
                        lambda i, a=actor: a.score_decoded.remote(tasks[i], stored[i]),
                        len(tasks),
                        concurrency,
                    ),
                )
                report(
                    f"ray decoded, count x{concurrency}",
                    ray_rate(
                        lambda i, a=actor: a.count_decoded.remote(tasks[i], stored[i]),
                        len(tasks),
                        concurrency,
                    ),
                )
                ray.kill(actor)
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
