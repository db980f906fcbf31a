"""Calibrations of the explanations (no Qt): from a scored video or a scored image category.

Calibration (thesis 3.8.5; ``vad_core.explain.Calibration``): ``review_calibration`` derives it
from a scored video (per-frame errors with the ground truth, or else with the review's flagged
events, as labels: G-mean threshold) and ``image_calibration`` from a scored image category
(per-image errors with the test labels). Without one the explained image is *self-calibrated*.

Example::

    calibration = review_calibration(window.session)     # None: self-calibrated
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vad_core.errors import ConfigError

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    from vad_core.explain import Calibration


def _raw_errors_from_maps(maps: np.ndarray) -> np.ndarray:
    """Mean of each per-pixel map = the scorer's raw error e(x) (thesis 3.8.5, mse error)."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    return flat.mean(axis=1, dtype=np.float64)


def _raw_image_scores(maps: np.ndarray, error: str) -> np.ndarray:
    """The explanation scorer's raw ``e(x)`` of each map: its mean, or for a model that segments
    (``error == "segmentation"``, DRAEM) the model's image score, the largest mean-filtered value."""
    if error != "segmentation":
        return _raw_errors_from_maps(maps)
    from vad_core.models.draem import score_window
    from vad_core.scoring.frame_error import reduce_error_maps

    values = np.asarray(maps, np.float32)
    return reduce_error_maps(values, "smoothed_max", score_window(*values.shape[-2:]))


def image_calibration(inspection: Any, error: str = "mse") -> Calibration | None:
    """Calibration from a scored image category: per-image errors and the test labels (G-mean, eq. 3.21).

    ``inspection`` is a ``vad_core.evaluation.images.ImageInspection``; ``error`` is the explanation
    scorer's (``"segmentation"`` for a model that segments: then ``e(x)`` is its image score, not the
    map's mean). None when the inspection has no usable errors.
    """
    from vad_core.explain import Calibration

    try:
        raw = _raw_image_scores(inspection.maps, error)
        labels = inspection.labels
        calibration = Calibration.from_errors(raw, labels if labels.any() and not labels.all() else None)
    except (ConfigError, ValueError):
        return None
    return Calibration(
        calibration.scale,
        calibration.threshold,
        calibration.steepness,
        f"{calibration.note} of the test split",
        calibration.normal_level,
    )


def review_errors(session: Any) -> np.ndarray | None:
    """Raw per-frame errors e(t) of a finished scoring, as the scorer defines them, or None.

    The mean of each frame's error map, or the per-frame errors themselves when the scoring used
    the MSE error with the mean frame reduction; None for SSIM scoring or unfinished scores.
    """
    if not getattr(session, "complete", False) or session.inference.error != "mse":
        return None
    if session.maps is not None and len(session.maps) == session.frame_count:
        raw = _raw_errors_from_maps(session.maps)
    elif session.inference.reduction == "mean" and session.errors is not None:
        raw = np.asarray(session.errors, np.float64)
    else:
        return None
    return raw if np.all(np.isfinite(raw)) else None


def review_calibration(session: Any, raw: np.ndarray | None = None) -> Calibration | None:
    """Calibration from a scored video (``app.review_session.ReviewSession``), or None (self-calibrated).

    Raw errors: ``review_errors`` (pass them as ``raw`` when already known). Labels: the ground
    truth when the clip has both classes, else the frames inside the review's flagged events
    (G-mean threshold of eq. 3.21 either way); without both classes there is no threshold to learn
    and the explanation is self-calibrated.
    """
    from vad_core.explain import Calibration

    raw = review_errors(session) if raw is None else raw
    if raw is None:
        return None
    labels, what = None, ""
    truth = session.ground_truth
    if truth is not None and len(truth) == len(raw) and truth.any() and not truth.all():
        labels, what = np.asarray(truth, bool), "ground truth"
    else:
        flagged = np.zeros(len(raw), bool)
        for event in session.events:
            flagged[event.start : event.end] = True
        if flagged.any() and not flagged.all():
            labels, what = flagged, "flagged events"
    if labels is None:
        return None
    try:
        calibration = Calibration.from_errors(raw, labels)
    except ConfigError:
        return None
    return Calibration(
        calibration.scale,
        calibration.threshold,
        calibration.steepness,
        f"{calibration.note}; labels = the clip's {what}",
        calibration.normal_level,
    )
