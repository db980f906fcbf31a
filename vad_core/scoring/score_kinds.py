"""Which per-frame series becomes a video's anomaly score: the error, its PSNR, or MNAD's combination.

* ``"error"``: the per-frame error e(t) (thesis eq. 4.1: ``1 - g(e)`` is the regularity);
* ``"psnr"``: the PSNR of each predicted frame (Liu et al. 2018), ``1 - g(PSNR)``; PSNR is
  ``-10 log10(MSE)``, so this is ``g(log e)``, the "log error" (it needs e(t) to be the frame's MSE);
* ``"mnad"``: Park et al. 2020, eq. 12: ``w (1 - g(PSNR)) + (1 - w) g(D)``, with D the memory
  distance a memory model gives beside its prediction (``ScoreResult.side["memory_distance"]``).

``g`` is min-max over one video, so every kind gives a per-video series in [0, 1], high = anomalous,
before the Savitzky-Golay step of :func:`vad_core.scoring.regularity.anomaly_scores`.

Example::

    check_score_inputs("psnr", error="mse", reduction="mean")      # fine; "ssim" would raise
    raw = per_video_anomaly(errors, "mnad", {"memory_distance": d}, weight=0.6)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vad_core.errors import ConfigError
from vad_core.scoring.combined import PREDICTION_WEIGHT, min_max, mnad_score
from vad_core.scoring.psnr import psnr_from_mse

SCORES = ("error", "psnr", "mnad")
MEMORY_DISTANCE = "memory_distance"  # the side series "mnad" needs (scoring_loop.MEMORY_DISTANCE)
DEFAULT_MNAD_WEIGHT = PREDICTION_WEIGHT  # MNAD, prediction task: lambda = 0.6


def check_score_kind(score: str, mnad_weight: float) -> None:
    """``ConfigError`` naming the setting unless ``score`` is known and ``mnad_weight`` in [0, 1]."""
    if score not in SCORES:
        raise ConfigError("scoring", f"score must be one of {SCORES}, found {score!r}")
    if not (isinstance(mnad_weight, (int, float)) and 0.0 <= float(mnad_weight) <= 1.0):
        raise ConfigError("scoring", f"mnad_weight must be in [0, 1], found {mnad_weight!r}")


def check_score_inputs(score: str, error: str, reduction: str) -> None:
    """``ConfigError`` when ``score`` cannot be computed from per-frame errors made this way:
    ``"psnr"`` and ``"mnad"`` need the frame's mean squared error (error ``mse``, reduction ``mean``)."""
    if score in ("psnr", "mnad") and (error != "mse" or reduction != "mean"):
        raise ConfigError(
            "scoring",
            f"score {score!r} needs the per-frame mean squared error (error 'mse', reduction 'mean'), "
            f"found error {error!r}, reduction {reduction!r}; choose score 'error' or those settings",
        )


def per_video_anomaly(
    errors: np.ndarray,
    score: str = "error",
    side: Mapping[str, np.ndarray] | None = None,
    weight: float = DEFAULT_MNAD_WEIGHT,
) -> np.ndarray:
    """One video's unsmoothed anomaly series in [0, 1] for the ``score`` kind (see the module doc).

    Raises:
        ConfigError: an unknown kind, ``"mnad"`` without a memory distance of matching length.
    """
    check_score_kind(score, weight)
    e = np.asarray(errors, dtype=np.float64)
    if score == "error":
        return min_max(e)
    psnr = psnr_from_mse(e)
    if score == "psnr":
        return mnad_score(psnr, np.zeros_like(psnr), 1.0)
    distance = (side or {}).get(MEMORY_DISTANCE)
    if distance is None:
        raise ConfigError(
            "scoring",
            "score 'mnad' needs the memory distance, which only memory models (mnad_predictor) give; "
            "choose score 'psnr' or 'error'",
        )
    return mnad_score(psnr, np.asarray(distance, dtype=np.float64), float(weight))
