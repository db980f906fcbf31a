"""Splitting a long clip into chunks that score exactly like the unsplit clip, and stitching them back.

``score_source`` runs a model over the windows of ``plan_windows(n, spec, prediction)``: one
window per frame for frame models; windows of ``T`` frames starting at ``0, T, 2T, ...`` with the
last one aligned to the end for clip models; for predictors with ``S`` seed and ``P`` future
frames, either one window per frame ``t >= S`` reading ``t - S .. t + P - 1`` (``prediction="next"``)
or windows predicting ``P`` frames each (``"block"``), the last aligned to the end; the first ``S``
frames copy the first prediction. Windows are evaluated ``batch_size`` at a time.

A chunk here is a run of consecutive windows *of the whole clip's plan*. The worker reads the
chunk's frame range ``[read_start, read_stop)`` (every frame its windows read: for predictors the
``S`` seed frames before its first scored frame, and in ``"next"`` mode the ``P - 1`` frames after
its last one, overlap with the neighbouring chunks; clip and frame models need no overlap, since
their windows do not overlap) and scores that range with ``score_source`` as if it were a clip of
its own; scores of frames outside ``[score_start, score_stop)`` are dropped. Three rules make the
stitched scores equal, bit for bit, to those of one ``score_all`` over the whole clip on the same
device with the same batch size:

1. chunk borders lie on window borders of the whole clip's plan, so every frame is scored by the
   same window, reading the same frames (the end-aligned last window included);
2. every chunk but the last holds a multiple of ``batch_size`` windows, so the model sees the very
   same batches (a convolution's result can depend on the batch shape in the last bits);
3. ``plan_chunks`` checks 1. and 2. for every chunk: the plan of the chunk's frame range, shifted,
   must begin with exactly the chunk's windows, and any window after them may only score frames
   past the chunk (they are dropped); a chunk that fails the check is merged with its neighbour.

Regularity (a min-max over the whole clip) and smoothing are computed only after stitching.

Example::

    chunks = plan_chunks(len(source), model.spec, chunk_frames=2048, batch_size=32)
    parts = [score_chunk(model, source, chunk, config) for chunk in chunks]
    errors, maps = stitch(len(source), parts)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vad_core.errors import ConfigError
from vad_core.sources.base import FrameSource, check_index, check_range

if TYPE_CHECKING:  # torch is imported only when chunks are planned or scored, not by `vad --help`
    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import Window
    from vad_core.models.base import AnomalyModel, TemporalSpec
    from vad_core.sources.preprocess import Preprocess

DEFAULT_CHUNK_FRAMES = 2048  # our choice: ~80 s of 25 fps video, a few seconds of GPU work per chunk


@dataclass(frozen=True)
class Chunk:
    """Frames a worker reads, ``[read_start, read_stop)``, and frames it scores, ``[score_start, score_stop)``."""

    index: int
    read_start: int
    read_stop: int
    score_start: int
    score_stop: int

    @property
    def context(self) -> int:
        """Frames read only as context (or scored by the previous chunk), dropped from this chunk's scores."""
        return self.score_start - self.read_start

    @property
    def frames(self) -> int:
        """Frames this chunk contributes to the clip."""
        return self.score_stop - self.score_start


@dataclass
class ChunkScores:
    """Per-frame errors (and float16 maps) of a chunk's frames ``score_start .. score_stop - 1``."""

    chunk: Chunk
    errors: np.ndarray
    maps: np.ndarray | None


def _frames_per_window(spec: TemporalSpec, prediction: str) -> int:
    if spec.mode == "clip":
        return spec.input_frames
    if spec.mode == "predict" and prediction == "block":
        return spec.output_frames
    return 1


def _make_chunk(index: int, windows: Sequence[Window], is_first: bool) -> Chunk:
    """The chunk evaluating ``windows`` (consecutive windows of the whole clip's plan)."""
    read_start = min(min(w.frames) for w in windows)
    read_stop = max(max(w.frames) for w in windows) + 1
    # The first chunk also owns the frames no window predicts (a predictor's first S frames).
    score_start = 0 if is_first else windows[0].targets[0][1]
    score_stop = windows[-1].targets[-1][1] + 1
    return Chunk(index, read_start, read_stop, score_start, score_stop)


def _plan_matches(chunk: Chunk, windows: Sequence[Window], spec: TemporalSpec, prediction: str) -> bool:
    """True when scoring ``chunk``'s frame range alone evaluates ``windows`` (shifted) in the same batches.

    The range's own plan must begin with exactly ``windows``; windows after them (a ``"next"``
    predictor's last ``P - 1`` frames, read only as context) may only score frames past the chunk.
    """
    from vad_core.inference.scoring_loop import plan_windows

    own = plan_windows(chunk.read_stop - chunk.read_start, spec, prediction)
    if len(own) < len(windows):
        return False
    shift = chunk.read_start
    for mine, theirs in zip(own, windows, strict=False):
        if tuple(f + shift for f in mine.frames) != theirs.frames:
            return False
        kept = tuple((p, f + shift) for p, f in mine.targets if f + shift >= chunk.score_start)
        if kept != tuple((p, f) for p, f in theirs.targets if f >= chunk.score_start):
            return False
    return all(f + shift >= chunk.score_stop for extra in own[len(windows) :] for _, f in extra.targets)


