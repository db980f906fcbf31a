"""The explainability panel's callers: calibrations from scored videos and image categories, and
the panel as a dock of the review window that follows the current frame (``ReviewExplainer``).

Calibration (thesis 3.8.5; ``Calibration``): ``review_calibration`` derives it from a scored video
(per-frame errors with the ground truth, or else with the review's flagged events, as labels:
G-mean threshold) and ``image_calibration`` from a scored image category (per-image errors with
the test labels). Without one the explained image is *self-calibrated*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from app.explain_jobs import ExplainTarget
from app.widgets.explain_panel import ExplainPanel
from vad_core.errors import ConfigError

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    from vad_core.explain import Calibration
    from vad_core.models.base import AnomalyModel


# ============================================================================ calibrations of the callers
def _raw_errors_from_maps(maps: np.ndarray) -> np.ndarray:
    """Mean of each per-pixel map = the scorer's raw error e(x) (thesis 3.8.5, mse error)."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    return flat.mean(axis=1, dtype=np.float64)


def image_calibration(inspection: Any) -> Calibration | None:
    """Calibration from a scored image category: per-image errors and the test labels (G-mean, eq. 3.21).

    ``inspection`` is a ``vad_core.evaluation.images.ImageInspection``; None when it has no usable errors.
    """
    from vad_core.explain import Calibration

    try:
        raw = _raw_errors_from_maps(inspection.maps)
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
    """Calibration from a scored video (``app.session.ReviewSession``), or None (self-calibrated).

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


def read_window(model: AnomalyModel, source: Any, index: int) -> tuple[np.ndarray, int | None]:
    """The image (frame models) or the clip and the frame's position in it (``clip_for_frame``)."""
    from vad_core.explain import clip_for_frame

    clip, position = clip_for_frame(model, source, index)
    if model.spec.mode == "frame":
        return clip[0], None
    return clip, position


def review_target(session: Any, index: int, calibration: Calibration | None = None) -> ExplainTarget | None:
    """The explain target of frame ``index`` of the review session's video, or None."""
    if session.source is None or session.checkpoint is None or not 0 <= index < session.frame_count:
        return None
    checkpoint, source = session.checkpoint, session.source
    model = checkpoint.model
    identity = str(session.source_path or session.source_name)
    scale = float(session.map_scale) if session.maps is not None else None
    return ExplainTarget(
        model=model,
        model_key=checkpoint.sha256 or f"model-{id(model)}",
        source_key=f"{identity}#{len(source)}",
        frame=int(index),
        read=lambda: read_window(model, source, index),
        calibration=calibration,
        title=f"{session.source_name}, frame {index} · {checkpoint.display_name}",
        map_scale=scale,
    )


class ReviewExplainer:
    """The explain panel in the review window: a dock that follows the current frame.

    Created empty with the window; the dock is built the first time it is asked for (View >
    Explainability panel, or X to explain the current frame) and starts floating over the right
    half of the window (the operator can dock it anywhere). The window calls ``refresh()`` when
    the frame, the model or the scores change; while the dock is hidden nothing happens, and during
    playback the target is updated 150 ms after the last frame, so playing never queues jobs.
    """

    def __init__(self, window: Any) -> None:
        from PySide6.QtCore import QTimer

        self.window = window
        self.panel: ExplainPanel | None = None
        self.dock: Any = None
        self._memo: tuple[Any, Calibration | None] = (None, None)
        self._errors: tuple[Any, np.ndarray | None] = (None, None)
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh_now)

    def show_panel(self) -> ExplainPanel:
        """Create (once) and raise the dock; returns the panel."""
        if self.panel is None:
            window = self.window
            self.panel = ExplainPanel(window.pool, window.settings.colormap())
            self.panel.statusMessage.connect(lambda text: window.notify(text, 10_000))
            # floating at first: eight tiles need more room than the right dock column has
            self.dock = window.add_right_dock("Explainability", self.panel, tabify_with_reconstruction=False)
            self.dock.setFloating(True)
            width = max(760, int(window.width() * 0.62))
            height = max(520, int(window.height() * 0.8))
            frame = window.geometry()
            self.dock.resize(width, height)
            self.dock.move(max(frame.left(), frame.right() - width - 20), frame.top() + 60)
            self.dock.visibilityChanged.connect(lambda visible: visible and self.refresh_now())
        self.dock.show()
        self.dock.raise_()
        self.refresh_now()
        return self.panel

    def explain_frame(self) -> None:
        """X: show the panel and run every method on the current frame."""
        panel = self.show_panel()
        if panel.target is None:
            self.window.notify("Open a video and a model first: the panel explains the current frame.")
            return
        panel.explain_all()

    def set_colormap(self, name: str) -> None:
        if self.panel is not None:
            self.panel.set_colormap(name)

    def refresh(self) -> None:
        """The frame, model or scores changed: update the panel (throttled while playing)."""
        if self.panel is None or not self.dock.isVisible():
            return
        if getattr(self.window, "playing", False):
            self._timer.start()
        else:
            self.refresh_now()

    def refresh_now(self) -> None:
        if self.panel is None or not self.dock.isVisible():
            return
        session = self.window.session
        self.panel.set_target(review_target(session, self.window.frame_index, self.calibration()))

    def calibration(self) -> Calibration | None:
        """``review_calibration`` of the session, recomputed only when scores or events change."""
        session = self.window.session
        scores = (session.generation, session.complete, session.scored)
        if self._errors[0] != scores:  # the mean over all maps: once per scoring, not per threshold drag
            self._errors = (scores, review_errors(session))
        key = (*scores, tuple((event.start, event.end) for event in session.events))
        if self._memo[0] != key:
            raw = self._errors[1]
            self._memo = (key, review_calibration(session, raw) if raw is not None else None)
        return self._memo[1]

    def shutdown(self) -> None:
        self._timer.stop()
        if self.panel is not None:
            self.panel.shutdown()
