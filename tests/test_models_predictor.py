"""The U-Net future-frame predictor and the gradient difference loss it trains with."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vad_core.errors import ConfigError
from vad_core.models import ModelConfig, build_model
from vad_core.models.gradient_loss import gradient_difference_loss
from vad_core.training import TrainConfig
from vad_core.training.trainer import loss_function


@pytest.fixture
def small_unet() -> nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig("unet_predictor", 1, (32, 32), {"base_filters": 8, "levels": 3}))


def test_predicts_one_frame_from_four_and_trains_one_step(small_unet):
    clip = torch.rand(2, 5, 1, 32, 32)
    seeds, future = small_unet.split(clip)
    assert seeds.shape == (2, 4, 1, 32, 32) and future.shape == (2, 1, 1, 32, 32)
    prediction = small_unet(seeds)
    assert prediction.shape == future.shape
    assert prediction.min() >= 0 and prediction.max() <= 1
    loss = nn.functional.mse_loss(prediction, future) + gradient_difference_loss(prediction, future)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in small_unet.parameters())


def test_prediction_depends_on_every_seed_frame(small_unet):
    seeds = torch.rand(1, 4, 1, 32, 32, requires_grad=True)
    small_unet.eval()(seeds).sum().backward()
    assert all(seeds.grad[:, t].abs().sum() > 0 for t in range(4))


def test_defaults_follow_liu_et_al():
    model = build_model(ModelConfig("unet_predictor", 3, (64, 64)))
    assert (model.spec.mode, model.spec.input_frames, model.spec.output_frames) == ("predict", 4, 1)
    assert model.encode(torch.rand(1, 4, 3, 64, 64)).shape == (1, 512, 8, 8)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"levels": 1}, "2..6 levels"), ({"levels": 7}, "2..6 levels"), ({"seed_frames": 0}, "at least 1")],
)
def test_bad_options_say_what_was_found(options, message):
    with pytest.raises(ConfigError, match=message):
        build_model(ModelConfig("unet_predictor", 1, (32, 32), options))


def test_wrong_clip_shape_names_the_expected_one(small_unet):
    with pytest.raises(ConfigError, match=r"\(B, 4, 1, H, W\)"):
        small_unet(torch.rand(1, 3, 1, 32, 32))


def test_gradient_loss_is_zero_for_equal_images_and_for_a_brightness_shift():
    image = torch.rand(2, 1, 16, 16)
    assert gradient_difference_loss(image, image) == 0
    assert gradient_difference_loss(image + 0.2, image) < 1e-6


def test_gradient_loss_penalises_blur_that_mse_barely_sees():
    edges = torch.zeros(1, 1, 16, 16)
    edges[..., ::2] = 1.0  # stripes: the largest possible horizontal gradients
    blurred = torch.full_like(edges, 0.5)  # what an L2 predictor hedging between shifts would output
    assert gradient_difference_loss(blurred, edges) == pytest.approx(1.0)
    assert gradient_difference_loss(edges.roll(1, dims=-1), edges) == 0  # a sharp shift keeps edges


def test_training_config_offers_the_intensity_and_gradient_loss():
    config = TrainConfig(ModelConfig("unet_predictor", 1, (32, 32)), loss="mse+gradient")
    criterion = loss_function(config)
    prediction, target = torch.zeros(1, 1, 1, 8, 8), torch.ones(1, 1, 1, 8, 8)
    assert criterion(prediction, target).item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="loss must be one of"):
        TrainConfig(ModelConfig("bcae1"), loss="gradient")


def test_the_predictor_trains_with_its_own_defaults_unless_told_otherwise():
    unet = ModelConfig("unet_predictor", 1, (32, 32))
    assert (TrainConfig.for_model(unet).loss, TrainConfig.for_model(unet).strides) == ("mse+gradient", (1,))
    assert TrainConfig.for_model(unet, strides=(1, 2)).strides == (1, 2)
    thesis = TrainConfig.for_model(ModelConfig("bcae1"), max_epochs=5)
    assert (thesis.loss, thesis.strides, thesis.max_epochs) == ("mse", (1, 2, 4, 8, 16), 5)
