"""Events: half-open intervals where the score is >= the threshold, merged, then filtered."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.errors import ConfigError
from vad_core.scoring import Event, events_to_mask, find_events, next_event, previous_event


def spans(events: list[Event]) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in events]


def test_runs_separated_by_at_most_merge_gap_frames_are_merged() -> None:
    scores = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1], dtype=float)
    assert spans(find_events(scores, 0.5)) == [(1, 3), (5, 7), (10, 11)]
    assert spans(find_events(scores, 0.5, merge_gap=2)) == [(1, 7), (10, 11)]  # gap 2 merges, gap 3 not
    assert spans(find_events(scores, 0.5, merge_gap=3)) == [(1, 11)]


def test_min_duration_is_applied_after_merging() -> None:
    flicker = np.array([1, 0, 1, 0, 1, 0, 0, 0, 1], dtype=float)
    assert find_events(flicker, 0.5, min_duration=5, merge_gap=0) == []
    assert spans(find_events(flicker, 0.5, min_duration=5, merge_gap=1)) == [(0, 5)]


def test_short_events_are_dropped() -> None:
    scores = np.array([1, 1, 0, 1, 1, 1, 1, 0], dtype=float)
    assert spans(find_events(scores, 0.5, min_duration=3)) == [(3, 7)]


def test_peak_is_the_first_frame_of_the_highest_score() -> None:
    scores = np.array([0.0, 0.6, 0.9, 0.7, 0.9, 0.6, 0.0])
    (event,) = find_events(scores, 0.5)
    assert event == Event(start=1, end=6, peak_frame=2, peak_score=0.9)


def test_event_touching_the_end_of_the_series_ends_at_its_length() -> None:
    scores = np.array([0.0, 0.1, 0.7, 0.95])
    assert find_events(scores, 0.5) == [Event(2, 4, 3, 0.95)]
    assert find_events(np.ones(5), 0.5) == [Event(0, 5, 0, 1.0)]


def test_a_score_equal_to_the_threshold_is_above_it() -> None:
    assert find_events(np.array([0.2, 0.5, 0.2]), 0.5) == [Event(1, 2, 1, 0.5)]
    assert find_events(np.array([0.2, 0.4999, 0.2]), 0.5) == []


def test_nan_scores_are_below_any_threshold() -> None:
    scores = np.array([0.9, np.nan, 0.8, np.nan, np.nan])
    assert spans(find_events(scores, 0.5)) == [(0, 1), (2, 3)]
    (merged,) = find_events(scores, 0.5, merge_gap=1)
    assert (merged.start, merged.end, merged.peak_frame, merged.peak_score) == (0, 3, 0, 0.9)


def test_empty_scores_give_no_events() -> None:
    assert find_events(np.array([]), 0.5) == []


@pytest.mark.parametrize(
    "kwargs",
    [{"min_duration": 0}, {"merge_gap": -1}, {"threshold": float("nan")}, {"scores": np.zeros((2, 2))}],
)
def test_bad_arguments_are_config_errors(kwargs: dict) -> None:
    arguments = {"scores": np.zeros(4), "threshold": 0.5, **kwargs}
    with pytest.raises(ConfigError):
        find_events(**arguments)


def test_event_duration_and_seconds_use_the_half_open_interval() -> None:
    event = Event(start=50, end=75, peak_frame=60, peak_score=0.8)
    assert event.duration == 25
    assert event.seconds(25.0) == (2.0, 3.0)
    assert event.duration_seconds(25.0) == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        event.seconds(0.0)


@pytest.mark.parametrize(("start", "end", "peak"), [(5, 5, 5), (-1, 3, 0), (0, 3, 3)])
def test_inconsistent_events_are_refused(start: int, end: int, peak: int) -> None:
    with pytest.raises(ConfigError):
        Event(start, end, peak, 1.0)


def test_events_to_mask_marks_event_frames_and_cuts_at_the_length() -> None:
    mask = events_to_mask([Event(1, 3, 1, 1.0), Event(5, 9, 6, 1.0)], 7)
    np.testing.assert_array_equal(mask, [0, 1, 1, 0, 0, 1, 1])
    assert events_to_mask([], 3).tolist() == [False] * 3


def test_next_and_previous_event_jump_by_start_frame() -> None:
    events = [Event(10, 20, 12, 1.0), Event(40, 45, 41, 1.0), Event(70, 90, 80, 1.0)]
    assert next_event(events, 0) == events[0]
    assert next_event(events, 10) == events[1]  # strictly after the playhead
    assert next_event(events, 15) == events[1]
    assert next_event(events, 70) is None
    assert previous_event(events, 100) == events[2]
    assert previous_event(events, 75) == events[2]  # inside an event: back to its start
    assert previous_event(events, 70) == events[1]
    assert previous_event(events, 10) is None
    assert next_event([], 0) is None and previous_event([], 0) is None
    assert next_event(list(reversed(events)), 15) == events[1]  # order of the list does not matter


@settings(max_examples=150, deadline=None)
@given(
    scores=st.lists(st.floats(0.0, 1.0, allow_nan=False), max_size=60),
    threshold=st.floats(0.0, 1.0),
    min_duration=st.integers(1, 5),
    merge_gap=st.integers(0, 4),
)
def test_events_are_sorted_disjoint_and_faithful_to_the_scores(
    scores: list[float], threshold: float, min_duration: int, merge_gap: int
) -> None:
    values = np.asarray(scores, dtype=float)
    events = find_events(values, threshold, min_duration, merge_gap)
    for before, after in zip(events, events[1:], strict=False):
        assert after.start - before.end > merge_gap  # sorted, disjoint, not mergeable
    for event in events:
        assert 0 <= event.start < event.end <= len(values)
        assert event.duration >= min_duration
        inside = values[event.start : event.end]
        assert inside[0] >= threshold and inside[-1] >= threshold  # starts and ends above
        below = np.concatenate(([False], inside < threshold, [False])).astype(int)
        gap_lengths = np.flatnonzero(np.diff(below) == -1) - np.flatnonzero(np.diff(below) == 1)
        assert np.all(gap_lengths <= merge_gap)  # below-threshold stretches inside are merged gaps
        assert event.peak_score == inside.max() == values[event.peak_frame]
        assert event.peak_frame == event.start + int(np.argmax(inside))
    if min_duration == 1:
        # nothing is dropped, so every frame at or above the threshold lies in an event
        covered = events_to_mask(events, len(values))
        assert np.all(covered[values >= threshold])
