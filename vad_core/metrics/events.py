"""Operator metrics: how many anomalous incidents the flagged events catch, and how many false alarms per hour.

Frame AUROC ranks frames; an operator acts on *events* (:func:`vad_core.scoring.find_events`:
frames with ``score >= threshold``, runs merged across gaps of at most ``merge_gap`` frames, then
events shorter than ``min_duration`` frames dropped). Ground-truth intervals are the runs of
anomalous frames in the labels. Both use the engine's convention of half-open frame intervals
``[start, end)``, so an event and an interval overlap when ``event.start < end`` and
``start < event.end`` (sharing at least one frame; touching ends do not overlap).

* **event recall**: the share of ground-truth intervals overlapped by at least one event;
* **false alarms per hour**: events that overlap no ground-truth interval, divided by the hours
  of footage (frames / fps / 3600, each clip at its own frame rate).

Both are pooled over clips: intervals caught over intervals, false alarms over hours. Lowering the
threshold only grows events (the flagged frames are a superset, gaps shrink, short events
lengthen), so recall never falls as the threshold falls; :func:`threshold_for_recall` finds the
highest threshold that still reaches a target recall by bisection over the distinct scores.

Example::

    clips = [ClipEvents(score, labels, fps=10.0) for score, labels in scored]
    at_gmean = event_metrics_at_gmean(clips)
    print(at_gmean.recall, at_gmean.false_alarms_per_hour)
    operating = threshold_for_recall(clips, target=0.9)      # highest threshold with recall >= 90 %
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vad_core.errors import ConfigError
from vad_core.metrics.detection import NAN, gmean_threshold
from vad_core.scoring.events import Event, find_events

SECONDS_PER_HOUR = 3600.0
_TOLERANCE = 1e-12  # 7 of 10 intervals reach a target of 0.7, whatever 0.7 * 10 rounds to


@dataclass(frozen=True)
class ClipEvents:
    """One clip's per-frame anomaly scores (high = anomalous), labels (True = anomalous) and frame rate."""

    scores: np.ndarray
    labels: np.ndarray
    fps: float
    name: str = ""

    def __post_init__(self) -> None:
        scores, labels = np.asarray(self.scores, dtype=np.float64), np.asarray(self.labels)
        what = f"clip {self.name}" if self.name else "clip"
        if scores.ndim != 1 or scores.shape != labels.shape:
            raise ConfigError(
                what, f"need 1-D scores and labels of one length, found {scores.shape} and {labels.shape}"
            )
        if not np.all(np.isfinite(scores)):
            raise ConfigError(what, f"{int(np.sum(~np.isfinite(scores)))} scores are NaN or inf")
        if not (isinstance(self.fps, (int, float)) and self.fps > 0 and math.isfinite(self.fps)):
            raise ConfigError(what, f"fps must be > 0, found {self.fps}")
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels.astype(bool))

    @property
    def hours(self) -> float:
        return len(self.scores) / self.fps / SECONDS_PER_HOUR


@dataclass(frozen=True)
class EventMetrics:
    """Event-level detection quality at one threshold, pooled over clips."""

    threshold: float
    intervals: int  # ground-truth anomalous intervals
    caught: int  # of them, overlapped by at least one event
    events: int  # flagged events
    false_alarms: int  # events overlapping no ground-truth interval
    hours: float  # footage, at each clip's frame rate

    @property
    def recall(self) -> float:
        """Share of ground-truth intervals caught; NaN when there are none."""
        return self.caught / self.intervals if self.intervals else NAN

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours > 0 else NAN


