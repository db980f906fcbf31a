"""Per-region overlap (PRO) and its normalised area up to 30 % FPR (AUPRO), the MVTec AD paper's
localisation metric (Bergmann et al., CVPR 2019 and IJCV 2021).

Pixel AUROC lets one large defect outweigh many small ones; PRO weighs every connected defect
region equally. At a threshold ``t`` on the anomaly maps:

* ``PRO(t)`` is the mean, over every connected region of every ground-truth mask (8-connected, as
  the official evaluation code labels them), of the fraction of the region's pixels scoring ``>= t``;
* ``FPR(t)`` is the fraction of all normal pixels (good images and the background of defective
  ones) scoring ``>= t``.

``aupro`` integrates ``PRO`` over ``FPR`` from 0 to ``fpr_limit`` (0.3 in the paper), by the
trapezoid rule with the curve linearly interpolated at the limit, and divides by ``fpr_limit``,
so a perfect map scores 1 and a constant map ``fpr_limit / 2``. The curve is exact: every distinct
map value is a threshold (pixels of equal value cross together).

Example::

    score = aupro(maps, masks)                     # lists of (H, W) maps and bool masks
    fpr, pro = pro_curve(maps, masks)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vad_core.errors import ConfigError
from vad_core.metrics.detection import NAN

FPR_LIMIT = 0.3  # the MVTec AD paper integrates PRO up to 30 % false positive rate


def _weights(
    maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pixel values, and per pixel its share of the FPR (normal pixels) and of the PRO (regions)."""
    values, normal, region_ids, sizes = [], [], [], []
    regions = 0
    for i, (heat, mask) in enumerate(zip(maps, masks, strict=True)):
        if np.shape(heat) != np.shape(mask) or np.ndim(mask) != 2:
            raise ConfigError("AUPRO", f"map {i} has shape {np.shape(heat)} but its mask {np.shape(mask)}")
        truth = np.asarray(mask, dtype=bool)
        count, labels = cv2.connectedComponents(truth.astype(np.uint8), connectivity=8)
        labels = labels.ravel().astype(np.int64)
        region_ids.append(np.where(labels > 0, labels - 1 + regions, -1))
        sizes.append(np.bincount(labels, minlength=count)[1:])
        regions += count - 1
        values.append(np.asarray(heat, dtype=np.float64).ravel())
        normal.append(~truth.ravel())
    scores = np.concatenate(values) if values else np.zeros(0)
    if not np.all(np.isfinite(scores)):
        raise ConfigError("AUPRO", "anomaly maps hold NaN or inf values")
    is_normal = np.concatenate(normal) if normal else np.zeros(0, bool)
    ids = np.concatenate(region_ids) if region_ids else np.zeros(0, np.int64)
    n_normal = int(is_normal.sum())
    fpr_share = is_normal / max(n_normal, 1)
    pro_share = np.zeros(len(scores))
    if regions:
        region_sizes = np.concatenate(sizes).astype(np.float64)
        inside = ids >= 0
        pro_share[inside] = 1.0 / (regions * region_sizes[ids[inside]])
    if n_normal == 0 or regions == 0:
        return scores, np.zeros(0), np.zeros(0)
    return scores, fpr_share, pro_share


def pro_curve(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, pro)`` at every distinct map value, from the highest threshold down, starting at (0, 0).

    Empty arrays when there is no defect region or no normal pixel.

    Raises:
        ConfigError: different numbers of maps and masks, a map and its mask of different shapes
            (or not 2-D), or non-finite map values.
    """
    maps, masks = list(maps), list(masks)
    if len(maps) != len(masks):
        raise ConfigError("AUPRO", f"{len(maps)} maps but {len(masks)} masks")
    scores, fpr_share, pro_share = _weights(maps, masks)
    if fpr_share.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    fpr = np.cumsum(fpr_share[order])
    pro = np.cumsum(pro_share[order])
    last_of_value = np.r_[ordered[1:] != ordered[:-1], True]  # equal values cross the threshold together
    fpr, pro = fpr[last_of_value], pro[last_of_value]
    return np.r_[0.0, np.minimum(fpr, 1.0)], np.r_[0.0, np.minimum(pro, 1.0)]


def aupro(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], fpr_limit: float = FPR_LIMIT) -> float:
    """Area under the PRO curve up to ``fpr_limit``, divided by ``fpr_limit`` (see module docstring).

    NaN when there is no defect region or no normal pixel.

    Raises:
        ConfigError: ``fpr_limit`` outside (0, 1], or the inputs ``pro_curve`` rejects.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ConfigError("AUPRO", f"fpr_limit must be in (0, 1], found {fpr_limit}")
    fpr, pro = pro_curve(maps, masks)
    if fpr.size == 0:
        return NAN
    cut = int(np.searchsorted(fpr, fpr_limit, side="right"))
    x, y = fpr[:cut], pro[:cut]
    if x[-1] < fpr_limit and cut < len(fpr):  # the curve's value at the limit, linearly interpolated
        x0, x1, y0, y1 = fpr[cut - 1], fpr[cut], pro[cut - 1], pro[cut]
        x = np.r_[x, fpr_limit]
        y = np.r_[y, y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)]
    return float(np.trapezoid(y, x) / fpr_limit)
