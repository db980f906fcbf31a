"""Turning any autoencoder into an anomaly scorer and a two-class "classifier" (thesis 3.8.5).

Explainers built for classifiers (LIME, SHAP) need class probabilities; an autoencoder only
reconstructs. Thesis section 3.8.5 closes the gap with a parameter-less layer after the CAE:

1. the reconstruction error ``e(x) = mean_{c,h,w} (x - f(x))^2`` (the same per-pixel squared error,
   averaged over channels, and frame reduction ``"mean"`` as ``vad_core.inference.scoring_loop``);
2. *residual error normalisation*: ``s(x) = e(x) / scale``, where ``scale`` is the largest error on
   a reference set (the thesis uses the anomalous test set; ``"p99"`` is a robust alternative), so
   reference scores lie in [0, 1];
3. a threshold ``delta_o`` on ``s`` chosen by the G-mean of eq. 3.21 when labelled references are
   given (``vad_core.metrics.gmean_threshold``), else the largest score of the (normal) references;
4. ``p_anomalous = sigmoid(steepness * (s - delta_o))`` and ``p_normal = 1 - p_anomalous``: a steep
   logistic centred on the threshold, so ``p_anomalous > 0.5`` exactly when the image is flagged.

``AnomalyScorer`` is that layer as an ``nn.Module`` (``forward`` gives ``[p_normal, p_anomalous]``,
``score`` the scalar, both differentiable) with a batched numpy adapter (``predict``) for LIME and
SHAP, which hand over ``(N, H, W, C)`` images. For clip and predict models it wraps the selected
frame inside its clip: the other frames of the window stay fixed, the explained frame is replaced
by each perturbed version, and the error is measured on that frame's output only.

Example::

    scorer = AnomalyScorer.calibrate(model, test_images, test_labels)      # eq. 3.21 threshold
    p = scorer(torch.rand(4, 3, 128, 128))                                 # (4, 2) [p_normal, p_anom]
    s = scorer.predict(batch_nhwc, output="score")                          # (N,) numpy
    clip_scorer = scorer.with_context(clip, position=7)                     # frame 7 of an 8-frame clip
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.explain.explanation import Progress
from vad_core.inference.config import ERROR_TYPES
from vad_core.inference.scoring_loop import pixel_errors, plan_windows, prepare_for_inference
from vad_core.models.base import AnomalyModel
from vad_core.sources.base import FrameSource
from vad_core.sources.preprocess import prepare_frames

#: Logistic slope on normalised scores: p_anomalous goes from 0.05 to 0.95 within +-0.1 of the threshold.
DEFAULT_STEEPNESS = 30.0
SCALES = ("max", "p99")
OUTPUTS = ("probability", "probabilities", "score", "log_odds", "log_odds_pair")


#: What ``AnomalyScorer.predict`` can return, and so what LIME and SHAP can explain.
EXPLAINED_OUTPUTS = ("log_odds", "probability", "score")


@dataclass(frozen=True)
class Calibration:
    """Residual error normalisation and decision threshold (thesis 3.8.5, eq. 3.21).

    Attributes:
        scale: raw mean squared error that maps to score 1.0.
        threshold: decision threshold on the normalised score (flagged when ``score >= threshold``).
        steepness: slope of the logistic ``p_anomalous = sigmoid(steepness * (score - threshold))``.
        note: how the values were found, for the GUI and reports.
        normal_level: the largest score of the normal references (how anomalous a good part may
            look); NaN when unknown. Counterfactuals repair a part until it scores this low.
    """

    scale: float = 1.0
    threshold: float = 0.5
    steepness: float = DEFAULT_STEEPNESS
    note: str = "uncalibrated"
    normal_level: float = float("nan")

    @property
    def normal_target(self) -> float:
        """Score a repaired part must reach to look like the normal references (<= threshold)."""
        if math.isfinite(self.normal_level):
            return min(self.threshold, self.normal_level)
        return self.threshold

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ConfigError("calibration", f"scale must be a positive number, found {self.scale}")
        if not math.isfinite(self.threshold):
            raise ConfigError("calibration", f"threshold must be finite, found {self.threshold}")
        if not (math.isfinite(self.steepness) and self.steepness > 0):
            raise ConfigError("calibration", f"steepness must be positive, found {self.steepness}")

    @classmethod
    def from_errors(
        cls,
        errors: Sequence[float] | np.ndarray,
        labels: Sequence[bool] | np.ndarray | None = None,
        scale: str | float = "max",
        steepness: float = DEFAULT_STEEPNESS,
    ) -> Calibration:
        """Calibrate from raw per-image (or per-frame) mean squared errors.

        Args:
            errors: raw errors ``e(x)`` of the reference images, e.g. ``ScoreResult.errors``.
            labels: True = anomalous. With both classes the threshold is the G-mean optimum
                (eq. 3.21); without labels all references count as normal and the threshold is
                their largest normalised score.
            scale: ``"max"`` (thesis: largest reference error), ``"p99"`` (99th percentile) or a number.
            steepness: logistic slope on normalised scores.

        Raises:
            ConfigError: no finite errors, a bad ``scale``, or labels of another length.
        """
        from vad_core.metrics import gmean_threshold

        raw = np.asarray(errors, dtype=np.float64).ravel()
        raw = raw[np.isfinite(raw)] if labels is None else raw
        if raw.size == 0 or not np.all(np.isfinite(raw)):
            raise ConfigError("calibration", f"need finite reference errors, found {raw.size} values")
        if isinstance(scale, str):
            if scale not in SCALES:
                raise ConfigError(
                    "calibration", f"scale must be one of {SCALES} or a number, found {scale!r}"
                )
            value = float(raw.max() if scale == "max" else np.percentile(raw, 99))
            how = "max" if scale == "max" else "99th percentile"
        else:
            value, how = float(scale), "given"
        value = value if value > 0 else 1e-12
        scores = raw / value
        if labels is not None:
            y = np.asarray(labels, dtype=bool).ravel()
            if y.size != raw.size:
                raise ConfigError("calibration", f"{raw.size} errors but {y.size} labels")
            if y.any() and not y.all():
                threshold = gmean_threshold(scores, y)
                note = f"scale = {how} error of {raw.size} images; G-mean threshold (eq. 3.21)"
                return cls(value, float(threshold), steepness, note, float(scores[~y].max()))
        threshold = float(scores.max())
        note = f"scale = {how} error of {raw.size} normal images; threshold = their largest score"
        return cls(value, threshold, steepness, note, threshold)


class AnomalyScorer(nn.Module):
    """An autoencoder plus the residual-error-normalisation layer (see module docstring).

    Args:
        model: any registered anomaly model (frame, clip or predict mode), in eval mode after this.
        calibration: scale, threshold and logistic slope; default: scale 1 (raw error), threshold 0.5.
        context: for clip / predict models, the window ``(window, C, H, W)`` in [0, 1] around the
            explained frame; ignored (must be None) for frame models.
        position: index of the explained frame inside ``context``.
        error: per-pixel error, ``"mse"`` (the thesis'), ``"ssim"``, ``"compound"`` or
            ``"segmentation"`` (the model's own anomaly map; then ``e(x)`` is the model's image
            score, e.g. DRAEM's maximum of the mean-filtered map); default: ``"segmentation"`` for
            models that segment, else ``"mse"``.
        batch_size: images per model call in ``predict``.
    """

    def __init__(
        self,
        model: AnomalyModel,
        calibration: Calibration | None = None,
        context: Tensor | None = None,
        position: int = 0,
        error: str | None = None,
        batch_size: int = 32,
    ) -> None:
        super().__init__()
        error = error or ("segmentation" if model.segments else "mse")
        if error not in ERROR_TYPES:
            raise ConfigError("scorer", f"error must be one of {ERROR_TYPES}, found {error!r}")
        if error == "segmentation" and (not model.segments or model.spec.mode != "frame"):
            raise ConfigError("scorer", "error 'segmentation' needs a frame model that segments (DRAEM)")
        if batch_size < 1:
            raise ConfigError("scorer", f"batch_size must be >= 1, found {batch_size}")
        device = _model_device(model)
        self.model = prepare_for_inference(model, device)
        self.calibration = calibration or Calibration()
        self.error = error
        self.batch_size = int(batch_size)
        self.evaluations = 0  # images scored so far (each counts once, whatever the batch)
        spec = model.spec
        self._output_index = 0
        if spec.mode == "frame":
            if context is not None:
                raise ConfigError("scorer", "frame models take no clip context")
            self.context: Tensor | None = None
            self.position = 0
        else:
            if context is None:
                raise ConfigError(
                    "scorer", f"{spec.mode} models need the clip around the explained frame (context)"
                )
            if context.dim() != 4 or context.shape[0] < spec.window:
                raise ConfigError(
                    "scorer", f"context must be ({spec.window}, C, H, W), found {tuple(context.shape)}"
                )
            context = context[: spec.window].to(device=device, dtype=torch.float32)
            if spec.mode == "clip" and not 0 <= position < spec.input_frames:
                raise ConfigError(
                    "scorer", f"position must be in 0..{spec.input_frames - 1}, found {position}"
                )
            if spec.mode == "predict" and not spec.input_frames <= position < spec.window:
                raise ConfigError(
                    "scorer",
                    f"a predictor explains a predicted frame: position in {spec.input_frames}.."
                    f"{spec.window - 1}, found {position}",
                )
            self.context = context
            self.position = int(position)
            self._output_index = position if spec.mode == "clip" else position - spec.input_frames

    # ------------------------------------------------------------------------------------ set-up
    @classmethod
    def calibrate(
        cls,
        model: AnomalyModel,
        images: Tensor | np.ndarray,
        labels: Sequence[bool] | np.ndarray | None = None,
        scale: str | float = "max",
        steepness: float = DEFAULT_STEEPNESS,
        error: str | None = None,
        batch_size: int = 32,
    ) -> AnomalyScorer:
        """A frame-model scorer calibrated on reference images (see ``Calibration.from_errors``).

        ``images`` are float ``(N, C, H, W)`` in [0, 1] at the model's size, or uint8
        ``(N, H, W[, 3])`` of any size (resized like training frames).
        """
        scorer = cls(model, None, error=error, batch_size=batch_size)
        frames = scorer.as_model_input(images)
        raw = scorer.raw_errors_batched(frames)
        scorer.calibration = Calibration.from_errors(raw, labels, scale, steepness)
        return scorer

    def with_calibration(self, calibration: Calibration) -> AnomalyScorer:
        """A copy sharing the model, with another calibration."""
        other = copy.copy(self)
        other.calibration = calibration
        return other

    def with_context(self, context: Tensor | None, position: int = 0) -> AnomalyScorer:
        """A copy sharing the model and calibration that explains frame ``position`` of ``context``."""
        return AnomalyScorer(self.model, self.calibration, context, position, self.error, self.batch_size)

    def self_calibrated(self, frame: Tensor) -> AnomalyScorer:
        """A copy whose unit is ``frame``'s own error and whose threshold is half of it.

        Used when no reference set is given: explanations then answer "which pixels carry the
        error of this image", and a counterfactual is the smallest region that halves it.
        """
        raw = float(self.raw_errors(frame[None].to(self.device)).item())
        note = "self-referenced: scale = this image's error, threshold = half of it"
        calibration = Calibration(max(raw, 1e-12), 0.5, self.calibration.steepness, note, 0.5)
        return self.with_calibration(calibration)

    # ------------------------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        return _model_device(self.model)

    @property
    def channels(self) -> int:
        assert self.model.config is not None
        return self.model.config.channels

    @property
    def size(self) -> tuple[int, int]:
        assert self.model.config is not None
        return self.model.config.size

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    @property
    def scale(self) -> float:
        return self.calibration.scale

    # ---------------------------------------------------------------------------- differentiable
    def _clips(self, frames: Tensor) -> Tensor:
        """Put each explained frame ``(N, C, H, W)`` into its (fixed) clip: ``(N, window, C, H, W)``."""
        assert self.context is not None
        clips = self.context.unsqueeze(0).expand(frames.shape[0], *self.context.shape).clone()
        clips[:, self.position] = frames
        return clips

    def reconstruct_and_target(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Model output for the explained frame and the frame it is compared with, ``(N, C, H, W)`` each."""
        if self.context is None:
            return self.model(frames), frames
        inputs, target = self.model.split(self._clips(frames))
        output = self.model(inputs)
        return output[:, self._output_index], target[:, self._output_index]

    def reconstruct(self, frames: Tensor) -> Tensor:
        """What the model makes of each explained frame: reconstruction or prediction ``(N, C, H, W)``."""
        return self.reconstruct_and_target(frames)[0]

    def error_maps(self, frames: Tensor) -> Tensor:
        """Per-pixel error ``(N, H, W)`` of each explained frame (squared error averaged over
        channels, or the anomaly map of a model that segments)."""
        if self.error == "segmentation":
            return self.model.anomaly_map(frames)
        output, target = self.reconstruct_and_target(frames)
        return pixel_errors(output, target, self.error)

    def raw_errors(self, frames: Tensor) -> Tensor:
        """Raw error ``e(x)`` per frame ``(N,)``: the mean of its error map (a segmenting model's own
        image score, e.g. DRAEM's maximum of the mean-filtered map)."""
        maps = self.error_maps(frames)
        if self.error == "segmentation":
            return self.model.image_score(maps)
        return maps.flatten(1).mean(dim=1)

    def score(self, frames: Tensor) -> Tensor:
        """Normalised anomaly score ``s(x) = e(x) / scale`` per frame ``(N,)``."""
        return self.raw_errors(frames) / self.calibration.scale

    def probability(self, frames: Tensor) -> Tensor:
        """``p_anomalous`` per frame ``(N,)``: the steep logistic around the threshold."""
        calibration = self.calibration
        return torch.sigmoid(calibration.steepness * (self.score(frames) - calibration.threshold))

    def log_odds(self, frames: Tensor) -> Tensor:
        """``log(p_anomalous / p_normal) = steepness * (score - threshold)`` per frame ``(N,)``.

        Linear in the score, so it never saturates: explaining it is explaining the classifier
        in log-odds space (SHAP's ``link=logit``) without losing signal on clearly anomalous parts.
        """
        calibration = self.calibration
        return calibration.steepness * (self.score(frames) - calibration.threshold)

    def forward(self, frames: Tensor) -> Tensor:
        """Class probabilities ``(N, 2)``: ``[p_normal, p_anomalous]`` for frames ``(N, C, H, W)``."""
        p = self.probability(frames)
        return torch.stack([1.0 - p, p], dim=1)

    # ----------------------------------------------------------------------------------- numpy
    def as_model_input(self, images: Tensor | np.ndarray) -> Tensor:
        """float ``(N, C, H, W)`` on the model's device from a tensor or uint8 ``(N, H, W[, 3])`` images."""
        if isinstance(images, Tensor):
            frames = images.float()
        else:
            array = np.asarray(images)
            if array.dtype != np.uint8:
                raise ConfigError("scorer", f"numpy reference images must be uint8, found {array.dtype}")
            frames = torch.from_numpy(prepare_frames(array, self.size, self.channels))
        if frames.dim() != 4 or frames.shape[1] != self.channels or tuple(frames.shape[-2:]) != self.size:
            raise ConfigError(
                "scorer",
                f"expected images (N, {self.channels}, {self.size[0]}, {self.size[1]}), "
                f"found {tuple(frames.shape)}",
            )
        return frames.to(self.device)

    @torch.no_grad()
    def raw_errors_batched(self, frames: Tensor) -> np.ndarray:
        """``raw_errors`` of many frames in batches of ``batch_size``, as float64 numpy."""
        out = []
        for start in range(0, len(frames), self.batch_size):
            out.append(
                self.raw_errors(frames[start : start + self.batch_size].to(self.device)).double().cpu()
            )
        return torch.cat(out).numpy() if out else np.zeros(0)

    @torch.no_grad()
    def predict(
        self,
        images: np.ndarray,
        output: str = "probabilities",
        value_range: float = 1.0,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Batched, gradient-free scoring of numpy images ``(N, H, W, C)`` (LIME / SHAP layout).

        Args:
            images: ``(N, H, W, C)`` or ``(H, W, C)`` floats in ``[0, value_range]`` at model size;
                a 3-channel image is averaged to gray for 1-channel models.
            output: ``"probabilities"`` -> ``(N, 2)`` ``[p_normal, p_anomalous]``;
                ``"probability"`` -> ``(N,)`` ``p_anomalous``; ``"score"`` -> ``(N,)`` normalised score;
                ``"log_odds"`` -> ``(N,)`` log-odds of anomalous; ``"log_odds_pair"`` -> ``(N, 2)``
                log-odds of ``[normal, anomalous]`` (the classifier's logits, for LIME and SHAP).
            value_range: 1.0 for [0, 1] images, 255.0 for [0, 255].
            progress: counts evaluations and raises ``Cancelled`` when asked to stop.
        """
        if output not in OUTPUTS:
            raise ConfigError("scorer", f"output must be one of {OUTPUTS}, found {output!r}")
        array = np.asarray(images, dtype=np.float32)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4:
            raise ConfigError("scorer", f"expected images (N, H, W, C), found shape {array.shape}")
        results = []
        for start in range(0, len(array), self.batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(array[start : start + self.batch_size]))
            frames = self._nhwc_to_frames(chunk, value_range)
            scores = self.score(frames)
            self.evaluations += len(frames)
            if output == "score":
                results.append(scores.double().cpu().numpy())
            elif output in ("log_odds", "log_odds_pair"):
                z = (
                    (self.calibration.steepness * (scores.double() - self.calibration.threshold))
                    .cpu()
                    .numpy()
                )
                results.append(z if output == "log_odds" else np.stack([-z, z], axis=1))
            else:
                p = torch.sigmoid(self.calibration.steepness * (scores - self.calibration.threshold))
                p = p.double().cpu().numpy()
                results.append(p if output == "probability" else np.stack([1.0 - p, p], axis=1))
            if progress is not None:
                progress.advance(len(frames))
        pair = output in ("probabilities", "log_odds_pair")
        return np.concatenate(results) if results else np.zeros((0, 2) if pair else 0)

    def _nhwc_to_frames(self, chunk: Tensor, value_range: float) -> Tensor:
        frames = chunk.permute(0, 3, 1, 2).to(self.device, torch.float32)
        if value_range != 1.0:
            frames = frames / value_range
        if frames.shape[1] != self.channels:
            if self.channels == 1:
                frames = frames.mean(dim=1, keepdim=True)
            elif frames.shape[1] == 1:
                frames = frames.expand(-1, 3, -1, -1)
        frames = frames.contiguous(memory_format=torch.channels_last)
        return frames.clamp_(0.0, 1.0)


def _model_device(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


# ------------------------------------------------------------------------------------------ inputs
@dataclass
class ExplainInput:
    """The explained frame at model resolution, with its clip and the caller's image size.

    Attributes:
        frame: ``(C, h, w)`` float32 in [0, 1] at the model's size.
        context: ``(window, C, h, w)`` for clip / predict models, else None.
        position: index of ``frame`` inside ``context``.
        input_size: ``(H, W)`` of the image the caller gave; heatmaps are returned at this size.
    """

    frame: Tensor
    context: Tensor | None
    position: int
    input_size: tuple[int, int]

    def image_hwc(self) -> np.ndarray:
        """The explained frame as float32 ``(h, w, C)`` in [0, 1] (LIME / SHAP layout)."""
        return self.frame.detach().float().cpu().numpy().transpose(1, 2, 0)


def prepare_input(model: AnomalyModel, image_or_clip: Any, frame: int | None = None) -> ExplainInput:
    """Bring an image (frame models) or a clip (clip / predict models) to model input.

    Accepted: uint8 ``(H, W)`` / ``(H, W, 3)`` images of any size; float tensors ``(C, h, w)`` in
    [0, 1] at model size; for clip models a window of ``spec.window`` frames as uint8
    ``(T, H, W[, 3])`` or a float tensor ``(T, C, h, w)``, with ``frame`` the index of the explained
    frame in it (default: the last one).

    Raises:
        ConfigError: the array does not fit the model (shape, window length, frame index).
    """
    config = model.config
    if config is None:
        raise ConfigError("explain", "model has no config (build it with build_model)")
    spec = model.spec
    size, channels = config.size, config.channels
    is_clip = spec.mode != "frame"
    if isinstance(image_or_clip, Tensor):
        data = image_or_clip.detach().float().cpu()
        expected = 4 if is_clip else 3
        if data.dim() != expected or data.shape[-3] != channels or tuple(data.shape[-2:]) != tuple(size):
            shape = f"({'T, ' if is_clip else ''}{channels}, {size[0]}, {size[1]})"
            raise ConfigError(
                "explain", f"expected a float tensor {shape} in [0, 1], found {tuple(data.shape)}"
            )
        frames = data if is_clip else data[None]
        input_size = (int(data.shape[-2]), int(data.shape[-1]))
    else:
        array = np.asarray(image_or_clip)
        if array.dtype != np.uint8:
            raise ConfigError("explain", f"numpy images must be uint8, found {array.dtype}")
        single_ndims = (2, 3)
        if is_clip:
            if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[-1] not in (1, 3)):
                raise ConfigError("explain", f"expected a clip (T, H, W[, 3]), found shape {array.shape}")
            input_size = (int(array.shape[1]), int(array.shape[2]))
        else:
            if array.ndim not in single_ndims or (array.ndim == 3 and array.shape[-1] not in (1, 3)):
                raise ConfigError(
                    "explain", f"expected an image (H, W) or (H, W, 3), found shape {array.shape}"
                )
            if array.ndim == 3 and array.shape[-1] == 1:
                array = array[..., 0]
            input_size = (int(array.shape[0]), int(array.shape[1]))
            array = array[None]
        frames = torch.from_numpy(prepare_frames(array, size, channels))
    if not is_clip:
        return ExplainInput(frames[0], None, 0, input_size)
    if frames.shape[0] != spec.window:
        raise ConfigError(
            "explain",
            f"{config.name} explains a frame inside a window of {spec.window} frames, "
            f"found {frames.shape[0]}",
        )
    position = spec.window - 1 if frame is None else int(frame)
    if not 0 <= position < spec.window:
        raise ConfigError("explain", f"frame must be in 0..{spec.window - 1}, found {position}")
    return ExplainInput(frames[position], frames, position, input_size)


def clip_for_frame(model: AnomalyModel, source: FrameSource, index: int) -> tuple[np.ndarray, int]:
    """The uint8 window of ``source`` that scores frame ``index``, and the frame's position in it.

    Uses the same windows as ``vad_core.inference.scoring_loop`` scoring, so an explanation is about the same
    model evaluation that produced the frame's score. Frame models get ``(frame[None], 0)``.
    """
    if not 0 <= index < len(source):
        raise IndexError(f"{source.name}: frame {index} out of range 0..{len(source) - 1}")
    spec = model.spec
    if spec.mode == "frame":
        return source.frame(index)[None], 0
    target = index
    if spec.mode == "predict" and index < spec.input_frames:  # not predictable: explain the first predicted
        target = min(spec.input_frames, len(source) - 1)
    for window in plan_windows(len(source), spec):
        for out_position, frame_index in window.targets:
            if frame_index == target:
                frames = np.stack([source.frame(i) for i in window.frames])
                position = out_position if spec.mode == "clip" else spec.input_frames + out_position
                return frames, position
    raise IndexError(f"{source.name}: frame {index} is not scored by any window")  # pragma: no cover


__all__ = [
    "DEFAULT_STEEPNESS",
    "AnomalyScorer",
    "Calibration",
    "ExplainInput",
    "clip_for_frame",
    "prepare_input",
]
