"""Scoring throughput of the model zoo: frames/s at 128x128 gray, batch 64, on CPU or CUDA (fp32 / AMP).

Measures the model alone (random input already on the device, forward + per-pixel error) and the
whole ``score_all`` path on an in-memory source (preprocessing, windows, error maps, reduction).

    python benchmarks/throughput.py --models bcae1 cgru_ae --device cpu
    python benchmarks/throughput.py --models bcae1 cgru_ae seq2seq_cgru --device cuda --frames 20000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vad_core.inference.config import InferenceConfig
from vad_core.inference.cuda_graphs import CapturedStep
from vad_core.inference.device import describe_device, resolve_device
from vad_core.inference.scoring_loop import pixel_errors, prepare_for_inference, score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import ArraySource


def model_only(
    model, device: torch.device, batch: int, amp: bool, seconds: float, graphed: bool = False
) -> float:
    """Frames/s of forward + error map on a resident random batch; with ``graphed`` (CUDA), each
    call replays one recorded CUDA graph (``vad_core.inference.cuda_graphs.CapturedStep``)."""
    spec = model.spec
    size = model.config.size
    window = spec.window
    clip = torch.rand(batch, window, 1, *size, device=device)
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


def end_to_end(model, frames: int, batch: int, device: str, amp: bool) -> float:
    rng = np.random.default_rng(0)
    source = ArraySource(rng.integers(0, 255, (frames, 128, 128), dtype=np.uint8), fps=25)
    config = InferenceConfig(batch_size=batch, device=device, amp=amp, keep_maps=True)
    score_all(model, ArraySource(source.read(0, min(frames, 2 * batch * max(1, model.spec.window)))), config)
    result = score_all(model, source, config)
    return result.frames_per_second


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["bcae1", "cgru_ae"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frames", type=int, default=2000, help="frames for the end-to-end measurement")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each model-only measurement")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(f"device: {describe_device(device)}; torch {torch.__version__}; 128x128 gray, batch {args.batch}")
    print(f"{'model':<14} {'precision':<9} {'model-only frames/s':>20} {'score_all frames/s':>19}")
    precisions = [("fp32", False)] + ([("amp bf16", True)] if device.type == "cuda" else [])
    for name in args.models:
        model = build_model(ModelConfig(name, 1, (128, 128))).to(device).eval()
        for label, amp in precisions:
            alone = model_only(model, device, args.batch, amp, args.seconds)
            whole = end_to_end(model, args.frames, args.batch, str(device), amp)
            print(f"{name:<14} {label:<9} {alone:>20,.0f} {whole:>19,.0f}", flush=True)


if __name__ == "__main__":
    main()
