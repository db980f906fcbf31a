"""A model that does not fit the footage says so: normal range, footage facts, near-chance AUROC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vad_core.checkpoint import read_description
from vad_core.evaluation.fit import NORMAL_RANGE, check_fit, normal_range_record
from vad_core.resources import DEMO_MODELS

REPO = Path(__file__).resolve().parents[1]


def demo_model_path(choice: str) -> Path:
    """This tree's bundled checkpoint (an installed vad_resources may be another checkout's)."""
    return REPO / "resources" / f"{DEMO_MODELS[choice]}.safetensors"


NORMAL = np.linspace(0.001, 0.002, 200)


def _metadata(**training) -> dict:
    return {NORMAL_RANGE: normal_range_record(NORMAL), "training": training}


def test_footage_inside_the_normal_range_fits() -> None:
    report = check_fit(_metadata(), "BCAE1", NORMAL[::3] * 1.05)
    assert report.fits and report.sentence() == "" and report.share_far_above == 0.0


def test_most_frames_far_above_the_normal_range_is_said_in_one_sentence() -> None:
    report = check_fit(_metadata(), "BCAE1", np.full(100, 0.05))
    sentence = report.sentence("clip 02")
    assert not report.fits and report.share_far_above == 1.0
    assert sentence.startswith("BCAE1 does not seem to fit clip 02: 100 % of frames err far above")
    assert sentence.count(".") == 1 and sentence.endswith(".")


def test_a_few_anomalous_frames_do_not_count_as_a_misfit() -> None:
    errors = np.r_[NORMAL[:80], np.full(20, 0.05)]
    assert check_fit(_metadata(), "BCAE1", errors).fits


def test_colour_footage_for_a_gray_model_and_a_different_size_are_named() -> None:
    metadata = _metadata(footage={"size": [128, 128], "channels": 1})
    report = check_fit(metadata, "BCAE1", NORMAL, frame_size=(240, 360), channels=3)
    assert "the footage is colour, the training footage was gray" in report.problems
    assert any("360x240" in problem and "128x128" in problem for problem in report.problems)


def test_near_chance_auroc_warns_even_without_a_normal_range() -> None:
    report = check_fit({}, "U-Net", auroc=0.554)
    assert report.problems == ("its frame AUROC against the labels is 55.4 %, near chance (50 %)",)
    assert "below chance" in check_fit({}, "U-Net", auroc=0.337).problems[0]
    assert check_fit({}, "U-Net", auroc=0.9).fits


def test_a_record_of_another_error_kind_is_not_compared() -> None:
    assert check_fit(_metadata(), "BCAE1", np.full(100, 5.0), error="ssim").fits


@pytest.mark.parametrize("choice", ["frame", "temporal"])
def test_bundled_models_carry_their_normal_range_and_footage(choice) -> None:
    description = read_description(demo_model_path(choice))
    assert description[NORMAL_RANGE]["error"]["count"] > 500
    assert description["training"]["footage"] == {"size": [128, 128], "channels": 1}


def test_training_records_the_normal_range_and_the_footage(tmp_path) -> None:
    from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset
    from vad_core.models import ModelConfig
    from vad_core.sources import Preprocess
    from vad_core.training import FrameBank, TrainConfig, train

    dataset = make_synthetic_dataset(
        SyntheticConfig(
            height=48,
            width=64,
            objects=2,
            train_clips=2,
            test_clips_per_type=1,
            frames_per_clip=60,
            anomaly_frames=(20, 30),
        )
    )
    bank = FrameBank.from_sources([c.source for c in dataset.train], Preprocess((32, 32), 1))
    config = TrainConfig(ModelConfig("bcae1", 1, (32, 32)), max_epochs=1, batch_size=8, device="cpu",
                         max_windows_per_epoch=8, strides=(1,))  # fmt: skip
    result = train(config, bank, output=tmp_path / "m")
    description = read_description(result.checkpoint)
    assert description["training"]["footage"] == {"size": [48, 64], "channels": 1}
    assert description[NORMAL_RANGE]["error"]["count"] == 120
    assert description[NORMAL_RANGE]["frames"] == "training frames"


def test_vad_score_warns_when_the_bundled_model_meets_other_footage(tmp_path, capsys) -> None:
    from vad_core.cli.main import main

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (24, 96, 96), dtype=np.uint8)  # noise: nothing like moving shapes
    folder = tmp_path / "noise"
    folder.mkdir()
    import cv2

    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    code = main(["score", str(folder), "--model", str(demo_model_path("frame")), "--out",
                 str(tmp_path / "s"), "--device", "cpu", "--no-maps"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "WARNING: BCAE1" in out and "does not seem to fit noise: 100 % of frames err far above" in out
    assert "vad train" in out


def test_vad_info_on_a_checkpoint_says_what_the_fit_check_compares_with(capsys) -> None:
    from vad_core.cli.main import main

    assert main(["info", str(demo_model_path("frame"))]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("normal range"))
    assert "mse errors" in line and "over 960 frames, footage 128x128, 1 channel(s)" in line
