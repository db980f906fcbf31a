"""Spatial models of the zoo: BCAE1/2, KS CAE (ACB/ADB fusion), attention CAEs, MemAE, SSIM, SVDD."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from vad_core.errors import Cancelled, ConfigError
from vad_core.models import ModelConfig, build_model, count_parameters, example_input
from vad_core.models.asymmetric import ACB, ADB, fuse_model
from vad_core.models.memae import MemAE, hard_shrink
from vad_core.models.softmax_attention import SSACAE
from vad_core.models.squeeze_excitation import SqueezeExcitation
from vad_core.models.ssim import CompoundLoss, gaussian_window, ssim, ssim_error_map, ssim_map
from vad_core.models.svdd import embedding_centre, svdd_finetune

SPATIAL = ["bcae1", "bcae2", "ks_cae", "sa_cae", "ssa_cae", "se_cae", "memae"]
BOTTLENECK = {
    "bcae1": 96,
    "bcae2": 300,
    "ks_cae": 300,
    "sa_cae": 96,
    "ssa_cae": 96,
    "se_cae": 96,
    "memae": 96,
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: one thread is fastest; on a busy 2-core box two OpenMP threads run ~30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _build(name: str, channels: int = 1, size: tuple[int, int] = (64, 64), **options):
    torch.manual_seed(0)
    return build_model(ModelConfig(name, channels=channels, size=size, options=options))


@pytest.mark.parametrize("channels, size", [(1, (64, 64)), (3, (64, 96))])
@pytest.mark.parametrize("name", SPATIAL)
def test_every_spatial_model_reconstructs_frames_of_its_shape(name, channels, size):
    model = _build(name, channels, size)
    frames = example_input(model, batch=2)
    with torch.no_grad():
        output = model(frames)
        embedding = model.encode(frames)
    assert model.spec.mode == "frame"
    assert output.shape == frames.shape
    assert float(output.min()) >= 0.0 and float(output.max()) <= 1.0
    assert embedding.shape == (2, BOTTLENECK[name], size[0] // 32, size[1] // 32)
    assert isinstance(model.last_encoder_layer(), torch.nn.Module)


@pytest.mark.parametrize("name", SPATIAL)
def test_size_not_multiple_of_32_is_a_config_error(name):
    with pytest.raises(ConfigError, match="multiples of 32"):
        build_model(ModelConfig(name, channels=1, size=(64, 80)))


def test_frames_of_wrong_shape_are_rejected_with_the_shape():
    model = _build("bcae1")
    with pytest.raises(ConfigError, match=r"\(2, 3, 64, 64\)"):
        model(torch.rand(2, 3, 64, 64))
    with pytest.raises(ConfigError, match="48x64"):
        model(torch.rand(2, 1, 48, 64))


@pytest.mark.parametrize("name", SPATIAL)
def test_one_training_step_runs_and_gives_finite_gradients(name):
    model = _build(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    frames = example_input(model, batch=2)
    output, aux = model.forward_train(frames)
    loss = F.mse_loss(output, frames) + aux
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert aux.dim() == 0 and torch.isfinite(loss)


@pytest.mark.parametrize("name", ["sa_cae", "memae"])
def test_attention_penalty_and_memory_entropy_are_positive_scalars(name):
    model = _build(name)
    _, aux = model.forward_train(example_input(model))
    assert aux.requires_grad
    assert aux.dim() == 0 and float(aux.detach()) > 0.0


def test_sa_cae_penalty_is_lambda_times_mean_attention():
    model = _build("sa_cae", penalty=1e-3)
    frames = example_input(model)
    _, penalty = model.forward_train(frames)
    expected = 1e-3 * model.attention_map(frames).abs().mean()
    assert torch.allclose(penalty, expected)


@pytest.mark.parametrize("name", ["bcae1", "ks_cae", "sa_cae", "se_cae"])
def test_plain_forward_returns_only_the_output(name):
    model = _build(name).eval()
    output = model(example_input(model))
    assert isinstance(output, torch.Tensor)


def test_memae_addressing_weights_sum_to_one_and_are_sparse():
    model = _build("memae")
    assert isinstance(model, MemAE)
    readout = model.address(example_input(model))
    items = model.memory.items.shape[0]
    assert items == 2000 and model.memory.threshold == pytest.approx(1 / 2000)
    weights = readout.weights
    assert weights.shape == (2, 2, 2, items)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 2, 2), atol=1e-5)
    assert float((weights == 0).float().mean()) > 0.3  # shrinkage zeroed a large share of the items
    assert readout.features.shape == (2, 96, 2, 2)


def test_hard_shrinkage_zeroes_weights_below_the_threshold():
    weights = torch.tensor([0.5, 0.3, 0.15, 0.05])
    shrunk = hard_shrink(weights, 0.1)
    assert shrunk[3] == 0 and torch.allclose(shrunk[:3], weights[:3], atol=1e-6)


def test_memae_options_reach_the_memory():
    model = _build("memae", memory_items=50, shrink_threshold=0.03, addressing="cosine")
    assert model.memory.items.shape == (50, 96) and model.memory.threshold == 0.03
    with pytest.raises(ConfigError, match="addressing"):
        _build("memae", addressing="euclid")


def test_ssa_attention_map_is_scaled_between_03_and_1():
    model = _build("ssa_cae", channels=3, size=(64, 96))
    assert isinstance(model, SSACAE)
    with torch.no_grad():
        x_sam = model.attention_map(example_input(model))
    assert x_sam.shape == (2, 3, 64, 96)
    assert float(x_sam.min()) == pytest.approx(0.3, abs=1e-5) and float(x_sam.max()) == pytest.approx(
        1.0, abs=1e-5
    )


def test_squeeze_excitation_rescales_channels_only():
    block = SqueezeExcitation(64)
    features = torch.rand(2, 64, 8, 8)
    out = block(features)
    ratio = out / features
    assert out.shape == features.shape
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)


def test_bcae1_embedding_is_1536_at_128px():
    model = _build("bcae1", channels=3, size=(128, 128))
    with torch.no_grad():
        embedding = model.encode(torch.rand(1, 3, 128, 128))
    assert embedding.shape == (1, 96, 4, 4) and embedding[0].numel() == 1536


# --- ACB / ADB fusion -------------------------------------------------------------------------------


def _train_a_little(module: torch.nn.Module, inputs: torch.Tensor, steps: int = 3) -> None:
    """A few SGD steps in train mode so weights and BatchNorm running statistics are non-trivial."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    module.train()
    for _ in range(steps):
        output = module(inputs + 0.5)
        loss = (output - 0.3).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()