def label_intervals(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of anomalous frames as half-open ``[start, end)`` intervals, in order."""
    mask = np.asarray(labels).astype(bool).ravel()
    edges = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def overlaps(event: Event, interval: tuple[int, int]) -> bool:
    """Whether ``event`` and the half-open ``interval`` share at least one frame."""
    start, end = interval
    return event.start < end and start < event.end


def _check_settings(min_duration: int, merge_gap: int) -> None:
    if min_duration < 1 or merge_gap < 0:
        raise ConfigError(
            "event metrics",
            f"need min_duration >= 1 and merge_gap >= 0, found {min_duration} and {merge_gap}",
        )


def event_metrics(
    clips: Sequence[ClipEvents], threshold: float, min_duration: int = 5, merge_gap: int = 5
) -> EventMetrics:
    """Event recall and false alarms at ``threshold``, with the events of ``find_events``.

    ``min_duration`` and ``merge_gap`` are in frames (the defaults are ``ScoringConfig``'s).

    Raises:
        ConfigError: no clips, a non-finite threshold or bad event settings.
    """
    if not clips:
        raise ConfigError("event metrics", "no clips to evaluate")
    if not math.isfinite(threshold):
        raise ConfigError("event metrics", f"threshold must be a finite number, found {threshold}")
    _check_settings(min_duration, merge_gap)
    intervals = caught = events_total = false_alarms = 0
    hours = 0.0
    for clip in clips:
        truth = label_intervals(clip.labels)
        events = find_events(clip.scores, threshold, min_duration, merge_gap)
        intervals += len(truth)
        caught += sum(any(overlaps(event, interval) for event in events) for interval in truth)
        events_total += len(events)
        false_alarms += sum(not any(overlaps(event, interval) for interval in truth) for event in events)
        hours += clip.hours
    return EventMetrics(float(threshold), intervals, caught, events_total, false_alarms, hours)


def event_metrics_at_gmean(
    clips: Sequence[ClipEvents], min_duration: int = 5, merge_gap: int = 5
) -> EventMetrics:
    """:func:`event_metrics` at the pooled frame-level G-mean threshold (thesis eq. 3.21).

    Raises:
        ConfigError: no clips, or only one class among all frames (no G-mean threshold).
    """
    if not clips:
        raise ConfigError("event metrics", "no clips to evaluate")
    scores = np.concatenate([clip.scores for clip in clips])
    labels = np.concatenate([clip.labels for clip in clips])
    threshold = gmean_threshold(scores, labels)
    if not math.isfinite(threshold):
        raise ConfigError("event metrics", "the G-mean threshold needs both normal and anomalous frames")
    return event_metrics(clips, threshold, min_duration, merge_gap)


def threshold_for_recall(
    clips: Sequence[ClipEvents], target: float = 0.9, min_duration: int = 5, merge_gap: int = 5
) -> EventMetrics | None:
    """:func:`event_metrics` at the highest threshold whose event recall is at least ``target``.

    Candidates are the distinct scores (recall changes only there). Returns None when no threshold
    reaches ``target``: there are no ground-truth intervals, or too many of them lie in clips shorter
    than ``min_duration`` frames (where no event can be flagged at all).

    Raises:
        ConfigError: ``target`` outside (0, 1], no clips or bad event settings.
    """
    if not 0.0 < target <= 1.0:
        raise ConfigError("event metrics", f"target recall must be in (0, 1], found {target}")
    if not clips:
        raise ConfigError("event metrics", "no clips to evaluate")
    candidates = np.unique(np.concatenate([clip.scores for clip in clips]))  # ascending
    if candidates.size == 0:
        return None

    def reaches(index: int) -> EventMetrics | None:
        metrics = event_metrics(clips, float(candidates[index]), min_duration, merge_gap)
        return metrics if metrics.intervals and metrics.recall >= target - _TOLERANCE else None

    best = reaches(0)  # the lowest threshold flags every frame: the most any threshold can catch
    if best is None:
        return None
    low, high = 0, candidates.size - 1  # invariant: candidates[low] reaches the target
    while low < high:
        middle = (low + high + 1) // 2
        found = reaches(middle)
        if found is not None:
            low, best = middle, found
        else:
            high = middle - 1
    return best
