"""MNAD's anomaly score: prediction quality and distance to the memory, each min-max normalised per video.

Park, Noh and Ham (CVPR 2020, "Learning Memory-guided Normality for Anomaly Detection", eq. 12)
score frame t by

    S_t = lambda * (1 - g(PSNR_t)) + (1 - lambda) * g(D_t),

where ``g`` is min-max normalisation over the frames of one video, ``PSNR_t`` the PSNR of the
predicted frame (:func:`vad_core.scoring.psnr.psnr_from_mse`) and ``D_t`` the mean distance of the
frame's queries to their nearest memory items (``MNADPredictor.memory_distance``). lambda = 0.6
for the prediction task (the authors' ``Evaluate.py``: ``--alpha 0.6`` with ``--method pred``;
0.7 for reconstruction). The result lies in [0, 1], high = anomalous, like the engine's scores;
like them, it is per video, so compare raw PSNR or distances across videos, not scores.

Example::

    score = mnad_score(psnr_from_mse(mse), distance)        # one video's (T,) arrays
    smoothed = np.clip(smooth(score, 15, 3), 0.0, 1.0)      # the engine's Savitzky-Golay step
"""

from __future__ import annotations

import numpy as np

from vad_core.errors import ConfigError

PREDICTION_WEIGHT = 0.6  # MNAD, prediction task: lambda = 0.6
RECONSTRUCTION_WEIGHT = 0.7  # MNAD, reconstruction task: lambda = 0.7


def min_max(values: np.ndarray) -> np.ndarray:
    """``(v - min v) / (max v - min v)`` over one video; a constant series (or empty) gives zeros.

    Raises:
        ConfigError: not 1-D, or NaN / inf values.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ConfigError("min-max", f"expected a 1-D series (one value per frame), found shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ConfigError("min-max", f"{int(np.sum(~np.isfinite(v)))} values are NaN or inf")
    if v.size == 0:
        return v.copy()
    low, high = v.min(), v.max()
    return np.zeros_like(v) if high <= low else (v - low) / (high - low)


def mnad_score(psnr: np.ndarray, distance: np.ndarray, weight: float = PREDICTION_WEIGHT) -> np.ndarray:
    """``weight * (1 - g(psnr)) + (1 - weight) * g(distance)`` of one video, ``(T,)`` in [0, 1].

    ``weight=1`` is the PSNR-only score ``1 - g(psnr)``; ``weight=0`` the memory distance alone.

    Raises:
        ConfigError: lengths differ, ``weight`` outside [0, 1], or non-finite values.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError("mnad score", f"weight (lambda) must be in [0, 1], found {weight}")
    p, d = np.asarray(psnr), np.asarray(distance)
    if p.shape != d.shape:
        raise ConfigError(
            "mnad score", f"PSNR and distance need one value per frame each, found {p.shape} and {d.shape}"
        )
    return weight * (1.0 - min_max(p)) + (1.0 - weight) * min_max(d)
