"""Explaining why an autoencoder calls an image (or a video frame) anomalous (thesis 3.8 and 4.10).

One entry point, ``explain(method, model, image_or_clip, **options) -> Explanation``, for four
methods registered in ``METHODS``:

* ``"shap"``            - SHAP Owen values over image regions (``shap_method``), signed;
* ``"lime"``            - LIME superpixel surrogate (``lime_method``), signed;
* ``"lrp"``             - epsilon-LRP through decoder, encoder and the loss layer (``lrp``), signed;
* ``"counterfactual"``  - smallest repaired boxes that cross the threshold (``counterfactual``).

Every method sees the autoencoder through ``AnomalyScorer`` (``scorer``): the residual
error normalisation of thesis 3.8.5 (score = mean squared error / reference scale) and, for the
classifier-style explainers, ``[p_normal, p_anomalous]`` from a steep logistic around the
threshold (LIME and SHAP explain its log-odds by default, which do not saturate). Calibrate it on
reference images once (``AnomalyScorer.calibrate`` or ``Calibration.from_errors`` with scores the
GUI already has) and pass it as ``scorer=``; without one, the explained image's own error is the
unit and half of it the threshold.

For clip and predict models pass the window of frames and ``frame=`` (the position of the
explained frame in it; ``clip_for_frame`` finds both for a frame of a source): the explanation is
for that frame with the rest of its clip fixed.

Long methods report ``progress(done, total)`` and stop with ``Cancelled`` when ``should_stop()``
returns True, so a GUI worker can drive them; results are deterministic for a ``seed``.

Example::

    scorer = AnomalyScorer.calibrate(model, reference_images, reference_labels)
    shap_result = explain("shap", model, image, scorer=scorer, max_evals=500, seed=0)
    boxes = explain("counterfactual", model, image, scorer=scorer).extras["boxes"]
    for name in METHODS:
        print(name, explain(name, model, image, scorer=scorer).summary())
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vad_core.errors import ConfigError
from vad_core.explain.counterfactual import explain_counterfactual, find_counterfactual
from vad_core.explain.explanation import Explanation, MethodFn, MethodResult, Progress, ProgressFn, StopFn
from vad_core.explain.lime_method import explain_lime
from vad_core.explain.localisation import LocalisationScores, localisation_scores
from vad_core.explain.lrp import LRPRules, explain_lrp, lrp_relevance
from vad_core.explain.scorer import (
    AnomalyScorer,
    Calibration,
    ExplainInput,
    clip_for_frame,
    prepare_input,
)
from vad_core.explain.shap_method import explain_shap
from vad_core.models.base import AnomalyModel
from vad_core.sources.preprocess import resize_map


@dataclass(frozen=True)
class MethodInfo:
    """A registered explanation method: its function, whether its heatmap is signed, a summary."""

    name: str
    function: MethodFn
    signed: bool
    title: str
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)


METHODS: dict[str, MethodInfo] = {
    "shap": MethodInfo(
        "shap",
        explain_shap,
        True,
        "SHAP",
        "Owen values of the anomalous log-odds over image regions (partition explainer, eq. 3.20)",
        {"max_evals": 500, "algorithm": "partition", "background": "blur", "output": "log_odds"},
    ),
    "lime": MethodInfo(
        "lime",
        explain_lime,
        True,
        "LIME",
        "superpixel surrogate of the anomalous log-odds (eq. 3.19)",
        {"num_samples": 500, "segmentation": "slic", "n_segments": 64, "hide": "blur", "output": "log_odds"},
    ),
    "lrp": MethodInfo(
        "lrp",
        explain_lrp,
        True,
        "e-LRP",
        "epsilon-LRP of the normalised error through decoder, encoder and loss layer (eq. 3.18)",
        {"epsilon": 0.01},
    ),
    "counterfactual": MethodInfo(
        "counterfactual",
        explain_counterfactual,
        False,
        "Counterfactual",
        "smallest boxes whose repair by the reconstruction crosses the threshold",
        {"replacement": "reconstruction", "grid": 8},
    ),
}

ALIASES = {
    "e-lrp": "lrp",
    "elrp": "lrp",
    "epsilon-lrp": "lrp",
    "cf": "counterfactual",
    "counterfactuals": "counterfactual",
}


def method_info(method: str) -> MethodInfo:
    """The registered method ``method`` (aliases accepted); ``ConfigError`` listing them if unknown."""
    key = ALIASES.get(method.lower(), method.lower())
    if key not in METHODS:
        raise ConfigError("explain", f"unknown method {method!r}; known: {', '.join(METHODS)}")
    return METHODS[key]


def make_scorer(
    model: AnomalyModel | AnomalyScorer, inputs: ExplainInput, calibration: Calibration | None = None
) -> AnomalyScorer:
    """The scorer that explains ``inputs``: the given one (re-targeted at the clip), or a new one.

    Without a calibration (neither a calibrated scorer nor ``calibration``), the scorer is
    self-referenced (see ``AnomalyScorer.self_calibrated``).
    """
    if isinstance(model, AnomalyScorer):
        scorer = model
        if inputs.context is not None or scorer.context is not None:
            scorer = scorer.with_context(inputs.context, inputs.position)
        if calibration is not None:
            scorer = scorer.with_calibration(calibration)
        return scorer
    scorer = AnomalyScorer(model, calibration, inputs.context, inputs.position)
    if calibration is None:
        scorer = scorer.self_calibrated(inputs.frame)
    return scorer


def explain(
    method: str,
    model: AnomalyModel | AnomalyScorer,
    image_or_clip: Any,
    *,
    scorer: AnomalyScorer | None = None,
    calibration: Calibration | None = None,
    frame: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    **options: Any,
) -> Explanation:
    """Explain the anomaly score of one image, or of one frame inside its clip.

    Args:
        method: ``"shap"``, ``"lime"``, ``"lrp"`` or ``"counterfactual"`` (see ``METHODS``).
        model: the anomaly model, or an ``AnomalyScorer`` wrapping it.
        image_or_clip: uint8 ``(H, W)`` / ``(H, W, 3)`` image of any size or float ``(C, h, w)``
            tensor at model size; for clip / predict models the window ``(T, H, W[, 3])`` or
            ``(T, C, h, w)``.
        scorer: a calibrated ``AnomalyScorer`` (takes precedence over ``model``'s own wrapping).
        calibration: scale and threshold to use instead of the scorer's.
        frame: for clips, the position of the explained frame in the window (default: last).
        seed: makes sampling methods (LIME, SHAP) reproducible.
        progress: ``progress(done, total)`` callback (model evaluations or layers).
        should_stop: polled between batches; True stops the method with ``Cancelled``.
        **options: the method's own options (see each method function's docstring).

    Returns:
        An ``Explanation`` whose heatmap has the input's resolution.

    Raises:
        ConfigError: unknown method or option, or an input that does not fit the model.
        Cancelled: ``should_stop()`` returned True.
    """
    info = method_info(method)
    began = time.perf_counter()
    base_model = (
        scorer.model if scorer is not None else (model.model if isinstance(model, AnomalyScorer) else model)
    )
    inputs = prepare_input(base_model, image_or_clip, frame)
    active = make_scorer(scorer if scorer is not None else model, inputs, calibration)
    tick = Progress(1, progress, should_stop)
    tick.check()
    torch.manual_seed(seed)
    result = _run_method(info, active, inputs, tick, seed, options)
    tick.finish()
    with torch.no_grad():
        frame_batch = inputs.frame[None].to(active.device)
        score = float(active.score(frame_batch).item())
        probability = float(active.probability(frame_batch).item())
    heatmap, extras = _at_input_size(info, result, inputs)
    settings = {
        **info.defaults,
        **result.settings,
        "seed": seed,
        "calibration": vars(active.calibration).copy(),
    }
    if inputs.context is not None:
        settings["frame"] = inputs.position
    return Explanation(
        method=info.name,
        heatmap=heatmap,
        signed=result.signed,
        score=score,
        probability=probability,
        threshold=active.threshold,
        extras=extras,
        seconds=time.perf_counter() - began,
        settings=settings,
    )


def _run_method(
    info: MethodInfo,
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    tick: Progress,
    seed: int,
    options: dict[str, Any],
) -> MethodResult:
    """The method's result; an option it does not take is a ``ConfigError`` naming the method."""
    try:
        return info.function(scorer, inputs, tick, seed=seed, **options)
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise ConfigError("explain", f"{info.name}: {error}") from None
        raise