@pytest.mark.parametrize("stride", [1, 2])
def test_fused_acb_matches_unfused(stride):
    torch.manual_seed(1)
    block = ACB(3, 8, stride=stride)
    inputs = torch.randn(2, 3, 32, 32)
    _train_a_little(block, inputs)
    fused = block.fuse()
    assert isinstance(fused, torch.nn.Conv2d) and fused.bias is not None
    with torch.no_grad():
        expected, actual = block(inputs), fused(inputs)
    assert actual.shape == (2, 8, 32 // stride, 32 // stride)
    assert float((expected - actual).abs().max()) < 1e-5


@pytest.mark.parametrize("stride", [1, 2])
def test_fused_adb_matches_unfused(stride):
    torch.manual_seed(2)
    block = ADB(8, 3, stride=stride)
    inputs = torch.randn(2, 8, 16, 16)
    _train_a_little(block, inputs)
    fused = block.fuse()
    assert isinstance(fused, torch.nn.ConvTranspose2d) and fused.bias is not None
    with torch.no_grad():
        expected, actual = block(inputs), fused(inputs)
    assert actual.shape == (2, 3, 16 * stride, 16 * stride)
    assert float((expected - actual).abs().max()) < 1e-5


def test_fused_blocks_without_batch_norm_match_unfused():
    torch.manual_seed(3)
    for block, inputs in (
        (ACB(3, 4, batch_norm=False), torch.randn(2, 3, 32, 32)),
        (ADB(4, 3, batch_norm=False), torch.randn(2, 4, 8, 8)),
    ):
        block.eval()
        with torch.no_grad():
            assert float((block(inputs) - block.fuse()(inputs)).abs().max()) < 1e-5


def test_fused_ks_cae_matches_unfused():
    model = _build("ks_cae", channels=3, size=(64, 64))
    frames = example_input(model, batch=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(2):
        output, aux = model.forward_train(frames)
        loss = F.mse_loss(output, frames) + aux
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    fused = fuse_model(copy.deepcopy(model))
    assert not any(isinstance(m, (ACB, ADB)) for m in fused.modules())
    with torch.no_grad():
        difference = (model(frames) - fused(frames)).abs().max()
    assert float(difference) < 1e-5
    assert count_parameters(fused) < count_parameters(model)


# --- SSIM ------------------------------------------------------------------------------------------


def test_gaussian_window_is_normalised_and_symmetric():
    window = gaussian_window()
    assert window.shape == (11, 11)
    assert float(window.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(window, window.t()) and window.argmax() == 5 * 11 + 5


def test_ssim_of_identical_images_is_one():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(images, images), torch.ones(2), atol=1e-5)
    assert ssim_map(images, images).shape == (2, 1, 32, 32)


def test_ssim_decreases_as_noise_grows():
    torch.manual_seed(0)
    images = torch.rand(1, 1, 64, 64)
    images = F.avg_pool2d(images, 5, stride=1, padding=2)  # some structure to destroy
    scores = [
        float(ssim(images, (images + s * torch.randn_like(images)).clamp(0, 1)))
        for s in (0.0, 0.05, 0.2, 0.5)
    ]
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert scores[0] > scores[1] > scores[2] > scores[3]


def test_compound_loss_is_differentiable():
    torch.manual_seed(0)
    target = torch.rand(2, 1, 32, 32)
    output = torch.rand(2, 1, 32, 32, requires_grad=True)
    loss = CompoundLoss()(output, target)
    loss.backward()
    assert loss.dim() == 0 and float(loss.detach()) > 0
    assert output.grad is not None and torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0


def test_compound_loss_with_eta_one_equals_mse():
    torch.manual_seed(0)
    output, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert torch.allclose(CompoundLoss(eta=1.0)(output, target), F.mse_loss(output, target))
    half = CompoundLoss()(output, target)
    expected = 0.5 * F.mse_loss(output, target) + 0.5 * (1 - ssim(output, target).mean())
    assert torch.allclose(half, expected)


def test_ssim_error_map_is_zero_for_identical_images_and_in_unit_range():
    torch.manual_seed(0)
    images, other = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert ssim_error_map(images, images).abs().max() < 1e-5
    errors = ssim_error_map(images, other)
    assert errors.shape == (2, 32, 32)
    assert float(errors.min()) >= 0.0 and float(errors.max()) <= 1.0


# --- SVDD fine-tuning --------------------------------------------------------------------------------


def _svdd_setup():
    model = _build("bcae1", channels=1, size=(32, 32))
    generator = torch.Generator().manual_seed(0)
    batches = [torch.rand(2, 1, 32, 32, generator=generator) for _ in range(3)]
    # give BatchNorm non-trivial running statistics, as after real training
    model.train()
    with torch.no_grad():
        for frames in batches:
            model(frames)
    model.eval()
    return model, batches


def test_svdd_centre_is_the_mean_embedding():
    model, batches = _svdd_setup()
    centre = embedding_centre(model, batches)
    with torch.no_grad():
        expected = torch.cat([model.encode(b) for b in batches]).mean(dim=0)
    assert centre.shape == (96, 1, 1)
    assert torch.allclose(centre, expected, atol=1e-6)
    result = svdd_finetune(model, lambda: batches, epochs=0)
    assert torch.allclose(result.centre, expected, atol=1e-6) and result.losses == []


def test_svdd_loss_decreases_with_a_larger_learning_rate():
    model, batches = _svdd_setup()
    result = svdd_finetune(model, lambda: batches, lr=1e-3, epochs=4)
    assert len(result.losses) == 4
    assert result.losses[-1] < result.losses[0]


def test_svdd_changes_only_the_last_encoder_layer():
    model, batches = _svdd_setup()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    calls: list[tuple[int, int, float]] = []
    svdd_finetune(
        model, lambda: batches, lr=1e-3, epochs=2, progress=lambda e, b, loss: calls.append((e, b, loss))
    )
    last = {f"encoder.4.{name}" for name, _ in model.last_encoder_layer().named_parameters()}
    after = model.state_dict()
    for key, value in before.items():
        changed = not torch.equal(value, after[key])
        assert changed == (key in last), key  # BatchNorm running statistics stay frozen too
    assert [p.requires_grad for p in model.parameters()] == flags
    assert not model.training
    assert [(e, b) for e, b, _ in calls] == [(e, b) for e in range(2) for b in range(3)]


def test_svdd_reports_each_epoch_and_keeps_tuning_after_an_evaluation():
    model, batches = _svdd_setup()
    reference, _ = _svdd_setup()
    seen: list[tuple[int, float]] = []

    def evaluate(epoch: int, loss: float) -> None:
        model.train()  # a careless evaluation: BatchNorm left in train mode
        seen.append((epoch, loss))

    result = svdd_finetune(model, lambda: batches, lr=1e-3, epochs=3, on_epoch=evaluate)
    plain = svdd_finetune(reference, lambda: batches, lr=1e-3, epochs=3)
    assert seen == list(zip([1, 2, 3], result.losses, strict=True))
    assert result.losses == pytest.approx(plain.losses, rel=1e-6)  # BatchNorm stayed frozen


def test_svdd_stops_when_asked():
    model, batches = _svdd_setup()
    with pytest.raises(Cancelled):
        svdd_finetune(model, lambda: batches, epochs=2, should_stop=lambda: True)
    assert all(p.requires_grad for p in model.parameters())


def test_fused_ks_cae_checkpoint_loads_and_matches(tmp_path) -> None:
    from vad_core.checkpoint import load_checkpoint, save_checkpoint
    from vad_core.models.ks_cae import fuse_checkpoint

    model = build_model(ModelConfig("ks_cae", 1, (32, 32)))
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(4, 1, 32, 32))  # non-trivial BatchNorm statistics
    path = save_checkpoint(model.eval(), tmp_path / "ks")
    fused = load_checkpoint(fuse_checkpoint(path))
    assert fused.config.options["fused"] is True
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(fused.model(x), model(x), atol=1e-5, rtol=1e-4)
