"""MNAD (Park et al. 2020): memory read / update, feature losses, scoring distance, checkpoints, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_synthetic_dataset
from vad_core.errors import ConfigError
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model, model_entry
from vad_core.models.mnad import ItemMemory, MNADPredictor
from vad_core.sources import ArraySource, Preprocess
from vad_core.training import FrameBank, TrainConfig, train

TINY = {"base_filters": 4}  # C = 32: fast enough for CI


def tiny_model(size: int = 64) -> MNADPredictor:
    torch.manual_seed(0)
    model = build_model(ModelConfig("mnad_predictor", 1, (size, size), TINY))
    assert isinstance(model, MNADPredictor)
    return model


def unit(rows: int, dim: int) -> torch.Tensor:
    return F.normalize(torch.randn(rows, dim), dim=1)


def test_read_returns_one_item_mix_per_query_and_update_keeps_items_unit_norm() -> None:
    torch.manual_seed(0)
    memory = ItemMemory(10, 16)
    queries = unit(50, 16)
    read = memory.read(queries)
    assert read.shape == (50, 16)
    memory.update(queries)
    assert memory.items.shape == (10, 16)
    torch.testing.assert_close(memory.items.norm(dim=1), torch.ones(10))


def test_update_follows_the_papers_rule_on_a_hand_made_case() -> None:
    memory = ItemMemory(2, 2)
    memory.items.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    angle = math.radians(30)
    # q1 and q2 choose item 1 (cos 30 > sin 30), q3 chooses item 2
    queries = torch.tensor([[1.0, 0.0], [math.cos(angle), math.sin(angle)], [0.0, 1.0]])
    memory.update(queries)
    # v'_k1 = exp(s_k1 - max_{k' in U_1} s_k'1): 1 for q1, exp(cos 30 - 1) for q2
    moved = torch.tensor([1.0, 0.0]) + queries[0] + math.exp(math.cos(angle) - 1.0) * queries[1]
    torch.testing.assert_close(memory.items[0], moved / moved.norm())
    torch.testing.assert_close(memory.items[1], torch.tensor([0.0, 1.0]))


def test_items_no_query_chooses_stay_where_they_are() -> None:
    memory = ItemMemory(3, 2)
    memory.items.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    memory.update(torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    torch.testing.assert_close(memory.items[2], torch.tensor([-1.0, 0.0]))
    assert not torch.equal(memory.items[0], torch.tensor([1.0, 0.0]))


def test_losses_are_finite_and_compactness_vanishes_when_queries_are_items() -> None:
    torch.manual_seed(0)
    memory = ItemMemory(10, 16)
    scattered = memory.losses(unit(40, 16))
    assert torch.isfinite(scattered.compactness) and torch.isfinite(scattered.separateness)
    on_items = memory.losses(memory.items.repeat(4, 1))
    assert on_items.compactness.item() == pytest.approx(0.0, abs=1e-10)
    assert on_items.compactness < scattered.compactness
    # the triplet loss there: max(0 - d(q, second nearest) + 1, 0), with d measured between items
    second = memory.items[memory.nearest(memory.items, 2)[:, 1]]
    expected = (1.0 - (memory.items - second).norm(dim=1)).clamp_min(0).mean()
    assert on_items.separateness.item() == pytest.approx(expected.item(), abs=1e-5)


def test_distance_is_the_l2_distance_to_the_nearest_item() -> None:
    memory = ItemMemory(2, 2)
    memory.items.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    queries = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    torch.testing.assert_close(memory.distance(queries), torch.tensor([0.0, math.hypot(0.6, 0.2)]))


@pytest.mark.parametrize("size", [128, 256])
def test_predicts_a_frame_in_unit_range_from_four_at_any_multiple_of_32(size: int) -> None:
    model = tiny_model(size).eval()
    seeds = torch.rand(2, 4, 1, size, size)
    with torch.no_grad():
        prediction = model(seeds)
        scored = model.predict_with_distance(seeds)
        queries = model.encode(seeds)
    assert prediction.shape == (2, 1, 1, size, size)
    assert prediction.min() >= 0 and prediction.max() <= 1
    assert queries.shape == (2, 32, size // 8, size // 8)
    torch.testing.assert_close(queries.norm(dim=1), torch.ones(2, size // 8, size // 8))
    torch.testing.assert_close(scored.prediction, prediction)
    torch.testing.assert_close(scored.distance, model.memory_distance(seeds).detach())
    assert scored.distance.shape == (2,) and torch.all(scored.distance >= 0)


def test_only_a_training_step_updates_the_memory() -> None:
    model = tiny_model()
    seeds = torch.rand(2, 4, 1, 64, 64)
    before = model.memory.items.clone()
    model.eval()
    model.forward_train(seeds)
    model(seeds)
    torch.testing.assert_close(model.memory.items, before)
    model.train()
    model.forward_train(seeds)
    assert not torch.allclose(model.memory.items, before)
    torch.testing.assert_close(model.memory.items.norm(dim=1), torch.ones(10))


def test_gradients_reach_encoder_and_decoder_but_never_the_items() -> None:
    model = tiny_model().train()
    seeds, future = torch.rand(2, 4, 1, 64, 64), torch.rand(2, 1, 1, 64, 64)
    prediction, aux = model.forward_train(seeds)
    assert aux.item() > 0
    (F.mse_loss(prediction, future) + aux).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert "memory.items" in dict(model.named_buffers())
    assert all(p is not model.memory.items for p in model.parameters())


def test_checkpoint_round_trip_keeps_the_memory_items(tmp_path) -> None:
    model = tiny_model().train()
    model.forward_train(torch.rand(2, 4, 1, 64, 64))  # move the items away from their start
    model.eval()
    path = save_checkpoint(model, tmp_path / "mnad")
    loaded = load_checkpoint(path).model
    torch.testing.assert_close(loaded.memory.items, model.memory.items)
    seeds = torch.rand(1, 4, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.memory_distance(seeds), model.memory_distance(seeds))


def test_test_time_update_moves_the_items_in_eval_mode() -> None:
    model = tiny_model().eval()
    before = model.memory.items.clone()
    model.update_memory(torch.rand(1, 4, 1, 64, 64))
    assert not torch.allclose(model.memory.items, before)


def test_registered_defaults_follow_the_paper() -> None:
    entry = model_entry("mnad_predictor")
    assert entry.defaults["memory_items"] == 10
    assert (entry.defaults["compactness_weight"], entry.defaults["separateness_weight"]) == (0.1, 0.1)
    assert entry.training == {"loss": "mse", "strides": (1,), "learning_rate": 2e-4, "batch_size": 4}
    model = build_model(ModelConfig("mnad_predictor", 1, (64, 64)))
    assert model.memory.items.shape == (10, 512)
    assert (model.spec.mode, model.spec.input_frames, model.spec.output_frames) == ("predict", 4, 1)
    assert model.encode(torch.rand(1, 4, 1, 64, 64)).shape == (1, 512, 8, 8)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_items": 1}, "at least 2 items"),
        ({"base_filters": 0}, "base_filters >= 1"),
        ({"compactness_weight": -1}, "weights must be >= 0"),
    ],
)
def test_bad_options_say_what_was_found(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(ModelConfig("mnad_predictor", 1, (32, 32), options))


def test_wrong_clip_shape_names_the_expected_one() -> None:
    with pytest.raises(ConfigError, match=r"\(B, 4, 1, H, W\)"):
        tiny_model()(torch.rand(1, 3, 1, 64, 64))


def test_a_few_training_steps_on_synthetic_frames_move_memory_and_score() -> None:
    dataset = make_synthetic_dataset(
        SyntheticConfig(
            height=64,
            width=64,
            objects=2,
            train_clips=2,
            test_clips_per_type=1,
            frames_per_clip=60,
            anomaly_frames=(20, 30),
        )
    )
    bank = FrameBank.from_sources([c.source for c in dataset.train], Preprocess((64, 64), 1))
    torch.manual_seed(0)
    start = build_model(ModelConfig("mnad_predictor", 1, (64, 64), TINY)).memory.items.clone()
    config = TrainConfig.for_model(
        ModelConfig("mnad_predictor", 1, (64, 64), TINY),
        max_epochs=2,
        batch_size=8,
        max_windows_per_epoch=48,
        device="cpu",
        validation_fraction=0.1,
    )
    result = train(config, bank)
    assert len(result.history) == 2 and all(np.isfinite(h["train_loss"]) for h in result.history)
    items = result.model.memory.items
    assert not torch.allclose(items, start)  # the trainer's seed builds the same start items
    torch.testing.assert_close(items.norm(dim=1), torch.ones(10))
    clip = dataset.test[0]
    scored = score_all(
        result.model, ArraySource(clip.source.read(0, 20), fps=25), InferenceConfig(device="cpu")
    )
    assert scored.errors.shape == (20,) and np.isfinite(scored.errors).all()
