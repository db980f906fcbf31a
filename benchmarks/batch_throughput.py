"""Throughput of archive scoring: ``vad batch score`` on Ray (1, 2, ... workers) against one process.

Writes synthetic footage (moving shapes, MJPG ``.avi``, gray) to a temporary folder and scores the
same clips three ways, each writing the same ``.npz`` / ``.csv`` scores files:

* single process: what ``vad score`` does per clip (``open_source`` -> ``score_all`` ->
  ``write_scores``), in one process with the model loaded once (the strongest single-process case);
* ``run_batch`` on a local Ray, for each ``--workers`` count (CPU: the cores split between workers;
  CUDA: one actor per GPU, or ``--gpus-per-task 0.25`` for four per GPU);
* decoding and resizing alone (``--cpus`` processes, no model): the most frames/s any scoring of
  this footage can reach on these CPUs; and decoding alone, the ceiling on a GPU, which resizes
  frames itself (``--ceilings-only`` prints just these two);
* with ``--device cuda``, also the model alone (``benchmarks/throughput.py``'s ``model_only``: a
  resident random batch, forward + error map) to see how close the batch run gets to the GPU.

"steady" frames/s count from the moment the first worker is up to the last clip indexed; "wall"
includes starting the workers (Ray itself is started once, before all runs).

    python benchmarks/batch_throughput.py                                   # CPU: 1 and 2 workers
    python benchmarks/batch_throughput.py --device cuda --clips 32 --frames 2000 --workers 1 --threads 8
    python benchmarks/batch_throughput.py --ceilings-only --clips 6 --frames 300       # CPU ceilings
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from vad_core.batch import BatchConfig, run_batch
from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_test_clip, write_frames
from vad_core.inference.config import InferenceConfig
from vad_core.inference.device import describe_device, resolve_device
from vad_core.inference.scores_file import write_scores
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import open_source


def write_video(frames, target: Path, codec: str) -> Path:
    """``target.avi``: MJPG (what ``vad demo`` writes), or ``raw`` uncompressed BGR frames, which decode
    at memory speed so that what is measured is the scoring path, not the video decoder."""
    import cv2

    if codec == "mjpg":
        return write_frames(frames, target, 25.0, video=True)
    path = target.with_suffix(".avi")
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), 0, 25.0, (width, height), isColor=True)
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def make_footage(
    root: Path, clips: int, frames: int, size: tuple[int, int], distinct: int = 4, codec: str = "mjpg"
) -> list[Path]:
    """``clips`` videos of ``frames`` frames under ``root/camNN/``; ``distinct`` are rendered, the rest copied."""
    height, width = size
    config = SyntheticConfig(
        height=height,
        width=width,
        frames_per_clip=frames,
        anomaly_frames=(min(30, frames // 4), min(50, frames // 2)),
    )
    kinds = ("spatial", "temporal", "spatio-temporal")

    def render(i: int) -> Path:
        clip = make_test_clip(config, i, kinds[i % 3])
        return write_video(clip.frames, root / f"cam{i:02d}" / "clip", codec)

    with ThreadPoolExecutor(max_workers=min(distinct, os.cpu_count() or 1)) as pool:
        rendered = list(pool.map(render, range(min(distinct, clips))))
    paths = list(rendered)
    for i in range(len(rendered), clips):
        target = root / f"cam{i:02d}" / "clip.avi"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rendered[i % len(rendered)], target)
        paths.append(target)
    return paths


def single_process(
    paths: list[Path], checkpoint: Path, inference: InferenceConfig, out: Path
) -> tuple[int, float]:
    """Frames and seconds of scoring every clip in this process, as ``vad score`` does."""
    began = time.perf_counter()
    loaded = load_checkpoint(checkpoint, device=inference.device)
    frames = 0
    for i, path in enumerate(paths):
        source = open_source(path)
        result = score_all(loaded.model, source, inference, loaded.preprocess)
        meta = {"name": source.name, "source": str(path), "fps": source.fps, "model": loaded.display_name}
        write_scores(out / f"{i:03d}_{path.stem}", result.errors, maps=result.maps, meta=meta)
        frames += len(source)
    return frames, time.perf_counter() - began


def _decode_part(path: str, start: int, stop: int, size: tuple[int, int], resize: bool) -> int:
    import cv2

    from vad_core.sources import Preprocess
    from vad_core.sources.preprocess import channels_first_uint8

    cv2.setNumThreads(1)
    source = open_source(path)
    preprocess = Preprocess(size, 1)
    step = 256
    for first in range(start, stop, step):
        frames = source.read(first, min(stop, first + step))
        preprocess.to_uint8(frames) if resize else channels_first_uint8(frames, 1)
    getattr(source, "close", lambda: None)()
    return stop - start


def decode_only(
    paths: list[Path], size: tuple[int, int], processes: int, resize: bool = True, part: int = 500
) -> tuple[int, float]:
    """Frames and seconds of decoding every clip (and, with ``resize``, resizing it: uint8 at model
    size) in ``processes`` processes, each reading parts of ``part`` frames: the CPU ceiling of any
    scoring of the footage. Scoring on a GPU resizes there, so its CPU ceiling is ``resize=False``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = []
    for path in paths:
        length = len(open_source(path))
        jobs += [
            (str(path), first, min(length, first + part), size, resize) for first in range(0, length, part)
        ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(_decode_part, *zip(*jobs[:processes], strict=True)))  # start processes, import cv2
        began = time.perf_counter()
        frames = sum(pool.map(_decode_part, *zip(*jobs, strict=True)))
    return frames, time.perf_counter() - began


