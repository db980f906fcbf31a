"""How well a heatmap points at the ground-truth defect: pointing game, top-k% IoU, relevance mass.

Measures used by the tests and by ``benchmarks/explain_compare.py`` (higher is better for all):

* **pointing game** (Zhang et al., 2016): a hit when the heatmap's maximum lies on the mask, or
  within ``tolerance`` pixels of it (``pointing_hit``: 0 px unless given; ``pointing_near``: the
  paper's 15 px at 224 px, scaled to the image). With a plateau of maxima (a counterfactual box)
  the maximum nearest the plateau's centroid is the pointed pixel.
* **top-k% IoU**: intersection over union of the mask and the ``fraction`` highest-valued pixels
  (ties at the cut are all kept; pixels at the map's minimum never count, so a box smaller than
  ``fraction`` of the image is taken as it is). ``top_precision`` is the share of those pixels on
  the mask; the chance level of both is about the mask's share of the image.
* **relevance mass** (Arras et al., 2022): share of the positive heatmap mass inside the mask.
* **heatmap AUROC**: pixel AUROC of the heatmap against the mask (threshold-free).

Heatmaps are read as "high = evidence for anomalous"; pass ``absolute=True`` to rank by magnitude.

Example::

    scores = localisation_scores(explanation.heatmap, mask, fraction=0.05)
    print(scores.pointing_hit, scores.iou, scores.chance_iou)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vad_core.errors import ConfigError


def _check(heatmap: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    heat = np.asarray(heatmap, dtype=np.float64)
    truth = np.asarray(mask, dtype=bool)
    if heat.shape != truth.shape or heat.ndim != 2:
        raise ConfigError(
            "localisation", f"heatmap {heat.shape} and mask {truth.shape} must be equal 2-D shapes"
        )
    if not np.all(np.isfinite(heat)):
        raise ConfigError("localisation", "heatmap holds NaN or inf values")
    return heat, truth


def top_fraction_mask(heatmap: np.ndarray, fraction: float = 0.05, absolute: bool = False) -> np.ndarray:
    """Boolean mask of the ``fraction`` highest pixels (ties at the cut kept, minimum pixels never)."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError("localisation", f"fraction must be in (0, 1], found {fraction}")
    heat = np.abs(heatmap) if absolute else np.asarray(heatmap, dtype=np.float64)
    flat = heat.ravel()
    k = max(1, int(round(fraction * flat.size)))
    cut = np.partition(flat, flat.size - k)[flat.size - k]
    low = flat.min()
    if cut <= low and flat.max() > low:
        return heat > low
    return heat >= cut


def pointed_pixel(heatmap: np.ndarray, absolute: bool = False) -> tuple[int, int]:
    """``(row, col)`` of the heatmap's maximum; for a plateau, the maximum nearest its centroid."""
    heat = np.abs(heatmap) if absolute else np.asarray(heatmap, dtype=np.float64)
    peak = heat.max()
    rows, cols = np.nonzero(heat >= peak)
    cy, cx = rows.mean(), cols.mean()
    nearest = int(np.argmin((rows - cy) ** 2 + (cols - cx) ** 2))
    return int(rows[nearest]), int(cols[nearest])


def pointing_game(heatmap: np.ndarray, mask: np.ndarray, tolerance: int = 0, absolute: bool = False) -> bool:
    """True when the pointed pixel lies on ``mask`` dilated by ``tolerance`` pixels."""
    heat, truth = _check(heatmap, mask)
    if tolerance > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
        truth = cv2.dilate(truth.astype(np.uint8), kernel) > 0
    row, col = pointed_pixel(heat, absolute)
    return bool(truth[row, col])


def topk_iou(heatmap: np.ndarray, mask: np.ndarray, fraction: float = 0.05, absolute: bool = False) -> float:
    """IoU of ``mask`` and the top ``fraction`` of the heatmap."""
    heat, truth = _check(heatmap, mask)
    top = top_fraction_mask(heat, fraction, absolute)
    union = np.count_nonzero(top | truth)
    return float(np.count_nonzero(top & truth) / union) if union else float("nan")


def relevance_mass(heatmap: np.ndarray, mask: np.ndarray, absolute: bool = False) -> float:
    """Share of the positive (or absolute) heatmap mass inside ``mask``; NaN for an all-zero map."""
    heat, truth = _check(heatmap, mask)
    positive = np.abs(heat) if absolute else np.maximum(heat, 0.0)
    total = positive.sum()
    return float(positive[truth].sum() / total) if total > 0 else float("nan")