def _at_input_size(
    info: MethodInfo, result: MethodResult, inputs: ExplainInput
) -> tuple[np.ndarray, dict[str, Any]]:
    """The heatmap (and boxes) at the input's resolution; the model-size heatmap goes in the extras."""
    heatmap_model = np.nan_to_num(np.asarray(result.heatmap, dtype=np.float32))
    height, width = inputs.input_size
    heatmap = resize_map(heatmap_model, (height, width)).astype(np.float32)
    extras = dict(result.extras)
    extras["model_heatmap"] = heatmap_model
    if "boxes_model" in extras:
        sy, sx = height / heatmap_model.shape[0], width / heatmap_model.shape[1]
        extras["boxes"] = [_scale_box(box, sy, sx, height, width) for box in extras["boxes_model"]]
    if info.name == "counterfactual":  # keep the boxes crisp at any resolution
        crisp = np.zeros((height, width), np.float32)
        for box in extras["boxes"]:
            crisp[box["y0"] : box["y1"], box["x0"] : box["x1"]] += max(float(box["drop"]), 0.0)
        heatmap = crisp
    return heatmap, extras


def _scale_box(box: dict[str, Any], sy: float, sx: float, height: int, width: int) -> dict[str, Any]:
    return {
        **box,
        "y0": max(0, int(np.floor(box["y0"] * sy))),
        "x0": max(0, int(np.floor(box["x0"] * sx))),
        "y1": min(height, int(np.ceil(box["y1"] * sy))),
        "x1": min(width, int(np.ceil(box["x1"] * sx))),
    }


def explain_all(
    model: AnomalyModel | AnomalyScorer,
    image_or_clip: Any,
    methods: tuple[str, ...] = tuple(METHODS),
    options: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[Explanation], None] | None = None,
    **common: Any,
) -> dict[str, Explanation]:
    """Run several methods on one input; ``options[method]`` adds per-method options."""
    out: dict[str, Explanation] = {}
    for name in methods:
        result = explain(name, model, image_or_clip, **common, **(options or {}).get(name, {}))
        out[result.method] = result
        if on_result is not None:
            on_result(result)
    return out


__all__ = [
    "ALIASES",
    "METHODS",
    "AnomalyScorer",
    "Calibration",
    "ExplainInput",
    "Explanation",
    "LRPRules",
    "LocalisationScores",
    "MethodInfo",
    "MethodResult",
    "Progress",
    "clip_for_frame",
    "explain",
    "explain_all",
    "find_counterfactual",
    "localisation_scores",
    "lrp_relevance",
    "make_scorer",
    "method_info",
    "prepare_input",
]
