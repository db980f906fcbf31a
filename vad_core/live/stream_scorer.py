"""Scoring frames as they arrive, with only the frames before them: per-frame errors of a live stream.

:class:`StreamScorer` keeps the little context a model needs and scores each batch of new frames
through the same scoring loop as recorded footage (:func:`vad_core.inference.scoring_loop.score_source`
on a short in-memory source), so a frame's error is the one ``vad score`` gives it:

* frame models score every frame alone;
* predictors score frame ``t`` from the ``S`` frames before it (one-step-ahead); the first ``S``
  frames of a stream, or after a break in it (a gap, dropped frames), cannot be predicted and get
  no error (NaN);
* clip models score non-overlapping clips of ``T`` frames once the clip is complete.

A frame's error never depends on frames after it (except within a clip model's own clip).

Example::

    scorer = StreamScorer(checkpoint.model, InferenceConfig(batch_size=16), checkpoint.preprocess)
    for scored in scorer.score(new_frames):
        print(scored.frame.index, scored.error)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_source
from vad_core.models.base import AnomalyModel
from vad_core.sources.base import ArraySource
from vad_core.sources.live import LiveFrame
from vad_core.sources.preprocess import Preprocess


@dataclass
class ScoredFrame:
    """One frame's per-frame error (NaN when it could not be scored), side series and error map."""

    frame: LiveFrame
    error: float
    side: dict[str, float] = field(default_factory=dict)
    error_map: np.ndarray | None = None  # (h, w) float16 at model size, when maps are kept


class StreamScorer:
    """Per-frame errors of consecutive live frames (see the module docstring)."""

    def __init__(
        self,
        model: AnomalyModel,
        inference: InferenceConfig | None = None,
        preprocess: Preprocess | None = None,
    ) -> None:
        self.model = model
        self.inference = replace(inference or InferenceConfig(), prediction="next")
        self.preprocess = preprocess
        spec = model.spec
        self.mode = spec.mode
        self.context = spec.input_frames if spec.mode == "predict" else 0
        self.clip_length = spec.input_frames if spec.mode == "clip" else 1
        self._history: list[LiveFrame] = []  # predictors: the last S frames; clip models: the open clip
        self._last_index: int | None = None

    def reset(self) -> list[ScoredFrame]:
        """Forget the context (after a gap); a clip model's unfinished clip is returned unscored."""
        unscored = [ScoredFrame(f, float("nan")) for f in self._history] if self.mode == "clip" else []
        self._history = []
        self._last_index = None
        return unscored

    def score(self, frames: list[LiveFrame]) -> list[ScoredFrame]:
        """Errors of the frames that can be scored now, in order (frames after a jump in the
        stream index start a new context)."""
        out: list[ScoredFrame] = []
        run: list[LiveFrame] = []
        for frame in frames:
            if self._last_index is not None and frame.index != self._last_index + 1:
                out.extend(self._score_run(run))
                run = []
                out.extend(self.reset())
            run.append(frame)
            self._last_index = frame.index
        out.extend(self._score_run(run))
        return out

    def _score_run(self, run: list[LiveFrame]) -> list[ScoredFrame]:
        if not run:
            return []
        if self.mode == "clip":
            return self._score_clips(run)
        window = self._history + run
        known = len(self._history)
        new_start = max(known, self.context)  # frames with fewer than S frames before them: no error
        out = [ScoredFrame(f, float("nan")) for f in window[known:new_start]]
        if new_start < len(window):
            first = new_start - self.context
            out.extend(self._errors(window[first:], skip=self.context))
        self._history = window[-self.context :] if self.context else []
        return out

    def _score_clips(self, run: list[LiveFrame]) -> list[ScoredFrame]:
        pending = self._history + run
        complete = len(pending) // self.clip_length * self.clip_length
        self._history = pending[complete:]
        return self._errors(pending[:complete], skip=0) if complete else []

    def _errors(self, frames: list[LiveFrame], skip: int) -> list[ScoredFrame]:
        """Score ``frames`` (the first ``skip`` only as context) through the scoring loop."""
        stack = np.stack([f.image for f in frames])
        source = ArraySource(stack, name="live")
        errors = np.empty(len(frames), np.float32)
        maps = None
        side: dict[str, np.ndarray] = {}
        for chunk in score_source(self.model, source, self.inference, self.preprocess):
            errors[chunk.start : chunk.stop] = chunk.errors
            if chunk.maps is not None:
                if maps is None:
                    maps = np.zeros((len(frames), *chunk.maps.shape[1:]), np.float16)
                maps[chunk.start : chunk.stop] = chunk.maps
            for name, values in chunk.side.items():
                side.setdefault(name, np.zeros(len(frames), np.float32))[chunk.start : chunk.stop] = values
        return [
            ScoredFrame(
                frames[i],
                float(errors[i]),
                {name: float(values[i]) for name, values in side.items()},
                None if maps is None else maps[i],
            )
            for i in range(skip, len(frames))
        ]
