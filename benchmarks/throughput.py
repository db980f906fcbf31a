"""Scoring throughput of the model zoo: frames/s at 128x128 gray (``--size``), batch 64, on CPU or CUDA (fp32 / AMP).

Measures the model alone (random input already on the device, forward + per-pixel error;
``_common.model_only``, also the yardstick of ``benchmarks/batch.py``) and the whole ``score_all``
path on an in-memory source (preprocessing, windows, error maps, reduction).

    python benchmarks/throughput.py --models bcae1 cgru_ae --device cpu
    python benchmarks/throughput.py --models bcae1 cgru_ae seq2seq_cgru --device cuda --frames 20000
    python benchmarks/throughput.py --models bcae1 unet_predictor --device cuda --batch 32 --graphs
    python benchmarks/throughput.py --models mnad_predictor unet_predictor:base_filters=64 --size 256 --batch 16
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from _common import argument_parser, model_only, parse_model, parse_size, print_header

from vad_core.inference.config import InferenceConfig
from vad_core.inference.device import describe_device, resolve_device
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.sources import ArraySource


def end_to_end(model, frames: int, batch: int, device: str, amp: bool, graphs: bool = False) -> float:
    """Frames/s of ``score_all`` on random gray frames of the model's size in memory, after a warm-up run."""
    rng = np.random.default_rng(0)
    source = ArraySource(rng.integers(0, 255, (frames, *model.config.size), dtype=np.uint8), fps=25)
    config = InferenceConfig(batch_size=batch, device=device, amp=amp, keep_maps=True, cuda_graphs=graphs)
    score_all(model, ArraySource(source.read(0, min(frames, 2 * batch * max(1, model.spec.window)))), config)
    result = score_all(model, source, config)
    return result.frames_per_second


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--models", nargs="+", default=["bcae1", "cgru_ae"], help="name[:option=value,...] each"
    )
    parser.add_argument("--size", default="128", help="input size, N or HxW [128]")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frames", type=int, default=2000, help="frames for the end-to-end measurement")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each model-only measurement")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--graphs",
        action="store_true",
        help="CUDA: also both measures replayed from CUDA graphs (--cuda-graphs)",
    )
    args = parser.parse_args()
    print_header()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    size = parse_size(args.size)
    print(
        f"device: {describe_device(device)}; torch {torch.__version__}; "
        f"{size[0]}x{size[1]} gray, batch {args.batch}"
    )
    print(f"{'model':<14} {'precision':<18} {'model-only frames/s':>20} {'score_all frames/s':>19}")
    precisions = [("fp32", False)] + ([("amp bf16", True)] if device.type == "cuda" else [])
    modes = [("", False)] + ([(", CUDA graphs", True)] if args.graphs and device.type == "cuda" else [])
    for text in args.models:
        name, options = parse_model(text)
        model = build_model(ModelConfig(name, 1, size, options)).to(device).eval()
        for (label, amp), (how, graphs) in itertools.product(precisions, modes):
            alone = model_only(model, device, args.batch, amp, args.seconds, graphed=graphs)
            whole = end_to_end(model, args.frames, args.batch, str(device), amp, graphs)
            print(f"{text:<14} {label + how:<18} {alone:>20,.0f} {whole:>19,.0f}", flush=True)


if __name__ == "__main__":
    main()
