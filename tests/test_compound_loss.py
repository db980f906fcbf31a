"""The compound SSIM loss (thesis eq. 3.10) trains and scores RGB parts at sizes above 128 px.

Issue 24: on MVTec bottle at 256 px a compound-trained BCAE1 scored below chance. The model sat in
the loss's initial plateau (a near-constant output) for ~110 optimizer steps, and with 6 batches per
epoch early stopping's 8-epoch patience ended the run inside it; the checkpoint was then scored with
the squared error, not the loss it was trained on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from explain_fixtures import DEFECTS, make_part, plant_defect

from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import pixel_errors, score_all
from vad_core.metrics import auroc, pixel_auroc
from vad_core.models import ModelConfig
from vad_core.models.ssim import CompoundLoss, compound_error_map, ssim
from vad_core.sources import ArraySource
from vad_core.sources.preprocess import Preprocess
from vad_core.training import FrameBank, TrainConfig, train
from vad_core.training.trainer import _epoch_order


def _parts(count: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([make_part(rng, size, textured=True) for _ in range(count)])


def test_ssim_is_float32_under_bfloat16_autocast() -> None:
    x = torch.rand(2, 3, 64, 64)
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    exact = ssim(y, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = ssim(y, x)
    assert under_autocast.dtype == torch.float32
    assert torch.allclose(under_autocast, exact, atol=1e-6)


def test_compound_error_map_averages_to_the_compound_loss() -> None:
    x, y = torch.rand(3, 3, 40, 40), torch.rand(3, 3, 40, 40)
    per_image = compound_error_map(y, x).mean(dim=(1, 2))
    assert torch.allclose(per_image.mean(), CompoundLoss()(y, x), atol=1e-6)
    assert torch.allclose(pixel_errors(y, x, "compound"), compound_error_map(y, x))


def test_small_training_sets_get_at_least_the_minimum_batches_per_epoch() -> None:
    config = TrainConfig(ModelConfig("bcae1", 3, (64, 64)), batch_size=32)
    order = _epoch_order(188, config, torch.Generator().manual_seed(0))
    assert len(order) == 32 * 32  # 188 rows (MVTec bottle's 90 %) drawn about 5.4 times
    assert set(order.tolist()) == set(range(188))
    capped = TrainConfig(ModelConfig("bcae1", 3, (64, 64)), batch_size=32, max_windows_per_epoch=50)
    assert len(_epoch_order(188, capped, torch.Generator())) == 50
    assert len(_epoch_order(5000, config, torch.Generator())) == 5000


def test_compound_trained_checkpoints_are_scored_with_the_compound_error() -> None:
    model = ModelConfig("bcae1", 3, (64, 64))
    assert TrainConfig(model, loss="compound").scoring_defaults() == {"error": "compound"}
    assert TrainConfig(model).scoring_defaults() == {"error": "mse"}


@pytest.mark.slow
def test_compound_training_on_rgb_parts_at_160px_learns_and_finds_planted_defects(tmp_path) -> None:
    size = 160
    good = _parts(32, size, seed=0)
    bank = FrameBank.from_sources(
        [ArraySource(good, name="good", is_sequence=False)], Preprocess((size, size), 3)
    )
    config = TrainConfig(
        ModelConfig("bcae1", 3, (size, size)),
        loss="compound",
        strides=(1,),
        batch_size=8,
        max_epochs=3,  # 3 x 32 batches: past the loss's initial plateau
        device="cpu",
        seed=0,
    )
    result = train(config, bank, output=tmp_path / "parts")
    assert result.checkpoint is not None
    from vad_core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.scoring["error"] == "compound"

    rng = np.random.default_rng(7)
    defective = [plant_defect(make_part(rng, size, textured=True), DEFECTS[i % 3], rng) for i in range(12)]
    frames = np.concatenate([_parts(12, size, seed=3), np.stack([image for image, _ in defective])])
    inference = InferenceConfig(device="cpu", error=checkpoint.scoring["error"])
    scores = score_all(checkpoint.model, ArraySource(frames, name="test", is_sequence=False), inference)
    labels = np.r_[np.zeros(12), np.ones(12)]
    assert auroc(scores.errors, labels) >= 0.9
    masks = [mask for _, mask in defective]
    assert pixel_auroc(list(scores.maps[12:].astype(np.float32)), masks) >= 0.85
