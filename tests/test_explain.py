"""Explainability engine: shapes, conservation, localisation on planted defects, determinism, cancel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from explain_fixtures import good_parts, make_part, plant_defect, tiny_setup

from vad_core.errors import Cancelled, ConfigError
from vad_core.explain import (
    METHODS,
    AnomalyScorer,
    Calibration,
    clip_for_frame,
    explain,
    find_counterfactual,
    lrp_relevance,
    method_info,
    prepare_input,
)
from vad_core.explain.localisation import (
    box_mask,
    coverage,
    localisation_scores,
    pointing_game,
    top_fraction_mask,
    topk_iou,
)
from vad_core.explain.lrp import LRPRules
from vad_core.models import ModelConfig, build_model
from vad_core.sources import ArraySource

# importing shap sets matplotlib colormap extremes the old way; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

FAST = {
    "shap": {"max_evals": 200},
    "lime": {"num_samples": 150, "n_segments": 40},
    "lrp": {},
    "counterfactual": {},
}


def bias_free_bcae1(size: int = 32) -> torch.nn.Module:
    """A random BCAE1 whose folded biases are all zero (BatchNorm shift and mean 0, no output bias)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig("bcae1", 3, (size, size)))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.bias.zero_()
                module.running_mean.zero_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
            elif isinstance(module, torch.nn.ConvTranspose2d) and module.bias is not None:
                module.bias.zero_()
    return model.eval()


# ------------------------------------------------------------------------------------ the interface
@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_returns_a_finite_heatmap_at_input_resolution(method: str) -> None:
    setup = tiny_setup()
    image = np.ascontiguousarray(np.repeat(np.repeat(setup.defective[0], 2, axis=0), 2, axis=1)[:48, :40])
    result = explain(method, setup.model, image, scorer=setup.scorer, seed=0, **FAST[method])
    assert result.heatmap.shape == (48, 40)
    assert result.heatmap.dtype == np.float32
    assert np.all(np.isfinite(result.heatmap))
    assert np.abs(result.heatmap).max() > 0
    assert result.method == method
    assert result.signed == METHODS[method].signed
    assert result.seconds > 0
    assert result.settings["seed"] == 0
    assert result.extras["model_heatmap"].shape == (32, 32)
    assert result.anomalous and result.probability > 0.5


def test_unknown_method_or_option_is_a_config_error() -> None:
    setup = tiny_setup()
    with pytest.raises(ConfigError, match="unknown method"):
        explain("gradcam", setup.model, setup.defective[0])
    with pytest.raises(ConfigError, match="lime"):
        explain("lime", setup.model, setup.defective[0], num_sample=10)
    assert method_info("e-LRP").name == "lrp"


def test_without_calibration_the_image_is_its_own_unit() -> None:
    setup = tiny_setup()
    result = explain("counterfactual", setup.model, setup.defective[0])
    assert result.score == pytest.approx(1.0, rel=1e-4)
    assert result.threshold == 0.5
    assert result.extras["score_after"] < 0.5


# --------------------------------------------------------------------------------------- the scorer
def test_scorer_probabilities_flip_exactly_at_the_threshold() -> None:
    setup = tiny_setup()
    scorer = setup.scorer
    frames = scorer.as_model_input(np.concatenate([setup.good, setup.defective]))
    with torch.no_grad():
        probabilities = scorer(frames)
        scores = scorer.score(frames)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(len(frames)))
    assert torch.equal(probabilities[:, 1] > 0.5, scores > scorer.threshold)
    numpy_scores = scorer.predict(frames.permute(0, 2, 3, 1).cpu().numpy(), output="score")
    np.testing.assert_allclose(numpy_scores, scores.numpy(), rtol=1e-4)
    assert (scores[: len(setup.good)] < scorer.threshold).all()  # the good parts are judged normal


def test_calibration_uses_the_gmean_threshold_and_max_scale() -> None:
    errors = np.array([1.0, 2.0, 3.0, 8.0, 10.0])
    labels = np.array([0, 0, 0, 1, 1], bool)
    calibration = Calibration.from_errors(errors, labels)
    assert calibration.scale == 10.0
    assert calibration.threshold == pytest.approx(0.8)  # lowest anomalous score separates perfectly
    assert calibration.normal_level == pytest.approx(0.3)
    unlabelled = Calibration.from_errors(errors[:3])
    assert unlabelled.threshold == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="scale"):
        Calibration.from_errors(errors, scale="median")


