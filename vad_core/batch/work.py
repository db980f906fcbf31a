"""The units of a batch run's work: a clip on its way through the run, and what driver and workers
send each other (probe results, chunk tasks, chunk outcomes).

A clip (``ClipJob``) goes ``QUEUED -> PROBING -> SCORING -> WRITING -> DONE``, or to ``FAILED`` from
any state before ``DONE``; the scheduler (``scheduler.Scheduler``) moves it. The messages are plain
frozen dataclasses, so Ray pickles them and the scheduler can be tested without Ray.

Example::

    task = ChunkTask("cam1/a.avi", "/archive/cam1/a.avi", "video", chunk)
    outcome = worker.score(task)  # ChunkOutcome: scores, or the reason there are none
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from vad_core.batch.chunking import Chunk, ChunkScores
from vad_core.batch.discover import ClipRef


class ClipState(Enum):
    """Where a clip is in a run."""

    QUEUED = "waiting to be probed"
    PROBING = "being probed"  # its frame count, fps and size asked of a worker
    SCORING = "being scored"  # chunks queued or with workers
    WRITING = "being written"  # every chunk scored; stitched and written on a writer thread
    DONE = "done"  # its done row is in the index
    FAILED = "failed"  # its failed row is in the index


@dataclass
class ClipJob:
    """One clip this run scores: what its probe found, its chunk plan, scored parts and timings."""

    ref: ClipRef
    content_hash: str
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    parts: list[ChunkScores] = field(default_factory=list)
    compute_s: float = 0.0  # seconds workers spent on it, summed over chunks
    write_s: float = 0.0  # seconds its writer thread spent stitching and writing it
    started_at: float | None = None  # unix time its first chunk was sent (or it failed)
    state: ClipState = ClipState.QUEUED

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def failed(self) -> bool:
        return self.state is ClipState.FAILED


@dataclass(frozen=True)
class ProbeResult:
    """A clip's frame count, fps and size as a worker opened it, or why it could not."""

    clip: str
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    error: str | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one clip for a worker to score."""

    clip: str
    path: str
    kind: str  # "video" | "frames"
    chunk: Chunk


@dataclass
class ChunkOutcome:
    """A scored chunk, or (``scores is None``) the reason it could not be scored."""

    clip: str
    scores: ChunkScores | None
    seconds: float
    error: str | None = None
    error_kind: str | None = None
