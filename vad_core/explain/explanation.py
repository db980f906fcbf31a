"""What every explanation method returns, and how long-running methods report progress.

An ``Explanation`` is a heatmap at the resolution of the image the caller gave (signed for SHAP,
LIME and e-LRP, non-negative for counterfactual boxes), the explained image's anomaly score and
probability under the ``AnomalyScorer`` (thesis 3.8.5), the method's own outputs in ``extras``
(superpixels and weights, SHAP values, relevance per path, boxes), the wall-clock seconds and the
settings that produced it, so that a result can be reproduced and labelled in the GUI.

``Progress`` counts model evaluations against a budget, calls ``progress(done, total)`` and raises
``Cancelled`` as soon as ``should_stop()`` says so; every method checks it between batches.

Example::

    explanation = explain("shap", model, image, max_evals=500, seed=0)
    plt.imshow(explanation.heatmap, cmap="bwr")         # (H, W) float32, input resolution
    print(explanation.method, explanation.score, explanation.seconds, explanation.settings)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vad_core.errors import Cancelled

#: ``progress(done, total)``: model evaluations (or steps) done out of the expected total.
ProgressFn = Callable[[int, int], None]
#: ``should_stop() -> bool``: True asks the running method to stop at its next check.
StopFn = Callable[[], bool]


@dataclass
class Explanation:
    """One explanation of one image (or one frame inside its clip).

    Attributes:
        method: registered method name (``"shap"``, ``"lime"``, ``"lrp"``, ``"counterfactual"``).
        heatmap: ``(H, W)`` float32 at the caller's input resolution; high = evidence for "anomalous".
        signed: True when negative values mean evidence for "normal" (SHAP, LIME, e-LRP).
        score: normalised anomaly score of the explained image (residual error normalisation).
        probability: ``p_anomalous`` of the explained image under the scorer's logistic.
        threshold: the scorer's decision threshold on ``score``.
        extras: the method's own outputs (see each method's docstring).
        seconds: wall-clock time of the method, preparation included.
        settings: every option that decided the result (seed included), for reproduction.
    """

    method: str
    heatmap: np.ndarray
    signed: bool
    score: float
    probability: float = float("nan")
    threshold: float = float("nan")
    extras: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def anomalous(self) -> bool:
        """True when the explained image is at or above the scorer's threshold."""
        return bool(self.score >= self.threshold)

    def positive(self) -> np.ndarray:
        """The heatmap's evidence for "anomalous" only (negative values set to zero)."""
        return np.maximum(self.heatmap, 0.0)

    def normalised(self) -> np.ndarray:
        """Heatmap scaled for display: to [-1, 1] by the largest magnitude (signed) or to [0, 1]."""
        peak = float(np.max(np.abs(self.heatmap))) if self.heatmap.size else 0.0
        if peak <= 0.0 or not np.isfinite(peak):
            return np.zeros_like(self.heatmap)
        return (self.heatmap / peak).astype(np.float32)

    def summary(self) -> str:
        """One line for a status bar or a log."""
        verdict = "anomalous" if self.anomalous else "normal"
        return (
            f"{self.method}: score {self.score:.3f} ({verdict}, threshold {self.threshold:.3f}) "
            f"in {self.seconds:.2f} s"
        )


@dataclass
class MethodResult:
    """What a method function returns to ``explain``: a heatmap at model resolution and its outputs.

    ``explain`` resizes the heatmap to the caller's image size, converts ``extras["boxes_model"]``
    (``(y0, x0, y1, x1)`` at model size) into ``extras["boxes"]`` at image size, and adds the score,
    timing and settings.
    """

    heatmap: np.ndarray
    signed: bool
    extras: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


#: Signature of a method function: ``fn(scorer, inputs, progress, seed=0, **options) -> MethodResult``.
MethodFn = Callable[..., MethodResult]


class Progress:
    """Counts work done against ``total``; reports it and honours cancellation.

    Example::

        tick = Progress(total=500, progress=print, should_stop=lambda: False)
        tick.advance(32)      # prints "32 500"; raises Cancelled if should_stop() is True
    """

    def __init__(
        self, total: int, progress: ProgressFn | None = None, should_stop: StopFn | None = None
    ) -> None:
        self.total = max(1, int(total))
        self.done = 0
        self._progress = progress
        self._should_stop = should_stop

    def check(self) -> None:
        """Raise ``Cancelled`` when the caller asked to stop."""
        if self._should_stop is not None and self._should_stop():
            raise Cancelled("explanation cancelled")

    def advance(self, count: int) -> None:
        """Record ``count`` more units of work, report, and check for cancellation."""
        self.done += int(count)
        if self.done > self.total:  # a method may need a few more evaluations than estimated
            self.total = self.done
        if self._progress is not None:
            self._progress(self.done, self.total)
        self.check()

    def finish(self) -> None:
        """Report completion (``done == total``)."""
        self.total = max(self.done, 1)
        self.done = self.total
        if self._progress is not None:
            self._progress(self.done, self.total)
