"""Events: intervals of frames where the anomaly score is at or above a threshold.

Conventions, used everywhere an event is drawn, exported or compared:

* frame intervals are half-open, ``[start, end)``: ``end`` is the first frame *after* the event and
  ``duration == end - start`` frames (the same as Python slices and the synthetic dataset's
  intervals);
* people read frame ranges inclusively: every view, table, sidecar and printed line shows an
  interval as ``first-last`` with ``last == end - 1`` (:func:`frame_range_text`); only the engine's
  arrays and the label files' ``end`` keys are exclusive;
* a frame is above the threshold when ``score >= threshold`` (the same rule as
  ``sklearn.metrics.roc_curve`` and :func:`vad_core.metrics.frame_metrics`, so a threshold read off
  the ROC curve gives the same frames here); NaN scores are never above it;
* runs of above-threshold frames separated by at most ``merge_gap`` frames are merged first, and
  only *then* events shorter than ``min_duration`` are dropped, so a flickering detection that
  adds up to a long event survives.

Example::

    events = find_events(scores.score, threshold=0.5, min_duration=5, merge_gap=5)
    for event in events:
        print(event.start, event.end, event.peak_frame, event.seconds(fps=25.0))
    following = next_event(events, frame=playhead)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vad_core.errors import ConfigError


def frame_range_text(start: int, end: int) -> str:
    """The half-open interval ``[start, end)`` as people read it: ``"first-last"`` (inclusive)."""
    return f"{start}-{end - 1}" if end - start > 1 else f"{start}"


@dataclass(frozen=True)
class Event:
    """One anomalous interval ``[start, end)`` and its highest score."""

    start: int
    end: int  # exclusive
    peak_frame: int  # first frame holding the highest score of the interval
    peak_score: float

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ConfigError("event", f"expected 0 <= start < end, found start={self.start}, end={self.end}")
        if not self.start <= self.peak_frame < self.end:
            raise ConfigError(
                "event", f"peak frame {self.peak_frame} lies outside [{self.start}, {self.end})"
            )

    @property
    def duration(self) -> int:
        """Length in frames, ``end - start``."""
        return self.end - self.start

    def seconds(self, fps: float) -> tuple[float, float]:
        """Start and end times in seconds at ``fps`` frames per second (end exclusive, like frames)."""
        if not fps > 0:
            raise ConfigError("event", f"fps must be > 0, found {fps}")
        return self.start / fps, self.end / fps

    def duration_seconds(self, fps: float) -> float:
        """Length in seconds at ``fps`` frames per second."""
        start, end = self.seconds(fps)
        return end - start


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def find_events(
    scores: np.ndarray, threshold: float, min_duration: int = 1, merge_gap: int = 0
) -> list[Event]:
    """Intervals where ``scores >= threshold``, merged across short gaps, without short ones.

    Args:
        scores: ``(T,)`` anomaly score per frame (high = anomalous); NaN counts as below.
        threshold: a frame is above it when ``score >= threshold``.
        min_duration: events shorter than this many frames (after merging) are dropped.
        merge_gap: runs separated by at most this many below-threshold frames become one event,
            which then includes the gap frames.

    Returns:
        Events sorted by start, disjoint, separated by more than ``merge_gap`` frames. Each event
        starts and ends on an above-threshold frame; its peak is the first frame of its highest
        score.

    Raises:
        ConfigError: ``scores`` not 1-D, non-finite threshold, ``min_duration < 1`` or ``merge_gap < 0``.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ConfigError("events", f"expected a 1-D score series, found shape {values.shape}")
    if not np.isfinite(threshold):
        raise ConfigError("events", f"threshold must be a finite number, found {threshold}")
    if min_duration < 1:
        raise ConfigError("events", f"min_duration must be >= 1 frame, found {min_duration}")
    if merge_gap < 0:
        raise ConfigError("events", f"merge_gap must be >= 0 frames, found {merge_gap}")
    with np.errstate(invalid="ignore"):
        above = values >= threshold  # NaN >= x is False
    starts, ends = _runs(above)
    if starts.size == 0:
        return []
    # A gap between run i and run i + 1 spans ends[i] .. starts[i + 1]; keep only the long ones.
    breaks = np.flatnonzero(starts[1:] - ends[:-1] > merge_gap)
    merged_starts = np.concatenate(([starts[0]], starts[breaks + 1]))
    merged_ends = np.concatenate((ends[breaks], [ends[-1]]))
    events = []
    for start, end in zip(merged_starts.tolist(), merged_ends.tolist(), strict=True):
        if end - start < min_duration:
            continue
        peak = start + int(np.nanargmax(values[start:end]))
        events.append(Event(start, end, peak, float(values[peak])))
    return events


def events_to_mask(events: Iterable[Event], length: int) -> np.ndarray:
    """``(length,)`` bool array, True on the frames of ``events`` (parts beyond ``length`` are cut)."""
    if length < 0:
        raise ConfigError("events", f"length must be >= 0, found {length}")
    mask = np.zeros(length, dtype=bool)
    for event in events:
        mask[event.start : min(event.end, length)] = True
    return mask


def next_event(events: Sequence[Event], frame: int) -> Event | None:
    """The first event starting after ``frame`` (strictly), or None: the GUI's "next event"."""
    following = [event for event in events if event.start > frame]
    return min(following, key=lambda event: event.start, default=None)


def previous_event(events: Sequence[Event], frame: int) -> Event | None:
    """The last event starting before ``frame`` (strictly), or None: the GUI's "previous event".

    From inside an event this is the event itself (jump to its start), as in a media player's
    "previous chapter".
    """
    preceding = [event for event in events if event.start < frame]
    return max(preceding, key=lambda event: event.start, default=None)
