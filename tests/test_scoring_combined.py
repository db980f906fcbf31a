"""PSNR from per-frame MSE, and MNAD's score combining PSNR with the memory distance."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.errors import ConfigError
from vad_core.scoring import anomaly_scores
from vad_core.scoring.combined import PREDICTION_WEIGHT, min_max, mnad_score
from vad_core.scoring.psnr import psnr_from_mse


def test_psnr_of_known_errors() -> None:
    np.testing.assert_allclose(psnr_from_mse(np.array([1.0, 0.1, 0.01, 1e-4])), [0.0, 10.0, 20.0, 40.0])
    assert psnr_from_mse(np.array([0.0]))[0] == pytest.approx(100.0)  # a perfect frame stays finite
    assert psnr_from_mse(np.array([255.0**2 / 100]), peak=255.0)[0] == pytest.approx(20.0)


def test_psnr_rejects_negative_or_missing_errors() -> None:
    with pytest.raises(ConfigError, match="finite and >= 0"):
        psnr_from_mse(np.array([0.1, -0.2]))
    with pytest.raises(ConfigError, match="finite and >= 0"):
        psnr_from_mse(np.array([np.nan]))


def test_low_psnr_score_ranks_frames_like_the_log_error() -> None:
    mse = np.array([0.002, 0.004, 0.001, 0.03, 0.003])
    from_psnr = anomaly_scores(-psnr_from_mse(mse)).score
    from_log = anomaly_scores(np.log(mse)).score
    np.testing.assert_allclose(from_psnr, from_log, atol=1e-12)


def test_mnad_score_equals_a_hand_computation() -> None:
    psnr = np.array([30.0, 25.0, 20.0, 35.0])  # g: 2/3, 1/3, 0, 1
    distance = np.array([0.2, 0.4, 0.6, 0.1])  # g: 0.2, 0.6, 1, 0
    expected = [
        0.6 * (1 - 2 / 3) + 0.4 * 0.2,
        0.6 * (1 - 1 / 3) + 0.4 * 0.6,
        0.6 * 1 + 0.4 * 1,
        0.6 * 0 + 0.4 * 0,
    ]
    np.testing.assert_allclose(mnad_score(psnr, distance), expected)
    assert PREDICTION_WEIGHT == 0.6


def test_weight_one_is_psnr_alone_and_zero_is_distance_alone() -> None:
    psnr, distance = np.array([30.0, 20.0, 25.0]), np.array([0.5, 0.1, 0.3])
    np.testing.assert_allclose(mnad_score(psnr, distance, weight=1.0), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(mnad_score(psnr, distance, weight=0.0), [1.0, 0.0, 0.5])


def test_min_max_of_a_constant_series_is_zero() -> None:
    np.testing.assert_array_equal(min_max(np.full(4, 3.0)), np.zeros(4))
    assert min_max(np.array([])).size == 0


def test_mnad_score_checks_its_inputs() -> None:
    with pytest.raises(ConfigError, match="one value per frame"):
        mnad_score(np.zeros(3), np.zeros(4))
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        mnad_score(np.zeros(3), np.zeros(3), weight=1.2)
    with pytest.raises(ConfigError, match="NaN or inf"):
        mnad_score(np.array([1.0, np.inf]), np.zeros(2))
