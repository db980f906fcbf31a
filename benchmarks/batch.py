"""Archive scoring throughput: ``vad batch`` on a local Ray, in the layouts given, against one process,
the CPUs' decode ceilings and the model alone.

Writes synthetic footage (moving shapes, gray MJPG ``.avi`` at UCSD Ped2's 240x360; ``--codec raw``
for uncompressed frames, which take decoding out) and scores it with ``run_batch`` once per LAYOUT,
at every ``--batch`` size, with CUDA graphs and error maps as ``--graphs`` / ``--maps`` ask. Each
run's results are deleted after it, so that no run pays for writing out an earlier one's.

A LAYOUT is ``ACTORSxTHREADS@CHUNK_FRAMES+DECODERS``, every part but ACTORS optional:
``1x3@2048+6`` is one actor scoring 3 chunks of 2048 frames at once, fed by 6 one-CPU decoding
tasks. THREADS left out: ``vad batch``'s default (3 with decoders, else the actor's CPUs); CHUNK
left out: 2048; DECODERS left out: none, the actor decodes its own chunks. On CUDA each actor gets
``1 / ACTORS`` of the GPU (``--gpus-per-task`` to change); on the CPU, THREADS is ignored and each
actor gets ``--cpus / ACTORS`` torch threads. ``auto`` (the default) is what ``vad batch score``
does without options.

Printed for each run:

* steady: frames over the time from the first worker up to the last clip indexed
  (``BatchSummary.scoring_frames_per_second``); wall: frames over the whole run, start-up included;
* mid-run: frames scored between 10 % and 90 % of the run's frames, over the time between, from the
  progress reports: it leaves out the pipeline filling and draining, which weigh less the longer
  the archive;
* on CUDA, with ``nvidia-smi`` on the PATH, GPU busy: the share of 100 ms samples in which a kernel
  ran, over the mid-run window;
* the writer threads' time on scores files and how long chunks waited for them.

Also, on request: ``--single-process`` scores every clip in this process first, the way ``vad
score`` does (model loaded once, ``score_all`` + ``write_scores`` per clip); ``--ceilings`` decodes
(and resizes) the footage in ``--cpus`` processes without a model, the most frames/s any scoring of
it can reach on these CPUs (a GPU resizes frames itself, so its ceiling is "decode only");
``--ceilings-only`` stops there. On CUDA, the model alone (``benchmarks/throughput.py``'s measure)
is timed at every batch size after the runs, and each run is given as a share of it.

    python benchmarks/batch.py --clips 6 --frames 300 --cpus 2 --single-process 1 2     # CPU
    python benchmarks/batch.py --ceilings-only --clips 6 --frames 300 --cpus 2
    python benchmarks/batch.py --device cuda --model unet_predictor --clips 192 --batch 64 128 \\
        1x3@2048+6 1x2@2048+6 --maps on off
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from _common import argument_parser, model_only, parse_size, print_header

from vad_core.batch import BatchConfig, BatchProgress, BatchSummary, run_batch
from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_test_clip, write_frames
from vad_core.inference.config import InferenceConfig
from vad_core.inference.device import describe_device, resolve_device
from vad_core.inference.scores_file import write_scores
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import Preprocess, open_source
from vad_core.sources.preprocess import channels_first_uint8

LAYOUT = re.compile(r"^(\d+)(?:x(\d+))?(?:@(\d+))?(?:\+(\d+))?$")
DEFAULT_CHUNK_FRAMES = 2048  # vad batch's own default
MID_RUN = (0.1, 0.9)  # the mid-run window, as fractions of the run's frames


@dataclass(frozen=True)
class Layout:
    """Actors, threads, chunk size and decoders of one run; None leaves the choice to ``vad batch``."""

    text: str
    actors: int | None = None
    threads: int | None = None
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    decoders: int | None = None


def parse_layout(text: str) -> Layout:
    """``auto`` or ``ACTORS[xTHREADS][@CHUNK_FRAMES][+DECODERS]`` (module docstring)."""
    if text == "auto":
        return Layout(text)
    match = LAYOUT.match(text)
    if not match:
        raise ValueError(f"layout {text!r} is not auto or ACTORSxTHREADS@CHUNK_FRAMES+DECODERS")
    actors, threads, chunk, decoders = match.groups()
    return Layout(
        text,
        int(actors),
        int(threads) if threads else None,
        int(chunk) if chunk else DEFAULT_CHUNK_FRAMES,
        int(decoders or 0),
    )


# --- footage --------------------------------------------------------------------------------------


def write_video(frames, target: Path, codec: str) -> Path:
    """``target.avi``: MJPG (what ``vad demo`` writes), or ``raw`` uncompressed BGR frames."""
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
    root: Path, clips: int, frames: int, size: tuple[int, int], codec: str, distinct: int = 4
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
        paths = list(pool.map(render, range(min(distinct, clips))))
    for i in range(len(paths), clips):
        target = root / f"cam{i:02d}" / "clip.avi"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths[i % distinct], target)
        paths.append(target)
    return paths


# --- the single process and the decode ceilings ----------------------------------------------------


def single_process(paths: list[Path], checkpoint: Path, inference: InferenceConfig, out: Path) -> float:
    """Frames/s of scoring every clip in this process as ``vad score`` does (model loaded once)."""
    began = time.perf_counter()
    loaded = load_checkpoint(checkpoint, device=inference.device)
    frames = 0
    for i, path in enumerate(paths):
        source = open_source(path)
        result = score_all(loaded.model, source, inference, loaded.preprocess)
        meta = {"name": source.name, "source": str(path), "fps": source.fps, "model": loaded.display_name}
        write_scores(out / f"{i:03d}_{path.stem}", result.errors, maps=result.maps, meta=meta)
        frames += len(source)
    shutil.rmtree(out, ignore_errors=True)
    return frames / (time.perf_counter() - began)


def _decode_part(path: str, start: int, stop: int, size: tuple[int, int], resize: bool) -> int:
    import cv2

    cv2.setNumThreads(1)
    source = open_source(path)
    preprocess = Preprocess(size, 1)
    for first in range(start, stop, 256):
        frames = source.read(first, min(stop, first + 256))
        preprocess.to_uint8(frames) if resize else channels_first_uint8(frames, 1)
    getattr(source, "close", lambda: None)()
    return stop - start


def decode_only(
    paths: list[Path], size: tuple[int, int], processes: int, resize: bool, part: int = 500
) -> float:
    """Frames/s of decoding every clip (and, with ``resize``, shrinking it to ``size`` as uint8) in
    ``processes`` processes, each reading parts of ``part`` frames, after the processes started."""
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
    return frames / (time.perf_counter() - began)


def decode_ceilings(paths: list[Path], size: tuple[int, int], processes: int) -> dict[str, float]:
    """Print and return frames/s of decoding with the resize (a CPU's work) and without (a GPU's)."""
    rates = {}
    for resize, label in ((True, "decode + resize"), (False, "decode only (a GPU resizes)")):
        rates[label] = decode_only(paths, size, processes, resize)
        print(f"  {label}, {processes} processes, no model: {rates[label]:,.0f} frames/s", flush=True)
    return rates


# --- Ray runs -------------------------------------------------------------------------------------


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
            self._process.wait()


def mid_run_window(samples: list[tuple[float, int]], total: int) -> tuple[float, float, float] | None:
    """(frames/s, start, end) between the reports where 10 % and 90 % of ``total`` frames were done;
    ``samples`` are (monotonic time, frames done). None when the run is too short to tell."""
    low, high = (fraction * total for fraction in MID_RUN)
    first = next((s for s in samples if s[1] >= low), None)
    last = next((s for s in samples if s[1] >= high), None)
    if first is None or last is None or last[0] <= first[0]:
        return None
    return (last[1] - first[1]) / (last[0] - first[0]), first[0], last[0]


@dataclass
class Run:
    """One ``run_batch`` and what was measured around it."""

    name: str
    summary: BatchSummary
    mid_run: float | None
    gpu_busy: float | None
    fill_drain: str


def run_layout(
    layout: Layout, base: BatchConfig, cpus: int, utilisation: GpuUtilisation | None, gpus: float | None
) -> Run:
    """Score the footage once in ``layout`` (``base`` gives the rest); the results are deleted after."""
    cuda = base.inference is not None and base.inference.device.startswith("cuda")
    placement = {}
    if layout.actors is not None:
        placement = {
            "cpus_per_worker": None if cuda else max(1, cpus // layout.actors),
            "gpus_per_task": (gpus or 1.0 / layout.actors) if cuda else 0.0,
        }
    config = replace(
        base,
        workers=layout.actors,
        threads=layout.threads if cuda else None,
        chunk_frames=layout.chunk_frames,
        decoders=layout.decoders,
        **placement,
    )
    began = time.monotonic()
    samples: list[tuple[float, int]] = []

    def record(progress: BatchProgress) -> None:
        if not samples or progress.frames_done != samples[-1][1]:
            samples.append((time.monotonic(), progress.frames_done))

    try:
        summary = run_batch(config, on_progress=record)
    finally:
        shutil.rmtree(config.results, ignore_errors=True)
    window = mid_run_window(samples, summary.frames)
    if window is None:
        fill_drain = "too short for a mid-run window"
    else:
        fill_drain = f"10 % at {window[1] - began:.1f} s, last 10 % took {samples[-1][0] - window[2]:.1f} s"
    busy = utilisation.mean(window[1], window[2]) if (utilisation and window) else None
    return Run(layout.text, summary, window[0] if window else None, busy, fill_drain)


def describe_run(run: Run) -> str:
    """One line: the layout as run, the rates, and where the time went."""
    summary = run.summary
    mid = f", mid-run {run.mid_run:,.0f}" if run.mid_run else ""
    busy = f", GPU busy {run.gpu_busy:.0f} % mid-run" if run.gpu_busy is not None else ""
    return (
        f"layout {run.name}: {summary.workers} x {summary.device}, {summary.decoders} decoders: "
        f"{summary.scoring_frames_per_second:,.0f} frames/s steady{mid}{busy}, {summary.frames_per_second:,.0f} wall "
        f"({summary.frames} frames, {summary.wall_s:.1f} s with {summary.startup_s:.1f} s start-up; "
        f"{run.fill_drain}; writing {summary.writing_s:.1f} s, chunks held back for writes {summary.held_back_s:.1f} s)"
    )


# --- the command ----------------------------------------------------------------------------------


def parse_arguments():
    parser = argument_parser(__doc__)
    parser.add_argument(
        "layouts", nargs="*", default=["auto"], help="auto | ACTORSxTHREADS@CHUNK_FRAMES+DECODERS"
    )
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=300, help="frames per clip")
    parser.add_argument("--footage-size", default="240x360", help="frame size of the footage (UCSD Ped2's)")
    parser.add_argument("--codec", choices=("mjpg", "raw"), default="mjpg", help="raw: uncompressed")
    parser.add_argument(
        "--model", default="bcae1", help="architecture of an untrained model, or a checkpoint"
    )
    parser.add_argument("--model-size", type=int, default=128, help="input side of an untrained model")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[32], help="batch sizes; every layout runs at each"
    )
    parser.add_argument("--graphs", nargs="+", choices=("on", "off"), default=["off"], help="CUDA graphs")
    parser.add_argument("--maps", nargs="+", choices=("on", "off"), default=["on"], help="store error maps")
    parser.add_argument("--no-amp", action="store_true", help="CUDA: float32 instead of bf16 autocast")
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray and the processes"
    )
    parser.add_argument("--gpus-per-task", type=float, help="GPUs per actor [1 / ACTORS]")
    parser.add_argument("--writers", type=int, help="driver threads writing scores files [cores / 4, 2 to 8]")
    parser.add_argument(
        "--single-process", action="store_true", help="also score in one process, as vad score"
    )
    parser.add_argument("--ceilings", action="store_true", help="also measure decoding alone (no model)")
    parser.add_argument("--ceilings-only", action="store_true", help="measure decoding alone and stop")
    parser.add_argument("--seconds", type=float, default=5.0, help="model-alone measurement time (CUDA)")
    parser.add_argument("--keep", type=Path, help="write footage and model to this folder and keep them")
    args = parser.parse_args()
    try:
        args.layouts = [parse_layout(text) for text in args.layouts]
    except ValueError as error:
        parser.error(str(error))
    return args


def prepare(args, work: Path) -> tuple[list[Path], Path]:
    """Write the footage and the model's checkpoint (unless ``--model`` is one); print what they are."""
    height, width = parse_size(args.footage_size)
    began = time.perf_counter()
    paths = make_footage(work / "footage", args.clips, args.frames, (height, width), args.codec)
    print(
        f"footage: {args.clips} clips x {args.frames} frames, {height}x{width} gray {args.codec.upper()} "
        f"({time.perf_counter() - began:.0f} s to write)",
        flush=True,
    )
    if Path(args.model).suffix in (".safetensors", ".json"):
        return paths, Path(args.model)
    torch.manual_seed(0)
    model = build_model(ModelConfig(args.model, 1, (args.model_size, args.model_size)))
    return paths, save_checkpoint(model, work / f"{args.model}_untrained")


