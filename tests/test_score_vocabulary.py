"""One vocabulary for scores, thresholds, percent and frame ranges, in every view."""

from __future__ import annotations

import numpy as np

from vad_core.scoring import Event, find_events, frame_range_text
from vad_core.scoring.vocabulary import flag_rule, frame_verdict, percent


def test_frame_ranges_read_inclusively() -> None:
    assert frame_range_text(80, 118) == "80-117"
    assert frame_range_text(5, 6) == "5"


def test_percent_is_one_decimal_with_a_unit() -> None:
    assert percent(0.379) == "37.9 %"
    assert percent(float("nan")) == "n/a" and percent(None) == "n/a"


def test_verdict_of_a_frame_inside_an_event_names_the_event_and_the_rule() -> None:
    score = np.r_[np.zeros(10), np.full(10, 0.8), np.zeros(10)]
    events = find_events(score, 0.5, 5, 5)
    assert frame_verdict(12, score, events, 0.5) == (
        "flagged: event 1 (frames 10-19); anomaly score 0.80 >= threshold 0.50"
    )
    assert frame_verdict(2, score, events, 0.5) == "not flagged: anomaly score 0.00 < threshold 0.50"
    assert flag_rule(0.5) == "anomaly score >= 0.50"


def test_a_merged_gap_frame_is_flagged_although_its_score_is_below_the_threshold() -> None:
    score = np.r_[np.full(6, 0.9), [0.1, 0.1], np.full(6, 0.9)]
    events = find_events(score, 0.5, 5, 5)
    assert frame_verdict(6, score, events, 0.5).startswith(
        "flagged: event 1 (frames 0-13); anomaly score 0.10 <"
    )


def test_a_short_run_above_the_threshold_is_not_flagged_and_says_why() -> None:
    score = np.r_[np.zeros(10), [0.9, 0.9], np.zeros(10)]
    events: list[Event] = find_events(score, 0.5, 5, 5)
    assert frame_verdict(10, score, events, 0.5).endswith("but too short a run to be an event")


def test_vad_eval_table_carries_a_legend_of_its_columns(tmp_path, capsys) -> None:
    from vad_core.cli.main import main
    from vad_core.inference.scores_file import write_scores

    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(40, bool), np.ones(20, bool)]
    write_scores(tmp_path / "clip", rng.random(60) + labels, labels=labels, meta={"name": "clip", "fps": 25})
    assert main(["eval", str(tmp_path / "clip.npz")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "AUROC / AUPRC: area under the ROC" in out and "threshold: the pooled G-mean threshold" in out
