"""The review window's long jobs as plain generators (no Qt): scoring, training, reconstruction,
reading a batch run's clip.

``app.jobs.worker.Worker`` runs any of them on a pool thread. Each yields partial results, ``Progress``
and ``Notice`` items, and returns a summary; stopping the generator (``close()``) stops the job.

* ``score_job`` - asks the score cache first; otherwise runs ``vad_core.inference.score_source``
  chunk by chunk into shared buffers (errors, maps and side series such as MNAD's memory
  distance), and stores the finished result, side series included, in the cache.
* ``train_job`` - builds a ``FrameBank`` from the selected frames and runs ``train_iter``.
* ``reconstruct_job`` - one frame's input, reconstruction and error (the side-by-side view).
* ``batch_clip_job`` - a clip of a batch run: its stored scores (maps included) and its video.

Example::

    for item in score_job(checkpoint.model, source, InferenceConfig(), cache=None, key=None):
        ...   # ScoreUpdate, Progress or Notice
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.jobs.threads import independent_reader, limit_torch_threads, lower_thread_priority, model_lock
from app.jobs.worker import Notice, Progress
from vad_core.errors import VadError
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache
from vad_core.sources.base import FrameSource

if TYPE_CHECKING:  # torch loads when the first job runs, not when the window starts
    from vad_core.inference.scores_file import ScoresFile
    from vad_core.inference.scoring_loop import FrameReconstruction
    from vad_core.models.base import AnomalyModel

log = logging.getLogger(__name__)


@dataclass
class ScoreBuffers:
    """Per-frame errors (NaN until scored), float16 maps and side series of one scoring job.

    ``side`` holds the per-frame series a model gives beside its errors (``"memory_distance"`` of
    MNAD, which the ``mnad`` score needs), NaN until scored like the errors.

    The job writes frames ``[0, stop)`` before it yields an update saying so; the GUI only reads
    frames below the last ``stop`` it received, so both threads share the arrays without copies.
    """

    errors: np.ndarray
    maps: np.ndarray | None = None
    side: dict[str, np.ndarray] = field(default_factory=dict)

    def take(self, chunk: Any, total: int) -> None:
        """Write a ``ScoredChunk``'s errors, maps and side series into frames ``chunk.start .. stop``."""
        self.errors[chunk.start : chunk.stop] = chunk.errors
        if chunk.maps is not None:
            if self.maps is None:
                self.maps = np.zeros((total, *chunk.maps.shape[1:]), np.float16)
            self.maps[chunk.start : chunk.stop] = chunk.maps
        for name, values in chunk.side.items():
            series = self.side.setdefault(name, np.full(total, np.nan, np.float32))
            series[chunk.start : chunk.stop] = values


@dataclass
class ScoreUpdate:
    """Frames ``start .. stop - 1`` of ``buffers`` are scored (``total`` frames in the source)."""

    start: int
    stop: int
    total: int
    buffers: ScoreBuffers
    cached: bool = False