def measure(args, work: Path, paths: list[Path], checkpoint: Path, device: torch.device) -> dict:
    """Every (batch, graphs, maps) combination: the single process if asked, then each layout."""
    import ray

    amp = not args.no_amp and device.type == "cuda"
    cuda = device.type == "cuda"
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="warning")
    utilisation = GpuUtilisation() if cuda else None
    rows: dict[int, list[tuple[str, float, float | None]]] = {}
    try:
        for batch, graphs, maps in itertools.product(args.batch, args.graphs, args.maps):
            inference = InferenceConfig(
                batch_size=batch,
                device=str(device),
                amp=amp,
                keep_maps=maps == "on",
                cuda_graphs=graphs == "on",
            )
            setting = f"batch {batch}, graphs {graphs}, maps {maps}"
            if args.single_process:
                rate = single_process(paths, checkpoint, inference, work / "single")
                print(f"  {setting}, single process (vad score): {rate:,.0f} frames/s", flush=True)
                rows.setdefault(batch, []).append((f"single process, {setting}", rate, None))
            for layout in args.layouts:
                config = BatchConfig(
                    root=work / "footage",
                    checkpoint=checkpoint,
                    results=work / "results",
                    inference=inference,
                    writers=args.writers,
                    progress=False,
                )
                run = run_layout(layout, config, int(args.cpus), utilisation, args.gpus_per_task)
                print(f"  {setting}, {describe_run(run)}", flush=True)
                rows.setdefault(batch, []).append(
                    (f"layout {layout.text}, {setting}", run.summary.scoring_frames_per_second, run.mid_run)
                )
    finally:
        ray.shutdown()
        if utilisation is not None:
            utilisation.stop()
    return rows