def decode_ceilings(paths: list[Path], size: tuple[int, int], processes: int) -> tuple[float, float]:
    """Print and return frames/s of decoding with and without the resize (``decode_only``)."""
    rates = []
    for resize, label in ((True, "decode + resize only"), (False, "decode only (a GPU resizes)")):
        frames, seconds = decode_only(paths, size, processes, resize=resize)
        rates.append(frames / seconds)
        print(f"  {label}, {processes} processes: {rates[-1]:.0f} frames/s", flush=True)
    return rates[0], rates[1]


def model_only_throughput(
    checkpoint: Path, device: torch.device, batch: int, amp: bool, seconds: float
) -> float:
    """``benchmarks/throughput.py``'s model-only frames/s for this checkpoint's model."""
    spec = importlib.util.spec_from_file_location("zoo_throughput", Path(__file__).with_name("throughput.py"))
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    model = load_checkpoint(checkpoint, device=device).model
    return module.model_only(model, device, batch, amp, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=300, help="frames per clip")
    parser.add_argument("--footage-size", default="240x360", help="frame size of the footage (UCSD Ped2's)")
    parser.add_argument(
        "--codec", choices=("mjpg", "raw"), default="mjpg", help="raw: uncompressed, to take decoding out"
    )
    parser.add_argument(
        "--model", default="bcae1", help="architecture of an untrained model, or a checkpoint path"
    )
    parser.add_argument("--model-size", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--no-amp", action="store_true")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    parser.add_argument("--gpus-per-task", type=float, help="GPUs per worker (cuda) [1]")
    parser.add_argument("--threads", type=int, help="chunks a GPU worker scores at once [its CPUs]")
    parser.add_argument("--decoders", type=int, help="CPU tasks decoding for the workers [0]")
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count(), help="CPUs for Ray and the single process"
    )
    parser.add_argument("--chunk-frames", type=int, default=2048)
    parser.add_argument("--writers", type=int, help="driver threads writing scores files [cores / 4, 2 to 8]")
    parser.add_argument("--no-maps", action="store_true", help="do not store error maps")
    parser.add_argument("--seconds", type=float, default=5.0, help="model-only measurement time (cuda)")
    parser.add_argument("--keep", help="keep footage and results in this folder")
    parser.add_argument(
        "--ceilings-only", action="store_true", help="print the decode ceilings (no model, no Ray) and stop"
    )
    args = parser.parse_args()

    import ray

    device = resolve_device(args.device)
    cpus = int(args.cpus)
    torch.set_num_threads(cpus)
    height, width = (int(v) for v in args.footage_size.lower().split("x"))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vad-batch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        began = time.perf_counter()
        paths = make_footage(work / "footage", args.clips, args.frames, (height, width), codec=args.codec)
        print(
            f"footage: {args.clips} clips x {args.frames} frames, {height}x{width} gray {args.codec.upper()} "
            f"({time.perf_counter() - began:.0f} s to write)",
            flush=True,
        )
        if args.ceilings_only:
            decode_ceilings(paths, (args.model_size, args.model_size), cpus)
            return
        if Path(args.model).suffix in (".safetensors", ".json"):
            checkpoint = Path(args.model)
        else:
            torch.manual_seed(0)
            model = build_model(ModelConfig(args.model, 1, (args.model_size, args.model_size)))
            checkpoint = save_checkpoint(model, work / f"{args.model}_untrained")
        loaded = load_checkpoint(checkpoint)
        amp = not args.no_amp and device.type == "cuda"
        inference = InferenceConfig(
            batch_size=args.batch, device=str(device), amp=amp, keep_maps=not args.no_maps
        )
        print(
            f"model: {loaded.display_name} {loaded.config.size[0]}x{loaded.config.size[1]}, batch {args.batch}, "
            f"{describe_device(device)}{', AMP bf16' if amp else ''}; torch {torch.__version__}; {cpus} CPUs",
            flush=True,
        )
        rows: list[tuple[str, str, float, float]] = []
        resize_rate, decode_alone_rate = decode_ceilings(paths, loaded.config.size, cpus)
        # what the CPUs must do per frame: a GPU shrinks frames itself (vad_core/inference/device_resize.py)
        decode_rate, decode_label = (
            (decode_alone_rate, "decode only")
            if device.type == "cuda"
            else (resize_rate, "decode + resize only")
        )
        frames, seconds = single_process(paths, checkpoint, inference, work / "single")
        rows.append(("single process (vad score)", f"1 x {cpus} threads", frames / seconds, frames / seconds))
        print(
            f"  single process: {frames} frames in {seconds:.1f} s = {frames / seconds:.0f} frames/s",
            flush=True,
        )

        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="warning")
        for workers in args.workers:
            config = BatchConfig(
                root=work / "footage",
                checkpoint=checkpoint,
                results=work / f"ray_{workers}",
                inference=inference,
                workers=workers,
                cpus_per_worker=None if device.type == "cuda" else max(1, cpus // workers),
                gpus_per_task=args.gpus_per_task if device.type == "cuda" else 0.0,
                threads=args.threads,
                decoders=args.decoders or 0,
                chunk_frames=args.chunk_frames,
                writers=args.writers,
                progress=False,
            )
            summary = run_batch(config)
            layout = f"{summary.workers} x {summary.device}"
            rows.append(("ray batch", layout, summary.scoring_frames_per_second, summary.frames_per_second))
            print(
                f"  ray batch, {layout}: {summary.frames} frames, {summary.scoring_frames_per_second:.0f} frames/s "
                f"steady, {summary.frames_per_second:.0f} incl. {summary.startup_s:.1f} s start-up",
                flush=True,
            )
        ray.shutdown()
        print()
        print(f"{'path':<28} {'workers':<34} {'frames/s steady':>16} {'frames/s wall':>14}")
        for name, layout, steady, wall in rows:
            print(f"{name:<28} {layout:<34} {steady:>16,.0f} {wall:>14,.0f}")
        if device.type == "cuda":
            alone = model_only_throughput(checkpoint, device, args.batch, amp, args.seconds)
            best = max(steady for name, _, steady, _ in rows if name == "ray batch")
            print(f"{'model only (zoo benchmark)':<28} {'1 GPU':<34} {alone:>16,.0f}")
            print(f"{decode_label:<28} {f'{cpus} processes, no model':<34} {decode_rate:>16,.0f}")
            print(f"best ray batch / model only = {best / alone:.0%} (target >= 80%)")
            ceiling = min(alone, decode_rate)
            print(f"best ray batch / min(model only, decode only) = {best / ceiling:.0%}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
