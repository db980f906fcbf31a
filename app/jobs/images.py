"""The image inspection window's jobs as plain generators (no Qt): thumbnails and scoring a category.

* ``thumbnail_job`` reads and shrinks the test images (``(index, thumbnail)`` chunks);
* ``inspect_job`` scores them one batch at a time under ``model_lock`` (``ImageChunk`` chunks) and
  returns the ``ImageInspection`` with the image and pixel metrics (pixel AUROC, AUPRO) computed
  (it reads every mask: here, not on the GUI thread).

``frame_model_names`` lists the architectures image mode can train (frame models).

Example::

    worker = Worker(lambda: inspect_job(checkpoint, dataset), name="image scoring")
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Sequence
from typing import Any

from app.jobs.threads import limit_torch_threads, lower_thread_priority, model_lock
from app.jobs.worker import Progress
from vad_core.checkpoint import Checkpoint
from vad_core.datasets.base import ImageDataset, ImageSample
from vad_core.evaluation.images import ImageChunk, ImageInspection, ImageModeConfig, inspect_iter
from vad_core.sources.image_files import read_image

THUMBNAIL_SIDE = 88


def thumbnail_job(samples: Sequence[ImageSample], side: int = THUMBNAIL_SIDE) -> Generator[Any, None, int]:
    """Read and shrink every image; yields ``(index, uint8 thumbnail)`` and ``Progress``."""
    import cv2

    lower_thread_priority()
    total = len(samples)
    for index, sample in enumerate(samples):
        image = read_image(sample.path)
        height, width = image.shape[:2]
        factor = side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        yield index, cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        yield Progress(index + 1, total)
    return total


def inspect_job(
    checkpoint: Checkpoint, dataset: ImageDataset, config: ImageModeConfig | None = None
) -> Generator[Any, None, ImageInspection]:
    """Score the test images batch by batch (``ImageChunk`` + ``Progress``), then compute the metrics."""
    lower_thread_priority()
    limit_torch_threads()
    total = len(dataset.test)
    yield Progress(0, total, f"scoring {total} test images of {dataset.category}")
    iterator = inspect_iter(checkpoint, dataset, config=config)
    lock = model_lock(checkpoint.model)
    while True:
        with lock:  # one batch at a time holds the model; the explain panel copies it in between
            try:
                chunk: ImageChunk = next(iterator)
            except StopIteration as stop:
                inspection: ImageInspection = stop.value
                break
        yield chunk
        yield Progress(chunk.stop, chunk.total)
    yield Progress(total, total, "computing image and pixel AUROC and AUPRO")
    # reads every mask and computes the localisation metrics (pixel AUROC and AUPRO, overall and per
    # defect type; cached in the inspection): here, not on the GUI thread
    _ = inspection.pixel_auroc, inspection.aupro, inspection.per_defect()
    return inspection


@functools.cache
def frame_model_names() -> tuple[str, ...]:
    """Registered architectures that score single images (image mode needs a frame model), DRAEM
    included. Each is built once on the meta device: no weights are allocated (DRAEM has 97 M)."""
    import torch

    from vad_core.models import ModelConfig, build_model, model_names

    names = []
    for name in model_names():
        try:
            with torch.device("meta"):
                model = build_model(ModelConfig(name, 1, (64, 64)))
            if model.spec.mode == "frame":
                names.append(name)
        except Exception:  # an architecture that cannot be built is simply not offered
            continue
    return tuple(names)
