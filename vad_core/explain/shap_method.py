"""SHAP for autoencoders: Owen values of the anomalous class over image regions (thesis 3.8.3, eq. 3.20).

Two algorithms from the ``shap`` library, both explaining the classifier-style wrapper of thesis
3.8.5 (``AnomalyScorer``): by default the log-odds of ``p_anomalous``, ``steepness * (score -
threshold)`` (what SHAP's ``link=logit`` explains; ``p_anomalous`` itself saturates at 1 for clearly
anomalous parts and then gives all-zero values), or ``output="probability"`` / ``"score"``:

* ``"partition"`` (default, works with any model): ``shap.Explainer(f, shap.maskers.Image(...))``.
  The masker splits the image hierarchically into axis-aligned halves; with ``max_evals`` model
  calls the Partition explainer computes Owen values (Shapley values respecting that hierarchy)
  down to the cell size the budget reaches. A "masked" region shows the *background*: by default
  a box blur of the image (``"blur"``, kernel = image side / 8, as in the shap image examples),
  or the model's own reconstruction (``"reconstruction"``), or OpenCV inpainting
  (``"inpaint_telea"`` / ``"inpaint_ns"``). On MVTec bottle (BCAE1, 12 epochs, 6 defects) blur
  gave a top-5 % IoU of 0.18 against 0.14 for the reconstruction; on the synthetic parts 0.40 / 0.43.
* ``"gradient"``: ``shap.GradientExplainer`` (expected gradients) on the differentiable wrapper,
  with the background images reconstruction and blur; ``max_evals`` is the number of gradient
  samples. Per pixel rather than per block; it pays off on a GPU, not on the CPU.

The heatmap is the SHAP values of the anomalous output summed over colour channels (signed).

Example::

    result = explain("shap", model, image, max_evals=500, seed=0)
    result.extras["values"]          # (H, W, C) SHAP values; extras["base_value"]: output at the background
"""

from __future__ import annotations

import functools
import heapq
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.explain.explanation import MethodResult, Progress
from vad_core.explain.scorer import EXPLAINED_OUTPUTS, AnomalyScorer, ExplainInput

ALGORITHMS = ("partition", "gradient")
BACKGROUNDS = ("reconstruction", "blur", "inpaint_telea", "inpaint_ns")


def _require_shap() -> Any:
    try:
        import shap
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "SHAP", "the shap package is not installed (pip install 'vad-review[xai]')"
        ) from None
    return shap


class _ScalarOutput(nn.Module):
    """The scorer's ``p_anomalous`` (or score) as an ``(N, 1)`` output, for GradientExplainer."""

    def __init__(self, scorer: AnomalyScorer, output: str, progress: Progress) -> None:
        super().__init__()
        self.scorer = scorer
        self.output = output
        self.progress = progress

    def forward(self, frames: Tensor) -> Tensor:
        if self.output == "probability":
            value = self.scorer.probability(frames)
        elif self.output == "log_odds":
            value = self.scorer.log_odds(frames)
        else:
            value = self.scorer.score(frames)
        if frames.requires_grad:  # the backgrounds' forward pass does not count
            self.progress.advance(len(frames))
        return value[:, None]


