"""Reading ground-truth pixel masks (MVTec ``*_mask.png``, UCSD ``TestNNN_gt/*.bmp``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vad_core.errors import GroundTruthError

if TYPE_CHECKING:
    from vad_core.datasets.base import ImageSample


def read_mask_file(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask image as bool ``(H, W)`` (any non-zero pixel is anomalous), optionally resized."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(path, "mask image missing (no such file)")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise GroundTruthError(path, f"cannot read mask image ({error.strerror or error})") from None
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        raise GroundTruthError(path, "cannot decode mask image (empty, corrupt or not an image)")
    if size is not None and mask.shape != tuple(size):
        mask = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return mask > 0


def read_mask(sample: ImageSample, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Mask of ``sample``: all False for good images, ``None`` for a defect image without one."""
    if not sample.anomalous:
        if size is None:
            image = cv2.imread(str(sample.path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise GroundTruthError(sample.path, "cannot read image to size its empty mask")
            size = image.shape[:2]
        return np.zeros(size, bool)
    if sample.mask_path is None:
        return None
    return read_mask_file(sample.mask_path, size)