@dataclass
class ScoreSummary:
    """What a finished scoring job did."""

    frames: int
    seconds: float
    cached: bool
    device: str
    batch_size: int
    notices: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def score_job(
    model: AnomalyModel,
    source: FrameSource,
    inference: InferenceConfig,
    cache: ScoreCache | None = None,
    key: str | None = None,
    meta: dict[str, Any] | None = None,
    side_needed: Sequence[str] = (),
) -> Generator[ScoreUpdate | Progress | Notice, None, ScoreSummary]:
    """Score ``source`` (or read it from ``cache``); see the module docstring.

    ``side_needed``: side series the score needs (``("memory_distance",)`` for ``mnad``); a cache
    entry without them is scored again.
    """
    from vad_core.inference.device import resolve_device

    began = time.perf_counter()
    total = len(source)
    device = resolve_device(inference.device)
    if cache is not None and key is not None:
        hit = cache.load(key)
        if hit is not None and len(hit.errors) == total and set(side_needed) <= set(hit.side):
            buffers = ScoreBuffers(hit.errors, hit.maps, dict(hit.side))
            yield ScoreUpdate(0, total, total, buffers, cached=True)
            yield Progress(total, total)
            return ScoreSummary(total, time.perf_counter() - began, True, device.type, inference.batch_size)
    lower_thread_priority()
    if device.type == "cpu":
        limit_torch_threads()
    buffers = ScoreBuffers(np.full(total, np.nan, np.float32))
    notices: list[str] = []  # filled by score_source between chunks
    reported: list[str] = []
    batch_size = inference.batch_size
    yield Progress(0, total, f"scoring {getattr(source, 'name', 'video')} on {device.type.upper()}")
    from vad_core.inference.scoring_loop import score_source

    chunks = score_source(model, source, inference, on_notice=notices.append)
    lock = model_lock(model)
    while True:
        with lock:  # one batch at a time holds the model; a reconstruction can run in between
            chunk = next(chunks, None)
        if chunk is None:
            break
        for notice in [*notices, *([chunk.notice] if chunk.notice else [])]:
            reported.append(notice)
            yield Notice(notice)
            last_word = notice.rsplit(" ", 1)[-1]
            if ("halved to" in notice or "reduced from" in notice) and last_word.isdigit():
                batch_size = int(last_word)
        notices.clear()
        buffers.take(chunk, total)
        yield ScoreUpdate(chunk.start, chunk.stop, total, buffers)
        yield Progress(chunk.stop, total)
    seconds = time.perf_counter() - began
    if cache is not None and key is not None:
        try:
            cache.store(
                key, buffers.errors, buffers.maps, {**(meta or {}), "seconds": seconds}, side=buffers.side
            )
        except OSError as error:
            yield Notice(f"scores not cached ({error.strerror or error})")
    return ScoreSummary(total, seconds, False, device.type, batch_size, reported)


def train_job(
    config: Any,
    sources: Sequence[FrameSource],
    frame_ranges: Sequence[Sequence[tuple[int, int]]] | None,
    output: str | Path,
    metadata: dict[str, Any] | None = None,
) -> Generator[Any, None, Any]:
    """Train ``config`` (a ``TrainConfig``) on the selected frames; yields ``TrainEvent``s."""
    from vad_core.inference.device import resolve_device
    from vad_core.sources.preprocess import Preprocess
    from vad_core.training import FrameBank, train_iter

    lower_thread_priority()
    if resolve_device(config.device).type == "cpu":
        limit_torch_threads()
    yield Notice("preparing training frames")
    preprocess = Preprocess(size=config.model.size, channels=config.model.channels)
    bank = FrameBank.from_sources([independent_reader(s) for s in sources], preprocess, frame_ranges)
    yield Notice(f"{len(bank)} training frames ready")
    result = yield from train_iter(config, bank, output=output, metadata=metadata, report_every=1)
    return result


def reconstruct_job(
    model: AnomalyModel, source: FrameSource, index: int, inference: InferenceConfig
) -> Generator[Any, None, tuple[int, FrameReconstruction]]:
    """Input, reconstruction and error map of frame ``index`` (one model window, batch 1)."""
    if False:  # pragma: no cover - makes this a generator, so Worker can run it
        yield None
    config = InferenceConfig(
        batch_size=1, device=inference.device, amp=inference.amp, error=inference.error, keep_maps=True
    )
    with model_lock(model):
        from vad_core.inference.scoring_loop import reconstruct_frame

        return index, reconstruct_frame(model, source, index, config)


def batch_clip_job(
    video: str | Path, fps: float | None, scores_path: str | Path
) -> Generator[Any, None, tuple[ScoresFile, FrameSource]]:
    """The stored scores (errors and the whole map array) of a batch run's clip and its opened video.

    Any failure is a ``VadError`` naming the file, so the window can show it as one line.
    """
    from vad_core.inference.scores_file import read_scores
    from vad_core.sources import open_source

    yield Notice(f"reading the scores of {Path(video).name}")
    try:
        scores = read_scores(scores_path)
        source = open_source(video, fps=fps)
    except VadError:
        raise
    except Exception as error:  # whatever the files hold, the window gets one line
        log.exception("cannot open batch clip %s", video)
        raise VadError(video, f"cannot be opened ({type(error).__name__}: {error})") from error
    return scores, source
