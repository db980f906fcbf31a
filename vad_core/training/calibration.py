"""Calibration at training time: the error distribution of held-out normal frames, for causal scores.

The last ``holdout_fraction`` of every training source is kept out of every training and validation
window (:func:`split_holdout`). After training, the model scores those frames exactly as a scorer
will (the checkpoint's recommended error, reduction and patch) and :func:`calibration_record` stores
the quantiles of their per-frame errors (and, for memory models, of the memory distance) as plain
JSON for ``metadata["calibration"]``; :mod:`vad_core.scoring.causal` scores new frames against them.

Example::

    bank, held_out = split_holdout(bank, 0.1, window=5)       # windows come from bank only
    ...                                                       # train on bank
    metadata["calibration"] = calibration_record(model, frames_of(held_out), {"error": "mse"}, "cpu")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vad_core.models.base import AnomalyModel
from vad_core.scoring.causal import error_quantiles
from vad_core.training.frame_bank import FrameBank

ERROR_RECORD = "error"  # metadata["calibration"][ERROR_RECORD]: quantiles of the per-frame error
DISTANCE_RECORD = "memory_distance"  # ... and of MNAD's memory distance, for memory models


def split_holdout(bank: FrameBank, fraction: float, window: int) -> tuple[FrameBank, list[tuple[int, int]]]:
    """``bank`` without the last ``fraction`` of each source, and those tails as ``[start, stop)``
    rows of ``bank.frames``. A source keeps its tail only when both parts stay long enough: the
    rest fits a ``window``, the tail a ``window`` plus one frame (a predictor's first ``S`` frames
    cannot be predicted). ``fraction == 0`` holds nothing out."""
    if fraction <= 0:
        return bank, []
    bounds, held_out = [], []
    for start, stop in bank.bounds:
        tail = int(round((stop - start) * fraction))
        if tail >= window + 1 and (stop - start) - tail >= window:
            bounds.append((start, stop - tail))
            held_out.append((stop - tail, stop))
        else:
            bounds.append((start, stop))
    return FrameBank(bank.frames, bounds, bank.names, bank.sequences, bank.footage), held_out


def held_out_clips(bank: FrameBank, held_out: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The held-out frames as uint8 clips ``(n, H, W)`` or ``(n, H, W, 3)``, on the host."""
    clips = []
    for start, stop in held_out:
        frames = bank.frames[start:stop].cpu().numpy()  # (n, C, H, W)
        clips.append(frames[:, 0] if frames.shape[1] == 1 else frames.transpose(0, 2, 3, 1).copy())
    return clips


def calibration_record(
    model: AnomalyModel,
    clips: Sequence[np.ndarray],
    scoring: dict[str, Any],
    device: str = "cpu",
    amp: bool = True,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Quantile records of the held-out ``clips``' per-frame errors (made with ``scoring``'s error,
    reduction and patch) and memory distances; ``{}`` without clips. The first ``S`` frames of a
    predictor's clip copy the first prediction, so they are left out."""
    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import MEMORY_DISTANCE, score_all
    from vad_core.sources import ArraySource

    if not clips:
        return {}
    error, reduction = str(scoring.get("error", "mse")), str(scoring.get("reduction", "mean"))
    patch = int(scoring.get("patch", 16))
    config = InferenceConfig(
        batch_size=batch_size,
        device=device,
        amp=amp,
        error=error,
        reduction=reduction,
        patch=patch,
        keep_maps=False,
    )
    skip = model.spec.input_frames if model.spec.mode == "predict" else 0
    errors, distances = [], []
    for index, frames in enumerate(clips):
        result = score_all(model, ArraySource(frames, name=f"held-out {index}"), config)
        errors.append(result.errors[skip:])
        if MEMORY_DISTANCE in result.side:
            distances.append(result.side[MEMORY_DISTANCE][skip:])
    record = {ERROR_RECORD: error_quantiles(np.concatenate(errors), error, reduction, patch).to_dict()}
    if distances:
        record[DISTANCE_RECORD] = error_quantiles(np.concatenate(distances), error=DISTANCE_RECORD).to_dict()
    return record