def report(args, rows: dict, ceilings: dict[str, float], checkpoint: Path, device: torch.device) -> None:
    """Each run's steady (and mid-run) rate; on CUDA as a share of the model alone at its batch size."""
    print()
    for label, rate in ceilings.items():
        print(f"{label + ', no model':<58} {rate:>9,.0f} frames/s")
    amp = not args.no_amp and device.type == "cuda"
    model = load_checkpoint(checkpoint, device=device).model if device.type == "cuda" else None
    for batch, entries in rows.items():
        alone = model_only(model, device, batch, amp, args.seconds) if model is not None else None
        if alone:
            print(f"batch {batch}: model alone ({describe_device(device)}): {alone:,.0f} frames/s")
        for name, rate, mid in entries:
            share = f" = {rate / alone:.0%} of the model alone" if alone else ""
            mid_text = f"; mid-run {mid:,.0f}" + (f" = {mid / alone:.0%}" if alone else "") if mid else ""
            print(f"  {name:<56} {rate:>9,.0f} frames/s steady{share}{mid_text}")


def main() -> None:
    args = parse_arguments()
    print_header()
    device = resolve_device(args.device)
    torch.set_num_threads(int(args.cpus))
    work = args.keep if args.keep else Path(tempfile.mkdtemp(prefix="vad-batch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        paths, checkpoint = prepare(args, work)
        loaded = load_checkpoint(checkpoint)
        amp = not args.no_amp and device.type == "cuda"
        print(
            f"model: {loaded.display_name} {loaded.config.size[0]}x{loaded.config.size[1]}, "
            f"{describe_device(device)}{', AMP bf16' if amp else ''}; {args.cpus} CPUs",
            flush=True,
        )
        ceilings = {}
        if args.ceilings or args.ceilings_only:
            ceilings = decode_ceilings(paths, loaded.config.size, int(args.cpus))
        if args.ceilings_only:
            return
        rows = measure(args, work, paths, checkpoint, device)
        report(args, rows, ceilings, checkpoint, device)
    finally:
        if args.keep:
            shutil.rmtree(work / "results", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