@dataclass(frozen=True)
class LocalisationScores:
    """Localisation of one heatmap against one mask (see module docstring)."""

    pointing_hit: bool
    pointing_near: bool
    iou: float
    top_precision: float
    mass: float
    auroc: float
    mask_fraction: float
    fraction: float

    @property
    def chance_iou(self) -> float:
        """Expected IoU of ``fraction`` random pixels with the mask."""
        m, f = self.mask_fraction, self.fraction
        inter = m * f
        return inter / (m + f - inter) if (m + f - inter) > 0 else float("nan")


def near_tolerance(shape: tuple[int, ...]) -> int:
    """The pointing game's usual tolerance, 15 px at 224 px (Zhang et al.), for an image of ``shape``."""
    return max(1, int(round(15 / 224 * max(shape[:2]))))


def localisation_scores(
    heatmap: np.ndarray, mask: np.ndarray, fraction: float = 0.05, tolerance: int = 0, absolute: bool = False
) -> LocalisationScores:
    """All measures of the module for one heatmap and its mask (a mask with no pixel gives NaNs)."""
    from vad_core.metrics import auroc

    heat, truth = _check(heatmap, mask)
    if not truth.any():
        nan = float("nan")
        return LocalisationScores(False, False, nan, nan, nan, nan, 0.0, fraction)
    top = top_fraction_mask(heat, fraction, absolute)
    ranked = np.abs(heat) if absolute else heat
    near = near_tolerance(heat.shape)
    return LocalisationScores(
        pointing_hit=pointing_game(heat, truth, tolerance, absolute),
        pointing_near=pointing_game(heat, truth, max(near, tolerance), absolute),
        iou=topk_iou(heat, truth, fraction, absolute),
        top_precision=float(np.count_nonzero(top & truth) / max(1, np.count_nonzero(top))),
        mass=relevance_mass(heat, truth, absolute),
        auroc=auroc(ranked.ravel(), truth.ravel()),
        mask_fraction=float(truth.mean()),
        fraction=fraction,
    )


def box_mask(boxes: Sequence[Mapping[str, int]], shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``shape`` mask of the union of boxes given as ``{"y0", "x0", "y1", "x1"}`` dicts."""
    out = np.zeros(shape, bool)
    for box in boxes:
        out[max(0, box["y0"]) : box["y1"], max(0, box["x0"]) : box["x1"]] = True
    return out


def coverage(region: np.ndarray, mask: np.ndarray) -> float:
    """Share of ``mask`` pixels inside ``region`` (1.0: the region contains the whole defect)."""
    region, truth = np.asarray(region, bool), np.asarray(mask, bool)
    total = np.count_nonzero(truth)
    return float(np.count_nonzero(region & truth) / total) if total else float("nan")


def summarise(rows: Mapping[str, Sequence[LocalisationScores]]) -> dict[str, dict[str, float]]:
    """Mean of each measure per method: ``{method: {"pointing": ..., "iou": ..., ...}}``."""
    out: dict[str, dict[str, float]] = {}
    for method, scores in rows.items():

        def mean(values: list[float]) -> float:
            finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
            return float(np.mean(finite)) if finite else float("nan")

        out[method] = {
            "pointing": mean([float(s.pointing_hit) for s in scores]),
            "pointing_near": mean([float(s.pointing_near) for s in scores]),
            "iou": mean([s.iou for s in scores]),
            "top_precision": mean([s.top_precision for s in scores]),
            "mass": mean([s.mass for s in scores]),
            "auroc": mean([s.auroc for s in scores]),
            "chance_iou": mean([s.chance_iou for s in scores]),
            "n": float(len(scores)),
        }
    return out


def markdown_table(
    summary: Mapping[str, Mapping[str, float]], fraction: float = 0.05, near: int | None = None
) -> str:
    """A markdown table of ``summarise`` output, one row per method.

    ``fraction`` is the top-k share used, ``near`` the pointing tolerance in px (for the header).
    """
    k = f"{100 * fraction:g}%"
    near_text = f"pointing (±{near} px)" if near else "pointing (near)"
    header = (
        f"| method | pointing game | {near_text} | IoU top {k} | precision top {k} | relevance mass | "
        "pixel AUROC | n |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for method, m in summary.items():
        lines.append(
            f"| {method} | {m['pointing']:.2f} | {m['pointing_near']:.2f} | {m['iou']:.3f} | "
            f"{m['top_precision']:.3f} | {m['mass']:.3f} | {m['auroc']:.3f} | {int(m['n'])} |"
        )
    return "\n".join(lines)


__all__ = [
    "LocalisationScores",
    "box_mask",
    "coverage",
    "localisation_scores",
    "markdown_table",
    "near_tolerance",
    "pointed_pixel",
    "pointing_game",
    "relevance_mass",
    "summarise",
    "top_fraction_mask",
    "topk_iou",
]