@functools.lru_cache(maxsize=4)
def partition_tree(shape: tuple[int, int, int]) -> np.ndarray:
    """SHAP's image partition tree (axis-aligned halvings, largest side first) for ``(H, W, C)``.

    A pure-Python copy of ``shap.maskers._image._jit_build_partition_tree`` (same heap order, same
    result): numba compiles that function on every first use in a process, which costs several
    seconds, while this takes about 0.3 s for a 128 x 128 x 3 image and is cached per shape.
    """
    height, width, channels = shape
    leaves = height * width * channels
    clustering = np.zeros((leaves - 1, 4))
    queue: list[tuple[int, int, int, int, int, int, int, int, bool]] = [
        (0, 0, height, 0, width, 0, channels, -1, False)
    ]
    index = len(clustering) - 1
    while queue:
        _, x0, x1, y0, y1, z0, z1, parent, is_left = heapq.heappop(queue)
        if parent >= 0:
            clustering[parent, 0 if is_left else 1] = index + leaves
        xw, yw, zw = x1 - x0, y1 - y0, z1 - z0
        if not (xw == 1 and yw == 1 and zw == 1):
            lx0 = rx0 = x0
            lx1 = rx1 = x1
            ly0 = ry0 = y0
            ly1 = ry1 = y1
            lz0 = rz0 = z0
            lz1 = rz1 = z1
            if xw >= yw and xw > 1:
                lx1 = rx0 = x0 + xw // 2
            elif yw > 1:
                ly1 = ry0 = y0 + yw // 2
            else:
                lz1 = rz0 = z0 + zw // 2
            left_size = (lx1 - lx0) * (ly1 - ly0) * (lz1 - lz0)
            right_size = (rx1 - rx0) * (ry1 - ry0) * (rz1 - rz0)
            heapq.heappush(queue, (-left_size, lx0, lx1, ly0, ly1, lz0, lz1, index, True))
            heapq.heappush(queue, (-right_size, rx0, rx1, ry0, ry1, rz0, rz1, index, False))
        index -= 1
    sizes = np.ones(2 * leaves - 1)
    for i in range(len(clustering)):
        left, right = int(clustering[i, 0]), int(clustering[i, 1])
        sizes[leaves + i] = sizes[left] + sizes[right]
        clustering[i, 3] = sizes[leaves + i]
    return clustering


def _image_masker(shap: Any, mask_value: Any, shape: tuple[int, int, int]) -> Any:
    """``shap.maskers.Image`` whose partition tree comes from ``partition_tree`` (no numba compile)."""

    class ImageMasker(shap.maskers.Image):
        def build_partition_tree(self) -> None:
            self.clustering = partition_tree(tuple(int(v) for v in self.input_shape)).copy()

    return ImageMasker(mask_value, shape=shape)


def warm_up() -> None:
    """Import shap and compile its numba kernels on a tiny image (a few seconds, once per process).

    Call it from a background thread when the explainability panel opens, so the user's first SHAP
    explanation does not pay for the compilation.
    """
    shap = _require_shap()
    masker = _image_masker(shap, "blur(3,3)", (8, 8, 1))
    explainer = shap.Explainer(
        lambda x: x.reshape(len(x), -1).mean(1, keepdims=True), masker, algorithm="partition"
    )
    explainer(np.zeros((1, 8, 8, 1), np.float32), max_evals=20, silent=True)


def _reconstruction_hwc(scorer: AnomalyScorer, inputs: ExplainInput) -> np.ndarray:
    with torch.no_grad():
        output = scorer.reconstruct(inputs.frame[None].to(scorer.device))[0]
    image = output.float().cpu().numpy().transpose(1, 2, 0)
    return image


def _blurred_hwc(image: np.ndarray, kernel: int) -> np.ndarray:
    blurred = cv2.blur(image, (kernel, kernel))
    return blurred.reshape(image.shape)


