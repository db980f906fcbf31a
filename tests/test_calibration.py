"""Calibration at training time: held-out tails stay out of every window and become quantile records."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.checkpoint import load_checkpoint
from vad_core.models import ModelConfig
from vad_core.scoring.causal import ErrorQuantiles
from vad_core.sources import ArraySource, Preprocess
from vad_core.training import FrameBank, TrainConfig, train
from vad_core.training.calibration import split_holdout


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(0)
    sources = [ArraySource(rng.integers(0, 255, (n, 32, 32), dtype=np.uint8)) for n in (60, 100, 8)]
    return FrameBank.from_sources(sources, Preprocess((32, 32), 1))


def test_held_out_tails_are_in_no_training_window(bank) -> None:
    kept, held_out = split_holdout(bank, 0.1, window=5)
    assert held_out == [(54, 60), (150, 160)]  # the 8-frame source is too short to give a tail
    rows = kept.windows(5, strides=(1, 2, 4))
    used = set(rows.flatten().tolist())
    assert not used & set(range(54, 60)) and not used & set(range(150, 160))
    assert used >= {53, 149, 167}


def test_no_fraction_holds_nothing_out(bank) -> None:
    kept, held_out = split_holdout(bank, 0.0, window=5)
    assert kept is bank and held_out == []


def test_training_stores_the_error_quantiles_of_the_held_out_frames(bank, tmp_path) -> None:
    config = TrainConfig.for_model(
        ModelConfig("bcae1", 1, (32, 32)),
        max_epochs=1,
        device="cpu",
        max_windows_per_epoch=8,
        holdout_fraction=0.1,
    )
    result = train(config, bank, output=tmp_path / "b")
    record = ErrorQuantiles.from_dict(load_checkpoint(result.checkpoint).metadata["calibration"]["error"])
    assert record.count == 6 + 10 and record.error == "mse" and record.reduction == "mean"
    assert result.summary["held_out_frames"] == 16
    assert result.calibration["error"] == record.to_dict()


def test_a_bad_holdout_fraction_names_the_setting() -> None:
    from vad_core.errors import ConfigError

    with pytest.raises(ConfigError, match="holdout_fraction"):
        TrainConfig(ModelConfig("bcae1", 1, (32, 32)), holdout_fraction=0.7)
