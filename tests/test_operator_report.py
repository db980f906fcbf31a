"""The operator metrics of a video evaluation: event recall, false alarms per hour, raw and causal AUROC."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.evaluation.operator import operator_report
from vad_core.evaluation.videos import ClipScores, evaluate_scores
from vad_core.scoring import ScoringConfig, anomaly_scores
from vad_core.scoring.causal import calibrated_scores, error_quantiles, usable_calibration


def _clip(name: str, errors: np.ndarray, labels: np.ndarray, scoring: ScoringConfig) -> ClipScores:
    return ClipScores(name, errors, anomaly_scores(errors, scoring).score, labels, None, fps=10.0)


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    scoring = ScoringConfig()
    made = []
    for index in range(3):
        errors = rng.uniform(0.9, 1.1, 200)
        labels = np.zeros(200, bool)
        labels[80:120] = True
        errors[80:120] += 1.0 + index  # anomalies stand out, each clip at its own height
        made.append(_clip(f"c{index}", errors, labels, scoring))
    return made


def test_separable_clips_catch_every_interval_and_report_three_aurocs(clips) -> None:
    record = error_quantiles(np.random.default_rng(1).uniform(0.9, 1.1, 500))
    report = operator_report(clips, ScoringConfig(), {"error": record})
    assert report.at_gmean.caught == report.at_gmean.intervals == 3
    assert report.at_target.recall >= 0.9
    assert report.auroc_raw == pytest.approx(1.0)
    assert report.auroc_causal == pytest.approx(1.0)
    hours = 3 * 200 / 10 / 3600
    assert report.at_gmean.hours == pytest.approx(hours)
    assert report.at_gmean.false_alarms_per_hour == pytest.approx(report.at_gmean.false_alarms / hours)


def test_the_table_prints_percent_and_a_legend(clips) -> None:
    text = evaluate_scores(clips, scoring=ScoringConfig()).table()
    assert "event recall %" in text and "false alarms/h" in text
    assert "3/3" in text and "causal n/a (no calibration)" in text
    assert "All in %, false alarms per hour excepted." in " ".join(text.split())


def test_unlabelled_clips_give_no_report(clips) -> None:
    unlabelled = [ClipScores(c.name, c.errors, c.score, None, None) for c in clips]
    assert operator_report(unlabelled) is None


def test_a_record_made_with_another_reduction_is_not_used() -> None:
    record = error_quantiles(np.ones(10) + np.arange(10), error="mse", reduction="patch_max", patch=16)
    calibration = {"error": record.to_dict()}
    assert usable_calibration(calibration, "mse", "mean") is None
    assert usable_calibration(calibration, "mse", "patch_max", 32) is None
    assert usable_calibration(calibration, "mse", "patch_max", 16)["error"] == record
    assert usable_calibration(None, "mse", "mean") is None


def test_causal_mnad_score_weights_the_two_calibrated_series() -> None:
    errors, distance = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.1, 0.9])
    records = {
        "error": error_quantiles(np.arange(5.0)),
        "memory_distance": error_quantiles(np.linspace(0, 1, 5)),
    }
    combined = calibrated_scores(errors, records, {"memory_distance": distance}, "mnad", 0.25)
    from vad_core.scoring.causal import causal_scores

    expected = 0.25 * causal_scores(errors, records["error"]) + 0.75 * causal_scores(
        distance, records["memory_distance"]
    )
    np.testing.assert_allclose(combined, expected)
    prefix = calibrated_scores(errors[:2], records, {"memory_distance": distance[:2]}, "mnad", 0.25)
    np.testing.assert_array_equal(prefix, combined[:2])  # appending frames changes no earlier score
