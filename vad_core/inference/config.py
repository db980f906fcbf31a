"""How to score (batch size, device, AMP, error map, frame reduction), without importing torch.

``vad_core.inference.scoring_loop`` does the scoring; this settings object lives apart so the GUI and the CLI
can build it at start-up without paying for torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from vad_core.errors import ConfigError

ERROR_TYPES = ("mse", "ssim", "compound", "segmentation")
PREDICTION_MODES = ("next", "block")


@dataclass(frozen=True)
class InferenceConfig:
    """How to score: batch size (frames or windows), device, AMP, error map and frame reduction."""

    batch_size: int = 32  # thesis 4.9.1 trains with batch 32
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast on CUDA; ignored on CPU
    # per-pixel error: squared error, (1 - SSIM) / 2, the compound loss (eq. 3.10), or the model's
    # own anomaly map ("segmentation": models that segment, e.g. DRAEM)
    error: str = "mse"
    reduction: str = "mean"  # per-frame e(t): mean | l2 | patch_max (see scoring.frame_error)
    patch: int = 16
    keep_maps: bool = True
    prediction: str = "next"  # predictors: score each frame by its one-step-ahead prediction, or "block"
    # on CUDA, full batches replay a recorded graph (vad_core.inference.cuda_graphs); only for a process with
    # one scoring thread: a recording in one thread breaks the CUDA work of the others
    cuda_graphs: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError("inference", f"batch size must be >= 1, found {self.batch_size}")
        if self.error not in ERROR_TYPES:
            raise ConfigError("inference", f"error must be one of {ERROR_TYPES}, found {self.error!r}")
