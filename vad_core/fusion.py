"""Fused models: a frame model and a predictor (or any checkpoints) scored together as one model.

A fused model is a small JSON description a person can read, beside the checkpoints it names::

    {"format": "vad-review fused model", "version": 1,
     "members": [{"checkpoint": "bcae1.safetensors", "weight": 0.5},
                 {"checkpoint": "unet256.safetensors", "weight": 0.5}]}

Paths are relative to the description's folder (or absolute). Each member scores a clip with its
own recommended scoring (``Checkpoint.scoring``: error, reduction, score kind), giving a per-clip
min-max normalised anomaly series ``a_i`` in [0, 1]; the fused series is their weighted mean
``sum_i w_i a_i / sum_i w_i``. Scorers treat that series as the per-frame error of a model with the
``"error"`` score: it is min-max normalised per clip again and smoothed like any other.

Example::

    path = write_fused("runs/fused.json", [("runs/bcae1.safetensors", 0.4), ("runs/unet.safetensors", 0.6)])
    fused = read_fused(path)                      # CheckpointError names the file and the problem
    series = fused_series(open_members(fused), source, InferenceConfig(device="cpu"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.atomic_io import atomic_write_bytes
from vad_core.checkpoint_description import MAX_DESCRIPTION_BYTES
from vad_core.errors import CheckpointError
from vad_core.json_reading import read_json
from vad_core.scoring.score_kinds import check_score_inputs, per_video_anomaly

FORMAT = "vad-review fused model"
VERSION = 1


@dataclass(frozen=True)
class FusedMember:
    checkpoint: Path  # resolved against the description's folder
    weight: float


@dataclass(frozen=True)
class FusedModel:
    """A read fused-model description: its members and where it was read from."""

    members: tuple[FusedMember, ...]
    path: Path | None = None

    @property
    def display_name(self) -> str:
        names = " + ".join(f"{m.weight:g} x {m.checkpoint.stem}" for m in self.members)
        return f"fused ({names})"


def write_fused(path: str | Path, members: Sequence[tuple[str | Path, float]]) -> Path:
    """Write a fused-model description (validated as :func:`read_fused` would) and return its path."""
    path = Path(path)
    entries = [{"checkpoint": str(checkpoint), "weight": float(weight)} for checkpoint, weight in members]
    description = {"format": FORMAT, "version": VERSION, "members": entries}
    _members(description, path)  # refuse what could not be read back
    atomic_write_bytes(path, json.dumps(description, indent=2).encode())
    return path


def is_fused_model(path: str | Path) -> bool:
    """Whether ``path`` is a JSON file whose ``format`` is a fused model's (a cheap check)."""
    path = Path(path)
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        description = read_json(path, CheckpointError, max_bytes=MAX_DESCRIPTION_BYTES)
    except CheckpointError:
        return False
    return isinstance(description, dict) and description.get("format") == FORMAT


def read_fused(path: str | Path) -> FusedModel:
    """The fused model described at ``path``; ``CheckpointError`` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "fused-model description not found")
    description = read_json(
        path, CheckpointError, max_bytes=MAX_DESCRIPTION_BYTES, what="a fused-model description"
    )
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise CheckpointError(path, f"not a {FORMAT} description (its 'format' must be {FORMAT!r})")
    version = description.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"'version' must be a whole number >= 1, found {version!r}")
    if version > VERSION:
        raise CheckpointError(
            path, f"written by a newer vad-review (version {version}, this reads {VERSION})"
        )
    return FusedModel(_members(description, path), path)


def _members(description: dict[str, Any], path: Path) -> tuple[FusedMember, ...]:
    entries = description.get("members")
    if not isinstance(entries, list) or len(entries) < 2:
        raise CheckpointError(path, "'members' must list at least two checkpoints")
    members = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("checkpoint"), str):
            raise CheckpointError(path, f"member {index + 1} needs a 'checkpoint' path")
        weight = entry.get("weight")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise CheckpointError(
                path, f"member {index + 1}: 'weight' must be a number >= 0, found {weight!r}"
            )
        checkpoint = Path(entry["checkpoint"])
        members.append(
            FusedMember(checkpoint if checkpoint.is_absolute() else path.parent / checkpoint, float(weight))
        )
    if sum(m.weight for m in members) <= 0:
        raise CheckpointError(path, "the weights sum to 0; at least one must be > 0")
    return tuple(members)


def fuse(series: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``sum_i w_i a_i / sum_i w_i`` of per-clip normalised series ``a_i`` of one clip."""
    total = float(sum(weights))
    return sum(w * np.asarray(a, np.float64) for a, w in zip(series, weights, strict=True)) / total


@dataclass
class OpenMember:
    """A loaded member: its checkpoint, weight, and how it scores (its own recommendation)."""

    checkpoint: Any  # vad_core.checkpoint.Checkpoint
    weight: float
    score: str
    mnad_weight: float


def open_members(fused: FusedModel, device: str = "cpu") -> list[OpenMember]:
    """Load every member's checkpoint (their own errors surface as ``CheckpointError`` naming it)."""
    from vad_core.checkpoint import load_checkpoint

    opened = []
    for member in fused.members:
        checkpoint = load_checkpoint(member.checkpoint, device=device)
        scoring = checkpoint.scoring
        opened.append(
            OpenMember(
                checkpoint,
                member.weight,
                str(scoring.get("score", "error")),
                float(scoring.get("mnad_weight", 0.6)),
            )
        )
    return opened


def member_inference(member: OpenMember, base):
    """``base`` (batch size, device, AMP) with the member's recommended error, reduction and patch."""
    scoring = member.checkpoint.scoring
    inference = replace(
        base,
        error=str(scoring.get("error", "mse")),
        reduction=str(scoring.get("reduction", "mean")),
        patch=int(scoring.get("patch", 16)),
        keep_maps=False,
    )
    check_score_inputs(member.score, inference.error, inference.reduction)
    return inference


def fused_series(
    members: Sequence[OpenMember],
    source,
    base,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The fused per-frame series ``(T,)`` of one clip (see the module docstring)."""
    from vad_core.inference.scoring_loop import score_all

    series = []
    total = len(members) * len(source)
    for index, member in enumerate(members):
        offset = index * len(source)
        callback = (lambda done, _t, o=offset: progress(o + done, total)) if progress else None
        result = score_all(
            member.checkpoint.model,
            source,
            member_inference(member, base),
            member.checkpoint.preprocess,
            progress=callback,
        )
        series.append(per_video_anomaly(result.errors, member.score, result.side, member.mnad_weight))
    return fuse(series, [m.weight for m in members])
