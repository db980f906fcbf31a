"""The explainability panel as a dock of the review window that follows the current frame
(``ReviewExplainer``), and the explain target of a frame of the review session (``review_target``).

The target is calibrated on the scored video (``app.jobs.calibration.review_calibration``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from app.jobs.calibration import review_calibration, review_errors
from app.jobs.explain import ExplainTarget
from app.widgets.explain_panel import ExplainPanel

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    from vad_core.explain import Calibration
    from vad_core.models.base import AnomalyModel


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
        verdict=session.frame_verdict(index) if session.complete else "",
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
        if self.window.playback.playing:
            self._timer.start()
        else:
            self.refresh_now()

    def refresh_now(self) -> None:
        if self.panel is None or not self.dock.isVisible():
            return
        session = self.window.session
        self.panel.set_target(review_target(session, self.window.playback.frame_index, self.calibration()))

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
