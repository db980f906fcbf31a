"""Training: every registered model trains, scores and round-trips; a short run beats a random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vad_core.checkpoint import load_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset
from vad_core.errors import CheckpointError, ConfigError
from vad_core.evaluation.videos import evaluate_dataset
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model, model_names
from vad_core.sources import ArraySource, Preprocess
from vad_core.training import FrameBank, TrainConfig, train, train_iter

TINY = SyntheticConfig(
    height=64,
    width=64,
    objects=2,
    train_clips=2,
    test_clips_per_type=3,
    frames_per_clip=60,
    anomaly_frames=(20, 30),
)


@pytest.fixture(scope="module")
def tiny_dataset():
    return make_synthetic_dataset(TINY)


@pytest.fixture(scope="module")
def tiny_bank(tiny_dataset):
    return FrameBank.from_sources([c.source for c in tiny_dataset.train], Preprocess((32, 32), 1))


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_windows_respect_clip_borders_and_strides(tiny_bank) -> None:
    rows = tiny_bank.windows(4, strides=(1, 2))
    assert rows.shape[1] == 4
    for row in rows.tolist():
        clip = 0 if row[0] < 60 else 1
        assert all(60 * clip <= f < 60 * (clip + 1) for f in row)
        assert len({b - a for a, b in zip(row, row[1:], strict=False)}) == 1
    # 2 clips x (57 stride-1 starts + 54 stride-2 starts)
    assert len(rows) == 2 * (57 + 54)


@pytest.mark.parametrize("name", model_names())
def test_every_model_trains_scores_and_round_trips(name, tiny_bank, tmp_path, one_thread) -> None:
    config = TrainConfig(
        ModelConfig(name, 1, (32, 32)),
        max_epochs=1,
        batch_size=4,
        device="cpu",
        max_windows_per_epoch=8,
        strides=(1,),
        validation_fraction=0.2,
    )
    result = train(config, tiny_bank, output=tmp_path / name)
    assert np.isfinite(result.history[0]["train_loss"])
    assert result.checkpoint is not None and result.checkpoint.is_file()
    frames = tiny_bank.frames[:13, 0].numpy()
    source = ArraySource(frames, fps=10)
    scored = score_all(result.model, source, InferenceConfig(batch_size=3, device="cpu"))
    assert scored.errors.shape == (13,) and np.isfinite(scored.errors).all()
    loaded = load_checkpoint(result.checkpoint)
    again = score_all(loaded.model, source, InferenceConfig(batch_size=3, device="cpu"))
    np.testing.assert_allclose(again.errors, scored.errors, rtol=1e-4, atol=1e-7)


def test_wrong_architecture_cannot_take_the_weights(tiny_bank, tmp_path) -> None:
    from vad_core.checkpoint import _read_weights, load_weights_into

    config = TrainConfig(
        ModelConfig("bcae1", 1, (32, 32)), max_epochs=1, device="cpu", max_windows_per_epoch=4
    )
    result = train(config, tiny_bank, output=tmp_path / "b1")
    other = build_model(ModelConfig("bcae2", 1, (32, 32)))
    with pytest.raises(CheckpointError, match="do not fit architecture bcae2"):
        load_weights_into(other, _read_weights(result.checkpoint), result.checkpoint)


def test_cancelling_stops_between_batches(tiny_bank) -> None:
    config = TrainConfig(ModelConfig("bcae1", 1, (32, 32)), max_epochs=50, batch_size=4, device="cpu")
    events = train_iter(config, tiny_bank, report_every=1)
    kinds = [next(events).kind for _ in range(4)]
    events.close()  # what a GUI worker does on cancel
    assert "batch" in kinds


def test_resume_continues_after_the_last_epoch(tiny_bank, tmp_path) -> None:
    base = dict(
        model=ModelConfig("bcae1", 1, (32, 32)),
        batch_size=8,
        device="cpu",
        max_windows_per_epoch=16,
        early_stopping_patience=100,
    )
    first = train(TrainConfig(max_epochs=2, **base), tiny_bank, output=tmp_path / "run")
    resumed = train(
        TrainConfig(max_epochs=4, **base), tiny_bank, output=tmp_path / "run", resume=tmp_path / "run"
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert resumed.history[:2] == first.history


def test_training_on_too_short_footage_says_so() -> None:
    bank = FrameBank.from_sources([ArraySource(np.zeros((3, 32, 32), np.uint8))], Preprocess((32, 32), 1))
    config = TrainConfig(ModelConfig("cgru_ae", 1, (32, 32)), max_epochs=1, device="cpu")
    with pytest.raises(ConfigError, match="too short"):
        next(train_iter(config, bank))


@pytest.mark.slow
def test_short_training_beats_an_untrained_model(tiny_dataset) -> None:
    bank = FrameBank.from_sources([c.source for c in tiny_dataset.train], Preprocess((64, 64), 1))
    config = TrainConfig(ModelConfig("bcae1", 1, (64, 64)), max_epochs=5, batch_size=16, device="cpu", seed=1)
    trained = train(config, bank).model
    untrained = build_model(ModelConfig("bcae1", 1, (64, 64))).eval()
    inference = InferenceConfig(device="cpu", batch_size=32)
    auroc = {}
    for label, model in (("trained", trained), ("untrained", untrained)):
        auroc[label] = evaluate_dataset(model, tiny_dataset, inference).report.pooled.auroc
    assert auroc["trained"] >= 0.6
    assert auroc["trained"] >= auroc["untrained"] + 0.1
