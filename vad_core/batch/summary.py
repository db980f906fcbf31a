"""What a batch run did (``BatchSummary``, the table ``vad batch score`` ends with) and how far it is
(``BatchProgress``, passed to ``run_batch``'s ``on_progress``).

Example::

    summary = run_batch(config)
    print(summary.table())  # done / skipped / failed clips, frames, wall time, frames/s
"""

from __future__ import annotations

from dataclasses import dataclass, field

HELD_BACK_NOTICE_S = 1.0  # the summary names the disk as the pace-setter past this many seconds


@dataclass
class BatchSummary:
    """What a run did; ``table()`` is the summary the CLI prints."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    clips: int = 0
    frames: int = 0  # frames scored by this run
    wall_s: float = 0.0
    startup_s: float = 0.0  # of wall_s: discovering, hashing, starting Ray and the workers
    scoring_s: float = 0.0  # from the first worker up to the last clip indexed
    writing_s: float = 0.0  # writer threads' time stitching and writing scores files, summed
    held_back_s: float = 0.0  # of scoring_s: chunks waited, workers free, for scores files to be written
    workers: int = 0
    decoders: int = 0  # CPU tasks decoding for the workers at once
    nodes: int = 0  # Ray nodes the workers ran on
    device: str = ""
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (clip, reason) of this run's failures
    results: str = ""

    @property
    def frames_per_second(self) -> float:
        """Frames scored per second of wall time, start-up included."""
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def scoring_frames_per_second(self) -> float:
        """Frames scored per second once the first worker was up."""
        return self.frames / self.scoring_s if self.scoring_s > 0 else 0.0

    def table(self) -> str:
        """A small fixed-width table: clips done / skipped / failed, frames, wall time, frames/s."""
        lines = [
            f"{'done':<10} {self.done:>7} clips",
            f"{'skipped':<10} {self.skipped:>7} clips (already scored with the same content and model)",
            f"{'failed':<10} {self.failed:>7} clips",
            f"{'total':<10} {self.clips:>7} clips",
            f"{'frames':<10} {self.frames:>7} scored",
            f"{'wall time':<10} {self.wall_s:>7.1f} s"
            + (
                f" = {self.frames_per_second:.0f} frames/s ({self.startup_s:.1f} s starting Ray and workers; "
                f"{self.scoring_frames_per_second:.0f} frames/s once they were up)"
                if self.frames
                else ""
            ),
        ]
        if self.workers:
            on = f" on {self.nodes} Ray node{'s' if self.nodes != 1 else ''}" if self.nodes else ""
            lines.append(f"{'workers':<10} {self.workers:>7} x {self.device}{on}")
        if self.decoders:
            lines.append(f"{'decoders':<10} {self.decoders:>7} CPU tasks decoding for the workers")
        if self.writing_s:
            lines.append(
                f"{'writing':<10} {self.writing_s:>7.1f} s writing scores files (all writer threads)"
            )
        if self.held_back_s >= HELD_BACK_NOTICE_S:
            lines.append(
                f"  scoring waited {self.held_back_s:.1f} s for scores files to be written: the results "
                "folder's disk, not the workers, set the pace then (--no-maps writes far less)"
            )
        for clip, reason in self.failures:
            lines.append(f"  failed: {clip}: {reason}")
        if self.interrupted:
            lines.append("interrupted: re-run the same command to finish (done clips are kept)")
        return "\n".join(lines)


@dataclass
class BatchProgress:
    """Progress of a run, passed to ``on_progress`` after every result."""

    clips_total: int
    clips_done: int
    clips_failed: int
    frames_total: int  # frames of the clips probed so far (grows while probing)
    frames_done: int
    elapsed_s: float
