"""Operator metrics: event recall over ground-truth intervals and false alarms per hour of footage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.errors import ConfigError
from vad_core.metrics import (
    ClipEvents,
    event_metrics,
    event_metrics_at_gmean,
    label_intervals,
    threshold_for_recall,
)


def clip(
    length: int, truth: list[tuple[int, int]], flagged: list[tuple[int, int]], fps: float = 10.0
) -> ClipEvents:
    """A clip whose score is 1 on the ``flagged`` half-open intervals and 0 elsewhere."""
    labels = np.zeros(length, bool)
    scores = np.zeros(length)
    for start, end in truth:
        labels[start:end] = True
    for start, end in flagged:
        scores[start:end] = 1.0
    return ClipEvents(scores, labels, fps)


def test_two_intervals_one_caught_gives_recall_one_half() -> None:
    metrics = event_metrics([clip(200, [(20, 40), (120, 150)], [(25, 35)])], 0.5, min_duration=1, merge_gap=0)
    assert (metrics.intervals, metrics.caught, metrics.events, metrics.false_alarms) == (2, 1, 1, 0)
    assert metrics.recall == 0.5


def test_a_one_second_false_event_in_one_hour_is_one_false_alarm_per_hour() -> None:
    hour = 3600 * 10  # frames at 10 fps
    metrics = event_metrics([clip(hour, [], [(1000, 1010)])], 0.5, min_duration=5, merge_gap=0)
    assert metrics.hours == pytest.approx(1.0)
    assert metrics.false_alarms == 1 and metrics.false_alarms_per_hour == pytest.approx(1.0)
    assert np.isnan(metrics.recall)  # no ground truth to catch


def test_clips_are_pooled_each_at_its_own_frame_rate() -> None:
    # half an hour at 10 fps and half an hour at 25 fps, one false event in each
    first = clip(1800 * 10, [(100, 200)], [(150, 160), (5000, 5010)], fps=10.0)
    second = clip(1800 * 25, [(0, 50), (900, 950)], [(3000, 3020)], fps=25.0)
    metrics = event_metrics([first, second], 0.5, min_duration=5, merge_gap=0)
    assert metrics.hours == pytest.approx(1.0)
    assert (metrics.intervals, metrics.caught, metrics.false_alarms) == (3, 1, 2)
    assert metrics.false_alarms_per_hour == pytest.approx(2.0)


def test_interval_ends_are_exclusive_so_touching_is_not_overlapping() -> None:
    touching = event_metrics([clip(100, [(20, 40)], [(40, 50)])], 0.5, min_duration=1, merge_gap=0)
    assert (touching.caught, touching.false_alarms) == (0, 1)
    sharing_one_frame = event_metrics([clip(100, [(20, 40)], [(39, 50)])], 0.5, min_duration=1, merge_gap=0)
    assert (sharing_one_frame.caught, sharing_one_frame.false_alarms) == (1, 0)


def test_merge_gap_joins_a_stray_run_to_the_true_event_and_joins_stray_runs_into_one_alarm() -> None:
    # a hit inside the interval [20, 40) and a stray run 4 frames after it; two stray runs far away
    scene = clip(300, [(20, 40)], [(30, 40), (44, 50), (200, 206), (209, 215)])
    apart = event_metrics([scene], 0.5, min_duration=1, merge_gap=0)
    assert (apart.events, apart.caught, apart.false_alarms) == (4, 1, 3)
    merged = event_metrics([scene], 0.5, min_duration=1, merge_gap=4)
    assert (merged.events, merged.caught, merged.false_alarms) == (2, 1, 1)


def test_min_duration_drops_short_false_alarms_and_short_hits() -> None:
    scene = clip(300, [(20, 40)], [(30, 33), (100, 103)])
    assert event_metrics([scene], 0.5, min_duration=1, merge_gap=0).false_alarms == 1
    strict = event_metrics([scene], 0.5, min_duration=5, merge_gap=0)
    assert (strict.events, strict.caught, strict.false_alarms) == (0, 0, 0)


def test_label_intervals_are_half_open_runs() -> None:
    labels = np.array([0, 1, 1, 0, 0, 1, 0, 1], bool)
    assert label_intervals(labels) == [(1, 3), (5, 6), (7, 8)]
    assert label_intervals(np.zeros(4, bool)) == []


def ramp_clips() -> list[ClipEvents]:
    """Four intervals whose peak scores are 0.9, 0.7, 0.5 and 0.3; a false bump of 0.6."""
    scores = np.zeros(400)
    labels = np.zeros(400, bool)
    for start, peak in zip((20, 100, 180, 260), (0.9, 0.7, 0.5, 0.3), strict=True):
        labels[start : start + 20] = True
        scores[start : start + 20] = peak
    scores[340:350] = 0.6
    return [ClipEvents(scores, labels, 10.0)]


def test_threshold_for_recall_is_the_highest_one_reaching_the_target() -> None:
    clips = ramp_clips()
    three_of_four = threshold_for_recall(clips, target=0.75)
    assert three_of_four.threshold == 0.5 and three_of_four.recall == 0.75
    assert three_of_four.false_alarms == 1  # the 0.6 bump is flagged too
    assert threshold_for_recall(clips, target=0.9).threshold == 0.3
    assert threshold_for_recall(clips, target=0.5).threshold == 0.7


def test_threshold_for_recall_is_none_without_ground_truth() -> None:
    assert threshold_for_recall([clip(100, [], [(10, 20)])], target=0.9) is None


def test_metrics_at_the_gmean_threshold_use_the_pooled_frame_threshold() -> None:
    clips = ramp_clips()
    from vad_core.metrics import gmean_threshold

    expected = gmean_threshold(clips[0].scores, clips[0].labels)
    assert event_metrics_at_gmean(clips).threshold == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=30, max_size=80),
    st.lists(st.booleans(), min_size=30, max_size=80),
    st.integers(1, 4),
    st.integers(0, 3),
)
def test_bisection_agrees_with_trying_every_threshold(values, flags, min_duration, merge_gap) -> None:
    length = min(len(values), len(flags))
    scores, labels = np.asarray(values[:length]), np.asarray(flags[:length])
    clips = [ClipEvents(scores, labels, 10.0)]
    found = threshold_for_recall(clips, 0.9, min_duration, merge_gap)
    reaching = [
        t
        for t in np.unique(scores)
        if (m := event_metrics(clips, float(t), min_duration, merge_gap)).intervals and m.recall >= 0.9
    ]
    assert (found is None) == (not reaching)
    if found is not None:
        assert found.threshold == max(reaching)


def test_bad_inputs_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="fps must be > 0"):
        ClipEvents(np.zeros(3), np.zeros(3, bool), 0.0)
    with pytest.raises(ConfigError, match="one length"):
        ClipEvents(np.zeros(3), np.zeros(4, bool), 10.0)
    with pytest.raises(ConfigError, match="target recall"):
        threshold_for_recall(ramp_clips(), target=1.5)
