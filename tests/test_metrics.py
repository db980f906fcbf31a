"""Frame, pixel and per-category metrics against hand-computed cases (thesis 3.8.5 and 4.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vad_core.errors import ConfigError
from vad_core.metrics import (
    EvaluationReport,
    FrameMetrics,
    auroc,
    evaluate_videos,
    frame_metrics,
    gmean_threshold,
    image_auroc,
    per_category_auroc,
    pixel_auroc,
)

# normal frames 0.1 0.2 0.45 0.6, anomalous 0.5 0.7 0.8. ROC points (threshold: TPR, FPR, G-mean):
#   0.8: 1/3, 0, 0.577   0.7: 2/3, 0, 0.816   0.6: 2/3, 1/4, 0.707   0.5: 1, 1/4, 0.866   0.45: 1, 1/2, 0.707
HAND_SCORES = np.array([0.1, 0.2, 0.45, 0.6, 0.5, 0.7, 0.8])
HAND_LABELS = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)


def test_perfect_scores_give_auroc_one_and_eer_zero() -> None:
    m = frame_metrics(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), np.array([0, 0, 0, 1, 1]))
    assert (m.auroc, m.auprc, m.eer) == (1.0, 1.0, 0.0)
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
    assert m.gmean_threshold == m.threshold == 0.8
    assert (m.n_frames, m.n_anomalous) == (5, 2)


def test_reversed_scores_give_auroc_zero() -> None:
    m = frame_metrics(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1]))
    assert m.auroc == 0.0
    assert m.eer == 1.0


def test_hand_computed_roc_gives_the_known_gmean_threshold() -> None:
    assert gmean_threshold(HAND_SCORES, HAND_LABELS) == 0.5
    m = frame_metrics(HAND_SCORES, HAND_LABELS)
    assert m.threshold == 0.5
    assert m.precision == pytest.approx(3 / 4)  # flags 0.5 0.6 0.7 0.8
    assert m.recall == 1.0
    assert m.f1 == pytest.approx(6 / 7)
    assert m.auroc == pytest.approx(11 / 12)  # 11 of 12 (anomalous, normal) pairs in order
    assert m.auprc == pytest.approx(1 / 3 + 1 / 3 + 1 / 3 * 3 / 4)  # average precision


def test_eer_interpolates_between_roc_points() -> None:
    # Between (FPR 1/4, TPR 2/3) and (1/4, 1) the line FPR = FNR is met at 1/4; the ROC point
    # nearer to it (threshold 0.6, |FPR - FNR| = 1/12) gives the EER threshold.
    m = frame_metrics(HAND_SCORES, HAND_LABELS)
    assert m.eer == pytest.approx(0.25)
    assert m.eer_threshold == 0.6


def test_eer_of_a_symmetric_case_is_one_quarter() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    m = frame_metrics(scores, labels)
    assert m.eer == pytest.approx(0.25)  # at 0.6: one of four normals and one of four anomalies wrong
    assert m.eer_threshold == 0.6


def test_eer_on_a_diagonal_roc_segment_is_interpolated() -> None:
    # A tie at 0.5 makes the ROC jump diagonally from (0, 1/2) to (1/2, 1): it crosses FPR = FNR at 1/4.
    m = frame_metrics(np.array([0.1, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1]))
    assert m.eer == pytest.approx(0.25)


def test_gmean_ties_pick_the_higher_threshold() -> None:
    # thresholds 0.7 (TPR 3/4, FPR 0) and 0.4 (TPR 1, FPR 1/4) both reach sqrt(3/4)
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert gmean_threshold(scores, labels) == 0.7


def test_a_given_threshold_is_used_for_precision_recall_and_f1() -> None:
    m = frame_metrics(HAND_SCORES, HAND_LABELS, threshold=0.7)
    assert (m.threshold, m.precision, m.recall) == (0.7, 1.0, pytest.approx(2 / 3))
    assert m.gmean_threshold == 0.5  # still reported


@pytest.mark.parametrize("labels", [np.zeros(4, dtype=bool), np.ones(4, dtype=bool)])
def test_single_class_labels_give_nan_without_crashing(labels: np.ndarray) -> None:
    m = frame_metrics(np.array([0.1, 0.4, 0.3, 0.2]), labels)
    for value in (m.auroc, m.auprc, m.eer, m.eer_threshold, m.gmean_threshold, m.threshold):
        assert math.isnan(value)
    assert m.single_class
    assert math.isnan(auroc(np.array([0.1, 0.4, 0.3, 0.2]), labels))
    assert math.isnan(gmean_threshold(np.array([0.1, 0.4, 0.3, 0.2]), labels))


def test_single_class_with_a_given_threshold_still_counts_false_alarms() -> None:
    m = frame_metrics(np.array([0.1, 0.4, 0.3, 0.2]), np.zeros(4, dtype=bool), threshold=0.35)
    assert m.precision == 0.0  # one false alarm, no true detection
    assert math.isnan(m.recall)  # nothing to recall


def test_empty_input_gives_nan_metrics() -> None:
    m = frame_metrics(np.array([]), np.array([], dtype=bool))
    assert m.n_frames == 0 and math.isnan(m.auroc) and math.isnan(m.f1)


def test_mismatched_lengths_non_binary_labels_and_nan_scores_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="same length"):
        frame_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(ConfigError, match="0/1"):
        frame_metrics(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ConfigError, match="NaN"):
        frame_metrics(np.array([0.1, np.nan]), np.array([0, 1]))


def test_pooled_metrics_differ_from_per_video_when_score_scales_differ() -> None:
    report = evaluate_videos(
        {
            "a": (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1])),
            "b": (np.array([0.5, 0.6, 0.7, 0.8]), np.array([0, 0, 1, 1])),
        }
    )
    assert isinstance(report, EvaluationReport)
    assert report.per_video["a"].auroc == report.per_video["b"].auroc == 1.0
    assert report.pooled.auroc == pytest.approx(12 / 16)
    assert report.pooled.n_frames == 8 and report.pooled.n_anomalous == 4
    # one shared threshold (the pooled G-mean one) for every video's precision / recall / F1
    assert report.pooled.threshold == 0.7
    assert report.per_video["a"].threshold == report.per_video["b"].threshold == 0.7
    assert report.per_video["b"].f1 == 1.0 and report.per_video["a"].recall == 0.0
    assert report.mean()["auroc"] == 1.0


def test_report_table_shows_percentages_and_marks_single_class_videos() -> None:
    report = evaluate_videos(
        {
            "Test001": (np.array([0.1, 0.2, 0.9, 0.8]), np.array([0, 0, 1, 1])),
            "Test002": (np.array([0.1, 0.3]), np.array([0, 0])),
        },
        threshold=0.5,
    )
    text = report.table()
    lines = text.splitlines()
    assert "AUROC %" in lines[0] and "EER %" in lines[0] and "AUPRC %" in lines[0] and "F1 %" in lines[0]
    assert any(line.startswith("Test001") and "100.0" in line for line in lines)
    assert any(line.startswith("Test002") and "n/a" in line for line in lines)
    assert any(line.startswith("pooled") for line in lines)
    assert "one class" in text
    assert math.isnan(report.per_video["Test002"].auroc)


def test_evaluating_no_videos_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        evaluate_videos({})


def test_evaluation_names_the_video_with_bad_input() -> None:
    with pytest.raises(ConfigError, match="Test007"):
        evaluate_videos({"Test007": (np.zeros(3), np.zeros(2))})


def test_per_category_auroc_uses_all_normal_frames_and_one_category() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.25, 0.05])
    labels = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
    categories = ["", "", "", "spatial", "spatial", "temporal"]
    result = per_category_auroc(scores, labels, categories)
    assert list(result) == ["spatial", "temporal"]
    assert result["spatial"] == pytest.approx(5 / 6)  # 0.9 beats 3 normals, 0.25 beats 2
    assert result["temporal"] == 0.0


def test_per_category_auroc_groups_anomalies_without_a_category() -> None:
    result = per_category_auroc(np.array([0.1, 0.9]), np.array([0, 1]), ["", ""])
    assert result == {"uncategorised": 1.0}


def test_pixel_auroc_of_a_perfect_map_is_one() -> None:
    masks = [np.zeros((8, 8), dtype=bool) for _ in range(3)]
    masks[1][2:5, 3:6] = True
    maps = [m.astype(np.float32) * 0.5 + 0.1 for m in masks]
    assert pixel_auroc(maps, masks) == 1.0


def test_pixel_auroc_subsample_is_deterministic_and_close_to_the_full_value() -> None:
    rng = np.random.default_rng(3)
    masks = [rng.random((64, 64)) < 0.02 for _ in range(4)]
    maps = [rng.normal(0, 1, (64, 64)) + 1.0 * m for m in masks]
    full = pixel_auroc(maps, masks)
    sampled = pixel_auroc(maps, masks, max_pixels=4000, seed=5)
    assert sampled == pixel_auroc(maps, masks, max_pixels=4000, seed=5)
    assert sampled == pytest.approx(full, abs=0.05)
    assert pixel_auroc(maps, masks, max_pixels=4000, seed=6) != sampled


def test_pixel_auroc_without_anomalous_pixels_is_nan_and_shapes_must_match() -> None:
    assert math.isnan(pixel_auroc([np.zeros((4, 4))], [np.zeros((4, 4), dtype=bool)]))
    with pytest.raises(ConfigError, match="map 0"):
        pixel_auroc([np.zeros((4, 4))], [np.zeros((4, 5), dtype=bool)])
    with pytest.raises(ConfigError, match="1 maps but 2 masks"):
        pixel_auroc([np.zeros((4, 4))], [np.zeros((4, 4), dtype=bool)] * 2)


def test_image_auroc_is_the_frame_auroc() -> None:
    assert image_auroc(HAND_SCORES, HAND_LABELS) == pytest.approx(11 / 12)


TRANSFORMS = {
    "affine": lambda x: 3.0 * x + 7.0,
    "cube": lambda x: x**3 + x,
    "exp": lambda x: np.exp(x / 10.0),
}


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=2, max_size=40),
    transform=st.sampled_from(sorted(TRANSFORMS)),
)
def test_metrics_are_invariant_to_monotonic_transforms_of_scores(
    data: list[tuple[int, bool]], transform: str
) -> None:
    scores = np.array([s for s, _ in data], dtype=float)
    labels = np.array([y for _, y in data])
    assume(labels.any() and not labels.all())
    f = TRANSFORMS[transform]
    before = frame_metrics(scores, labels)
    after = frame_metrics(f(scores), labels)
    for name in ("auroc", "auprc", "eer", "precision", "recall", "f1"):
        a, b = getattr(before, name), getattr(after, name)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), name
    assert after.gmean_threshold == pytest.approx(f(before.gmean_threshold))
    assert after.eer_threshold == pytest.approx(f(before.eer_threshold))


def test_frame_metrics_is_a_frozen_container() -> None:
    m = frame_metrics(HAND_SCORES, HAND_LABELS)
    assert isinstance(m, FrameMetrics)
    with pytest.raises(AttributeError):
        m.auroc = 0.0  # type: ignore[misc]