def test_clip_models_explain_the_selected_frame_with_the_clip_fixed() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig("crnn_ae", 1, (32, 32), {"time_steps": 4})).eval()
    clip = (np.random.default_rng(0).random((4, 32, 32)) * 255).astype(np.uint8)
    inputs = prepare_input(model, clip, frame=2)
    scorer = AnomalyScorer(model, Calibration(0.05, 0.5), inputs.context, inputs.position)
    with torch.no_grad():
        own = scorer.score(inputs.frame[None])
        other = scorer.score(torch.zeros(1, 1, 32, 32))
    assert float(own) != pytest.approx(float(other))
    result = explain("lime", model, clip, frame=2, num_samples=30, n_segments=16, seed=0)
    assert result.heatmap.shape == (32, 32)
    assert result.settings["frame"] == 2
    with pytest.raises(ConfigError, match="e-LRP"):
        explain("lrp", model, clip, frame=2)
    with pytest.raises(ConfigError, match="window of 4"):
        explain("counterfactual", model, clip[:3])


@pytest.mark.parametrize(
    ("name", "options", "index"),
    [
        ("crnn_ae", {"time_steps": 4}, 6),
        ("seq2seq_crnn", {"seed_frames": 2, "predicted_frames": 2, "recurrent_layers": 1}, 1),
    ],
)
def test_clip_for_frame_finds_the_window_that_scores_the_frame(name, options, index) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, 1, (32, 32), options)).eval()
    frames = (np.random.default_rng(1).random((10, 32, 32)) * 255).astype(np.uint8)
    window, position = clip_for_frame(model, ArraySource(frames), index)
    assert len(window) == model.spec.window
    if model.spec.mode == "clip" or index >= model.spec.input_frames:
        np.testing.assert_array_equal(window[position], frames[index])
    else:  # a predictor cannot score its first seed frames: the first predicted frame stands in
        assert position == model.spec.input_frames
    result = explain("counterfactual", model, window, frame=position, grid=4)
    assert result.heatmap.shape == (32, 32) and result.extras["boxes"]


# -------------------------------------------------------------------------------------------- e-LRP
def test_lrp_conserves_relevance_on_a_bias_free_model() -> None:
    model = bias_free_bcae1()
    scorer = AnomalyScorer(model, Calibration(scale=0.02))
    frame = torch.from_numpy(good_parts(1, 32)[0]).permute(2, 0, 1).float() / 255.0
    result = lrp_relevance(scorer, frame, LRPRules(epsilon=1e-9))
    with torch.no_grad():
        expected = float(scorer.score(frame[None]))
    assert result.score == pytest.approx(expected, rel=1e-4)
    assert result.total == pytest.approx(result.score, rel=0.05)
    for rules in (
        LRPRules(epsilon=0.0, encoder_rule="zero", decoder_rule="zero", input_rule="zero"),
        LRPRules(epsilon=1e-9, loss_rule="midpoint"),
        LRPRules(epsilon=1e-9, input_rule="zbox", encoder_rule="gamma"),
    ):
        assert lrp_relevance(scorer, frame, rules).conservation == pytest.approx(1.0, abs=0.05)


def test_lrp_loss_layer_splits_the_error_between_input_copy_and_reconstruction() -> None:
    model = bias_free_bcae1()
    scorer = AnomalyScorer(model, Calibration(scale=1.0))
    frame = torch.rand(3, 32, 32)
    result = lrp_relevance(scorer, frame, LRPRules(epsilon=1e-9))
    with torch.no_grad():
        reconstruction = model(frame[None])[0]
    difference = frame - reconstruction
    expected_direct = (frame * difference).sum(0) / frame.numel()
    np.testing.assert_allclose(result.direct, expected_direct.numpy(), atol=1e-6)
    # the reconstruction path carries the rest: -xhat * d, summed over the image
    through = float((-reconstruction * difference).sum() / frame.numel())
    assert result.through_model.sum() == pytest.approx(through, rel=0.05, abs=1e-6)


# ------------------------------------------------------------------------------- localisation tests
def _scores(method: str, index: int, **options):
    """Explanation of defective part ``index`` and its localisation (pointing game with the usual
    tolerance, here 2 px of 32, as Zhang et al.'s 15 px of 224)."""
    setup = tiny_setup()
    result = explain(method, setup.model, setup.defective[index], scorer=setup.scorer, seed=0, **options)
    return result, localisation_scores(result.heatmap, setup.masks[index], fraction=0.05, tolerance=2)


@pytest.mark.parametrize(
    ("method", "options", "kinds"),
    [
        ("shap", {"max_evals": 500}, (0, 1, 2)),
        ("lime", {"num_samples": 300}, (0, 1, 2)),
        ("counterfactual", {}, (0, 1, 2)),
        ("lrp", {}, (0, 3)),  # bright scratches: the default loss-layer split sees them
        ("lrp", {"loss_rule": "midpoint"}, (0, 1, 2)),  # and the midpoint split sees every kind
    ],
)
def test_top_pixels_of_each_method_overlap_the_planted_defect(method, options, kinds) -> None:
    for index in kinds:
        _, scores = _scores(method, index, **options)
        kind = tiny_setup().kinds[index]
        assert scores.iou >= max(0.2, 8 * scores.chance_iou), (method, kind, scores)
        assert scores.pointing_hit, (method, kind, scores)


