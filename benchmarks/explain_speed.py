"""Seconds per explanation: LIME (500 samples), SHAP (500 evaluations), e-LRP and counterfactual.

Explains one 128x128 RGB image with BCAE1 (random weights unless ``--checkpoint``; the cost per
model call does not depend on the weights) on the current device, each method twice: *cold* (the
first call in the process: imports, numba compilation for SHAP, cuDNN autotuning) and *warm*.
The issue's quality bar: on the CPU, LIME-500 and SHAP-500 under 30 s, e-LRP and counterfactual
under 2 s; on an H100 LIME and SHAP under 3 s.

    python benchmarks/explain_speed.py                       # CPU, all threads
    python benchmarks/explain_speed.py --device cuda
    python benchmarks/explain_speed.py --threads 2 --size 128 --checkpoint runs/bottle_bcae1

The image is the first ``broken_large`` bottle of ``--mvtec`` when it is there, else a drawn part.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch
from _common import argument_parser, print_header

from vad_core.explain import METHODS, AnomalyScorer, Calibration, explain
from vad_core.inference.device import describe_device, resolve_device
from vad_core.models import ModelConfig, build_model
from vad_core.sources import read_image

DEFAULT_MVTEC = (
    Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mvtec_bottle_256" / "bottle"
)
SETTINGS = {
    "lime": {"num_samples": 500},
    "shap": {"max_evals": 500},
    "lrp": {},
    "counterfactual": {},
}
BARS = {
    "cpu": {"lime": 30.0, "shap": 30.0, "lrp": 2.0, "counterfactual": 2.0},
    "cuda": {"lime": 3.0, "shap": 3.0},
}


def test_image(mvtec: Path, size: int) -> np.ndarray:
    """A defective bottle from MVTec when available, else a drawn round part with a dark hole."""
    folder = mvtec / "test" / "broken_large"
    if folder.is_dir():
        files = sorted(folder.glob("*.png"))
        if files:
            return read_image(files[0])
    image = np.full((size, size, 3), 28, np.uint8)
    cv2.circle(image, (size // 2, size // 2), int(0.38 * size), (120, 150, 90), -1)
    cv2.circle(image, (size // 2, size // 2), int(0.15 * size), (66, 82, 50), int(0.06 * size))
    cv2.circle(image, (int(0.72 * size), size // 2), int(0.07 * size), (5, 5, 5), -1)
    return image


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto [cpu]")
    parser.add_argument("--size", type=int, default=128, help="model input side in px [128]")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--checkpoint", help="explain with this checkpoint instead of a random BCAE1")
    parser.add_argument("--mvtec", type=Path, default=DEFAULT_MVTEC, help="MVTec bottle category folder")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    print_header()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.checkpoint:
        from vad_core.checkpoint import load_checkpoint

        model = load_checkpoint(args.checkpoint, device=device).model
    else:
        torch.manual_seed(0)
        model = build_model(ModelConfig("bcae1", 3, (args.size, args.size))).to(device).eval()
    image = test_image(args.mvtec, args.size)
    size = model.config.size
    scorer = AnomalyScorer(model, Calibration())
    frame = scorer.as_model_input(image[None])[0]
    scorer = scorer.self_calibrated(frame)
    print(
        f"BCAE1 at {size[0]}x{size[1]}, image {image.shape[1]}x{image.shape[0]}, on {describe_device(device)}"
    )
    print(f"{'method':<15} {'settings':<18} {'cold s':>8} {'warm s':>8} {'model calls':>12}  bar")
    bars = BARS.get(device.type, {})
    for name in args.methods:
        times, calls = [], 0
        for _ in range(2):
            before = scorer.evaluations
            if device.type == "cuda":
                torch.cuda.synchronize()
            began = time.perf_counter()
            result = explain(name, model, image, scorer=scorer, seed=0, **SETTINGS[name])
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - began)
            calls = scorer.evaluations - before or int(result.extras.get("evaluations", 1))
        settings = ", ".join(f"{k}={v}" for k, v in SETTINGS[name].items()) or "-"
        bar = bars.get(name)
        verdict = "" if bar is None else f"< {bar:g} s: {'yes' if times[1] < bar else 'NO'}"
        print(f"{name:<15} {settings:<18} {times[0]:>8.2f} {times[1]:>8.2f} {calls:>12}  {verdict}")


if __name__ == "__main__":
    main()
