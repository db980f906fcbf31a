"""Check on a GPU that scoring with CUDA graphs gives the eager scores, and how much faster it is.

``score_source`` replays full batches from a recorded CUDA graph (``vad_core/inference/cuda_graphs.py``).
For every model of the zoo this scores the same random footage with graphs off and on (same
batch, AMP as given) and prints the largest relative difference of the per-frame errors, whether
the float16 maps are identical, and both rates. Then it moves one model to the CPU and back (its
weights move, so its graphs must be recorded again) and checks the scores once more. Last, the
model alone (``benchmarks/throughput.py``'s measure) eagerly and replayed from a graph.

    python benchmarks/cuda_graph_check.py --batch 32 128       # on a machine with CUDA
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vad_core.inference.config import InferenceConfig
from vad_core.inference.cuda_graphs import graphs_for
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.models.registry import model_names
from vad_core.sources import ArraySource


def compare(model, frames: np.ndarray, config: InferenceConfig) -> str:
    results = {}
    for graphs in (False, True):
        run = replace(config, cuda_graphs=graphs)
        score_all(model, ArraySource(frames[: 4 * config.batch_size * model.spec.window]), run)  # warm up
        began = time.perf_counter()
        results[graphs] = score_all(model, ArraySource(frames), run)
        results[graphs].seconds = time.perf_counter() - began
    eager, graphed = results[False], results[True]
    difference = float(
        np.max(np.abs(graphed.errors - eager.errors) / np.maximum(np.abs(eager.errors), 1e-12))
    )
    return (
        f"max relative error difference {difference:.2e}; maps identical: {np.array_equal(graphed.maps, eager.maps)}; "
        f"{eager.frames_per_second:,.0f} eager, {graphed.frames_per_second:,.0f} graphed frames/s "
        f"({len(graphs_for(model))} graphs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=model_names())
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--no-amp", action="store_true")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--alone", nargs="+", default=["bcae1", "unet_predictor"], help="models timed alone")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    amp = not args.no_amp
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}; AMP {amp}; 240x360 noise -> 128x128")
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, 240, 360), dtype=np.uint8)
    batch = args.batch[0]
    for name in args.models:
        torch.manual_seed(0)
        model = build_model(ModelConfig(name, 1, (128, 128)))
        config = InferenceConfig(batch_size=batch, device="cuda", amp=amp)
        print(f"{name:<15} batch {batch}: {compare(model, frames, config)}", flush=True)
        if name == args.models[0]:
            model.cpu()
            model.cuda()
            print(f"{name:<15} weights moved: {compare(model, frames, config)}", flush=True)
    spec = importlib.util.spec_from_file_location("zoo_throughput", Path(__file__).with_name("throughput.py"))
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    for name in args.alone:
        for batch in args.batch:
            torch.manual_seed(0)
            model = build_model(ModelConfig(name, 1, (128, 128)))
            eager = zoo.model_only(model, device, batch, amp, args.seconds)
            graphed = zoo.model_only(model, device, batch, amp, args.seconds, graphed=True)
            print(
                f"{name:<15} alone, batch {batch}: {eager:,.0f} eager, {graphed:,.0f} graphed frames/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
