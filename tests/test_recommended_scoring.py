"""Scoring kinds (error, PSNR, MNAD), the memory distance through the scoring path, and the scoring
a checkpoint recommends (registry -> training metadata -> scorers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vad_core.checkpoint import load_checkpoint
from vad_core.cli.main import main
from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset, write_synthetic_dataset
from vad_core.errors import ConfigError
from vad_core.evaluation.videos import score_clips
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache
from vad_core.inference.scores_file import read_scores, write_scores
from vad_core.inference.scoring_loop import MEMORY_DISTANCE, score_all
from vad_core.models import ModelConfig, build_model
from vad_core.scoring import ScoringConfig, anomaly_scores, check_score_inputs, regularity, smooth
from vad_core.scoring.combined import mnad_score
from vad_core.scoring.psnr import psnr_from_mse
from vad_core.sources import ArraySource
from vad_core.training import TrainConfig

TINY_MNAD = {"base_filters": 2, "memory_items": 3}
SMALL = SyntheticConfig(
    height=64, width=64, objects=2, train_clips=2, test_clips_per_type=1, frames_per_clip=80
)


@pytest.fixture(scope="module")
def mnad():
    torch.manual_seed(0)
    return build_model(ModelConfig("mnad_predictor", 1, (32, 32), TINY_MNAD)).eval()


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 255, (11, 32, 32), dtype=np.uint8)


def test_psnr_score_is_the_per_video_log_error_smoothed() -> None:
    errors = np.random.default_rng(1).uniform(1e-4, 1e-2, 40)
    scores = anomaly_scores(errors, ScoringConfig(score="psnr"))
    expected = np.clip(1.0 - smooth(regularity(np.log(errors)), 15, 3), 0.0, 1.0)
    np.testing.assert_allclose(scores.score, expected, atol=1e-12)


def test_mnad_score_combines_psnr_and_distance_with_the_weight() -> None:
    rng = np.random.default_rng(2)
    errors, distance = rng.uniform(1e-4, 1e-2, 30), rng.uniform(0.1, 0.5, 30)
    config = ScoringConfig(score="mnad", mnad_weight=0.3, smooth_window=1)
    scores = anomaly_scores(errors, config, {MEMORY_DISTANCE: distance})
    np.testing.assert_allclose(scores.score, mnad_score(psnr_from_mse(errors), distance, 0.3), atol=1e-12)


def test_mnad_score_without_a_distance_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="score 'mnad' needs the memory distance"):
        anomaly_scores(np.ones(20), ScoringConfig(score="mnad"))


@pytest.mark.parametrize(("error", "reduction"), [("ssim", "mean"), ("mse", "patch_max"), ("compound", "l2")])
def test_psnr_needs_the_mean_squared_error(error, reduction) -> None:
    with pytest.raises(ConfigError, match=f"found error '{error}', reduction '{reduction}'"):
        check_score_inputs("psnr", error, reduction)
    check_score_inputs("error", error, reduction)


def test_unknown_score_or_weight_is_refused() -> None:
    with pytest.raises(ConfigError, match="score must be one of"):
        ScoringConfig(score="log")
    with pytest.raises(ConfigError, match="mnad_weight must be in"):
        ScoringConfig(mnad_weight=1.5)


def test_memory_models_give_a_distance_per_frame_with_the_predictor_prefix(mnad, frames) -> None:
    result = score_all(mnad, ArraySource(frames), InferenceConfig(batch_size=3, device="cpu"))
    distance = result.side[MEMORY_DISTANCE]
    assert distance.shape == (11,) and distance.dtype == np.float32
    seeds = torch.from_numpy(frames[None, 4:8, None].astype(np.float32) / 255.0)
    with torch.no_grad():
        expected = float(mnad.memory_distance(seeds)[0])
    assert distance[8] == pytest.approx(expected, rel=1e-5)
    assert np.all(distance[:4] == distance[4])  # the first S frames copy the first prediction's value
    plain = score_all(build_model(ModelConfig("bcae1", 1, (32, 32))), ArraySource(frames), InferenceConfig())
    assert plain.side == {}


def test_scores_files_and_the_cache_carry_the_memory_distance(tmp_path) -> None:
    errors = np.linspace(1e-3, 2e-3, 12).astype(np.float32)
    distance = np.linspace(0.3, 0.1, 12).astype(np.float32)
    config = ScoringConfig(score="mnad")
    npz = write_scores(tmp_path / "clip", errors, scoring=config, side={MEMORY_DISTANCE: distance})
    back = read_scores(npz)
    np.testing.assert_array_equal(back.side[MEMORY_DISTANCE], distance)
    np.testing.assert_allclose(
        back.score, anomaly_scores(errors, config, {MEMORY_DISTANCE: distance}).score, atol=1e-6
    )
    assert "memory_distance" in npz.with_suffix(".csv").read_text().splitlines()[0]
    cache = ScoreCache(tmp_path / "cache")
    cache.store("k", errors, None, {}, side={MEMORY_DISTANCE: distance})
    np.testing.assert_array_equal(cache.load("k").side[MEMORY_DISTANCE], distance)


def test_registry_scoring_becomes_the_checkpoints_recommendation() -> None:
    mnad = TrainConfig(ModelConfig("mnad_predictor", 1, (32, 32))).scoring_defaults()
    assert mnad == {"error": "mse", "reduction": "mean", "score": "mnad", "mnad_weight": 0.6}
    assert TrainConfig(ModelConfig("unet_predictor", 1, (32, 32))).scoring_defaults()["score"] == "psnr"
    assert TrainConfig(ModelConfig("bcae1", 1, (32, 32))).scoring_defaults() == {"error": "mse"}
    compound = TrainConfig(ModelConfig("unet_predictor", 1, (32, 32)), loss="compound")
    assert compound.scoring_defaults() == {"error": "compound"}  # PSNR needs the squared error


def test_score_clips_refuses_psnr_on_ssim_errors(mnad) -> None:
    dataset = make_synthetic_dataset(SMALL)
    with pytest.raises(ConfigError, match="score 'psnr' needs"):
        score_clips(mnad, dataset.test[:1], InferenceConfig(error="ssim"), ScoringConfig(score="psnr"))


def test_vad_train_stores_mnad_scoring_and_calibration_and_vad_eval_uses_them(tmp_path, capsys) -> None:
    root = write_synthetic_dataset(tmp_path / "syn", SMALL, demo=False).parent
    out = tmp_path / "mnad"
    argv = ["train", "--model", "mnad_predictor", "--data", str(root), "--out", str(out), "--size", "32"]
    argv += [
        "--option",
        "base_filters=2",
        "--option",
        "memory_items=3",
        "--epochs",
        "1",
        "--max-windows",
        "8",
    ]
    assert main([*argv, "--device", "cpu"]) == 0
    description = json.loads(out.with_suffix(".json").read_text())
    assert description["scoring"]["score"] == "mnad"
    assert description["training"]["config"]["learning_rate"] == 2e-4  # the registry's, not the CLI's
    assert set(description["calibration"]) == {"error", "memory_distance"}
    # 2 clips of 80 frames: the last 8 of each held out, of which the first 4 (seeds) are not predicted
    assert description["calibration"]["error"]["count"] == 2 * (8 - 4)
    assert description["training"]["held_out_frames"] == 16
    assert (
        main(["eval", "--dataset", str(root), "--model", str(out) + ".safetensors", "--device", "cpu"]) == 0
    )
    assert "pooled" in capsys.readouterr().out
    bad = ["eval", "--dataset", str(root), "--model", str(out), "--device", "cpu", "--error", "ssim"]
    assert main(bad) == 2
    assert "score 'mnad' needs the per-frame mean squared error" in capsys.readouterr().err


def test_vad_train_refuses_psnr_with_a_patch_reduction(tmp_path, capsys) -> None:
    root = write_synthetic_dataset(tmp_path / "syn", SMALL, demo=False).parent
    argv = ["train", "--model", "unet_predictor", "--data", str(root), "--out", str(tmp_path / "u")]
    assert main([*argv, "--score-reduction", "patch_max"]) == 2
    assert "score 'psnr' needs" in capsys.readouterr().err


def test_loaded_checkpoint_reports_its_scoring(tmp_path) -> None:
    from vad_core.sources import Preprocess
    from vad_core.training import FrameBank, train

    frames = np.random.default_rng(3).integers(0, 255, (30, 32, 32), dtype=np.uint8)
    bank = FrameBank.from_sources([ArraySource(frames)], Preprocess((32, 32), 1))
    config = TrainConfig.for_model(
        ModelConfig("mnad_predictor", 1, (32, 32), TINY_MNAD),
        max_epochs=1,
        device="cpu",
        max_windows_per_epoch=4,
    )
    result = train(config, bank, output=tmp_path / "m")
    assert load_checkpoint(result.checkpoint).scoring["score"] == "mnad"
