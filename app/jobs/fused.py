"""Fused models (``vad fuse`` output) in the review window, as plain generators (no Qt).

A fused-model description names several checkpoints and their weights (``vad_core.fusion``). The
window opens one like a checkpoint (``checkpoint_job`` hands back an ``OpenFused``) and scores a
video with ``fused_job``: each member scores the clip with its own recommended scoring, its per-clip
anomaly series ``a_i`` is made as ``vad_core.fusion.fused_series`` makes it, and the weighted mean is
the per-frame series the window treats as errors with the ``"error"`` score, as ``vad score
--model FUSED.json`` writes it. The members run one after the other, a batch at a time, so the job
can be stopped between batches. A fused model has no error maps (no heatmap, no explanations).

Example::

    opened = open_fused("runs/fused.json")
    for item in fused_job(opened, source, InferenceConfig(device="cpu")): ...   # Progress, Notice
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.jobs.threads import limit_torch_threads, lower_thread_priority, model_lock
from app.jobs.worker import Notice, Progress
from vad_core.inference.config import InferenceConfig
from vad_core.sources.base import FrameSource


@dataclass
class OpenFused:
    """A read fused-model description with its members' checkpoints loaded."""

    fused: Any  # vad_core.fusion.FusedModel
    members: list[Any]  # vad_core.fusion.OpenMember

    @property
    def display_name(self) -> str:
        return self.fused.display_name

    @property
    def path(self) -> Path | None:
        return self.fused.path

    def describe_members(self) -> str:
        """One line per member: weight, file and the score it gives."""
        return "; ".join(
            f"{m.weight:g} × {m.checkpoint.display_name} ({m.checkpoint.config.name}, score {m.score})"
            for m in self.members
        )


def open_fused(path: str | Path, device: str = "cpu") -> OpenFused:
    """Read the description and load every member (``CheckpointError`` names the file at fault)."""
    from vad_core.fusion import open_members, read_fused

    fused = read_fused(path)
    return OpenFused(fused, open_members(fused, device=device))


def fused_job(
    opened: OpenFused, source: FrameSource, inference: InferenceConfig
) -> Generator[Progress | Notice, None, np.ndarray]:
    """The fused per-frame series ``(T,)`` of ``source`` (see the module docstring)."""
    from vad_core.fusion import fuse, member_inference
    from vad_core.inference.device import resolve_device
    from vad_core.inference.scoring_loop import score_source
    from vad_core.scoring.score_kinds import per_video_anomaly

    lower_thread_priority()
    if resolve_device(inference.device).type == "cpu":
        limit_torch_threads()
    frames, members = len(source), opened.members
    series = []
    for index, member in enumerate(members):
        checkpoint = member.checkpoint
        yield Notice(f"fused model: member {index + 1} of {len(members)}, {checkpoint.display_name}")
        config = member_inference(member, inference)  # the member's own error, reduction, patch
        errors = np.full(frames, np.nan, np.float32)
        side: dict[str, np.ndarray] = {}
        chunks = score_source(checkpoint.model, source, config, checkpoint.preprocess)
        lock = model_lock(checkpoint.model)
        while True:
            with lock:
                chunk = next(chunks, None)
            if chunk is None:
                break
            errors[chunk.start : chunk.stop] = chunk.errors
            for name, values in chunk.side.items():
                side.setdefault(name, np.full(frames, np.nan, np.float32))[chunk.start : chunk.stop] = values
            yield Progress(index * frames + chunk.stop, len(members) * frames)
        series.append(per_video_anomaly(errors, member.score, side, member.mnad_weight))
    return fuse(series, [m.weight for m in members]).astype(np.float32)
