"""Peak signal-to-noise ratio of each predicted frame, from its mean squared error.

Liu et al. (CVPR 2018, "Future Frame Prediction for Anomaly Detection - A New Baseline") score a
predicted frame by ``PSNR = 10 log10(max^2 / MSE)``, with frames in [0, 1] so ``max = 1``; MNAD
(Park et al. 2020) does the same. A low PSNR means a badly predicted, possibly anomalous frame.
After per-video min-max normalisation, ``1 - g(PSNR)`` equals ``g(log MSE)``: PSNR is the "log
error" scoring option, not a new ranking of the frames within a video.

Example::

    psnr = psnr_from_mse(result.errors)              # errors: per-frame MSE, reduction "mean"
    score = anomaly_scores(-psnr).score              # the engine's scoring of "low PSNR = anomalous"
"""

from __future__ import annotations

import numpy as np

from vad_core.errors import ConfigError

#: Smallest MSE taken into account: a perfect prediction gets 10 log10(1 / 1e-10) = 100 dB, not inf.
MIN_MSE = 1e-10


def psnr_from_mse(mse: np.ndarray, peak: float = 1.0, min_mse: float = MIN_MSE) -> np.ndarray:
    """``10 log10(peak^2 / max(mse, min_mse))`` per frame, float64 of the input's shape.

    Args:
        mse: mean squared error per frame (frames in ``[0, peak]``), >= 0 and finite.
        peak: the largest pixel value (1 for the engine's [0, 1] frames, 255 for uint8).
        min_mse: floor keeping a perfect prediction's PSNR finite.

    Raises:
        ConfigError: negative or non-finite MSE, or ``peak`` / ``min_mse`` not > 0.
    """
    values = np.asarray(mse, dtype=np.float64)
    if not (peak > 0 and min_mse > 0):
        raise ConfigError("psnr", f"peak and min_mse must be > 0, found {peak} and {min_mse}")
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        raise ConfigError(
            "psnr", f"MSE must be finite and >= 0, found {values.flat[bad[0]]} at frame {bad[0]}"
        )
    return 10.0 * np.log10(peak * peak / np.maximum(values, min_mse))
