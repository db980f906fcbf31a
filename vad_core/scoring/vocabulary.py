"""One vocabulary for scores and thresholds, used by every view (CLI, window, sidecars, sheets).

* The **anomaly score** of a frame is ``1 - smoothed s(t)`` (:mod:`vad_core.scoring.regularity`):
  in [0, 1] per video, high = anomalous. The review window plots the regularity s(t) itself
  (high = normal), so its threshold line sits at ``s(t) = 1 - threshold``.
* The **threshold** always applies to the anomaly score, and one rule decides whether a frame is
  flagged: it lies inside an event (:func:`vad_core.scoring.find_events`: runs of
  ``score >= threshold``, gaps of at most ``merge_gap`` frames merged, events shorter than
  ``min_duration`` frames dropped). :func:`frame_verdict` says which, for one frame.
* Fractions are shown as percent with one decimal (:func:`percent`): AUROC 37.9 %, not 0.379.
* Frame ranges are shown inclusive, ``first-last`` (:func:`vad_core.scoring.frame_range_text`).

Example::

    frame_verdict(31, scores.score, events, threshold=0.5)
    # 'flagged: event 1 (frames 25-60); anomaly score 0.62 >= threshold 0.50'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vad_core.scoring.events import Event, frame_range_text

SCORE_NAME = "anomaly score"
SCORE_MEANING = "anomaly score = 1 - smoothed regularity s(t), 0-1 per video, high = anomalous"


def flag_rule(threshold: float) -> str:
    """The rule in words, e.g. ``"anomaly score >= 0.50"``."""
    return f"{SCORE_NAME} >= {threshold:.2f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as percent, ``0.379 -> "37.9 %"``; ``"n/a"`` for None or NaN."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100.0 * value:.{digits}f} %"


def frame_verdict(index: int, score: np.ndarray | None, events: Sequence[Event], threshold: float) -> str:
    """Whether frame ``index`` is flagged and why, in the words every view uses."""
    if score is None or not 0 <= index < len(score):
        return "not scored"
    value = float(score[index])
    number = next((n for n, e in enumerate(events, 1) if e.start <= index < e.end), None)
    compare = ">=" if value >= threshold else "<"
    numbers = f"{SCORE_NAME} {value:.2f} {compare} threshold {threshold:.2f}"
    if number is not None:
        event = events[number - 1]
        return f"flagged: event {number} (frames {frame_range_text(event.start, event.end)}); {numbers}"
    if value >= threshold:
        return f"not flagged: {numbers}, but too short a run to be an event"
    return f"not flagged: {numbers}"
