"""Scoring: per-pixel error maps -> per-frame errors e(t) -> regularity s(t) -> events.

Implements thesis eq. 4.1 (seed 003, section 4.9.1) with Savitzky-Golay smoothing over 15 frames,
and turns the anomaly score into events for the review timeline. Metrics live in
:mod:`vad_core.metrics`.

Example::

    maps = error_maps(frames, reconstructions)       # (N, H, W)
    scores = anomaly_scores(reduce_error_maps(maps, "mean"), ScoringConfig())
    events = scores.events(ScoringConfig())
"""

from vad_core.scoring.events import (
    Event,
    events_to_mask,
    find_events,
    frame_range_text,
    next_event,
    previous_event,
)
from vad_core.scoring.frame_error import REDUCTIONS, error_maps, reduce_error_maps
from vad_core.scoring.regularity import AnomalyScores, ScoringConfig, anomaly_scores, regularity, smooth
from vad_core.scoring.score_kinds import SCORES, check_score_inputs

__all__ = [
    "REDUCTIONS",
    "SCORES",
    "AnomalyScores",
    "Event",
    "ScoringConfig",
    "anomaly_scores",
    "check_score_inputs",
    "error_maps",
    "events_to_mask",
    "find_events",
    "frame_range_text",
    "next_event",
    "previous_event",
    "reduce_error_maps",
    "regularity",
    "smooth",
]
