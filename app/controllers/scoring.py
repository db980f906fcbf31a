"""Scoring in the review window: the job, its chunks on the live curve, events, threshold, device, cache.

``ScoringController.start`` scores the current video with the current model as the window's
scoring job (``AppWindow.start_score_job``), or reads the finished scores from the score cache
(per source x checkpoint x inference settings x device). Chunks are buffered in the session and
the curve is repainted by a 10 Hz timer (``flush``), so a fast worker cannot flood the event loop.
The score kind is the checkpoint's (``error``, ``psnr`` or ``mnad``; ``mnad`` asks the job for the
memory distance, stored in the cache beside the errors) and the model panel names it
(``show_scoring_in_use``). When the job is done, the events, the events table, the threshold line
and the caption follow
(``refresh_events``); dragging the threshold or changing the scoring settings recomputes the
events from the finished scores without running the model. The device and batch size of the
model panel go to the settings and the session's inference config; the status bar names the
device.

Example::

    window.scoring.start()            # F5
    window.scoring.set_threshold(0.3)
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QStyle

from app.jobs.fused import fused_job
from app.jobs.review import ScoreSummary, score_job
from app.jobs.threads import independent_reader
from app.widgets.model_panel import describe_scoring
from vad_core.errors import VadError
from vad_core.inference.score_cache import ScoreCache, cache_key

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow
    from vad_core.scoring import ScoringConfig

log = logging.getLogger(__name__)

REPAINT_MS = 100  # the live curve is redrawn at most 10 times a second


class ScoringController(QObject):
    """Scoring, events and the scoring settings of the review window (see the module docstring)."""

    def __init__(self, window: ReviewWindow, cache: ScoreCache | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.cache = cache if cache is not None else ScoreCache()
        self.last_summary: ScoreSummary | None = None
        self.dirty = False  # scores arrived since the last repaint
        self.repaint_timer = QTimer(self)
        self.repaint_timer.setInterval(REPAINT_MS)
        self.repaint_timer.timeout.connect(self.flush)
        window.add_action(
            "score", "&Score video", self.start, ("F5",), QStyle.StandardPixmap.SP_BrowserReload
        )

    # ================================================================================ the job
    def start(self) -> None:
        """Score the current video with the current model (or read the cached scores)."""
        window, session = self.window, self.window.session
        if session.source is not None and session.checkpoint is None and session.fused is not None:
            self.start_fused()
            return
        if session.source is None or session.checkpoint is None:
            window.notify("Open a video and a model first.")
            return
        from vad_core.inference.device import resolve_device

        window.cancel_scoring()
        try:
            device = resolve_device(session.inference.device)
        except VadError as error:
            window.show_error("Cannot score", str(error))
            return
        session.begin_scoring()
        self.clear_views()
        checkpoint, source, inference = session.checkpoint, session.source, session.inference
        key = None
        if checkpoint.sha256:
            try:
                key = cache_key(source, checkpoint, inference, device.type)
            except (OSError, VadError) as error:
                log.info("no cache key for %s: %s", session.source_name, error)
        meta = {
            "source": session.source_name,
            "model": checkpoint.display_name,
            "checkpoint_sha256": checkpoint.sha256,
        }
        cache = self.cache if key else None
        side = session.side_needed
        window.start_score_job(
            lambda: score_job(
                checkpoint.model, independent_reader(source), inference, cache, key, meta, side
            ),
            len(source),
            "scoring",
            chunk=self._chunk,
            done=self._done,
        )

    def start_fused(self) -> None:
        """Score the current video with the fused model (each member in turn; no cache, no maps)."""
        window, session = self.window, self.window.session
        window.cancel_scoring()
        session.begin_scoring()
        self.clear_views()
        fused, source, inference = session.fused, session.source, session.inference
        assert fused is not None and source is not None
        generation = session.generation
        window.start_score_job(
            lambda: fused_job(fused, independent_reader(source), inference),
            len(fused.members) * len(source),
            "fused scoring",
            done=lambda series: self._fused_done(series, generation),
        )

    def _fused_done(self, series: np.ndarray, generation: int) -> None:
        window, session = self.window, self.window.session
        if generation != session.generation:
            return  # the video or the model changed meanwhile
        try:
            session.load_scores(series, None, recorded={"score": "error"})
        except VadError as error:
            window.show_error("Scores do not fit the clip", str(error))
            return
        session.from_cache = False
        self.scores_loaded()
        window.playback.show_frame(window.playback.frame_index)
        n = len(session.events)
        window.notify(
            f"Scored with {session.fused.display_name if session.fused else 'the fused model'}: "
            f"{n} event{'s' if n != 1 else ''} flagged.",
            15000,
        )

    def _chunk(self, update) -> None:
        self.window.session.add_update(update)
        self.dirty = True
        if update.cached:
            self.flush()

    def _done(self, summary: ScoreSummary) -> None:
        window, session = self.window, self.window.session
        self.last_summary = summary
        session.finish()
        self.dirty = True
        self.flush()
        self.refresh_events()
        window.playback.show_frame(window.playback.frame_index)
        if session.problem:
            window.show_error("Scores are unusable", session.problem)
            return
        self.show_fit()
        n = len(session.events)
        found = f"{n} event{'s' if n != 1 else ''} flagged"
        if window.fit_banner.text:
            found += " (the model does not fit this footage: see the banner)"
        if summary.cached:
            window.notify(f"Scores loaded from the cache: {found}.", 12000)
            return
        notices = f" ({'; '.join(summary.notices)})" if summary.notices else ""
        window.notify(
            f"Scored {summary.frames} frames in {summary.seconds:.1f} s ({summary.frames_per_second:.0f} frames/s "
            f"on {summary.device.upper()}, batch {summary.batch_size}){notices}, score "
            f"{session.scoring.score}: {found}.",
            15000,
        )

    def show_fit(self) -> None:
        """The banner over the video says when the model does not fit this footage (and offers to
        train on it); the status bar repeats the sentence."""
        window, session = self.window, self.window.session
        report = session.fit_report()
        window.fit_banner.show_report(report, session.source_name or "this footage")
        if report is not None and not report.fits:
            log.warning("%s", report.sentence(session.source_name or "this footage"))

    def drop_partial(self) -> None:
        """The job was cancelled: an unfinished curve is cleared (finished scores stay)."""
        if not self.window.session.complete:
            self.window.session.clear_scores()
            self.clear_views()

    # ================================================================================ the views
    def flush(self) -> None:
        """Repaint what arrived since the last flush (10 Hz at most; see REPAINT_MS)."""
        if not self.dirty:
            return
        self.dirty = False
        window = self.window
        x, raw, shown = window.session.curve()
        window.timeline.set_curve(x, raw, shown)
        if window.playback.frame_index < window.session.scored:
            window.playback.update_overlay()

    def scores_loaded(self) -> None:
        """Finished scores were put into the session from elsewhere (a batch run): show them."""
        self.dirty = True
        self.flush()
        self.refresh_events()
        self.show_fit()

    def clear_views(self) -> None:
        """No scores: curve, events, overlay, error view and fit banner empty."""
        window, session = self.window, self.window.session
        window.fit_banner.clear()
        window.timeline.set_curve(np.zeros(0), np.zeros(0), np.zeros(0))
        window.timeline.set_events([])
        window.events_table.set_events([], session.fps, session.ground_truth)
        window.video_view.set_overlay(None)
        window.side_by_side.set_error(None)
        window.playback.update_caption()
        window.labels.scores_changed()

    def refresh_events(self) -> None:
        """The events changed (scores finished, threshold, settings): every view of them follows."""
        window, session = self.window, self.window.session
        selected = session.event_at(window.playback.frame_index)
        window.timeline.set_events(session.events, selected)
        window.events_table.set_events(session.events, session.fps, session.ground_truth)
        window.events_table.select_event(selected)
        window.timeline.set_threshold(session.scoring.threshold)
        window.playback.update_caption()
        window.labels.scores_changed()
        window.explainer.refresh()  # the calibration follows the flagged events

    # ================================================================================ settings
    def set_threshold(self, threshold: float) -> None:
        """The threshold line was dragged: events follow, the spin box too."""
        self.window.session.set_threshold(threshold)
        self.window.scoring_controls.set_config(self.window.session.scoring)
        self.refresh_events()

    def set_scoring(self, config: ScoringConfig) -> None:
        """New smoothing / threshold / event settings: s(t) and the events are recomputed."""
        self.window.session.set_scoring(config)
        self.window.timeline.set_threshold(config.threshold)
        self.dirty = True
        self.flush()
        self.refresh_events()

    def show_scoring_in_use(self) -> None:
        """The model panel names the score kind in use (psnr / mnad / error); the scoring controls
        carry it, so a threshold change keeps it."""
        window, session = self.window, self.window.session
        window.scoring_controls.set_config(session.scoring)
        if session.checkpoint is None and session.fused is None and session.scores is None:
            window.model_panel.set_scoring("")
            return
        scoring, inference = session.scoring, session.inference
        if session.fused is not None:
            window.model_panel.set_scoring("error: weighted mean of the members' own scores (fused)")
            return
        if session.checkpoint is None:  # a batch run's stored scores: their kind, not this model's
            window.model_panel.set_scoring(f"{scoring.score} (as the batch run scored)")
            return
        window.model_panel.set_scoring(
            describe_scoring(
                scoring.score, scoring.mnad_weight, inference.error, inference.reduction, inference.patch
            )
        )

    def set_device(self, device: str) -> None:
        session = self.window.session
        self.window.settings.set_device(device)
        session.set_inference(replace(session.inference, device=device))
        self.update_device_label()

    def set_batch_size(self, value: int) -> None:
        session = self.window.session
        self.window.settings.set_batch_size(value)
        session.set_inference(replace(session.inference, batch_size=int(value)))

    def update_device_label(self) -> None:
        """The status bar names the compute device (and the GPU)."""
        from vad_core.inference.device import resolve_device

        label = self.window.device_label
        try:
            device = resolve_device(self.window.session.inference.device)
        except VadError:
            label.setText("device: CUDA unavailable")
            return
        if device.type == "cuda":
            import torch

            label.setText(f"device: {torch.cuda.get_device_name(device)} (AMP)")
        else:
            label.setText("device: CPU")
