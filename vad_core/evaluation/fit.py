"""Does a model fit the footage it scores? One sentence that says when it does not.

A checkpoint knows what it was trained on: the quantiles of its per-frame errors on normal
training footage (``metadata["calibration"]["error"]``, the held-out frames of ``vad train
--holdout``; without it ``metadata["normal_range"]["error"]``, the training frames themselves,
recorded after every run) and the size and channels of that footage
(``metadata["training"]["footage"]``). :func:`check_fit` compares scored footage with them:

* most frames err far above the normal range (by more than ``FAR_ABOVE`` inter-quartile ranges
  beyond the largest normal error): the model has not seen footage like this;
* the footage differs in channels (colour vs gray) or clearly in frame size from the training footage;
* with labels, a frame AUROC near chance (below ``NEAR_CHANCE``) or below it.

Example::

    report = check_fit(checkpoint.metadata, checkpoint.display_name, errors, frame_size=(240, 360),
                       channels=1, error="mse", reduction="mean")
    if not report.fits:
        print(report.sentence())     # "BCAE1 does not fit this footage: 98 % of frames ..."
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vad_core.errors import ConfigError
from vad_core.scoring.causal import ErrorQuantiles, causal_scores, error_quantiles

NORMAL_RANGE = "normal_range"  # metadata key of the training frames' error record
FAR_ABOVE = 3.0  # our choice: inter-quartile ranges of normal error beyond the largest normal error
MOST = 0.5  # our choice: "most frames" means more than half of them
NEAR_CHANCE = 0.6  # our choice: a frame AUROC below 60 % is hardly better than guessing (50 %)
SIZE_RATIO = 1.5  # our choice: frame sides this many times larger or smaller count as a different size


@dataclass(frozen=True)
class FitReport:
    """What :func:`check_fit` found; ``problems`` are clauses of one sentence, empty when it fits."""

    model: str
    problems: tuple[str, ...] = ()
    share_far_above: float | None = None  # fraction of frames far above the normal range (None: no record)

    @property
    def fits(self) -> bool:
        return not self.problems

    def sentence(self, subject: str = "this footage") -> str:
        """One sentence for the CLI and the window's banner; ``""`` when the model fits."""
        if self.fits:
            return ""
        return (
            f"{self.model} does not seem to fit {subject}: {'; '.join(self.problems)}; "
            "its flags are not to be trusted until a model is trained on footage like this."
        )


def normal_record(
    metadata: Mapping[str, Any], error: str = "mse", reduction: str = "mean", patch: int = 16
) -> ErrorQuantiles | None:
    """The checkpoint's record of normal errors made the way errors are scored now, or None."""
    for key in ("calibration", NORMAL_RANGE):
        data = (metadata.get(key) or {}).get("error") if isinstance(metadata.get(key), dict) else None
        if not isinstance(data, dict):
            continue
        try:
            record = ErrorQuantiles.from_dict(data)
        except ConfigError:
            continue
        same_patch = reduction != "patch_max" or record.patch == patch
        if record.error == error and record.reduction == reduction and same_patch:
            return record
    return None


def normal_range_record(
    errors: np.ndarray, error: str = "mse", reduction: str = "mean", patch: int = 16
) -> dict[str, Any]:
    """``metadata["normal_range"]``: the quantiles of the training frames' per-frame ``errors``."""
    return {"error": error_quantiles(errors, error, reduction, patch).to_dict(), "frames": "training frames"}


def share_far_above(errors: np.ndarray, record: ErrorQuantiles) -> float:
    """Fraction of ``errors`` more than ``FAR_ABOVE`` inter-quartile ranges above the largest normal error."""
    e = np.asarray(errors, np.float64)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return 0.0
    return float(np.mean(causal_scores(e, record) > 1.0 + FAR_ABOVE))


def footage_mismatch(
    trained: Mapping[str, Any] | None, frame_size: Sequence[int] | None, channels: int | None
) -> list[str]:
    """Clauses naming how the footage differs from the training footage (``training.footage``)."""
    if not trained:
        return []
    problems = []
    trained_channels = trained.get("channels")
    if channels is not None and trained_channels is not None and int(trained_channels) != int(channels):
        kinds = {1: "gray", 3: "colour"}
        problems.append(
            f"the footage is {kinds.get(int(channels), f'{channels}-channel')}, the training footage was "
            f"{kinds.get(int(trained_channels), f'{trained_channels}-channel')}"
        )
    size = trained.get("size")
    if frame_size is not None and size is not None and len(size) == 2:
        ratios = [max(a, b) / max(min(a, b), 1) for a, b in zip(frame_size, size, strict=True)]
        if max(ratios) >= SIZE_RATIO:
            problems.append(
                f"its frames are {frame_size[1]}x{frame_size[0]}, the training footage's were {size[1]}x{size[0]}"
            )
    return problems


def check_scored_clips(
    metadata: Mapping[str, Any],
    model: str,
    clips: Sequence[Any],
    sources: Sequence[Any],
    inference: Any,
    auroc: float | None = None,
) -> FitReport:
    """:func:`check_fit` for scored clips (``evaluation.videos.ClipScores``) of ``sources`` (their
    frame sources, for size and channels) scored with ``inference`` (an ``InferenceConfig``)."""
    errors = np.concatenate([np.asarray(c.errors, np.float64) for c in clips]) if clips else None
    first = sources[0] if sources else None
    return check_fit(
        metadata,
        model,
        errors,
        None if first is None else tuple(first.frame_size),
        None if first is None else int(first.channels),
        inference.error,
        inference.reduction,
        inference.patch,
        auroc,
    )  # fmt: skip


def check_fit(
    metadata: Mapping[str, Any],
    model: str,
    errors: np.ndarray | None = None,
    frame_size: Sequence[int] | None = None,
    channels: int | None = None,
    error: str = "mse",
    reduction: str = "mean",
    patch: int = 16,
    auroc: float | None = None,
    auroc_kind: str = "frame",
) -> FitReport:
    """Compare scored footage (per-frame ``errors``, its ``frame_size`` ``(H, W)`` and ``channels``,
    the frame ``auroc`` against labels when there are labels) with what the checkpoint was trained on."""
    problems: list[str] = []
    share = None
    record = normal_record(metadata, error, reduction, patch)
    if record is not None and errors is not None and len(errors):
        share = share_far_above(errors, record)
        if share > MOST:
            problems.append(f"{share * 100:.0f} % of frames err far above its normal range")
    training = metadata.get("training") if isinstance(metadata.get("training"), dict) else {}
    problems.extend(footage_mismatch(training.get("footage"), frame_size, channels))
    if auroc is not None and np.isfinite(auroc) and auroc < NEAR_CHANCE:
        where = "below" if auroc < 0.5 else "near"
        problems.append(
            f"its {auroc_kind} AUROC against the labels is {auroc * 100:.1f} %, {where} chance (50 %)"
        )
    return FitReport(model, tuple(problems), share)