def test_default_lrp_misses_black_defects_as_documented() -> None:
    # a black hole has x ~ 0, so its input-copy relevance x * d nearly vanishes (LRP's blindness to zeros)
    result, scores = _scores("lrp", 1)
    assert tiny_setup().kinds[1] == "hole"
    hole = tiny_setup().masks[1]
    midpoint, _ = _scores("lrp", 1, loss_rule="midpoint")  # gives each pixel half of its d^2
    assert np.abs(result.extras["direct"][hole]).sum() < 0.2 * midpoint.extras["direct"][hole].sum()
    assert not scores.pointing_hit


@pytest.mark.parametrize("index", [0, 1, 2])
def test_counterfactual_box_contains_the_defect(index: int) -> None:
    setup = tiny_setup()
    result = explain("counterfactual", setup.model, setup.defective[index], scorer=setup.scorer)
    boxes = result.extras["boxes"]
    assert result.extras["crossed"]
    assert result.extras["score_before"] >= setup.scorer.threshold
    assert result.extras["score_after"] < setup.scorer.calibration.normal_target
    region = box_mask(boxes, setup.masks[index].shape)
    assert coverage(region, setup.masks[index]) >= 0.75
    assert region.mean() <= 0.25  # a box around the defect, not half the image


def test_threshold_target_gives_a_smaller_box_that_just_crosses() -> None:
    setup = tiny_setup()
    frame = setup.scorer.as_model_input(setup.defective[:1])[0]
    minimal = find_counterfactual(setup.scorer, frame, target="threshold")
    repaired = find_counterfactual(setup.scorer, frame, target="normal")
    assert minimal.crossed and minimal.score_after < setup.scorer.threshold
    assert sum(b.area for b in minimal.boxes) <= sum(b.area for b in repaired.boxes)


def test_counterfactual_of_a_normal_part_reports_no_crossing() -> None:
    setup = tiny_setup()
    frame = setup.scorer.as_model_input(setup.good[:1])[0]
    result = find_counterfactual(setup.scorer, frame, replacement="blur")
    assert not result.crossed
    assert len(result.boxes) == 1
    assert result.score_after <= result.score_before


def test_counterfactual_on_a_bigger_input_scales_boxes_to_it() -> None:
    setup = tiny_setup()
    rng = np.random.default_rng(3)
    image, mask = plant_defect(make_part(rng, 64), "print", rng)
    result = explain("counterfactual", setup.model, image, scorer=setup.scorer)
    assert result.heatmap.shape == (64, 64)
    assert coverage(box_mask(result.extras["boxes"], (64, 64)), mask) >= 0.6


# ---------------------------------------------------------------------- determinism, progress, cancel
@pytest.mark.parametrize("method", ["lime", "shap"])
def test_sampling_methods_are_deterministic_for_a_seed(method: str) -> None:
    setup = tiny_setup()
    first = explain(method, setup.model, setup.defective[2], scorer=setup.scorer, seed=7, **FAST[method])
    again = explain(method, setup.model, setup.defective[2], scorer=setup.scorer, seed=7, **FAST[method])
    np.testing.assert_array_equal(first.heatmap, again.heatmap)


@pytest.mark.parametrize("method", list(METHODS))
def test_progress_is_reported_and_should_stop_cancels(method: str) -> None:
    setup = tiny_setup()
    seen: list[tuple[int, int]] = []
    explain(
        method,
        setup.model,
        setup.defective[0],
        scorer=setup.scorer,
        progress=lambda d, t: seen.append((d, t)),
        **FAST[method],
    )
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        explain(
            method, setup.model, setup.defective[0], scorer=setup.scorer, should_stop=stop, **FAST[method]
        )


# ------------------------------------------------------------------------------ localisation helpers
def test_pointing_game_uses_the_centre_of_a_plateau() -> None:
    heat = np.zeros((10, 10))
    heat[2:5, 2:8] = 1.0
    mask = np.zeros((10, 10), bool)
    mask[3, 4:6] = True
    assert pointing_game(heat, mask)
    assert not pointing_game(-heat, mask)
    assert pointing_game(-heat, mask, absolute=True)


def test_top_fraction_keeps_ties_and_never_the_minimum() -> None:
    heat = np.zeros((10, 10))
    heat[0, :3] = 1.0  # 3 % of the pixels
    assert top_fraction_mask(heat, 0.05).sum() == 3
    heat[1, :] = 0.5
    assert top_fraction_mask(heat, 0.05).sum() == 13  # the tie at the cut is kept whole
    mask = np.zeros((10, 10), bool)
    mask[0, :3] = True
    assert topk_iou(heat, mask, 0.03) == 1.0
