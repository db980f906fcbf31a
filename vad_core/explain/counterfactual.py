"""Counterfactual boxes: the smallest rectangles whose repair makes the model call a part normal.

Thesis 3.8.4 explains an anomaly by the smallest change of the input that flips the decision, with
"rectangular region-wise alterations". Here a region is *repaired*: its pixels are replaced by the
model's own reconstruction of the image (what the model believes the part looks like; default) or
by a blurred copy of the image, and the modified image is scored again by the model (it is
reconstructed anew, so a repair that only moves the error elsewhere does not count).

Search, coarse to fine:

1. **Coarse.** The image is divided into a grid of ``grid x grid`` cells. Box sizes of 1x1, 1x2,
   2x1, 2x2, ... cells (aspect at most 2:1, area up to ``max_area``) are ordered by area. For a
   size, the candidate positions (every cell offset) are ranked by the reconstruction error inside
   them (cheap: a summed-area table) and the ``candidates`` best are scored by the model in one
   batch. The smallest size at which some box brings the score below the target (see below) wins,
   with its lowest-scoring box; sizes are probed by galloping then bisection, since the best score
   falls (almost) monotonically with area.
2. **Fine.** The winning box is shrunk side by side, in steps of half a cell down to one pixel,
   as long as the repaired image stays below the target.
3. **More boxes.** If no box up to ``max_area`` of the image reaches the target, the box with the
   largest score drop is tightened (shrunk while it keeps 95 % of its drop), kept as repaired, and
   the search repeats on the repaired image, up to ``max_boxes`` boxes. An image that is already
   below the target gets the tightened box with the largest drop per pixel (the region the model
   finds least normal), reported with ``crossed=False``.

The target (``target=``) is either the threshold itself (``"threshold"``: the minimal flip of the
decision, thesis 3.8.4) or, by default, the score of the most anomalous-looking *normal* reference
(``"normal"``, ``Calibration.normal_level``; never above the threshold): the part is repaired until
it looks like a good part. On barely anomalous parts the minimal flip repairs only a sliver of the
defect (on the synthetic parts its box held 14-60 % of the defect's pixels, the "normal" target's
80-100 %), so "normal" is the default for showing *where* the defect is.

The heatmap is the score drop each box achieved, painted inside the box (0 elsewhere).

Example::

    result = find_counterfactual(scorer, frame)          # frame (C, H, W) in [0, 1]
    print(result.boxes, result.score_before, result.score_after, result.crossed)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from vad_core.errors import ConfigError
from vad_core.explain.explanation import MethodResult, Progress
from vad_core.explain.scorer import AnomalyScorer, ExplainInput

REPLACEMENTS = ("reconstruction", "blur")
TARGETS = ("normal", "threshold")


@dataclass(frozen=True)
class Box:
    """A rectangle ``[y0, y1) x [x0, x1)`` in pixels, with the score after repairing it (and earlier boxes)."""

    y0: int
    x0: int
    y1: int
    x1: int
    score_after: float = float("nan")
    drop: float = float("nan")

    @property
    def area(self) -> int:
        return max(0, self.y1 - self.y0) * max(0, self.x1 - self.x0)

    def scaled(self, sy: float, sx: float) -> Box:
        """The box in another resolution (``sy``, ``sx`` = new size / old size), rounded outwards."""
        return Box(
            int(np.floor(self.y0 * sy)),
            int(np.floor(self.x0 * sx)),
            int(np.ceil(self.y1 * sy)),
            int(np.ceil(self.x1 * sx)),
            self.score_after,
            self.drop,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "y0": self.y0,
            "x0": self.x0,
            "y1": self.y1,
            "x1": self.x1,
            "score_after": self.score_after,
            "drop": self.drop,
        }


@dataclass
class CounterfactualResult:
    """Boxes found, scores before and after repairing them, and the repaired image.

    ``threshold`` is the score the search aimed below (the decision threshold or the normal level).
    """

    boxes: list[Box]
    score_before: float
    score_after: float
    threshold: float
    crossed: bool
    evaluations: int
    counterfactual: np.ndarray  # (C, H, W) the image with every box repaired
    heatmap: np.ndarray  # (H, W) float32 score drop inside each box
    trace: list[str] = field(default_factory=list)


def replacement_image(scorer: AnomalyScorer, frame: Tensor, replacement: str, blur_sigma: float) -> Tensor:
    """The image the boxes are filled from: the model's reconstruction or a Gaussian blur of ``frame``."""
    if replacement == "reconstruction":
        with torch.no_grad():
            return scorer.reconstruct(frame[None].to(scorer.device))[0].float()
    if replacement == "blur":
        image = frame.detach().float().cpu().numpy().transpose(1, 2, 0)
        blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=blur_sigma)
        if blurred.ndim == 2:
            blurred = blurred[..., None]
        return torch.from_numpy(blurred.transpose(2, 0, 1).copy()).to(scorer.device)
    raise ConfigError("counterfactual", f"replacement must be one of {REPLACEMENTS}, found {replacement!r}")


