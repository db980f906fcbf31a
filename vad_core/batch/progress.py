"""A batch run's progress: one tqdm bar on stderr and ``run_batch``'s ``on_progress`` callback.

The bar's clock (frames/s, ETA) starts when the first worker is up (``start``), so that starting
Ray and the workers does not count against the scoring rate; ``startup_s`` of the summary is that
moment.

Example::

    progress = RunProgress(summary, show=True, on_progress=None, began=time.perf_counter())
    progress.start(frames_total=0)
    progress.report(frames_total=4800, frames_done=2048)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from vad_core.batch.summary import BatchProgress, BatchSummary


class RunProgress:
    """The progress bar (when ``show``) and ``on_progress`` of one run; counts come from ``summary``."""

    def __init__(
        self,
        summary: BatchSummary,
        show: bool,
        on_progress: Callable[[BatchProgress], None] | None,
        began: float,
    ) -> None:
        self.summary = summary
        self.show = show
        self.on_progress = on_progress
        self.began = began
        self.bar: Any = None
        self._postfix = ""

    def start(self, frames_total: int) -> None:
        """Called when the first worker is up: the bar's clock (frames/s, ETA) starts here."""
        self.summary.startup_s = time.perf_counter() - self.began
        if self.show and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=frames_total, desc="scoring", unit="frame", file=sys.stderr, dynamic_ncols=True
            )

    def report(self, frames_total: int, frames_done: int) -> None:
        """Bring the bar up to date (redrawn only when something changed) and call ``on_progress``."""
        summary = self.summary
        if self.bar is not None:
            clips = f"clips {summary.done + summary.failed}/{summary.clips - summary.skipped}"
            postfix = clips + (f", {summary.failed} failed" if summary.failed else "")
            if self.bar.total != frames_total or postfix != self._postfix:
                self.bar.total = frames_total
                self.bar.set_postfix_str(postfix, refresh=False)
                self._postfix = postfix
                self.bar.refresh()
            if frames_done > self.bar.n:
                self.bar.update(frames_done - self.bar.n)
        if self.on_progress is not None:
            self.on_progress(
                BatchProgress(
                    clips_total=summary.clips - summary.skipped,
                    clips_done=summary.done,
                    clips_failed=summary.failed,
                    frames_total=frames_total,
                    frames_done=frames_done,
                    elapsed_s=time.perf_counter() - self.began,
                )
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
