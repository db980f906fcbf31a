"""Causal scores: errors placed against stored quantiles of held-out normal errors, frame by frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.errors import ConfigError
from vad_core.scoring.causal import ErrorQuantiles, causal_scores, error_quantiles


@pytest.fixture
def record() -> ErrorQuantiles:
    rng = np.random.default_rng(0)
    return error_quantiles(rng.gamma(4.0, 0.001, size=2000), error="mse", reduction="mean")


def test_record_says_how_many_errors_and_which_error_made_it() -> None:
    made = error_quantiles(
        np.arange(101.0), error="ssim", reduction="patch_max", patch=8, levels=(0.0, 0.5, 1.0)
    )
    assert made.values == (0.0, 50.0, 100.0) and made.count == 101
    assert (made.error, made.reduction, made.patch) == ("ssim", "patch_max", 8)


def test_appending_frames_never_changes_earlier_scores(record: ErrorQuantiles) -> None:
    rng = np.random.default_rng(1)
    errors = rng.gamma(4.0, 0.001, size=300)
    first = causal_scores(errors[:100], record)
    longer = causal_scores(np.concatenate([errors, [10.0, 0.0]]), record)
    np.testing.assert_array_equal(longer[:100], first)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=60))
def test_scores_never_fall_as_the_error_rises(values) -> None:
    record = error_quantiles(np.array([0.1, 0.2, 0.2, 0.3, 0.5]))
    errors = np.sort(np.asarray(values))
    assert np.all(np.diff(causal_scores(errors, record)) >= 0)


def test_normal_range_maps_into_unit_interval_and_larger_errors_keep_ranking(record: ErrorQuantiles) -> None:
    lowest, highest = record.values[0], record.values[-1]
    inside = causal_scores(np.linspace(lowest, highest, 50), record)
    assert inside.min() == 0.0 and inside.max() == 1.0
    median = causal_scores(np.array([np.interp(0.5, record.levels, record.values)]), record)[0]
    assert median == pytest.approx(0.5)
    beyond = causal_scores(np.array([highest + record.spread, highest + 3 * record.spread]), record)
    np.testing.assert_allclose(beyond, [2.0, 4.0])
    assert causal_scores(np.array([lowest / 2]), record)[0] == 0.0


def test_ties_in_the_normal_errors_take_the_highest_level() -> None:
    record = error_quantiles(np.array([1.0, 1.0, 1.0, 2.0]), levels=(0.0, 0.25, 0.5, 0.75, 1.0))
    assert causal_scores(np.array([1.0]), record)[0] == 0.5  # P(E <= 1) at the stored levels


def test_record_round_trips_through_json(record: ErrorQuantiles) -> None:
    again = ErrorQuantiles.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record
    errors = np.array([0.001, 0.004, 0.05])
    np.testing.assert_array_equal(causal_scores(errors, again), causal_scores(errors, record))


def test_bad_records_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="not an error quantiles record"):
        ErrorQuantiles.from_dict({"levels": [0, 1]})
    with pytest.raises(ConfigError, match="non-decreasing"):
        ErrorQuantiles((0.0, 1.0), (2.0, 1.0), 5)
    with pytest.raises(ConfigError, match="rise from 0 to 1"):
        ErrorQuantiles((0.1, 1.0), (1.0, 2.0), 5)
    with pytest.raises(ConfigError, match="no errors"):
        error_quantiles(np.array([]))
    with pytest.raises(ConfigError, match="NaN or inf"):
        causal_scores(np.array([np.nan]), ErrorQuantiles((0.0, 1.0), (1.0, 2.0), 5))