def explain_shap(
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    progress: Progress,
    seed: int = 0,
    max_evals: int = 500,
    algorithm: str = "partition",
    background: str = "blur",
    blur_kernel: int | None = None,
    batch_size: int | None = None,
    output: str = "log_odds",
) -> MethodResult:
    """SHAP as an explanation method (registered as ``"shap"``).

    Args:
        max_evals: model evaluations (partition) or gradient samples (gradient).
        algorithm: ``"partition"`` or ``"gradient"``.
        background: what a masked region shows (partition) / the reference images (gradient):
            ``"blur"``, ``"reconstruction"``, ``"inpaint_telea"`` or ``"inpaint_ns"`` (partition only).
        blur_kernel: box-blur size for ``"blur"`` (default: image side / 8).
        batch_size: images per model call (default: the scorer's).
        output: ``"log_odds"`` (of ``p_anomalous``), ``"probability"`` or ``"score"``.

    Extras: ``values`` (H, W, C) SHAP values, ``base_value`` (the output with everything masked),
    ``evaluations`` (model calls made).
    """
    shap = _require_shap()
    _check_options(algorithm, background, output, max_evals)
    image = inputs.image_hwc().astype(np.float32)  # (H, W, C) in [0, 1]
    height, width, _ = image.shape
    kernel = blur_kernel or max(3, max(height, width) // 8)
    batch = batch_size or scorer.batch_size
    progress.total = max_evals
    before = scorer.evaluations
    np.random.seed(seed % (2**32))  # shap draws from numpy's global generator in places
    torch.manual_seed(seed)
    run = _partition_values if algorithm == "partition" else _gradient_values
    values, base_value = run(
        shap, scorer, inputs, image, progress, background, kernel, output, max_evals, batch, seed
    )
    heatmap = values.sum(axis=2).astype(np.float32)
    extras: dict[str, Any] = {
        "values": values.astype(np.float32),
        "base_value": base_value,
        "evaluations": scorer.evaluations - before,
    }
    settings = {
        "max_evals": max_evals,
        "algorithm": algorithm,
        "background": background,
        "blur_kernel": kernel if background == "blur" or algorithm == "gradient" else None,
        "output": output,
    }
    return MethodResult(heatmap=heatmap, signed=True, extras=extras, settings=settings)


def _check_options(algorithm: str, background: str, output: str, max_evals: int) -> None:
    if algorithm not in ALGORITHMS:
        raise ConfigError("SHAP", f"algorithm must be one of {ALGORITHMS}, found {algorithm!r}")
    if background not in BACKGROUNDS:
        raise ConfigError("SHAP", f"background must be one of {BACKGROUNDS}, found {background!r}")
    if output not in EXPLAINED_OUTPUTS:
        raise ConfigError("SHAP", f"output must be one of {EXPLAINED_OUTPUTS}, found {output!r}")
    if max_evals < 10:
        raise ConfigError("SHAP", f"max_evals must be >= 10, found {max_evals}")


def _partition_values(
    shap: Any,
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    image: np.ndarray,
    progress: Progress,
    background: str,
    kernel: int,
    output: str,
    max_evals: int,
    batch: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Owen values ``(H, W, C)`` of the Partition explainer, and the output with everything masked."""
    if background == "reconstruction":
        mask_value: Any = _reconstruction_hwc(scorer, inputs) * 255.0
    elif background == "blur":
        mask_value = f"blur({kernel},{kernel})"
    else:
        mask_value = background
    masker = _image_masker(shap, mask_value, image.shape)
    names = ["score"] if output == "score" else ["normal", "anomalous"]
    scorer_output = {"probability": "probabilities", "log_odds": "log_odds_pair", "score": "score"}[output]

    def f(images: np.ndarray) -> np.ndarray:
        values = scorer.predict(images, scorer_output, value_range=255.0, progress=progress)
        return values if values.ndim == 2 else values[:, None]

    explainer = shap.Explainer(f, masker, output_names=names, algorithm="partition", seed=seed)
    result = explainer(
        image[None] * 255.0,
        max_evals=max_evals,
        batch_size=batch,
        outputs=[len(names) - 1],
        silent=True,
    )
    values = np.asarray(result.values)[0, ..., 0]
    return values, float(np.asarray(result.base_values).ravel()[0])


def _gradient_values(
    shap: Any,
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    image: np.ndarray,
    progress: Progress,
    background: str,
    kernel: int,
    output: str,
    max_evals: int,
    batch: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Expected-gradients values ``(H, W, C)`` against reconstruction and blur, and their mean output."""
    if background.startswith("inpaint"):
        raise ConfigError("SHAP", "the gradient algorithm takes background 'reconstruction' or 'blur'")
    references = [_reconstruction_hwc(scorer, inputs), _blurred_hwc(image, kernel)]
    data = torch.from_numpy(np.stack(references).transpose(0, 3, 1, 2).copy()).to(scorer.device)
    module = _ScalarOutput(scorer, output, progress)
    explainer = shap.GradientExplainer(module, data, batch_size=batch)
    frame = inputs.frame[None].to(scorer.device, torch.float32)
    raw = explainer.shap_values(frame, nsamples=max_evals, rseed=seed)
    values = np.asarray(raw)[0, ..., 0].transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    with torch.no_grad():
        base_value = float(module(data).mean())
    scorer.evaluations += max_evals
    return values, base_value
