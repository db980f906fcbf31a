"""What several ``vad`` commands share: the inference and scoring options, the configs they fill,
argument parsers for sizes and model options, and the progress bar.

Example::

    add_inference_options(parser)                  # --batch-size, --device, --error, --smooth, ...
    args = parser.parse_args(["--batch-size", "64"])
    inference = inference_config(args, checkpoint.scoring)
    scoring = scoring_config(args, checkpoint.scoring, inference)
"""

from __future__ import annotations

import argparse
import sys

from vad_core.inference.config import ERROR_TYPES
from vad_core.scoring.frame_error import REDUCTIONS
from vad_core.scoring.score_kinds import SCORES


def progress_bar(total: int, desc: str, unit: str = "frame"):
    """A tqdm bar on stderr that hides itself when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False, disable=None
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"128"`` -> (128, 128), ``"240x352"`` -> (240, 352)."""
    parts = text.lower().replace("x", " ").split()
    if len(parts) == 1:
        return int(parts[0]), int(parts[0])
    return int(parts[0]), int(parts[1])


def parse_option_value(text: str) -> bool | int | float | str:
    """``"true"`` -> True, ``"3"`` -> 3, ``"1e-3"`` -> 0.001, anything else stays a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def inference_config(args: argparse.Namespace, defaults: dict | None = None):
    """The ``InferenceConfig`` of the options ``add_inference_options`` added; ``defaults`` (a
    checkpoint's recommended scoring) fill the error, reduction and patch not given."""
    from vad_core.inference.config import InferenceConfig

    defaults = defaults or {}
    return InferenceConfig(
        batch_size=args.batch_size,
        device=args.device,
        amp=not args.no_amp,
        cuda_graphs=args.cuda_graphs,
        error=args.error or defaults.get("error", "mse"),
        reduction=args.reduction or defaults.get("reduction", "mean"),
        patch=args.patch or int(defaults.get("patch", 16)),
    )


def scoring_config(args: argparse.Namespace, defaults: dict | None = None, inference=None):
    """The ``ScoringConfig`` of ``--smooth``, ``--threshold``, ``--score`` and ``--mnad-weight``;
    ``defaults`` (a checkpoint's recommended scoring) fill the score and weight not given. With
    ``inference``, a score its error and reduction cannot give is refused (``ConfigError``)."""
    from vad_core.scoring import ScoringConfig
    from vad_core.scoring.score_kinds import DEFAULT_MNAD_WEIGHT, check_score_inputs

    defaults = defaults or {}
    score = getattr(args, "score", None) or str(defaults.get("score", "error"))
    weight = getattr(args, "mnad_weight", None)
    weight = float(defaults.get("mnad_weight", DEFAULT_MNAD_WEIGHT)) if weight is None else weight
    config = ScoringConfig(
        smooth_window=args.smooth, threshold=args.threshold, score=score, mnad_weight=weight
    )
    if inference is not None:
        check_score_inputs(config.score, inference.error, inference.reduction)
    return config


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """Batch size, device, autocast, CUDA graphs, error and reduction, smoothing and threshold."""
    parser.add_argument("--batch-size", type=int, default=32, help="frames (or windows) per batch [32]")
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu [auto]")
    parser.add_argument("--no-amp", action="store_true", help="disable bfloat16 autocast on CUDA")
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="on CUDA, replay full batches from a recorded graph (faster for light models; one scoring thread)",
    )
    parser.add_argument(
        "--error",
        choices=ERROR_TYPES,
        help="per-pixel error [checkpoint's: compound for compound-trained models, segmentation for "
        "DRAEM, else mse]",
    )
    parser.add_argument("--reduction", choices=REDUCTIONS, help="per-frame error [checkpoint's, else mean]")
    parser.add_argument(
        "--patch", type=int, help="patch size for patch_max / smoothed_max [checkpoint's, else 16]"
    )
    parser.add_argument(
        "--score",
        choices=SCORES,
        help="per-frame series normalised into the score: error, psnr (Liu et al. 2018) or mnad "
        "(Park et al. 2020) [checkpoint's, else error]",
    )
    parser.add_argument("--mnad-weight", type=float, help="lambda of the mnad score [checkpoint's, else 0.6]")
    parser.add_argument("--smooth", type=int, default=15, help="Savitzky-Golay window (thesis: 15)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="a frame is flagged when its anomaly score (1 - smoothed s(t), 0-1, high = anomalous) is at or "
        "above this; the review window uses the same rule [0.5]",
    )
