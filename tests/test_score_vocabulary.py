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


# -- finding things -------------------------------------------------------------------------------


def _tiny_dataset():
    from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset

    config = SyntheticConfig(height=64, width=64, objects=1, train_clips=2, test_clips_per_type=1,
                             frames_per_clip=60, anomaly_frames=(20, 30))  # fmt: skip
    return make_synthetic_dataset(config)


def test_a_wrong_clip_name_lists_the_valid_ones_without_stray_quotes() -> None:
    import pytest

    from vad_core.errors import ClipNotFoundError, DatasetError

    dataset = _tiny_dataset()
    with pytest.raises(ClipNotFoundError) as caught:
        dataset.clip("Test002")
    message = str(caught.value)
    assert message.startswith("synthetic: no clip named Test002; test clips: test_01_spatial, ")
    assert "training clips: train_01, train_02" in message and "'" not in message
    assert isinstance(caught.value, DatasetError) and isinstance(caught.value, KeyError)


def test_vad_info_on_a_dataset_lists_its_clip_names(tmp_path, capsys) -> None:
    from vad_core.cli.main import main
    from vad_core.datasets.synthetic import SyntheticConfig, write_synthetic_dataset

    config = SyntheticConfig(height=64, width=64, objects=1, train_clips=2, test_clips_per_type=1,
                             frames_per_clip=60, anomaly_frames=(20, 30))  # fmt: skip
    write_synthetic_dataset(tmp_path / "syn", config, video=False)
    assert main(["info", str(tmp_path / "syn")]) == 0
    out = capsys.readouterr().out
    assert "  test clips: test_01_spatial test_02_temporal test_03_spatio-temporal" in out
    assert "  training clips: train_01 train_02" in out
    assert f"vad-review {tmp_path / 'syn'}::test_01_spatial" in out


def test_a_ucsd_clip_folder_has_the_datasets_frame_rate_everywhere(tmp_path) -> None:
    from vad_core.datasets.frame_rate import folder_frame_rate

    root = tmp_path / "ucsd_ped2"
    clip = root / "testing" / "frames" / "02"
    clip.mkdir(parents=True)
    (root / "training" / "frames").mkdir(parents=True)
    (root / "UCSDped2.m").write_text("TestVideoFile{1}.gt_frame = [61:180];\n")
    assert folder_frame_rate(clip) == 10.0  # as when the clip is opened through the dataset
    other = tmp_path / "cam" / "frames"
    other.mkdir(parents=True)
    assert folder_frame_rate(other) == 25.0 and folder_frame_rate(other, 12.0) == 12.0
    assert folder_frame_rate(tmp_path / "clip.avi") is None  # a video knows its own rate


def test_vad_eval_of_scores_near_chance_warns(tmp_path, capsys) -> None:
    from vad_core.cli.main import main
    from vad_core.inference.scores_file import write_scores

    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    meta = {"name": "clip", "fps": 25, "model": "BCAE1 (synthetic demo)"}
    write_scores(tmp_path / "clip", rng.random(200), labels=labels, meta=meta)
    assert main(["eval", str(tmp_path / "clip.npz"), "--smooth", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "WARNING: BCAE1 (synthetic demo) does not seem to fit the scored footage: its frame AUROC" in out
    assert "near chance (50 %)" in out or "below chance (50 %)" in out
