"""Pixel-level localisation metrics: anomaly maps against ground-truth masks (MVTec AD, UCSD masks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vad_core.errors import ConfigError
from vad_core.metrics.detection import NAN, auroc


def _pixel_count(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> tuple[int, int]:
    n_pos = n_all = 0
    for i, (heat, mask) in enumerate(zip(maps, masks, strict=True)):
        if np.shape(heat) != np.shape(mask):
            raise ConfigError(
                "pixel AUROC", f"map {i} has shape {np.shape(heat)} but its mask {np.shape(mask)}"
            )
        n_pos += int(np.count_nonzero(mask))
        n_all += int(np.size(mask))
    return n_pos, n_all - n_pos


def pixel_auroc(
    maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], max_pixels: int = 2_000_000, seed: int = 0
) -> float:
    """AUROC of anomaly-map values against ground-truth masks, over all pixels of all images.

    When there are more than ``max_pixels`` pixels a deterministic (``seed``) random sample of
    about ``max_pixels`` is used, drawn from each class separately: AUROC depends only on the two
    class-conditional score distributions, so this is unbiased, and small defects keep up to half
    the budget instead of vanishing in the sample. Images are processed one at a time, so the
    full set is never held in memory. NaN when no pixel (or every pixel) is anomalous.

    Raises:
        ConfigError: different numbers of maps and masks, a map and its mask of different
            shapes, ``max_pixels < 2``, or non-finite map values.
    """
    maps, masks = list(maps), list(masks)
    if len(maps) != len(masks):
        raise ConfigError("pixel AUROC", f"{len(maps)} maps but {len(masks)} masks")
    if max_pixels < 2:
        raise ConfigError("pixel AUROC", f"max_pixels must be >= 2, found {max_pixels}")
    n_pos, n_neg = _pixel_count(maps, masks)
    if n_pos == 0 or n_neg == 0:
        return NAN
    if n_pos + n_neg <= max_pixels:
        rate_pos = rate_neg = 1.0
    else:
        budget_pos = min(n_pos, max(max_pixels // 2, max_pixels - n_neg))
        budget_neg = min(n_neg, max_pixels - budget_pos)
        rate_pos, rate_neg = budget_pos / n_pos, budget_neg / n_neg
    rng = np.random.default_rng(seed)
    kept_scores, kept_labels = [], []
    for heat, mask in zip(maps, masks, strict=True):
        values = np.asarray(heat, dtype=np.float32).ravel()
        truth = np.asarray(mask, dtype=bool).ravel()
        if rate_pos < 1.0 or rate_neg < 1.0:
            keep = rng.random(truth.size) < np.where(truth, rate_pos, rate_neg)
            values, truth = values[keep], truth[keep]
        kept_scores.append(values)
        kept_labels.append(truth)
    s = np.concatenate(kept_scores)
    y = np.concatenate(kept_labels)
    if not np.all(np.isfinite(s)):
        raise ConfigError("pixel AUROC", "anomaly maps hold NaN or inf values")
    return auroc(s, y)
