"""Check on a GPU that the device-side scoring path gives the host path's scores.

On accelerators ``score_source`` shrinks frames on the device (``vad_core/inference/device_resize.py``),
reduces error maps there and reads the next batch in a thread. This first compares the device's
area resize with OpenCV's on several frame sizes (they must agree bit for bit), then scores the
same random footage with that path and with the host path (frames resized by OpenCV, error maps
copied back and reduced with numpy, as on the CPU) and prints the largest differences.

    python benchmarks/device_path_check.py            # on a machine with CUDA
"""

from __future__ import annotations

import time

import numpy as np
import torch

import vad_core.inference.scoring_loop as inference
from vad_core.inference.config import InferenceConfig
from vad_core.inference.device_resize import AreaResize
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import ArraySource
from vad_core.sources.preprocess import resize_frame


def check_resize(device: torch.device) -> None:
    """Pixels where the device's area resize differs from OpenCV's, per frame size."""
    rng = np.random.default_rng(1)
    for frame_size in ((240, 360), (360, 640), (480, 640), (1080, 1920), (256, 256)):
        frames = rng.integers(0, 256, (16, *frame_size), dtype=np.uint8)
        expected = np.stack([resize_frame(frame, (128, 128)) for frame in frames])
        resize = AreaResize(frame_size, (128, 128), device)
        got = resize(torch.from_numpy(frames[:, None]).to(device))[:, 0].cpu().numpy()
        differing = int(np.count_nonzero(got != expected))
        print(
            f"area resize {frame_size[0]}x{frame_size[1]} -> 128x128 on {device}: {differing} pixels differ from OpenCV"
        )


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    check_resize(torch.device("cuda"))
    frames = np.random.default_rng(0).integers(0, 256, (600, 240, 360), dtype=np.uint8)
    source = ArraySource(frames, fps=25, name="noise")
    device_side = inference._scores_on_device
    for name in ("bcae1", "cgru_ae", "unet_predictor"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(name, 1, (128, 128)))
        for reduction in ("mean", "patch_max"):
            config = InferenceConfig(batch_size=32, device="cuda", amp=False, reduction=reduction)
            results = {}
            for label, on_device in (("device", True), ("host", False)):
                inference._scores_on_device = lambda device, on=on_device: on
                score_all(model, ArraySource(frames[:64]), config)  # warm up cudnn
                began = time.perf_counter()
                results[label] = score_all(model, source, config)
                results[label].seconds = time.perf_counter() - began
            inference._scores_on_device = device_side
            a, b = results["device"], results["host"]
            error_diff = float(np.max(np.abs(a.errors - b.errors) / np.maximum(np.abs(b.errors), 1e-12)))
            maps_equal = bool(np.array_equal(a.maps, b.maps))
            print(
                f"{name:<15} {reduction:<9} max relative error difference {error_diff:.2e}; "
                f"maps identical: {maps_equal}; {a.frames_per_second:,.0f} vs {b.frames_per_second:,.0f} frames/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
