"""Causal normalisation of a live stream's errors: the checkpoint's calibration, or the stream's first seconds.

A live score cannot use the per-video min-max of review (it needs the whole video). It places each
error against the error quantiles of normal footage (:mod:`vad_core.scoring.causal`): the record
``vad train --holdout`` stores in ``metadata["calibration"]`` when it was made with the error,
reduction and patch scored now; otherwise the first ``calibration_frames`` scored frames of the
stream itself (which must then show normal activity) are the normal footage, and frames of that
calibration period get no score (NaN). Scores are final the moment they are given.

Example::

    normaliser = CausalNormaliser.for_checkpoint(checkpoint.metadata, inference, score="error",
                                                 calibration_frames=250)
    score = normaliser.score(error, side)          # NaN while the stream is calibrating
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vad_core.scoring.causal import ErrorQuantiles, calibrated_scores, error_quantiles, usable_calibration

ERROR_RECORD = "error"
DISTANCE_RECORD = "memory_distance"


class CausalNormaliser:
    """Turns per-frame errors into causal scores (see the module docstring).

    ``origin`` says where the normal errors come from: ``"checkpoint"`` or ``"stream"``.
    """

    def __init__(
        self,
        records: dict[str, ErrorQuantiles] | None,
        calibration_frames: int = 250,
        score: str = "error",
        weight: float = 0.6,
        error: str = "mse",
        reduction: str = "mean",
        patch: int = 16,
    ) -> None:
        self.records = records
        self.origin = "checkpoint" if records else "stream"
        self.calibration_frames = max(1, int(calibration_frames))
        self.score_kind, self.weight = score, weight
        self.error, self.reduction, self.patch = error, reduction, patch
        self._errors: list[float] = []
        self._distances: list[float] = []

    @classmethod
    def for_checkpoint(
        cls,
        metadata: dict[str, Any],
        inference: Any,
        score: str = "error",
        weight: float = 0.6,
        calibration_frames: int = 250,
    ) -> CausalNormaliser:
        """The checkpoint's usable calibration record, else a calibration period on the stream."""
        records = usable_calibration(
            metadata.get("calibration"), inference.error, inference.reduction, inference.patch
        )
        if records is not None and score == "mnad" and DISTANCE_RECORD not in records:
            records = None
        return cls(
            records, calibration_frames, score, weight, inference.error, inference.reduction, inference.patch
        )

    @property
    def calibrating(self) -> bool:
        return self.records is None

    @property
    def calibrated_frames(self) -> int:
        """Frames of the stream's calibration period seen so far."""
        return len(self._errors)

    def score(self, error: float, side: dict[str, float] | None = None) -> float:
        """The causal score of one frame's error; NaN for unscored frames and during calibration."""
        if not math.isfinite(error):
            return float("nan")
        if self.records is None:
            self._learn(error, side or {})
            return float("nan")
        side_arrays = {name: np.array([value]) for name, value in (side or {}).items()}
        value = calibrated_scores(np.array([error]), self.records, side_arrays, self.score_kind, self.weight)[
            0
        ]
        return float(value)

    def _learn(self, error: float, side: dict[str, float]) -> None:
        self._errors.append(error)
        if DISTANCE_RECORD in side:
            self._distances.append(side[DISTANCE_RECORD])
        if len(self._errors) < self.calibration_frames:
            return
        records = {
            ERROR_RECORD: error_quantiles(np.array(self._errors), self.error, self.reduction, self.patch)
        }
        if self._distances:
            records[DISTANCE_RECORD] = error_quantiles(np.array(self._distances), error=DISTANCE_RECORD)
        elif self.score_kind == "mnad":
            self.score_kind = "error"  # no distance series: the error alone
        self.records = records

    def describe(self) -> str:
        """One line for the status and the log."""
        if self.origin == "checkpoint":
            count = self.records[ERROR_RECORD].count if self.records else 0
            return f"causal score against the checkpoint's calibration ({count} held-out frames)"
        if self.records is None:
            return f"calibrating on the stream: {len(self._errors)}/{self.calibration_frames} frames"
        return f"causal score against the stream's first {self.calibration_frames} frames"
