"""What the scoring loop itself costs: ``score_all`` with a model that does (almost) nothing.

Frames/s of ``score_all`` on an in-memory 128x128 gray source with a null model (output = input / 2),
for a frame model and a one-step-ahead predictor (4 seed frames), through the host path (maps
reduced with numpy) and the device-side path (reduction with torch where the maps lie, next batch
read in a thread; what accelerators use), both run on this machine's CPU. The loop's ceiling:
a real model's frames/s can only be lower.

    python benchmarks/scoring_overhead.py
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import vad_core.inference.scoring_loop as inference
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.models.base import AnomalyModel, ModelConfig, TemporalSpec
from vad_core.sources import ArraySource


class NullModel(AnomalyModel):
    """Halves its input: costs almost nothing, so the loop around it is what is timed."""

    def __init__(self, spec: TemporalSpec) -> None:
        super().__init__()
        self.spec = spec
        self.config = ModelConfig("null", 1, (128, 128))
        self.weight = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, 128, 128), dtype=np.uint8)
    config = InferenceConfig(batch_size=args.batch, device="cpu")
    default = inference._scores_on_device
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.frames} frames 128x128, batch {args.batch}"
    )
    for spec in (TemporalSpec("frame"), TemporalSpec("predict", 4, 1)):
        for label, on_device in (("host path", False), ("device-side path", True)):
            inference._scores_on_device = lambda device, on=on_device: on
            best = max(
                score_all(NullModel(spec), ArraySource(frames), config).frames_per_second
                for _ in range(args.repeats)
            )
            print(f"{spec.mode:<8} {label:<17} {best:>10,.0f} frames/s", flush=True)
    inference._scores_on_device = default


if __name__ == "__main__":
    main()
