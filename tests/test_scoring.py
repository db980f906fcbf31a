"""Error maps, their reduction to e(t), regularity s(t) (thesis eq. 4.1) and smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.errors import ConfigError
from vad_core.scoring import (
    AnomalyScores,
    ScoringConfig,
    anomaly_scores,
    error_maps,
    reduce_error_maps,
    regularity,
    smooth,
)

# --- error maps -------------------------------------------------------------------------------


def test_error_maps_average_squared_error_over_channels() -> None:
    inputs = np.zeros((2, 3, 4, 5), dtype=np.float32)
    outputs = np.zeros_like(inputs)
    outputs[0, 0] = 1.0  # one channel off by 1 -> (1 + 0 + 0) / 3
    outputs[1] = 2.0  # every channel off by 2 -> 4
    maps = error_maps(inputs, outputs)
    assert maps.shape == (2, 4, 5)
    assert maps.dtype == np.float32
    np.testing.assert_allclose(maps[0], 1.0 / 3.0, rtol=1e-6)
    np.testing.assert_allclose(maps[1], 4.0)


def test_error_maps_reads_three_dimensional_arrays_as_one_channel() -> None:
    maps = error_maps(np.full((1, 2, 2), 3, dtype=np.uint8), np.ones((1, 2, 2), dtype=np.uint8))
    np.testing.assert_allclose(maps, 4.0)  # no uint8 wrap-around


def test_error_maps_with_different_shapes_name_both() -> None:
    with pytest.raises(ConfigError, match=r"\(1, 1, 2, 2\).*\(1, 1, 2, 3\)"):
        error_maps(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3)))


def test_mean_and_l2_reductions_match_hand_values() -> None:
    maps = np.full((1, 2, 2), 4.0, dtype=np.float32)  # squared error 4 at four pixels
    assert reduce_error_maps(maps, "mean") == pytest.approx([4.0])
    assert reduce_error_maps(maps, "l2") == pytest.approx([4.0])  # sqrt(4 * 4)


def test_patch_max_finds_a_single_hot_block_that_mean_dilutes() -> None:
    maps = np.zeros((2, 64, 64), dtype=np.float32)
    maps[1, 16:24, 40:48] = 1.0  # an 8 x 8 anomaly inside the 16 x 16 block at (16, 32)
    mean = reduce_error_maps(maps, "mean")
    patch = reduce_error_maps(maps, "patch_max", patch=16)
    assert mean == pytest.approx([0.0, 64 / 4096])
    assert patch == pytest.approx([0.0, 64 / 256])
    assert patch[1] == pytest.approx(16 * mean[1])


def test_patch_max_reaches_a_hot_corner_when_the_size_is_not_a_multiple_of_the_patch() -> None:
    maps = np.zeros((1, 70, 75), dtype=np.float32)
    maps[0, 54:70, 59:75] = 1.0  # exactly the last, edge-aligned 16 x 16 block
    assert reduce_error_maps(maps, "patch_max", patch=16) == pytest.approx([1.0])


def test_patch_larger_than_the_frame_equals_the_mean() -> None:
    maps = np.random.default_rng(0).random((3, 10, 12)).astype(np.float32)
    np.testing.assert_allclose(
        reduce_error_maps(maps, "patch_max", patch=64), reduce_error_maps(maps, "mean")
    )


@pytest.mark.parametrize("how", ["mean", "l2", "patch_max"])
@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 23, 41), (1, 5, 3)])
def test_reduction_on_a_torch_tensor_equals_the_numpy_reduction(how: str, shape: tuple) -> None:
    import torch

    from vad_core.scoring.frame_error import reduce_error_maps_torch

    maps = np.random.default_rng(5).random(shape, dtype=np.float32) ** 3
    expected = reduce_error_maps(maps, how=how, patch=8)
    found = reduce_error_maps_torch(torch.from_numpy(maps), how=how, patch=8)
    assert found.dtype == torch.float64
    np.testing.assert_allclose(found.numpy(), expected, rtol=1e-12)


def test_unknown_reduction_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="mean, l2, patch_max"):
        reduce_error_maps(np.zeros((1, 4, 4)), how="median")


def test_patch_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="patch"):
        reduce_error_maps(np.zeros((1, 4, 4)), how="patch_max", patch=0)


# --- regularity -------------------------------------------------------------------------------


def test_regularity_of_a_known_vector() -> None:
    np.testing.assert_allclose(regularity(np.array([1.0, 3.0, 5.0, 2.0])), [1.0, 0.5, 0.0, 0.75])


def test_constant_error_gives_all_ones() -> None:
    np.testing.assert_array_equal(regularity(np.full(7, 0.3)), np.ones(7))


def test_empty_errors_give_an_empty_regularity() -> None:
    assert regularity(np.array([])).shape == (0,)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_errors_are_a_config_error_naming_the_frame(bad: float) -> None:
    with pytest.raises(ConfigError, match="frame 2"):
        regularity(np.array([0.1, 0.2, bad, 0.3]))


# --- smoothing --------------------------------------------------------------------------------


def test_smoothing_keeps_the_length_and_a_linear_ramp_stays_a_ramp() -> None:
    ramp = np.linspace(0.0, 1.0, 40)
    out = smooth(ramp, window=15, polyorder=3)
    assert out.shape == ramp.shape
    np.testing.assert_allclose(out, ramp, atol=1e-12)


def test_smoothing_reduces_noise() -> None:
    rng = np.random.default_rng(1)
    noisy = np.sin(np.linspace(0, 3, 200)) + rng.normal(0, 0.2, 200)
    assert np.std(np.diff(smooth(noisy, 15, 3))) < 0.3 * np.std(np.diff(noisy))


def test_series_shorter_than_the_window_uses_the_largest_odd_window_that_fits() -> None:
    ramp = np.arange(6, dtype=float)  # window shrinks to 5 > polyorder 3
    np.testing.assert_allclose(smooth(ramp, 15, 3), ramp, atol=1e-12)
    bumpy = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    assert not np.allclose(smooth(bumpy, 15, 3), bumpy)


def test_series_too_short_to_smooth_is_returned_unchanged() -> None:
    values = np.array([0.2, 0.9, 0.1])  # 3 frames: no odd window > polyorder 3 fits
    out = smooth(values, 15, 3)
    np.testing.assert_array_equal(out, values)
    assert out is not values
    assert smooth(np.array([]), 15, 3).shape == (0,)


@pytest.mark.parametrize(("window", "polyorder"), [(14, 3), (0, 0), (5, 5), (5, -1)])
def test_bad_window_or_order_is_a_config_error(window: int, polyorder: int) -> None:
    with pytest.raises(ConfigError):
        smooth(np.zeros(30), window, polyorder)


def test_window_one_turns_smoothing_off() -> None:
    values = np.array([0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(smooth(values, 1, 0), values)


# --- config and the whole chain ---------------------------------------------------------------


def test_scoring_config_defaults_follow_the_thesis_window() -> None:
    config = ScoringConfig()
    assert config.smooth_window == 15
    assert (config.polyorder, config.threshold, config.min_duration, config.merge_gap) == (3, 0.5, 5, 5)


@pytest.mark.parametrize(
    "kwargs",
    [{"smooth_window": 16}, {"threshold": 1.5}, {"min_duration": 0}, {"merge_gap": -1}, {"polyorder": 15}],
)
def test_scoring_config_rejects_out_of_range_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ScoringConfig(**kwargs)


def test_anomaly_score_is_one_minus_smoothed_regularity_in_unit_range() -> None:
    e = np.concatenate([np.full(30, 0.1), np.full(10, 0.9), np.full(30, 0.1)])
    e += np.random.default_rng(2).normal(0, 0.01, e.size)
    result = anomaly_scores(e, ScoringConfig())
    assert isinstance(result, AnomalyScores)
    np.testing.assert_array_equal(result.errors, e)
    np.testing.assert_allclose(result.regularity, regularity(e))
    np.testing.assert_allclose(result.smoothed_regularity, smooth(result.regularity, 15, 3))
    np.testing.assert_allclose(result.score, np.clip(1 - result.smoothed_regularity, 0, 1))
    assert result.score.min() >= 0.0 and result.score.max() <= 1.0
    events = result.events(ScoringConfig(threshold=0.5))
    assert len(events) == 1
    assert 28 <= events[0].start <= 32 and 38 <= events[0].end <= 42


def test_without_smoothing_the_score_is_the_normalised_error() -> None:
    e = np.array([2.0, 4.0, 3.0, 2.0])
    result = anomaly_scores(e, ScoringConfig(smooth_window=1, polyorder=0))
    np.testing.assert_allclose(result.score, [0.0, 1.0, 0.5, 0.0])
