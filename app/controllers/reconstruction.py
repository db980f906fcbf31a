"""The side-by-side view of the review window: input, reconstruction and error of the frame on screen.

One reconstruction runs at a time (``reconstruct_job`` on the window's pool, batch 1, sharing the
model lock with scoring); the latest request wins (a newer frame replaces a pending one), and
while playing, requests are throttled to one per ``RECONSTRUCT_WHILE_PLAYING_MS``. Results of an
older video or model (the session's generation changed) are dropped. Without a model the input
is shown alone.

Example::

    window.recon.request(window.playback.frame_index)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.jobs.current_job import CurrentJob
from app.jobs.review import reconstruct_job
from app.review_session import robust_max

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

RECONSTRUCT_WHILE_PLAYING_MS = 250


class ReconstructionController(QObject):
    """Coalesced, throttled reconstructions of the frame on screen (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.job = CurrentJob(window.pool, self)
        self._pending: int | None = None
        self._last_request = 0.0
        self._generation = -1

    def request(self, index: int) -> None:
        """Coalescing: one reconstruction at a time, the latest request wins; throttled while playing."""
        window, session = self.window, self.window.session
        if session.source is None or session.checkpoint is None:
            if session.source is not None:
                window.side_by_side.set_input(session.source.frame(index))
                window.side_by_side.set_reconstruction(None, "no model")
            return
        now = time.perf_counter()
        if window.playback.playing and now - self._last_request < RECONSTRUCT_WHILE_PLAYING_MS / 1000:
            return
        self._last_request = now
        self._pending = index
        if not self.job.running:
            self._start()

    def _start(self) -> None:
        index, self._pending = self._pending, None
        session = self.window.session
        if index is None or session.source is None or session.checkpoint is None:
            return
        model, source, inference = session.checkpoint.model, session.source, session.inference
        self._generation = session.generation
        self.job.start(
            lambda: reconstruct_job(model, source, index, inference),
            "reconstruction",
            done=self._done,
            failed=self._failed,
            finished=self._finished,
        )

    def _done(self, result) -> None:
        session = self.window.session
        if self._generation != session.generation:
            return
        _index, rec = result
        scale = session.map_scale if session.maps is not None else robust_max(rec.error)
        self.window.side_by_side.set_images(rec.input, rec.output, rec.error / scale)

    def _failed(self, message: str) -> None:
        self.window.side_by_side.set_reconstruction(None, "reconstruction failed")
        self.window.notify(f"Reconstruction failed: {message}")

    def _finished(self) -> None:
        if self._pending is not None and not self.window.closing:
            self._start()
