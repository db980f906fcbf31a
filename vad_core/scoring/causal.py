"""Causal scores: each frame's error placed against the errors of held-out normal footage.

The engine's per-video min-max normalisation needs the whole video before the first score is
final, and gives every video a frame at 1. For streaming, and for a score that means the same in
every video, each error is instead compared with the distribution of errors the model made on
normal footage it was not trained on, recorded once at training time (:func:`error_quantiles`,
stored in the checkpoint's JSON as :meth:`ErrorQuantiles.to_dict`):

* inside the normal range, the score is the empirical CDF position, interpolated linearly between
  the stored quantiles: the lowest normal error maps to 0, the median to 0.5, the largest to 1;
* above the largest normal error, it keeps growing linearly in units of the normal inter-quartile
  range (``1 + (e - q_max) / (q_75 - q_25)``), so very large errors still rank above large ones;
* below the smallest normal error it is 0.

A frame's score depends on its own error and the record only: appending frames never changes an
earlier score, and the score is non-decreasing in the error.

Example::

    record = error_quantiles(validation_errors, error="mse", reduction="mean")
    metadata["calibration"] = record.to_dict()             # saved with the checkpoint
    score = causal_scores(new_errors, ErrorQuantiles.from_dict(metadata["calibration"]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vad_core.errors import ConfigError

#: Quantile levels stored by default: the extremes, the quartiles and a finer grid in the upper tail.
DEFAULT_LEVELS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 1.0)
RECORD_KIND = "error quantiles"


@dataclass(frozen=True)
class ErrorQuantiles:
    """Quantiles of per-frame errors on normal footage, and what produced those errors."""

    levels: tuple[float, ...]  # increasing, from 0.0 to 1.0
    values: tuple[float, ...]  # the error at each level, non-decreasing
    count: int  # frames the quantiles were computed from
    error: str = "mse"  # per-pixel error (InferenceConfig.error)
    reduction: str = "mean"  # per-frame reduction (InferenceConfig.reduction)
    patch: int = 16  # block size when reduction == "patch_max"

    def __post_init__(self) -> None:
        levels, values = np.asarray(self.levels, float), np.asarray(self.values, float)
        if levels.ndim != 1 or levels.size < 2 or levels.shape != values.shape:
            raise ConfigError(
                "calibration", f"need >= 2 levels and one value each, found {levels.size} and {values.size}"
            )
        if levels[0] != 0.0 or levels[-1] != 1.0 or np.any(np.diff(levels) <= 0):
            raise ConfigError("calibration", f"levels must rise from 0 to 1, found {list(self.levels)}")
        if not np.all(np.isfinite(values)) or np.any(np.diff(values) < 0):
            raise ConfigError("calibration", "quantile values must be finite and non-decreasing")
        if self.count < 1:
            raise ConfigError("calibration", f"quantiles need at least one frame, found {self.count}")

    @property
    def spread(self) -> float:
        """The unit of the extension above the normal range: the inter-quartile range, or (when
        it is 0) the full normal range, or 1 when all normal errors were equal."""
        q25, q75 = np.interp([0.25, 0.75], self.levels, self.values)
        for width in (q75 - q25, self.values[-1] - self.values[0]):
            if width > 0:
                return float(width)
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the checkpoint description."""
        return {
            "kind": RECORD_KIND,
            "levels": [float(v) for v in self.levels],
            "values": [float(v) for v in self.values],
            "count": int(self.count),
            "error": self.error,
            "reduction": self.reduction,
            "patch": int(self.patch),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorQuantiles:
        """The record written by :meth:`to_dict`; ``ConfigError`` if it is not one."""
        if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
            raise ConfigError("calibration", f"not an {RECORD_KIND} record")
        try:
            return cls(
                levels=tuple(float(v) for v in data["levels"]),
                values=tuple(float(v) for v in data["values"]),
                count=int(data["count"]),
                error=str(data.get("error", "mse")),
                reduction=str(data.get("reduction", "mean")),
                patch=int(data.get("patch", 16)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError("calibration", f"malformed {RECORD_KIND} record ({error})") from None


def error_quantiles(
    errors: np.ndarray,
    error: str = "mse",
    reduction: str = "mean",
    patch: int = 16,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
) -> ErrorQuantiles:
    """The quantile record of per-frame ``errors`` of held-out normal footage (linear interpolation).

    Raises:
        ConfigError: no errors, non-finite errors, or bad ``levels``.
    """
    values = np.asarray(errors, dtype=np.float64).ravel()
    if values.size == 0:
        raise ConfigError("calibration", "no errors to compute quantiles from")
    if not np.all(np.isfinite(values)):
        raise ConfigError("calibration", f"{int(np.sum(~np.isfinite(values)))} errors are NaN or inf")
    quantiles = np.quantile(values, np.asarray(levels, dtype=np.float64))
    quantiles = np.maximum.accumulate(quantiles)  # guard against rounding making them dip
    return ErrorQuantiles(
        tuple(float(v) for v in levels),
        tuple(float(v) for v in quantiles),
        int(values.size),
        error,
        reduction,
        patch,
    )


def causal_scores(errors: np.ndarray, record: ErrorQuantiles) -> np.ndarray:
    """Score of each frame's error against ``record`` (see the module docstring), float64 ``(T,)``.

    Errors from the lowest to the largest normal error map into [0, 1]; larger ones above 1.

    Raises:
        ConfigError: NaN or inf errors.
    """
    e = np.asarray(errors, dtype=np.float64)
    if not np.all(np.isfinite(e)):
        raise ConfigError("causal scores", f"{int(np.sum(~np.isfinite(e)))} errors are NaN or inf")
    values = np.asarray(record.values)
    levels = np.asarray(record.levels)
    # Where several levels share one value (ties in the normal errors), the CDF there is the highest level.
    last_of_each = np.r_[np.diff(values) > 0, True]
    xs, ys = values[last_of_each], levels[last_of_each]
    inside = np.interp(e, xs, ys, left=0.0, right=1.0) if xs.size > 1 else (e >= xs[0]).astype(float)
    above = 1.0 + (e - values[-1]) / record.spread
    return np.where(e > values[-1], above, inside)


def usable_calibration(
    calibration: dict[str, Any] | None, error: str, reduction: str, patch: int = 16
) -> dict[str, ErrorQuantiles] | None:
    """The records of a checkpoint's ``metadata["calibration"]`` when its error record was made the
    way errors are scored now (``error``, ``reduction``, ``patch``); None otherwise (or without one)."""
    if not calibration or "error" not in calibration:
        return None
    records = {
        name: ErrorQuantiles.from_dict(data) for name, data in calibration.items() if isinstance(data, dict)
    }
    record = records["error"]
    same_patch = reduction != "patch_max" or record.patch == patch
    if record.error != error or record.reduction != reduction or not same_patch:
        return None
    return records


def calibrated_scores(
    errors: np.ndarray,
    records: dict[str, ErrorQuantiles],
    side: dict[str, np.ndarray] | None = None,
    score: str = "error",
    weight: float = 0.6,
) -> np.ndarray:
    """One video's causal score: its errors against the ``"error"`` record (for ``"error"`` and
    ``"psnr"``, which rank frames alike), or for ``"mnad"`` ``weight * that + (1 - weight) *`` the
    memory distance against the ``"memory_distance"`` record. No per-video step, no smoothing:
    a frame's score is final when it is scored.

    Raises:
        ConfigError: ``"mnad"`` without the distance series or its record.
    """
    scores = causal_scores(errors, records["error"])
    if score != "mnad":
        return scores
    distance = (side or {}).get("memory_distance")
    if distance is None or "memory_distance" not in records:
        raise ConfigError(
            "causal scores", "score 'mnad' needs the memory distance and its calibration record"
        )
    return weight * scores + (1.0 - weight) * causal_scores(distance, records["memory_distance"])
