"""DRAEM (Zavrtanik et al. 2021): recipe, anomaly synthesis, losses, scoring, training, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from explain_fixtures import DEFECTS, make_part, plant_defect

from vad_core.checkpoint import load_checkpoint
from vad_core.errors import ConfigError
from vad_core.explain import explain
from vad_core.explain.scorer import AnomalyScorer
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.metrics import auroc, pixel_auroc
from vad_core.models import ModelConfig, build_model
from vad_core.models.draem import DRAEM, focal_loss, score_window
from vad_core.scoring.frame_error import reduce_error_maps, reduce_error_maps_torch
from vad_core.sources import ArraySource
from vad_core.sources.preprocess import Preprocess
from vad_core.training import FrameBank, TrainConfig, train
from vad_core.training.anomaly_synthesis import SynthesisConfig, perlin_masks, synthesize_anomalies
from vad_core.training.schedules import MilestoneSchedule

TINY = {"recon_width": 16, "disc_width": 8}


def _tiny(size: int = 64) -> ModelConfig:
    return ModelConfig("draem", 3, (size, size), TINY)


def _parts(count: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([make_part(rng, size, textured=True) for _ in range(count)])


def _bank(count: int, size: int, seed: int = 0) -> FrameBank:
    good = _parts(count, size, seed)
    return FrameBank.from_sources(
        [ArraySource(good, name="good", is_sequence=False)], Preprocess((size, size), 3)
    )


# ------------------------------------------------------------------------------------ the recipe
def test_draem_is_registered_with_the_papers_training_recipe() -> None:
    config = TrainConfig.for_model(ModelConfig("draem", 3, (256, 256)))
    assert (config.learning_rate, config.batch_size, config.max_epochs) == (1e-4, 8, 700)
    assert config.lr_factor == 0.2 and config.keep == "last" and config.validation_fraction == 0.0
    assert [round(m * 700) for m in config.lr_milestones] == [400, 600]
    model = build_model(ModelConfig("draem", 3, (256, 256)))
    assert model.config.options == {"recon_width": 128, "disc_width": 64}
    small = build_model(ModelConfig("draem_small", 3, (128, 128)))
    assert small.config.options == {"recon_width": 32, "disc_width": 16}
    assert config.scoring_defaults() == {"error": "segmentation", "reduction": "smoothed_max", "patch": 21}
    assert TrainConfig.for_model(_tiny(128)).scoring_defaults()["patch"] == 11


def test_other_models_keep_the_thesis_recipe_and_scoring() -> None:
    config = TrainConfig.for_model(ModelConfig("bcae1", 1, (64, 64)))
    assert config.lr_milestones == () and config.keep == "best" and config.learning_rate == 1e-3
    assert config.scoring_defaults() == {"error": "mse"}


def test_lr_falls_to_a_fifth_after_epoch_400_and_again_after_600_of_700() -> None:
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-4)
    schedule = MilestoneSchedule(optimizer, (400 / 700, 600 / 700), 0.2)
    lrs = {1: optimizer.param_groups[0]["lr"]}  # the lr each epoch trains with
    for epoch in range(1, 701):
        schedule.step(epoch / 700)
        lrs[epoch + 1] = optimizer.param_groups[0]["lr"]
    assert lrs[400] == pytest.approx(1e-4) and lrs[401] == pytest.approx(2e-5)
    assert lrs[600] == pytest.approx(2e-5) and lrs[601] == pytest.approx(4e-6)


# ------------------------------------------------------------------------------------- synthesis
def test_synthesised_changes_lie_inside_the_mask() -> None:
    images = torch.rand(16, 3, 64, 64)
    generator = torch.Generator().manual_seed(3)
    batch = synthesize_anomalies(images, images.roll(1, dims=0), generator)
    changed = (batch.images - images).abs().amax(dim=1, keepdim=True) > 0
    assert not (changed & (batch.masks == 0)).any()  # outside the mask the image is untouched
    assert torch.equal(batch.has_anomaly, batch.masks.flatten(1).amax(dim=1) > 0)
    inside = batch.masks > 0
    assert changed[inside].float().mean() > 0.5  # and inside it mostly changed (beta >= 0.1)
    assert set(torch.unique(batch.masks).tolist()) <= {0.0, 1.0}


def test_perlin_masks_are_binary_varied_and_seeded() -> None:
    def draw(seed: int) -> torch.Tensor:
        return perlin_masks(32, (64, 64), torch.Generator().manual_seed(seed))

    masks = draw(0)
    assert set(torch.unique(masks).tolist()) <= {0.0, 1.0}
    coverage = masks.flatten(1).mean(dim=1)
    assert 0.0 < coverage.max() < 0.8 and len(torch.unique(coverage)) > 20  # images differ
    assert torch.equal(masks, draw(0)) and not torch.equal(masks, draw(1))


def test_about_half_the_images_get_an_anomaly_and_none_when_told() -> None:
    images = torch.rand(64, 3, 32, 32)
    batch = synthesize_anomalies(images, generator=torch.Generator().manual_seed(0))
    assert 16 <= int(batch.has_anomaly.sum()) <= 48
    none = synthesize_anomalies(images, config=SynthesisConfig(anomaly_probability=0.0))
    assert torch.equal(none.images, images) and not none.has_anomaly.any()


# ---------------------------------------------------------------------------------------- losses
def test_focal_loss_is_cross_entropy_at_gamma_zero_and_small_when_confident() -> None:
    logits = torch.randn(2, 2, 8, 8)
    masks = (torch.rand(2, 1, 8, 8) > 0.5).float()
    cross_entropy = torch.nn.functional.cross_entropy(logits, masks[:, 0].long())
    assert focal_loss(logits, masks, gamma=0.0) == pytest.approx(cross_entropy.item(), rel=1e-5)
    confident = torch.cat([(1 - masks) * 10, masks * 10], dim=1)
    assert focal_loss(confident, masks) < 1e-6 < focal_loss(-confident, masks)


def test_forward_train_is_float32_and_trains_under_bfloat16_autocast() -> None:
    model = build_model(_tiny(64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reconstruction, aux = model.forward_train(torch.rand(4, 3, 64, 64))
    assert aux.dtype == torch.float32 and torch.isfinite(aux) and aux > 0
    (reconstruction.float().mean() + aux).backward()
    assert model.discriminative.head.weight.grad is not None


# --------------------------------------------------------------------------------------- scoring
def test_the_image_score_is_the_maximum_of_the_mean_filtered_map() -> None:
    maps = torch.zeros(2, 64, 64)
    maps[0, 30, 30] = 1.0  # one hot pixel: its 5x5 mean is 1/25
    maps[1, 10:20, 10:20] = 0.5  # a blob wider than the filter keeps its value
    assert score_window(64, 64) == 5 and score_window(256, 256) == 21
    scores = DRAEM.image_score(maps)
    assert scores.tolist() == pytest.approx([1 / 25, 0.5])
    assert reduce_error_maps(maps.numpy(), "smoothed_max", 5) == pytest.approx([1 / 25, 0.5])
    assert reduce_error_maps_torch(maps, "smoothed_max", 5).tolist() == pytest.approx([1 / 25, 0.5])


def test_scoring_with_segmentation_reads_the_models_anomaly_map() -> None:
    model = build_model(_tiny(64)).eval()
    frames = _parts(3, 64, seed=5)
    inference = InferenceConfig(device="cpu", error="segmentation", reduction="smoothed_max", patch=5)
    result = score_all(model, ArraySource(frames, name="t", is_sequence=False), inference)
    with torch.no_grad():
        heat = model.anomaly_map(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    assert np.allclose(result.maps.astype(np.float32), heat.numpy(), atol=2e-3)
    assert np.allclose(result.errors, DRAEM.image_score(heat).numpy(), atol=2e-3)
    bcae = build_model(ModelConfig("bcae1", 3, (64, 64)))
    with pytest.raises(ConfigError, match="gives no anomaly map"):
        score_all(bcae, ArraySource(frames, name="t", is_sequence=False), inference)


# ----------------------------------------------------------------------------- training, checkpoints
def _short_config(**settings) -> TrainConfig:
    options = {"max_epochs": 2, "min_batches_per_epoch": 2, "device": "cpu", "seed": 0, **settings}
    return TrainConfig.for_model(_tiny(64), **options)


def test_checkpoints_round_trip_with_their_scoring(tmp_path) -> None:
    result = train(_short_config(), _bank(8, 64), output=tmp_path / "draem")
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.scoring == {"error": "segmentation", "reduction": "smoothed_max", "patch": 5}
    assert checkpoint.metadata["training"]["best_epoch"] == 2  # the last epoch is kept
    frames = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(
            checkpoint.model.anomaly_map(frames), result.model.anomaly_map(frames), atol=1e-6
        )


def test_a_resumed_run_continues_its_epochs_and_lr_schedule(tmp_path) -> None:
    bank = _bank(8, 64)
    with pytest.raises(KeyboardInterrupt):

        def stop_after_two(event) -> None:
            if event.kind == "epoch" and event.epoch == 2:
                raise KeyboardInterrupt

        train(_short_config(max_epochs=4), bank, output=tmp_path / "run", progress=stop_after_two)
    resumed = train(_short_config(max_epochs=4), bank, output=tmp_path / "run", resume=tmp_path / "run")
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    # milestones 4/7 and 6/7 of 4 epochs: after epoch 3 (0.75) one drop, after epoch 4 the second
    assert [h["lr"] for h in resumed.history] == pytest.approx([1e-4, 1e-4, 2e-5, 4e-6])


def test_a_time_budget_stops_training_and_saves(tmp_path) -> None:
    result = train(_short_config(max_epochs=50, max_seconds=0.01), _bank(8, 64), output=tmp_path / "budget")
    assert result.epochs_run == 1 and result.checkpoint is not None and result.checkpoint.exists()
    assert result.history[-1]["lr"] == pytest.approx(4e-6)  # the budget is spent: fully annealed


@pytest.fixture(scope="module")
def trained_parts():
    """A tiny DRAEM trained 192 steps on 32 drawn parts at 64 px, and test parts with planted defects."""
    size = 64
    config = TrainConfig.for_model(
        _tiny(size), max_epochs=12, min_batches_per_epoch=16, learning_rate=1e-3, device="cpu", seed=0
    )
    model = train(config, _bank(32, size)).model
    rng = np.random.default_rng(7)
    defective = [plant_defect(make_part(rng, size, textured=True), DEFECTS[i % 3], rng) for i in range(12)]
    frames = np.concatenate([_parts(12, size, seed=3), np.stack([image for image, _ in defective])])
    return model, frames, np.r_[np.zeros(12), np.ones(12)].astype(bool), [mask for _, mask in defective]


@pytest.mark.slow
def test_short_cpu_training_finds_planted_defects_on_drawn_parts(trained_parts) -> None:
    model, frames, labels, masks = trained_parts
    inference = InferenceConfig(device="cpu", **TrainConfig.for_model(_tiny(64)).scoring_defaults())
    scores = score_all(model, ArraySource(frames, name="test", is_sequence=False), inference)
    assert auroc(scores.errors, labels) >= 0.9  # chance is 0.5 (measured: 1.0)
    assert pixel_auroc(list(scores.maps[12:].astype(np.float32)), masks) >= 0.9  # measured: 0.996


@pytest.mark.slow
def test_explain_works_on_draem_through_its_image_score(trained_parts) -> None:
    model, frames, labels, masks = trained_parts
    scorer = AnomalyScorer.calibrate(model, frames, labels)
    assert scorer.error == "segmentation"
    with torch.no_grad():
        probabilities = scorer(scorer.as_model_input(frames))[:, 1].numpy()
    assert ((probabilities > 0.5) == labels).mean() >= 0.9  # the classifier follows the image score
    index = 12 + int(np.argmax([mask.sum() for mask in masks]))
    explanation = explain("shap", model, frames[index], scorer=scorer, max_evals=200)
    with torch.no_grad():
        score = float(scorer.score(scorer.as_model_input(frames[index : index + 1]))[0])
    assert explanation.score == pytest.approx(score, rel=1e-4)
    assert explanation.probability > 0.5 and explanation.threshold == scorer.threshold
    assert explanation.heatmap.shape == frames[index].shape[:2] and np.isfinite(explanation.heatmap).all()


def test_the_scorer_of_a_segmenting_model_uses_its_image_score() -> None:
    model = build_model(_tiny(64)).eval()
    scorer = AnomalyScorer(model)
    frames = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = model.image_score(model.anomaly_map(frames))
        assert torch.allclose(scorer.raw_errors(frames), expected)
    assert AnomalyScorer(model, error="mse").error == "mse"
    with pytest.raises(ConfigError, match="segments"):
        AnomalyScorer(build_model(ModelConfig("bcae1", 3, (64, 64))), error="segmentation")


def test_vad_train_keeps_the_draem_recipe_unless_told(tmp_path) -> None:
    from vad_core.cli.main import build_parser
    from vad_core.cli.train_cmd import recommended_scoring, train_config

    parser = build_parser()
    base = [
        "train",
        "--model",
        "draem",
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "m"),
        "--size",
        "256",
    ]
    args = parser.parse_args(base)
    config = train_config(args)
    assert (config.learning_rate, config.batch_size, config.max_epochs, config.keep) == (1e-4, 8, 700, "last")
    assert recommended_scoring(args, config) == {
        "error": "segmentation",
        "reduction": "smoothed_max",
        "patch": 21,
    }
    told = train_config(parser.parse_args([*base, "--epochs", "70", "--lr", "3e-4", "--max-minutes", "2"]))
    assert (told.max_epochs, told.learning_rate, told.max_seconds) == (70, 3e-4, 120.0)
    bcae = train_config(parser.parse_args([*base[:2], "bcae1", *base[3:]]))
    assert (bcae.learning_rate, bcae.batch_size, bcae.max_epochs, bcae.validation_fraction) == (
        1e-3,
        32,
        300,
        0.1,
    )
