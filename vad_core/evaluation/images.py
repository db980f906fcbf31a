"""Image inspection mode: score the test images of an MVTec-style category and rank them.

The Qt-free engine behind the GUI's image mode and ``vad eval --dataset MVTEC_CATEGORY``. It
scores every test image of an ``ImageDataset`` with a frame autoencoder (the same preprocessing
and per-pixel squared error as video scoring, ``vad_core.inference.scoring_loop``), and keeps:

* an image-level score per image: the frame error of ``InferenceConfig.reduction`` (mean, l2 or
  patch_max, as for video frames), or the mean of the top ``top_fraction`` pixels (``"top_k"``);
* the per-pixel error map at model resolution (float16), resized to the image's own size on
  request, optionally Gaussian-smoothed;
* image-level AUROC (``vad_core.metrics.image_auroc``), pixel-level AUROC against the ground-truth
  masks (``pixel_auroc``, computed at most ``pixel_size`` px on the longer side, 256 by default
  like the resized MVTec copies most papers evaluate on), both per defect type too, and the
  G-mean threshold of eq. 3.21.

Test images sort by score (``order``), and each one gives its image, error map, mask, mask
outline (contours for drawing) and a thumbnail. ``train_on_image_dataset`` trains a CAE on the
category's ``train/good`` images with ``vad_core.training``.

Scoring is a generator (``inspect_iter``) that yields one ``ImageChunk`` per batch, so a GUI worker
can fill the thumbnail list as scores arrive and stop at any time.

Example::

    dataset = read_mvtec("../shared/datasets/mvtec_bottle_256/bottle")
    result = train_on_image_dataset(dataset, ModelConfig("bcae1", 3, (128, 128)), max_epochs=20)
    inspection = inspect_dataset(result.model, dataset)
    print(inspection.table())
    worst = inspection.order()[0]; heat = inspection.error_map(worst)   # image-sized map
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vad_core.checkpoint import Checkpoint
from vad_core.datasets.base import ImageDataset, ImageSample
from vad_core.errors import ConfigError
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_source
from vad_core.metrics import aupro, gmean_threshold, image_auroc, pixel_auroc
from vad_core.models.base import AnomalyModel, ModelConfig
from vad_core.progress import drive
from vad_core.sources.image_files import ImageFolderSource, read_image
from vad_core.sources.preprocess import Preprocess, resize_map

if TYPE_CHECKING:
    from vad_core.training import TrainResult

IMAGE_SCORES = ("inference", "top_k")


@dataclass(frozen=True)
class ImageModeConfig:
    """How test images are scored and evaluated.

    Attributes:
        image_score: ``"inference"`` (the frame error of ``InferenceConfig.reduction``) or
            ``"top_k"`` (mean of the ``top_fraction`` largest pixel errors).
        top_fraction: share of pixels averaged by ``"top_k"``.
        pixel_size: longer side (px) at which pixel AUROC is computed; None = each image's own size.
        smooth_sigma: Gaussian sigma, in model pixels, applied to error maps (0 = none).
    """

    image_score: str = "inference"
    top_fraction: float = 0.01
    pixel_size: int | None = 256
    smooth_sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.image_score not in IMAGE_SCORES:
            raise ConfigError(
                "image mode", f"image_score must be one of {IMAGE_SCORES}, found {self.image_score!r}"
            )
        if not 0.0 < self.top_fraction <= 1.0:
            raise ConfigError("image mode", f"top_fraction must be in (0, 1], found {self.top_fraction}")
        if self.pixel_size is not None and self.pixel_size < 8:
            raise ConfigError("image mode", f"pixel_size must be >= 8 or None, found {self.pixel_size}")
        if self.smooth_sigma < 0:
            raise ConfigError("image mode", f"smooth_sigma must be >= 0, found {self.smooth_sigma}")


@dataclass
class ImageChunk:
    """Scores and error maps of test images ``start .. start + len(scores) - 1``."""

    start: int
    scores: np.ndarray  # (n,) float32
    maps: np.ndarray  # (n, h, w) float16 at model resolution
    total: int

    @property
    def stop(self) -> int:
        return self.start + len(self.scores)


@dataclass
class DefectMetrics:
    """Image- and pixel-level AUROC and AUPRO of one defect type against all good test images."""

    defect_type: str
    images: int
    image_auroc: float
    pixel_auroc: float
    aupro: float = float("nan")


@dataclass
class ImageInspection:
    """Every test image of a category scored by one model, with metrics (see module docstring)."""

    dataset: ImageDataset
    samples: list[ImageSample]
    scores: np.ndarray
    maps: np.ndarray
    model_name: str = "model"
    config: ImageModeConfig = field(default_factory=ImageModeConfig)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    scoring: str = "frame error"  # how image scores were made, for the table
    _metrics: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------------------------- browsing
    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> np.ndarray:
        """True for defective test images."""
        return np.array([s.anomalous for s in self.samples], dtype=bool)

    def order(self, descending: bool = True) -> list[int]:
        """Indices of the test images sorted by score (most anomalous first by default; ties by path)."""
        keys = sorted(
            range(len(self.samples)), key=lambda i: (-self.scores[i] if descending else self.scores[i], i)
        )
        return keys

    def image(self, index: int) -> np.ndarray:
        """Test image ``index`` as read from disk (uint8 ``(H, W)`` or ``(H, W, 3)``)."""
        return read_image(self.samples[index].path)

    def image_size(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of test image ``index`` (decoded once, then remembered)."""
        sizes = self._metrics.setdefault("sizes", {})
        if index not in sizes:
            sizes[index] = tuple(int(v) for v in self.image(index).shape[:2])
        return sizes[index]

    def error_map(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Error map of image ``index`` resized to ``size`` (default: the image's own size), float32."""
        heat = self.model_map(index)
        return resize_map(heat, size or self.image_size(index)).astype(np.float32)

    def model_map(self, index: int) -> np.ndarray:
        """Error map at model resolution, smoothed if ``config.smooth_sigma`` > 0, float32."""
        return _smooth(self.maps[index].astype(np.float32), self.config.smooth_sigma)

    def mask(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """Ground-truth mask (bool), all False for good images, None for a defect image without one."""
        sample = self.samples[index]
        return sample.read_mask(size or (self.image_size(index) if not sample.anomalous else None))

    def mask_outline(self, index: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
        """Contours of the mask as ``(N, 2)`` int arrays of ``(x, y)`` points (empty when no mask)."""
        mask = self.mask(index, size)
        return mask_outline(mask) if mask is not None else []

    def thumbnail(self, index: int, side: int = 96) -> np.ndarray:
        """Test image ``index`` shrunk so its longer side is ``side`` px (uint8)."""
        image = self.image(index)
        height, width = image.shape[:2]
        factor = side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    # ----------------------------------------------------------------------------------- metrics
    @property
    def image_auroc(self) -> float:
        """Image-level AUROC (NaN without both good and defective test images)."""
        return image_auroc(self.scores, self.labels) if len(self.samples) else float("nan")

    @property
    def threshold(self) -> float:
        """G-mean optimal threshold on image scores (eq. 3.21)."""
        return gmean_threshold(self.scores, self.labels) if len(self.samples) else float("nan")

    @property
    def pixel_auroc(self) -> float:
        """Pixel-level AUROC over every test image with a mask (good images count as all-normal)."""
        return self._localisation()[0]

    @property
    def aupro(self) -> float:
        """Per-region overlap up to 30 % FPR, normalised (MVTec AD), over the same images and maps."""
        return self._localisation()[1]

    def _localisation(self) -> tuple[float, float]:
        if "pixel" not in self._metrics:
            self._metrics["pixel"] = self._pixel_metrics(range(len(self.samples)))
        return self._metrics["pixel"]

    def per_defect(self) -> list[DefectMetrics]:
        """Image and pixel AUROC of each defect type against the good test images."""
        if "per_defect" in self._metrics:
            return self._metrics["per_defect"]
        labels = self.labels
        good = [i for i in range(len(self.samples)) if not labels[i]]
        out = []
        for defect in sorted({s.defect_type for s in self.samples if s.anomalous}):
            chosen = [i for i, s in enumerate(self.samples) if s.anomalous and s.defect_type == defect]
            keep = good + chosen
            image_value = image_auroc(self.scores[keep], labels[keep]) if good else float("nan")
            out.append(DefectMetrics(defect, len(chosen), image_value, *self._pixel_metrics(keep)))
        self._metrics["per_defect"] = out
        return out

    def _eval_size(self, index: int) -> tuple[int, int]:
        height, width = self.image_size(index)
        limit = self.config.pixel_size
        if limit is None or max(height, width) <= limit:
            return height, width
        factor = limit / max(height, width)
        return max(1, round(height * factor)), max(1, round(width * factor))

    def _pixel_metrics(self, indices: Sequence[int] | range) -> tuple[float, float]:
        """Pixel AUROC and AUPRO of the images ``indices`` that have masks (NaN, NaN without any)."""
        maps, masks = [], []
        for i in indices:
            size = self._eval_size(i)
            mask = self.samples[i].read_mask(size)
            if mask is None:
                continue
            maps.append(resize_map(self.model_map(i), size))
            masks.append(mask)
        if not masks:
            return float("nan"), float("nan")
        return pixel_auroc(maps, masks), aupro(maps, masks)

    def table(self) -> str:
        """Plain-text summary: counts, image / pixel AUROC overall and per defect type, notes."""
        labels = self.labels
        n_bad = int(labels.sum())
        with_mask = sum(1 for s in self.samples if s.anomalous and s.mask_path is not None)
        size = f"at most {self.config.pixel_size} px" if self.config.pixel_size else "image size"

        def pct(value: float) -> str:
            return "n/a" if not math.isfinite(value) else f"{100 * value:.1f}"

        score_kind = (
            f"top {100 * self.config.top_fraction:g}% pixel errors"
            if self.config.image_score == "top_k"
            else self.scoring
        )
        lines = [
            f"{self.model_name} on {self.dataset.name} {self.dataset.category}: {len(self.samples)} test images "
            f"({len(self.samples) - n_bad} good, {n_bad} defective, {with_mask} with masks), "
            f"scored in {self.seconds:.1f} s",
            f"image score: {score_kind}; pixel AUROC and AUPRO (per-region overlap to 30 % FPR) {size}",
            "",
        ]
        header = ("defect type", "images", "image AUROC %", "pixel AUROC %", "AUPRO %")
        rows = [
            (d.defect_type, str(d.images), pct(d.image_auroc), pct(d.pixel_auroc), pct(d.aupro))
            for d in self.per_defect()
        ]
        total = ("all", str(len(self.samples)), pct(self.image_auroc), pct(self.pixel_auroc), pct(self.aupro))
        widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                [cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]
            )

        rule = "  ".join("-" * w for w in widths)
        lines += [line(header), rule, *(line(r) for r in rows), rule, line(total)]
        threshold = self.threshold
        if math.isfinite(threshold):
            lines.append(f"G-mean threshold (eq. 3.21) on image scores: {threshold:.6g}")
        for note in [*self.dataset.notes, *self.notes]:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def mask_outline(mask: np.ndarray) -> list[np.ndarray]:
    """Outer and inner contours of a boolean mask as ``(N, 2)`` int32 ``(x, y)`` point arrays."""
    contours, _ = cv2.findContours(np.asarray(mask, np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1, 2) for c in contours]


def _smooth(heat: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return heat
    return cv2.GaussianBlur(heat, (0, 0), sigmaX=sigma)


def _top_k_scores(maps: np.ndarray, fraction: float, sigma: float) -> np.ndarray:
    out = np.empty(len(maps), np.float32)
    for i, heat in enumerate(maps):
        flat = _smooth(heat.astype(np.float32), sigma).ravel()
        k = max(1, int(round(fraction * flat.size)))
        out[i] = np.partition(flat, flat.size - k)[flat.size - k :].mean()
    return out


def _unwrap(model_or_checkpoint: AnomalyModel | Checkpoint) -> tuple[AnomalyModel, str, dict[str, Any]]:
    if isinstance(model_or_checkpoint, Checkpoint):
        return model_or_checkpoint.model, model_or_checkpoint.display_name, model_or_checkpoint.scoring
    model = model_or_checkpoint
    name = model.config.name.upper() if model.config is not None else type(model).__name__
    return model, name, {}


def inspect_iter(
    model_or_checkpoint: AnomalyModel | Checkpoint,
    dataset: ImageDataset,
    inference: InferenceConfig | None = None,
    config: ImageModeConfig | None = None,
    samples: Sequence[ImageSample] | None = None,
) -> Iterator[ImageChunk]:
    """Score the test images (or ``samples``) batch by batch; returns the ``ImageInspection``.

    Raises:
        ConfigError: the model is not a frame model, or there are no images to score.
    """
    model, name, scoring = _unwrap(model_or_checkpoint)
    if model.spec.mode != "frame":
        raise ConfigError(
            "image mode", f"{name} is a {model.spec.mode} model; image mode needs a frame model"
        )
    if model.config is None:
        raise ConfigError("image mode", "model has no config (build it with build_model)")
    config = config or ImageModeConfig()
    if inference is None:  # a checkpoint's recommended error and frame reduction, else the defaults
        inference = InferenceConfig(
            error=str(scoring.get("error", "mse")),
            reduction=str(scoring.get("reduction", "mean")),
            patch=int(scoring.get("patch", 16)),
        )
    inference = replace(inference, keep_maps=True)
    chosen = list(dataset.test if samples is None else samples)
    if not chosen:
        raise ConfigError("image mode", f"{dataset.category}: no test images to score")
    began = time.perf_counter()
    source = ImageFolderSource([s.path for s in chosen], name=f"{dataset.category}/test")
    preprocess = Preprocess(size=model.config.size, channels=model.config.channels)
    scores = np.zeros(len(chosen), np.float32)
    maps: np.ndarray | None = None
    for chunk in score_source(model, source, inference, preprocess):
        assert chunk.maps is not None
        if maps is None:
            maps = np.zeros((len(chosen), *chunk.maps.shape[1:]), np.float16)
        maps[chunk.start : chunk.stop] = chunk.maps
        if config.image_score == "top_k":
            values = _top_k_scores(chunk.maps, config.top_fraction, config.smooth_sigma)
        else:
            values = chunk.errors.astype(np.float32)
        scores[chunk.start : chunk.stop] = values
        yield ImageChunk(chunk.start, values, chunk.maps, len(chosen))
    assert maps is not None
    notes = []
    missing = [s for s in chosen if s.anomalous and s.mask_path is None]
    if missing:
        notes.append(f"{len(missing)} defect image(s) have no mask and are left out of pixel AUROC")
    return ImageInspection(
        dataset=dataset,
        samples=chosen,
        scores=scores,
        maps=maps,
        model_name=name,
        config=config,
        seconds=time.perf_counter() - began,
        notes=notes,
        scoring=_score_description(inference),
    )


def _score_description(inference: InferenceConfig) -> str:
    """What an image score of ``inference`` is, in words."""
    what = "the segmentation map" if inference.error == "segmentation" else f"the {inference.error} error map"
    if inference.reduction == "smoothed_max":
        return f"maximum of {what} after a {inference.patch}x{inference.patch} mean filter"
    if inference.reduction == "patch_max":
        return f"largest {inference.patch}x{inference.patch} block mean of {what}"
    return f"frame error ({inference.reduction} of {what})"


def inspect_dataset(
    model_or_checkpoint: AnomalyModel | Checkpoint,
    dataset: ImageDataset,
    inference: InferenceConfig | None = None,
    config: ImageModeConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImageInspection:
    """Run ``inspect_iter`` to the end; ``progress(done, total)`` per batch, ``should_stop()`` cancels."""
    report = None if progress is None else (lambda chunk: progress(chunk.stop, chunk.total))
    return drive(
        inspect_iter(model_or_checkpoint, dataset, inference, config), report, should_stop, "image scoring"
    )


def evaluate_image_dataset(
    checkpoint: Checkpoint | AnomalyModel,
    dataset: ImageDataset,
    inference_config: InferenceConfig | None = None,
    config: ImageModeConfig | None = None,
) -> ImageInspection:
    """Score a category's test split and compute its metrics; ``.table()`` prints them (``vad eval``)."""
    inspection = inspect_dataset(checkpoint, dataset, inference_config, config)
    _ = inspection.pixel_auroc, inspection.per_defect()  # compute now, so table() is cheap
    return inspection


# ------------------------------------------------------------------------------------------ training
def training_source(dataset: ImageDataset) -> ImageFolderSource:
    """The category's good training images as one still-image source."""
    if not dataset.train:
        raise ConfigError(
            "image mode", f"{dataset.category}: no training images (train/good is empty or missing)"
        )
    return ImageFolderSource([s.path for s in dataset.train], name=f"{dataset.category}/train")


def train_on_image_dataset(
    dataset: ImageDataset,
    model: ModelConfig | str = "bcae1",
    output: str | Path | None = None,
    size: tuple[int, int] = (128, 128),
    channels: int | None = None,
    progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: str | Path | None = None,
    **train_options: Any,
) -> TrainResult:
    """Train a frame model (an autoencoder, or DRAEM) on ``train/good`` of a category with ``vad_core.training``.

    Args:
        dataset: the category (``read_mvtec`` or any ``ImageDataset``).
        model: a ``ModelConfig``, or a registered name built at ``size`` with ``channels``.
        output: checkpoint path (best weights saved there during training); None keeps it in memory.
        size: model input ``(H, W)`` when ``model`` is a name (multiples of 32).
        channels: 1 or 3; default: the first training image's.
        progress: called with every ``TrainEvent``; ``should_stop()`` cancels (``Cancelled``).
        resume: the ``output`` of an interrupted run to continue.
        **train_options: ``TrainConfig`` fields, e.g. ``max_epochs=20, batch_size=16, seed=0``; they
            override the model's registered training defaults (``TrainConfig.for_model``).

    Returns:
        The trainer's ``TrainResult`` (``.model`` in eval mode, ``.checkpoint`` when ``output``).
    """
    from vad_core.training import FrameBank, TrainConfig, train

    source = training_source(dataset)
    if isinstance(model, str):
        model = ModelConfig(model, channels or source.channels, size)
    train_options.setdefault("strides", (1,))
    config = TrainConfig.for_model(model, **train_options)
    bank = FrameBank.from_sources([source], Preprocess(model.size, model.channels))
    metadata = {
        "training": {"dataset": f"{dataset.name} {dataset.category} (train/good)"},
        "scoring": {"reduction": "mean", **config.scoring_defaults()},
    }
    return train(
        config, bank, output=output, resume=resume, metadata=metadata, progress=progress,
        should_stop=should_stop,
    )  # fmt: skip


__all__ = [
    "IMAGE_SCORES",
    "DefectMetrics",
    "ImageChunk",
    "ImageInspection",
    "ImageModeConfig",
    "evaluate_image_dataset",
    "inspect_dataset",
    "inspect_iter",
    "mask_outline",
    "train_on_image_dataset",
    "training_source",
]
