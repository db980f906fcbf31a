"""What the benchmark scripts share: their command line, the header of every log, the model alone.

Not a script: the scripts beside it import it (``from _common import ...``; Python puts a script's
own folder first on ``sys.path``, so ``python benchmarks/NAME.py`` finds it from anywhere).

* ``argument_parser`` and ``parse_size``: the scripts' common command-line habits;
* ``print_header``: the four lines every log in ``docs/results/`` begins with (date, commit,
  machine, command), printed first by every benchmark;
* ``model_only``: frames/s of a model alone on a resident batch, the yardstick of the scoring path;
* ``load_video_dataset``, ``parse_model`` and ``evaluate_variants``: the training experiments' data
  and their frame-level AUROC under several per-frame reductions.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows the script's docstring as written (examples included)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_size(text: str) -> tuple[int, int]:
    """``"240x360"`` -> ``(240, 360)`` (height x width); ``"256"`` -> ``(256, 256)``."""
    values = [int(value) for value in text.lower().split("x")]
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


# --- the header of every log ----------------------------------------------------------------------


def print_header() -> None:
    """Print the date, commit, machine and command of this run, as ``# key: value`` lines."""
    print(f"# date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# commit: {git_commit()}")
    print(f"# machine: {machine()}")
    print(f"# command: python {shlex.join(sys.argv)}", flush=True)


def git_commit() -> str:
    """The checkout's commit, marked when tracked files differ from it; says so without git."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        changed = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return head.stdout.strip() + (" with uncommitted changes" if changed else "")


def machine() -> str:
    """CPU model and count, and the GPU and torch when torch is already imported (never imports it)."""
    parts = [f"{_cpu_model()}, {os.cpu_count()} CPUs", f"{platform.system()} {platform.release()}"]
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            parts.insert(1, torch.cuda.get_device_name())
        parts.append(f"torch {torch.__version__}")
    parts.append(f"Python {platform.python_version()}")
    return "; ".join(parts)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# --- the model alone ------------------------------------------------------------------------------


def model_only(model, device, batch: int, amp: bool, seconds: float, graphed: bool = False) -> float:
    """Frames/s of forward + error map on a resident random batch; with ``graphed`` (CUDA), each
    call replays one recorded CUDA graph (``vad_core.inference.cuda_graphs.CapturedStep``)."""
    import torch

    from vad_core.inference.cuda_graphs import CapturedStep
    from vad_core.inference.scoring_loop import pixel_errors, prepare_for_inference

    spec = model.spec
    clip = torch.rand(batch, spec.window, 1, *model.config.size, device=device)
    frames_per_call = batch * (1 if spec.mode == "frame" else spec.output_frames)
    context = (  # a graph cannot keep autocast's weight cache
        torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=not graphed)
        if (amp and device.type == "cuda")
        else torch.no_grad()
    )
    model = prepare_for_inference(model, device)
    channels_last = spec.mode == "frame" and next(model.parameters()).is_contiguous(
        memory_format=torch.channels_last
    )

    def step(clip: torch.Tensor) -> torch.Tensor:
        inputs, target = model.split(clip)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return pixel_errors(model(inputs), target)

    with torch.inference_mode(), context:
        if graphed:
            step = CapturedStep(step, clip)
        for _ in range(3):
            step(clip)
        if device.type == "cuda":
            torch.cuda.synchronize()
        calls, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            step(clip).sum().item()
            calls += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - began
    return calls * frames_per_call / elapsed


# --- training experiments: data and scoring variants ----------------------------------------------

# (reduction, patch, log errors): the per-frame scores compared by the training experiments
VARIANTS = [
    ("mean", 16, False),
    ("mean", 16, True),
    ("patch_max", 16, False),
    ("patch_max", 16, True),
    ("patch_max", 32, True),
    ("patch_max", 8, True),
]


def load_video_dataset(spec: str):
    """``synthetic`` (the built-in benchmark), a dataset folder, or a ``make_cache.py`` cache (.npz)."""
    import numpy as np

    from vad_core.datasets.base import VideoClip, VideoDataset
    from vad_core.sources import ArraySource

    if spec == "synthetic":
        from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset

        return make_synthetic_dataset(SyntheticConfig())
    path = Path(spec)
    if path.suffix != ".npz":
        from vad_core.datasets import open_dataset

        return open_dataset(path)
    data = np.load(path)

    def clips(split: str, labelled: bool) -> list[VideoClip]:
        frames, lengths, names = data[split], data[f"{split}_lengths"], data[f"{split}_names"]
        labels = data["test_labels"] if labelled else None
        out, start = [], 0
        for name, length in zip(names, lengths, strict=True):
            clip_labels = labels[start : start + length] if labelled else None
            source = ArraySource(frames[start : start + length], fps=10, name=str(name))
            out.append(VideoClip(str(name), source, clip_labels))
            start += length
        return out

    return VideoDataset(path.stem, clips("train", False), clips("test", True), fps=10)


def parse_model(text: str) -> tuple[str, dict]:
    """``"unet_predictor:base_filters=32"`` -> ``("unet_predictor", {"base_filters": 32})``."""
    from vad_core.cli.options import parse_option_value

    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = parse_option_value(value)
    return name, options


def evaluate_variants(model, dataset, device: str, batch: int) -> tuple[dict, float]:
    """Frame-level AUROC, EER, AUPRC and F1 (and AUROC per anomaly type) of every ``VARIANTS``
    entry from one scoring of the test clips; and the seconds that scoring took."""
    import numpy as np

    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import score_all
    from vad_core.metrics import evaluate_videos, per_category_auroc
    from vad_core.scoring import ScoringConfig, anomaly_scores, reduce_error_maps

    began = time.perf_counter()
    maps_per_clip = {}
    for clip in dataset.test:
        result = score_all(model, clip.source, InferenceConfig(batch_size=batch, device=device))
        maps_per_clip[clip.name] = result.maps.astype(np.float32)
    seconds = time.perf_counter() - began
    table = {}
    for reduction, patch, use_log in VARIANTS:
        per_video, scores, labels, categories = {}, [], [], []
        for clip in dataset.test:
            errors = reduce_error_maps(maps_per_clip[clip.name], how=reduction, patch=patch)
            if use_log:
                errors = np.log(errors + 1e-8)
            score = anomaly_scores(errors, ScoringConfig()).score
            per_video[clip.name] = (score, clip.labels)
            scores.append(score)
            labels.append(clip.labels)
            if clip.categories is not None:
                categories.append(clip.categories)
        pooled = evaluate_videos(per_video).pooled
        row = {"auroc": pooled.auroc, "eer": pooled.eer, "auprc": pooled.auprc, "f1": pooled.f1}
        if categories:
            row.update(
                per_category_auroc(np.concatenate(scores), np.concatenate(labels), np.concatenate(categories))
            )
        table[f"{reduction}{patch if reduction == 'patch_max' else ''}{'+log' if use_log else ''}"] = row
    return table, seconds