def plan_chunks(
    n_frames: int,
    spec: TemporalSpec,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    batch_size: int = 32,
    prediction: str = "next",
) -> list[Chunk]:
    """Split a clip of ``n_frames`` into chunks of about ``chunk_frames`` frames (module docstring).

    ``batch_size`` and ``prediction`` must be those of the ``InferenceConfig`` the chunks are scored
    with (``chunk_plan`` reads them from it).

    Chunks cover ``0 .. n_frames - 1`` exactly once by their score ranges, in order. A clip shorter
    than one chunk is one chunk reading the whole clip.

    Raises:
        ConfigError: ``n_frames < 1``, ``chunk_frames < 1`` or ``batch_size < 1``.
    """
    from vad_core.inference.scoring_loop import plan_windows

    if n_frames < 1:
        raise ConfigError("chunking", f"a clip needs at least 1 frame, found {n_frames}")
    if chunk_frames < 1 or batch_size < 1:
        raise ConfigError(
            "chunking", f"chunk_frames and batch_size must be >= 1, found {chunk_frames} and {batch_size}"
        )
    windows = plan_windows(n_frames, spec, prediction)
    batches = max(
        1, -(-chunk_frames // (_frames_per_window(spec, prediction) * batch_size))
    )  # ceiling division
    per_chunk = batches * batch_size
    accepted: list[list[Window]] = []

    def matches(group: list[Window]) -> bool:
        return _plan_matches(_make_chunk(0, group, not accepted), group, spec, prediction)

    pending: list[Window] = []
    for i in range(0, len(windows), per_chunk):
        pending += windows[i : i + per_chunk]
        if matches(pending):
            accepted.append(pending)
            pending = []
    while pending:  # a tail that fails the check joins its predecessor; the whole clip always matches
        if not accepted:
            accepted.append(pending)
            break
        pending = accepted.pop() + pending
        if matches(pending):
            accepted.append(pending)
            pending = []
    return [_make_chunk(i, group, i == 0) for i, group in enumerate(accepted)]


def chunk_plan(
    n_frames: int, spec: TemporalSpec, config: InferenceConfig, chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> list[Chunk]:
    """``plan_chunks`` with the batch size and prediction mode of ``config``."""
    return plan_chunks(n_frames, spec, chunk_frames, config.batch_size, config.prediction)


class FrameRange:
    """Frames ``start .. stop - 1`` of another source, seen as a source of their own (no copy)."""

    def __init__(self, source: FrameSource, start: int, stop: int) -> None:
        start, stop = check_range(source, start, stop)
        if stop <= start:
            raise ConfigError("chunking", f"empty frame range {start}..{stop} of {source.name}")
        self._source = source
        self._start = start
        self._stop = stop
        self.name = f"{source.name}[{start}:{stop}]"
        self.path: Path | None = source.path
        self.is_sequence = source.is_sequence

    def __len__(self) -> int:
        return self._stop - self._start

    @property
    def fps(self) -> float:
        return self._source.fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._source.frame_size

    @property
    def channels(self) -> int:
        return self._source.channels

    def frame(self, index: int) -> np.ndarray:
        return self._source.frame(self._start + check_index(self, index))

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, start, stop)
        return self._source.read(self._start + start, self._start + stop)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self.frame(index)


def score_chunk(
    model: AnomalyModel,
    source: FrameSource,
    chunk: Chunk,
    config: InferenceConfig | None = None,
    preprocess: Preprocess | None = None,
) -> ChunkScores:
    """Score ``chunk`` of ``source`` (the whole clip) and keep the frames it contributes."""
    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import score_source

    config = config or InferenceConfig()
    view = FrameRange(source, chunk.read_start, chunk.read_stop)
    errors = np.zeros(len(view), np.float32)
    maps: np.ndarray | None = None
    for part in score_source(model, view, config, preprocess):
        errors[part.start : part.stop] = part.errors
        if part.maps is not None:
            if maps is None:
                maps = np.zeros((len(view), *part.maps.shape[1:]), np.float16)
            maps[part.start : part.stop] = part.maps
    keep = slice(chunk.context, chunk.context + chunk.frames)
    return ChunkScores(chunk, errors[keep].copy(), None if maps is None else maps[keep].copy())


def stitch(n_frames: int, parts: Sequence[ChunkScores]) -> tuple[np.ndarray, np.ndarray | None]:
    """Errors ``(n_frames,)`` and maps ``(n_frames, h, w)`` (or None) from the parts of one clip, any order.

    Raises:
        ConfigError: the parts do not cover every frame exactly once.
    """
    errors = np.zeros(n_frames, np.float32)
    covered = np.zeros(n_frames, np.int32)
    with_maps = [p for p in parts if p.maps is not None]
    maps = np.zeros((n_frames, *with_maps[0].maps.shape[1:]), np.float16) if with_maps else None
    for part in parts:
        chunk = part.chunk
        if len(part.errors) != chunk.frames:
            raise ConfigError(
                "stitching", f"chunk {chunk.index} holds {len(part.errors)} scores for {chunk.frames} frames"
            )
        errors[chunk.score_start : chunk.score_stop] = part.errors
        covered[chunk.score_start : chunk.score_stop] += 1
        if maps is not None:
            if part.maps is None:
                raise ConfigError("stitching", f"chunk {chunk.index} has no error maps, the others do")
            maps[chunk.score_start : chunk.score_stop] = part.maps
    if not np.all(covered == 1):
        bad = int(np.flatnonzero(covered != 1)[0])
        raise ConfigError("stitching", f"frame {bad} is scored {int(covered[bad])} times, expected once")
    return errors, maps


__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "Chunk",
    "ChunkScores",
    "FrameRange",
    "chunk_plan",
    "plan_chunks",
    "score_chunk",
    "stitch",
]
