"""The results of a batch run (``vad batch score``) in the review window: the triage table and its clips.

``open_results`` shows the run's results index as the triage table, a dock under the video
(worst clips first). Double-clicking a clip opens it with the scores the run stored, without
running the model: reading the scores file (the whole map array) and opening the video happen in
a worker (``app.jobs.review.batch_clip_job``) while the window stays usable and its status bar
says what is being read; a newer double-click replaces a read still running.

Example::

    window.batch.open_results("runs/batch_out")
    window.batch.open_clip(row, "runs/batch_out/scores/cam1/a.npz")     # returns at once
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog

from app.jobs.current_job import CurrentJob
from app.jobs.review import batch_clip_job
from vad_core.errors import VadError

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

BUSY_TASK = "batch clip"


class BatchResults(QObject):
    """The triage dock and the clips opened from it (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dock: QDockWidget | None = None
        self.job = CurrentJob(window.pool, self)
        window.add_action("open_batch", "Open &batch results…", self.choose, ("Ctrl+B",))

    def choose(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.window,
            "Open batch results (the --out folder of vad batch score)",
            self.window.opening.last_dir(),
        )
        if path:
            self.open_results(path)

    def _make_dock(self) -> QDockWidget:
        from app.widgets.triage_table import TriagePanel

        window = self.window
        panel = TriagePanel()
        panel.clipActivated.connect(self.open_clip)
        dock = window.add_dock("Batch results", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        window.view_menu.addAction(dock.toggleViewAction())
        height = max(window.height(), 600)
        window.resizeDocks([dock], [int(height * 0.3)], Qt.Orientation.Vertical)
        window.splitter.setSizes([int(height * 0.32), int(height * 0.4)])  # keep the curve readable
        return dock

    def open_results(self, path: str | Path) -> bool:
        """Show the results index of a batch run as the triage table (a dock under the video)."""
        if self.dock is None:
            self.dock = self._make_dock()
        try:
            self.dock.widget().load(path)
        except VadError as error:
            self.window.show_error("Cannot open batch results", str(error))
            return False
        self.dock.show()
        self.dock.raise_()
        return True

    @property
    def loading(self) -> bool:
        return self.job.running

    def open_clip(self, row: Any, scores_path: str | Path) -> None:
        """Open a clip of the triage table with its stored scores (read in a worker); the model is not run."""
        self.window.busy_indicator.begin(BUSY_TASK, f"reading {row.clip}…")
        self.job.start(
            lambda: batch_clip_job(row.path, row.fps, scores_path),
            "batch clip",
            message=lambda text: self.window.notify(text, 15000),
            done=lambda result: self._read(row, result),
            failed=self._failed,
            finished=lambda: self.window.busy_indicator.end(BUSY_TASK),
        )

    def _failed(self, message: str) -> None:
        self.window.busy_indicator.end(BUSY_TASK)
        self.window.show_error("Cannot open clip", message)

    def _read(self, row: Any, result: tuple[Any, Any]) -> None:
        """The clip's scores and video are read: show them, as finished scores."""
        window = self.window
        window.busy_indicator.end(BUSY_TASK)
        scores, source = result
        window.opening.open_source(
            source, row.clip, scores.labels, scores.categories, recent=row.path, score=False
        )
        try:
            window.session.load_scores(scores.errors, scores.maps, scores.side, scores.meta.get("scoring"))
        except VadError as error:
            window.show_error("Scores do not fit the clip", str(error))
            return
        window.scoring.scores_loaded()
        window.scoring.show_scoring_in_use()
        window.playback.show_frame(window.playback.frame_index)
        n = len(window.session.events)
        window.notify(
            f"Opened {row.clip} with the scores of the batch run ({row.model or 'model'}; "
            f"{n} event{'s' if n != 1 else ''}); nothing was recomputed.",
            12000,
        )
