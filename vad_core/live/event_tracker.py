"""Events of a live score, opened and closed as frames arrive, the same events review finds.

Review finds events on a whole series (:func:`vad_core.scoring.events.find_events`: frames at or
above the threshold, runs merged across gaps of at most ``merge_gap`` frames, then events shorter
than ``min_duration`` dropped). Live, :class:`EventTracker` sees one score at a time:

* a *candidate* starts at the first frame at or above the threshold;
* the event *opens* (the alert) once the candidate spans ``min_duration`` frames from its first to
  its last above-threshold frame, because only then can it no longer be dropped as flicker;
* it *closes* once more than ``merge_gap`` frames in a row are below the threshold (or NaN), or when
  the stream breaks (:meth:`flush`); the closed event is what ``find_events`` gives on the
  candidate's scores, so over a whole stream the closed events equal review's events.

Example::

    tracker = EventTracker(threshold=1.0, min_duration=5, merge_gap=5)
    for index, score in enumerate(scores):
        for change in tracker.push(index, score):
            print(change.kind, change.event)        # "opened" / "closed"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vad_core.errors import ConfigError
from vad_core.scoring.events import Event, find_events


@dataclass(frozen=True)
class EventChange:
    """An event opened (so far: ``[start, last above + 1)``) or closed (final)."""

    kind: str  # "opened" or "closed"
    event: Event


class EventTracker:
    """Causal event detection on a score stream (see the module docstring)."""

    def __init__(self, threshold: float, min_duration: int = 5, merge_gap: int = 5) -> None:
        if not math.isfinite(threshold):
            raise ConfigError("events", f"threshold must be a finite number, found {threshold}")
        if min_duration < 1 or merge_gap < 0:
            raise ConfigError(
                "events", f"need min_duration >= 1 and merge_gap >= 0, found {min_duration}, {merge_gap}"
            )
        self.threshold, self.min_duration, self.merge_gap = threshold, min_duration, merge_gap
        self._start: int | None = None  # stream index of the candidate's first frame
        self._scores: list[float] = []  # the candidate's scores from _start on
        self._last_above = -1  # offset into _scores
        self._opened = False

    @property
    def candidate_start(self) -> int | None:
        """First frame of the event that may be forming (None when nothing is above the threshold)."""
        return self._start

    @property
    def is_open(self) -> bool:
        return self._opened

    def push(self, index: int, score: float) -> list[EventChange]:
        """Take frame ``index``'s score (frames in order, one call each); what changed."""
        above = math.isfinite(score) and score >= self.threshold
        if self._start is None:
            if not above:
                return []
            self._start, self._scores, self._last_above = index, [], -1
        self._scores.append(score if math.isfinite(score) else float("nan"))
        offset = index - self._start
        if above:
            self._last_above = offset
            if not self._opened and self._last_above + 1 >= self.min_duration:
                self._opened = True
                return [EventChange("opened", self._event_so_far())]
            return []
        if offset - self._last_above > self.merge_gap:
            return self.flush()
        return []

    def flush(self) -> list[EventChange]:
        """End the candidate now (stream break, end of the run): its event if it is long enough."""
        if self._start is None:
            return []
        scores = np.asarray(self._scores[: self._last_above + 1], np.float64)
        start = self._start
        self._start, self._scores, self._last_above, self._opened = None, [], -1, False
        events = find_events(scores, self.threshold, self.min_duration, self.merge_gap)
        return [
            EventChange("closed", Event(start + e.start, start + e.end, start + e.peak_frame, e.peak_score))
            for e in events
        ]

    def _event_so_far(self) -> Event:
        scores = np.asarray(self._scores[: self._last_above + 1], np.float64)
        peak = int(np.nanargmax(scores))
        start = self._start or 0
        return Event(start, start + self._last_above + 1, start + peak, float(scores[peak]))
