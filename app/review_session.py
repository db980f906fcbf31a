"""The review window's state without widgets: source, checkpoint, scores, events, marks.

``ReviewSession`` holds what the operator is looking at and what has been computed about it. It
never imports Qt and never re-implements scoring: regularity, smoothing and events come from
``vad_core.scoring``.

The score kind is the checkpoint's recommendation (``Checkpoint.scoring["score"]``: ``error``,
``psnr`` or ``mnad`` with its ``mnad_weight``), as ``vad score`` and ``vad eval`` use it; ``mnad``
reads the ``memory_distance`` side series the scoring job stores beside the errors.

While a scoring job streams chunks, only frames ``[0, scored)`` have errors. The per-video min-max
normalisation of s(t) needs the whole video, so until the job finishes the live curve is the raw
regularity (of the score kind) of the frames so far, normalised by their running min / max (``live_regularity``); it is
provisional and may shift as new extremes arrive. When the job finishes, ``finish()`` computes the
final ``AnomalyScores`` (s(t), Savitzky-Golay smoothed s(t), anomaly score) and the events.

The heatmap normalises error maps by one robust maximum per video (``map_scale``: the 99th
percentile of a sample of all map pixels), so a colour means the same error on every frame.

Example::

    session = ReviewSession()
    session.open_source(ArraySource(frames), "demo", ground_truth=labels)
    session.begin_scoring()
    for update in score_job(model, session.source, session.inference): session.add_update(update)
    session.finish()
    session.events           # [Event(start, end, peak_frame, peak_score), ...]
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.jobs.review import ScoreBuffers, ScoreUpdate
from vad_core.checkpoint import Checkpoint
from vad_core.errors import ConfigError
from vad_core.inference.config import InferenceConfig
from vad_core.scoring import (
    AnomalyScores,
    Event,
    ScoringConfig,
    anomaly_scores,
    find_events,
    next_event,
    previous_event,
    regularity,
)
from vad_core.scoring.score_kinds import DEFAULT_MNAD_WEIGHT, MEMORY_DISTANCE, per_video_anomaly
from vad_core.scoring.vocabulary import frame_verdict
from vad_core.sources.base import FrameSource
from vad_core.sources.preprocess import resize_map

if TYPE_CHECKING:
    from app.jobs.fused import OpenFused
    from vad_core.evaluation.fit import FitReport

#: How a training selection is made from the current clip (see ``ReviewSession.training_ranges``).
TRAIN_SELECTIONS = ("marked", "unflagged", "all")


def mask_intervals(mask: np.ndarray | None) -> list[tuple[int, int]]:
    """Runs of True in a per-frame boolean mask as half-open ``(start, end)`` frame intervals."""
    if mask is None or not np.any(mask):
        return []
    events = find_events(np.asarray(mask, np.float64), threshold=0.5, min_duration=1, merge_gap=0)
    return [(event.start, event.end) for event in events]


def robust_max(maps: np.ndarray, percentile: float = 99.0, sample: int = 250_000) -> float:
    """The ``percentile``-th percentile of (a strided sample of) all map pixels; > 0."""
    if maps.size == 0:
        return 1.0
    step = max(1, int(np.ceil(maps.size / sample)))
    values = np.asarray(maps.reshape(-1)[::step], np.float32)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0
    scale = float(np.percentile(values, percentile))
    if scale <= 0:
        scale = float(values.max())
    return scale if scale > 0 else 1.0


class ReviewSession:
    """What is open (source, ground truth, checkpoint) and what is known about it (scores, events)."""

    def __init__(
        self, scoring: ScoringConfig | None = None, inference: InferenceConfig | None = None
    ) -> None:
        self.scoring = scoring or ScoringConfig()
        self.inference = inference or InferenceConfig()
        self.source: FrameSource | None = None
        self.source_name = ""
        self.source_path: Path | None = None
        self.ground_truth: np.ndarray | None = None
        self.categories: np.ndarray | None = None
        self.checkpoint: Checkpoint | None = None
        #: A fused model (``app.jobs.fused.OpenFused``) in use instead of a checkpoint, or None.
        self.fused: OpenFused | None = None
        self.normal_ranges: list[tuple[int, int]] = []
        #: Bumped whenever the source or checkpoint changes: results of older jobs are stale.
        self.generation = 0
        self._clear_scores()

    # -- what is open ------------------------------------------------------------------------------
    def open_source(
        self,
        source: FrameSource,
        name: str | None = None,
        ground_truth: np.ndarray | None = None,
        categories: np.ndarray | None = None,
    ) -> None:
        """Make ``source`` current; scores and marks of the previous source are dropped."""
        if ground_truth is not None:
            ground_truth = np.asarray(ground_truth, bool)
            if len(ground_truth) != len(source):
                ground_truth = None  # labels that do not fit are no labels
        self.source = source
        self.source_name = name or getattr(source, "name", "video")
        path = getattr(source, "path", None)
        self.source_path = Path(path) if path is not None else None
        self.ground_truth = ground_truth
        self.categories = categories if ground_truth is not None else None
        self.normal_ranges = []
        self.generation += 1
        self._clear_scores()

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Make ``checkpoint`` current with its recommended scoring (error, reduction, patch, score
        kind and MNAD weight, as ``vad score`` uses them); scores of the previous model are dropped."""
        self.checkpoint = checkpoint
        self.fused = None
        if checkpoint is not None:
            defaults = checkpoint.scoring
            self.inference = replace(
                self.inference,
                error=str(defaults.get("error", self.inference.error)),
                reduction=str(defaults.get("reduction", self.inference.reduction)),
                patch=int(defaults.get("patch", self.inference.patch)),
            )
            self.scoring = replace(
                self.scoring,
                score=str(defaults.get("score", "error")),
                mnad_weight=float(defaults.get("mnad_weight", DEFAULT_MNAD_WEIGHT)),
            )
        self.generation += 1
        self._clear_scores()

    def set_fused(self, fused: OpenFused) -> None:
        """Use a fused model instead of a checkpoint: its series is scored with the ``error`` kind
        (as ``vad score --model FUSED.json``); scores of the previous model are dropped."""
        self.checkpoint = None
        self.fused = fused
        self.scoring = replace(self.scoring, score="error")
        self.generation += 1
        self._clear_scores()

    @property
    def side_needed(self) -> tuple[str, ...]:
        """Side series the score kind needs from the scoring job (``mnad``: the memory distance)."""
        return (MEMORY_DISTANCE,) if self.scoring.score == "mnad" else ()

    def set_inference(self, inference: InferenceConfig) -> None:
        """Device / batch size changes keep the scores; settings that change numbers drop them."""
        changes_numbers = (inference.error, inference.reduction, inference.patch) != (
            self.inference.error,
            self.inference.reduction,
            self.inference.patch,
        )
        self.inference = inference
        if changes_numbers:
            self.generation += 1
            self._clear_scores()

    @property
    def frame_count(self) -> int:
        return len(self.source) if self.source is not None else 0

    @property
    def fps(self) -> float:
        return float(self.source.fps) if self.source is not None else 25.0

    @property
    def can_score(self) -> bool:
        return self.source is not None and (self.checkpoint is not None or self.fused is not None)

    # -- scores ------------------------------------------------------------------------------------
    def _clear_scores(self) -> None:
        self.buffers: ScoreBuffers | None = None
        self.scored = 0
        self.complete = False
        self.from_cache = False
        self.scores: AnomalyScores | None = None
        self.events: list[Event] = []
        self.map_scale = 1.0
        #: Why final scores could not be computed (None when they could).
        self.problem: str | None = None

    def clear_scores(self) -> None:
        self._clear_scores()

    def begin_scoring(self) -> int:
        """Forget old scores before a new job; returns the generation the job belongs to."""
        self._clear_scores()
        return self.generation

    def add_update(self, update: ScoreUpdate) -> None:
        """Take frames ``[0, update.stop)`` as scored (chunks arrive in frame order)."""
        self.buffers = update.buffers
        self.scored = max(self.scored, update.stop)
        self.from_cache = update.cached
        if update.buffers.maps is not None and self.map_scale == 1.0:
            self.map_scale = robust_max(update.buffers.maps[update.start : update.stop])

    def load_scores(
        self,
        errors: np.ndarray,
        maps: np.ndarray | None = None,
        side: dict[str, np.ndarray] | None = None,
        recorded: dict | None = None,
    ) -> None:
        """Take precomputed per-frame errors (maps, side series) of the whole source as finished scores.

        For a scores file written by ``vad score`` / ``vad batch score``: nothing is recomputed,
        s(t), smoothing and events follow from ``errors`` with the current scoring settings and the
        score kind the file was written with (``recorded``: its ``meta["scoring"]``).
        Raises ``ConfigError`` when the arrays do not have one entry per frame.
        """
        errors = np.asarray(errors, np.float32)
        if len(errors) != self.frame_count:
            raise ConfigError(
                self.source_name or "scores",
                f"scores have {len(errors)} frames, the video has {self.frame_count}",
            )
        if maps is not None and len(maps) != len(errors):
            maps = None  # maps that do not fit are no maps; the curve is still right
        side = {name: values for name, values in (side or {}).items() if len(values) == len(errors)}
        if recorded and "score" in recorded:
            weight = float(recorded.get("mnad_weight", DEFAULT_MNAD_WEIGHT))
            self.scoring = replace(self.scoring, score=str(recorded["score"]), mnad_weight=weight)
        self._clear_scores()
        buffers = ScoreBuffers(errors, maps, side)
        self.add_update(ScoreUpdate(0, len(errors), len(errors), buffers, cached=True))
        self.finish()

    def finish(self) -> None:
        """All frames are scored: compute the final scores, events and heatmap scale."""
        if self.buffers is None or self.scored < self.frame_count:
            return
        self.complete = True
        if self.buffers.maps is not None:
            self.map_scale = robust_max(self.buffers.maps)
        self._rescore()

    def _rescore(self) -> None:
        if not self.complete or self.buffers is None:
            return
        try:
            self.scores = anomaly_scores(self.buffers.errors, self.scoring, self.buffers.side)
        except ConfigError as error:  # a diverged model's NaN errors; "mnad" without a distance
            self.scores, self.events = None, []
            self.problem = str(error)
            return
        self.problem = None
        self.events = self.scores.events(self.scoring)

    def set_scoring(self, scoring: ScoringConfig) -> None:
        """New threshold / smoothing / event rules: events are recomputed from the same errors."""
        self.scoring = scoring
        self._rescore()

    def set_threshold(self, threshold: float) -> None:
        self.set_scoring(replace(self.scoring, threshold=float(min(1.0, max(0.0, threshold)))))

    def fit_report(self) -> FitReport | None:
        """Whether the checkpoint fits this footage (:mod:`vad_core.evaluation.fit`), once scored;
        with ground truth of both classes, a near-chance AUROC counts too. None before that."""
        if not self.complete or self.checkpoint is None or self.source is None or self.scores is None:
            return None
        from vad_core.evaluation.fit import check_fit

        auroc = None
        truth = self.ground_truth
        if truth is not None and truth.any() and not truth.all():
            from vad_core.metrics import frame_metrics

            auroc = frame_metrics(self.scores.score, truth).auroc
        inference = self.inference
        return check_fit(
            self.checkpoint.metadata,
            self.checkpoint.display_name,
            self.errors,
            self.source.frame_size,
            self.source.channels,
            inference.error,
            inference.reduction,
            inference.patch,
            auroc,
        )

    def frame_verdict(self, index: int) -> str:
        """Whether frame ``index`` is flagged, by the rule of every view (``vocabulary.frame_verdict``)."""
        score = self.scores.score if self.scores is not None else None
        return frame_verdict(index, score, self.events, self.scoring.threshold)

    @property
    def errors(self) -> np.ndarray | None:
        """Per-frame errors e(t) of the frames scored so far."""
        return None if self.buffers is None else self.buffers.errors[: self.scored]

    @property
    def maps(self) -> np.ndarray | None:
        return None if self.buffers is None else self.buffers.maps

    def live_regularity(self) -> np.ndarray:
        """s(t) of the frames scored so far, min-max normalised over those frames (provisional)."""
        errors = self.errors
        if errors is None or len(errors) == 0:
            return np.zeros(0)
        side = {}
        if self.buffers is not None and self.scoring.score == "mnad":
            side = {name: values[: self.scored] for name, values in self.buffers.side.items()}
        finite = np.isfinite(errors)
        for values in side.values():
            finite &= np.isfinite(values)
        live = np.full(len(errors), np.nan)  # non-finite errors stay gaps in the curve
        if finite.any():
            live[finite] = self._regularity(errors[finite], {k: v[finite] for k, v in side.items()})
        return live

    def _regularity(self, errors: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        """Unsmoothed s(t) of ``errors`` for the score kind; ``error`` when the kind cannot be made."""
        if self.scoring.score == "error":
            return regularity(errors)
        try:
            return 1.0 - per_video_anomaly(errors, self.scoring.score, side, self.scoring.mnad_weight)
        except ConfigError:  # "mnad" before a memory distance arrived: finish() names the problem
            return regularity(errors)

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frames, raw s(t), shown s(t))``: final smoothed s(t) when complete, else the live raw one."""
        if self.scores is not None:
            x = np.arange(len(self.scores.regularity))
            return x, self.scores.regularity, self.scores.smoothed_regularity
        live = self.live_regularity()
        x = np.arange(len(live))
        return x, live, live

    @property
    def regularity_threshold(self) -> float:
        """The threshold on the smoothed s(t): events are where s(t) <= 1 - anomaly threshold."""
        return 1.0 - self.scoring.threshold

    # -- per-frame views ---------------------------------------------------------------------------
    def error_map(self, index: int) -> np.ndarray | None:
        """Frame ``index``'s error map at model resolution divided by ``map_scale`` (float32)."""
        maps = self.maps
        if maps is None or not 0 <= index < self.scored:
            return None
        return maps[index].astype(np.float32) * (1.0 / self.map_scale)

    def overlay(self, index: int) -> np.ndarray | None:
        """``error_map(index)`` resized to the frame size (for the colour overlay)."""
        error = self.error_map(index)
        if error is None or self.source is None:
            return None
        return resize_map(error, self.source.frame_size)

    def frame_score(self, index: int) -> float | None:
        """Anomaly score of frame ``index`` (final scores only)."""
        if self.scores is None or not 0 <= index < len(self.scores.score):
            return None
        return float(self.scores.score[index])

    # -- events ------------------------------------------------------------------------------------
    def event_at(self, frame: int) -> int | None:
        """Index in ``events`` of the event holding ``frame``, or None."""
        for i, event in enumerate(self.events):
            if event.start <= frame < event.end:
                return i
        return None

    def next_event(self, frame: int) -> Event | None:
        return next_event(self.events, frame)

    def previous_event(self, frame: int) -> Event | None:
        return previous_event(self.events, frame)

    def ground_truth_intervals(self) -> list[tuple[int, int]]:
        return mask_intervals(self.ground_truth)

    # -- frames marked as normal (training selection) ----------------------------------------------
    def mark_normal(self, start: int, end: int) -> None:
        """Add ``[start, end)`` to the frames marked normal; overlapping marks are merged."""
        start, end = sorted((int(start), int(end)))
        start, end = max(0, start), min(self.frame_count, end)
        if end <= start:
            return
        mask = self._normal_mask()
        mask[start:end] = True
        self.normal_ranges = mask_intervals(mask)

    def clear_normal(self) -> None:
        self.normal_ranges = []

    def _normal_mask(self) -> np.ndarray:
        mask = np.zeros(self.frame_count, bool)
        for start, end in self.normal_ranges:
            mask[start:end] = True
        return mask

    def training_ranges(self, selection: str) -> list[tuple[int, int]]:
        """Frame intervals to train on: ``marked`` normal, ``unflagged`` (outside events) or ``all``."""
        if selection == "marked":
            return list(self.normal_ranges)
        if selection == "unflagged":
            mask = np.ones(self.frame_count, bool)
            for event in self.events:
                mask[event.start : event.end] = False
            return mask_intervals(mask)
        return [(0, self.frame_count)] if self.frame_count else []