class _Search:
    """Scores batches of repaired images and counts evaluations."""

    def __init__(self, scorer: AnomalyScorer, patch: Tensor, progress: Progress, batch_size: int) -> None:
        self.scorer = scorer
        self.patch = patch
        self.progress = progress
        self.batch_size = batch_size
        self.evaluations = 0

    def scores(self, base: Tensor, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        out = []
        for start in range(0, len(boxes), self.batch_size):
            chunk = boxes[start : start + self.batch_size]
            batch = base.unsqueeze(0).repeat(len(chunk), 1, 1, 1)
            for i, (y0, x0, y1, x1) in enumerate(chunk):
                batch[i, :, y0:y1, x0:x1] = self.patch[:, y0:y1, x0:x1]
            with torch.no_grad():
                batch = batch.contiguous(memory_format=torch.channels_last)
                out.append(self.scorer.score(batch).double().cpu().numpy())
            self.evaluations += len(chunk)
            self.progress.advance(len(chunk))
        return np.concatenate(out) if out else np.zeros(0)


def _box_sizes(grid: int, max_cells: float) -> list[tuple[int, int]]:
    """(rows, cols) of boxes in cells, by area then squareness, up to ``max_cells`` cells."""
    sizes = [
        (h, w)
        for h in range(1, grid + 1)
        for w in range(1, grid + 1)
        if h * w <= max_cells and max(h, w) <= 2 * min(h, w)
    ]
    return sorted(sizes, key=lambda hw: (hw[0] * hw[1], abs(hw[0] - hw[1]), hw))


def _cell_edges(length: int, grid: int) -> np.ndarray:
    return np.round(np.linspace(0, length, grid + 1)).astype(int)


def find_counterfactual(
    scorer: AnomalyScorer,
    frame: Tensor,
    replacement: str = "reconstruction",
    grid: int = 8,
    max_area: float = 0.5,
    candidates: int = 8,
    max_boxes: int = 3,
    blur_sigma: float | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
    target: str = "normal",
) -> CounterfactualResult:
    """Coarse-to-fine search for the smallest repaired box(es) that cross the threshold.

    Args:
        scorer: the calibrated scorer (threshold and normal level).
        frame: ``(C, H, W)`` in [0, 1] at model size.
        replacement: ``"reconstruction"`` or ``"blur"``.
        grid: cells per side of the coarse grid (8: 16 px cells at 128 px).
        max_area: largest box tried, as a fraction of the image.
        candidates: boxes per size scored by the model (ranked by error inside).
        max_boxes: most boxes returned when one box does not suffice.
        blur_sigma: Gaussian sigma for ``replacement="blur"`` (default: image side / 16).
        batch_size: repaired images per model call.
        progress: reports model evaluations and honours cancellation.
        target: ``"normal"`` (repair until the score reaches the normal references' level) or
            ``"threshold"`` (until it just crosses the threshold).

    Raises:
        ConfigError: an option is out of range.
    """
    _check_options(frame, grid, max_area, candidates, max_boxes, target)
    height, width = int(frame.shape[-2]), int(frame.shape[-1])
    sigma = blur_sigma if blur_sigma is not None else max(height, width) / 16.0
    x = frame.detach().to(scorer.device, torch.float32)
    patch = replacement_image(scorer, x, replacement, sigma)
    sizes = _box_sizes(grid, max_area * grid * grid)
    tick = progress or Progress(1)
    tick.total = max(tick.total, len(sizes) * candidates // 2 + 40)
    search = _Search(scorer, patch, tick, batch_size)
    goal = scorer.threshold if target == "threshold" else scorer.calibration.normal_target
    error = _error_map(scorer, x)
    with torch.no_grad():
        before = float(scorer.score(x[None]).item())
    boxes_tried = _BoxGrid(sizes, _cell_edges(height, grid), _cell_edges(width, grid), candidates, max_area)
    current = x.clone()
    current_score = before
    boxes: list[Box] = []
    trace: list[str] = []
    already_normal = before < goal  # nothing to flip: report the box the model likes least
    crossed = False
    for _ in range(max_boxes):
        box, current, lines = _next_box(
            search, current, current_score, error, boxes_tried, goal, already_normal
        )
        boxes.append(box)
        trace.extend(lines)
        current_score = box.score_after
        if already_normal or current_score < goal:
            crossed = not already_normal
            break
        error = _error_map(scorer, current)  # the next box is searched on the repaired image
    tick.finish()
    return CounterfactualResult(
        boxes=boxes,
        score_before=before,
        score_after=current_score,
        threshold=goal,
        crossed=crossed,
        evaluations=search.evaluations,
        counterfactual=current.float().cpu().numpy(),
        heatmap=_box_heatmap(boxes, height, width),
        trace=trace,
    )


def _check_options(
    frame: Tensor, grid: int, max_area: float, candidates: int, max_boxes: int, target: str
) -> None:
    if not 2 <= grid <= min(frame.shape[-2:]):
        raise ConfigError("counterfactual", f"grid must be in 2..{min(frame.shape[-2:])}, found {grid}")
    if not 0.0 < max_area <= 1.0:
        raise ConfigError("counterfactual", f"max_area must be in (0, 1], found {max_area}")
    if candidates < 1 or max_boxes < 1:
        raise ConfigError("counterfactual", "candidates and max_boxes must be >= 1")
    if target not in TARGETS:
        raise ConfigError("counterfactual", f"target must be one of {TARGETS}, found {target!r}")


@torch.no_grad()
def _error_map(scorer: AnomalyScorer, image: Tensor) -> np.ndarray:
    return scorer.error_maps(image[None])[0].double().cpu().numpy()


@dataclass(frozen=True)
class _BoxGrid:
    """The boxes the coarse search tries: sizes in cells, cell edges, candidates per size, largest area."""

    sizes: list[tuple[int, int]]
    ys: np.ndarray
    xs: np.ndarray
    candidates: int
    max_area: float


def _next_box(
    search: _Search,
    current: Tensor,
    current_score: float,
    error: np.ndarray,
    grid: _BoxGrid,
    goal: float,
    already_normal: bool,
) -> tuple[Box, Tensor, list[str]]:
    """One more repaired box (coarse search, then tightening): the box, the image with it repaired,
    and the trace lines."""
    box, score, hit = _coarse(
        search,
        current,
        current_score,
        error,
        grid.sizes,
        grid.ys,
        grid.xs,
        goal,
        grid.candidates,
        per_area=already_normal,
    )
    hit = hit and not already_normal
    lines = [_coarse_line(box, score, goal, grid.max_area, hit)]
    # shrink while the repair still reaches the goal (or keeps 95 % of the box's drop)
    keep_below = goal if hit else score + 0.05 * (current_score - score)
    box, score = _refine(search, current, box, score, keep_below, max(1, min(grid.ys[1], grid.xs[1]) // 2))
    y0, x0, y1, x1 = (int(v) for v in box)
    repaired = current.clone()
    repaired[:, y0:y1, x0:x1] = search.patch[:, y0:y1, x0:x1]
    lines.append(f"fine: box y {y0}-{y1} x {x0}-{x1}, score {current_score:.4f} -> {score:.4f}")
    return Box(y0, x0, y1, x1, score, current_score - score), repaired, lines


def _coarse_line(box: tuple[int, ...], score: float, goal: float, max_area: float, hit: bool) -> str:
    """The trace line of the coarse search: the box that reached the goal, or that none did."""
    if hit:
        return f"coarse: a {box[2] - box[0]}x{box[3] - box[1]} px box reaches {score:.4f} < {goal:.4f}"
    return f"coarse: no box up to {max_area:.0%} reaches {goal:.4f}; tightening the best box"


def _box_heatmap(boxes: list[Box], height: int, width: int) -> np.ndarray:
    """Each repaired box filled with its score drop (overlaps add up)."""
    heatmap = np.zeros((height, width), np.float32)
    for b in boxes:
        heatmap[b.y0 : b.y1, b.x0 : b.x1] += max(b.drop, 0.0)
    return heatmap


def _coarse(
    search: _Search,
    base: Tensor,
    base_score: float,
    error: np.ndarray,
    sizes: list[tuple[int, int]],
    ys: np.ndarray,
    xs: np.ndarray,
    goal: float,
    candidates: int,
    per_area: bool = False,
) -> tuple[tuple[int, int, int, int], float, bool]:
    """The smallest grid box size that reaches ``goal`` (``hit``), else the box with the largest drop
    (``per_area``: the largest drop per pixel).

    The best achievable score falls (almost) monotonically with box area, so sizes are probed by
    galloping (size index 0, 1, 3, 7, ...) and, after the first hit, by bisection back towards
    the last miss: about ``2 log2(len(sizes))`` sizes are scored instead of all of them.
    """
    grid = len(ys) - 1
    table = np.zeros((error.shape[0] + 1, error.shape[1] + 1))
    table[1:, 1:] = error.cumsum(0).cumsum(1)
    probed: dict[int, tuple[tuple[int, int, int, int], float]] = {}

    def probe(index: int) -> tuple[tuple[int, int, int, int], float]:
        if index not in probed:
            rows, cols = sizes[index]
            positions = [
                (int(ys[r]), int(xs[c]), int(ys[r + rows]), int(xs[c + cols]))
                for r in range(grid - rows + 1)
                for c in range(grid - cols + 1)
            ]
            mass = np.array(
                [
                    table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
                    for y0, x0, y1, x1 in positions
                ]
            )
            picked = [positions[i] for i in np.argsort(-mass, kind="stable")[:candidates]]
            scores = search.scores(base, picked)
            best = int(np.argmin(scores))
            probed[index] = (picked[best], float(scores[best]))
        return probed[index]

    last_miss, step, index, hit = -1, 1, 0, None
    while index < len(sizes):
        if probe(index)[1] < goal:
            hit = index
            break
        last_miss, index, step = index, index + step, step * 2
    if hit is None and last_miss < len(sizes) - 1 and probe(len(sizes) - 1)[1] < goal:
        hit = len(sizes) - 1
    if hit is not None:
        low, high = last_miss, hit  # low misses (or is -1), high hits
        while high - low > 1:
            middle = (low + high) // 2
            if probe(middle)[1] < goal:
                high = middle
            else:
                low = middle
        box, score = probe(high)
        return box, score, True

    def rate(item: tuple[tuple[int, int, int, int], float]) -> float:
        (y0, x0, y1, x1), score = item
        return (base_score - score) / ((y1 - y0) * (x1 - x0))

    if per_area:
        box, score = max(probed.values(), key=rate)
    else:
        box, score = min(probed.values(), key=lambda item: item[1])
    return box, score, False


def _refine(
    search: _Search,
    base: Tensor,
    box: tuple[int, int, int, int],
    score: float,
    target: float,
    step: int,
) -> tuple[tuple[int, int, int, int], float]:
    """Shrink ``box`` side by side (``step`` halving to 1 px) while its repair keeps the score below ``target``."""
    while step >= 1:
        improved = True
        while improved:
            y0, x0, y1, x1 = box
            trials = []
            if y1 - y0 > step:
                trials += [(y0 + step, x0, y1, x1), (y0, x0, y1 - step, x1)]
            if x1 - x0 > step:
                trials += [(y0, x0 + step, y1, x1), (y0, x0, y1, x1 - step)]
            improved = False
            if not trials:
                break
            scores = search.scores(base, trials)
            ok = np.flatnonzero(scores < target)
            if len(ok):
                best = int(ok[np.argmin(scores[ok])])
                box, score = trials[best], float(scores[best])
                improved = True
        step //= 2
    return box, score


def explain_counterfactual(
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    progress: Progress,
    seed: int = 0,
    replacement: str = "reconstruction",
    grid: int = 8,
    max_area: float = 0.5,
    candidates: int = 8,
    max_boxes: int = 3,
    blur_sigma: float | None = None,
    batch_size: int = 32,
    target: str = "normal",
) -> MethodResult:
    """Counterfactual boxes as an explanation method (registered as ``"counterfactual"``).

    Extras: ``boxes_model`` (list of dicts at model size; ``explain`` adds ``boxes`` at image size),
    ``score_before``, ``score_after``, ``crossed``, ``evaluations``, ``counterfactual`` (C, h, w)
    and ``trace``. Deterministic; the seed is unused.
    """
    result = find_counterfactual(
        scorer,
        inputs.frame,
        replacement,
        grid,
        max_area,
        candidates,
        max_boxes,
        blur_sigma,
        batch_size,
        progress,
        target=target,
    )
    extras: dict[str, Any] = {
        "boxes_model": [b.as_dict() for b in result.boxes],
        "score_before": result.score_before,
        "score_after": result.score_after,
        "crossed": result.crossed,
        "evaluations": result.evaluations,
        "counterfactual": result.counterfactual,
        "trace": result.trace,
    }
    settings = {
        "replacement": replacement,
        "grid": grid,
        "max_area": max_area,
        "candidates": candidates,
        "max_boxes": max_boxes,
        "blur_sigma": blur_sigma,
        "target": target,
        "target_score": result.threshold,
    }
    return MethodResult(heatmap=result.heatmap, signed=False, extras=extras, settings=settings)
