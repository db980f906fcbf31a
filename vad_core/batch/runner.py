"""Scoring a whole footage archive on Ray: workers hold the model, the driver stitches, writes and indexes.

``run_batch`` finds every clip under a root (``discover``), skips those already scored with the
same content, checkpoint and settings (``index``), and scores the rest on a Ray cluster: a local
one started for the run (``ray.init(num_cpus=N)``), or an existing one (``address="auto"``,
``"ray://host:10001"``). Ray is imported only here, inside functions, so the rest of the engine
does not need it.

How the work flows::

    driver: discover + content hashes -> skip check -> probe tasks -> chunk plan per clip
        -> chunk tasks (a bounded queue per worker) -> stitch -> write_scores (writer threads)
        -> one index transaction per clip
    worker (Ray actor, one per GPU, or per ``cpus_per_worker`` CPUs): loads the checkpoint once from
        its path, opens clips, scores chunks (``chunking.score_chunk``) and returns errors and maps
    decoders (Ray tasks, one CPU each; by default only for GPU actors): read and resize a chunk's
        frames (``decode_chunk``); Ray hands them to the worker's ``score_decoded``, so a GPU actor
        only runs the model while other CPUs decode

* Each actor is created with ``num_gpus=gpus_per_task`` when the cluster has GPUs (it then scores
  on its GPU with bfloat16 autocast unless AMP is off) and ``num_cpus=cpus_per_worker``; its torch
  and OpenCV thread pools get as many threads as it has CPUs. A GPU actor runs ``threads``
  chunks at once; a CPU actor runs one. With decoders (the default on GPUs), a GPU actor takes 1
  CPU and scores 3 chunks at once while other CPUs decode; without (``decoders=0``, and always on
  CPUs), the actor's own threads decode and preprocess.
* An actor that dies is restarted by Ray up to ``max_restarts`` times and its pending calls are
  retried up to ``max_task_retries`` times; a chunk that still fails marks its clip failed
  (``error_kind="worker"``, retried by the next run). A clip whose file cannot be read is failed
  with ``error_kind="source"`` and the reason, and is not tried again until its content changes
  (or ``retry_failed``).
* Only the driver writes: a clip's scores file is renamed into place before its index row is
  committed, so killing the run at any moment loses at most the clips in flight.

Example::

    summary = run_batch(BatchConfig(root="/archive/site7", checkpoint="bcae1.safetensors", results="out"))
    print(summary.table())
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.batch.chunking import DEFAULT_CHUNK_FRAMES, Chunk, ChunkScores, chunk_plan, score_chunk, stitch
from vad_core.batch.discover import MIN_IMAGES, ClipRef, content_hash, discover_clips
from vad_core.batch.index import SCORES_DIR, ClipRow, ResultsIndex
from vad_core.errors import SourceError, VadError
from vad_core.inference.config import InferenceConfig
from vad_core.scoring import ScoringConfig

log = logging.getLogger(__name__)

# GPU actors fed by decoding tasks: measured on an H100 with 16 CPUs and a 64-filter U-Net
# (docs/batch.md, calls 24-27), 6 decoders and 3 threads kept the GPU busy 97-99 % of the time; without
# decoders it was 63-81 %. More decoders than half the free CPUs starve the actor and the driver.
DECODERS_PER_GPU_WORKER = 6
GPU_THREADS_WITH_DECODERS = 3
PROBE_BATCH = 8  # clips probed per task: small enough to spread over workers, large enough to amortise
READY_TIMEOUT_S = 300.0  # our choice: a worker that cannot start in 5 minutes will not start
HELD_BACK_NOTICE_S = 1.0  # the summary names the disk as the pace-setter past this many seconds


# ============================================================================================ config
@dataclass(frozen=True)
class BatchConfig:
    """Everything ``vad batch score`` does; the CLI fills it from its options."""

    root: str | Path
    checkpoint: str | Path
    results: str | Path
    inference: InferenceConfig | None = None  # None: batch 32, checkpoint's error / reduction / patch
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    address: str | None = None  # None: start a local Ray; "auto" / "host:6379" / "ray://host:10001": join
    cpus: int | None = None  # CPUs of the local Ray [all of this machine's]
    workers: int | None = None  # actors [as many as the cluster's resources allow]
    cpus_per_worker: float | None = None  # [CPU: max(1, cluster CPUs // 8); GPU: CPUs per GPU, at most 8]
    gpus_per_task: float | None = None  # GPUs per actor [1 when the cluster has GPUs, else 0]
    threads: int | None = None  # chunks a GPU actor scores at once [3 with decoders, else its CPUs]; CPU: 1
    fps: float | None = None  # frame rate of frame folders [25]
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    min_images: int = MIN_IMAGES
    exclude: tuple[str, ...] = ()
    full_hash: bool = False
    retry_failed: bool = False
    max_restarts: int = 4  # our choice: Ray restarts a dead actor this often ...
    max_task_retries: int = 2  # ... and retries a call lost with it this often
    writers: int | None = None  # driver threads writing scores files [cores / 4, 2 to 8]
    # CPU tasks decoding and resizing chunks for the actors, so that a GPU actor only runs the model
    # (it then takes 1 CPU and scores 3 chunks at once). 0: actors decode their own chunks. None: on
    # GPUs, 6 per actor but at most half the CPUs the actors leave; on CPUs, 0 (docs/batch.md).
    decoders: int | None = None
    top_events: int = 5
    progress: bool = True  # tqdm bar on stderr


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


# ============================================================================================ worker
@dataclass(frozen=True)
class _ProbeResult:
    clip: str
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    error: str | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class _ChunkTask:
    clip: str
    path: str
    kind: str
    chunk: Chunk


@dataclass
class _ChunkOutcome:
    clip: str
    scores: ChunkScores | None
    seconds: float
    error: str | None = None
    error_kind: str | None = None


def _describe_failure(error: BaseException) -> tuple[str, str]:
    """``(message, error_kind)`` for an exception raised while reading or scoring a clip."""
    if isinstance(error, SourceError):
        return str(error), "source"
    if isinstance(error, VadError):
        return str(error), "error"
    return f"{type(error).__name__}: {error}", "error"


class ScoringWorker:
    """What one Ray actor holds: the model (loaded once, from the checkpoint path) and open clips.

    Plain Python, so it can be tested without Ray; ``run_batch`` wraps it with ``ray.remote``.
    """

    def __init__(
        self,
        checkpoint: str,
        inference: InferenceConfig,
        threads: int,
        fps: float | None,
        warm_up: bool = True,
    ) -> None:
        import cv2
        import torch

        from vad_core.checkpoint import load_checkpoint
        from vad_core.inference.device import resolve_device
        from vad_core.inference.scoring_loop import prepare_for_inference

        threads = max(1, int(threads))
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        self.device = resolve_device(inference.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.checkpoint = load_checkpoint(checkpoint, device=self.device)
        self.model = prepare_for_inference(self.checkpoint.model, self.device)
        self.inference = replace(inference, device=str(self.device))
        if threads > 1 and inference.cuda_graphs:  # a recording in one thread breaks the others' CUDA work
            log.warning("CUDA graphs are off: this worker scores from %d threads", threads)
            self.inference = replace(self.inference, cuda_graphs=False)
        self.preprocess = self.checkpoint.preprocess
        self.fps = fps
        self._local = threading.local()  # one decoder per thread: threads never share a seek position
        if warm_up and self.device.type != "cpu":
            self.warm_up()

    def warm_up(self) -> None:
        """Score two full batches of blank frames, so that the GPU's one-time set-up (cuDNN choosing
        its algorithms for this batch shape, kernels loaded on first use) happens while the worker
        starts, not in the first chunks of the archive."""
        from vad_core.inference.scoring_loop import score_source
        from vad_core.sources import ArraySource

        size, channels = self.preprocess.size, self.preprocess.channels
        frames = 2 * self.inference.batch_size * self.model.spec.window  # enough for two full batches
        blank = np.zeros((frames, *size, 3) if channels == 3 else (frames, *size), np.uint8)
        batches = score_source(self.model, ArraySource(blank), self.inference, self.preprocess)
        for _ in itertools.islice(batches, 2):
            pass
        batches.close()

    def ready(self) -> dict[str, Any]:
        """Where this worker runs and on what (the driver waits for this before sending work)."""
        import socket

        import ray
        import torch

        from vad_core.inference.device import describe_device

        return {
            "host": socket.gethostname(),
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "device": describe_device(self.device),
            "torch_threads": torch.get_num_threads(),
        }

    def _open(self, path: str, kind: str):
        from vad_core.sources import FrameFolderSource, VideoFileSource

        cache: OrderedDict = getattr(self._local, "sources", None) or OrderedDict()
        self._local.sources = cache
        if path in cache:
            cache.move_to_end(path)
            return cache[path]
        source = FrameFolderSource(path, fps=self.fps or 25.0) if kind == "frames" else VideoFileSource(path)
        cache[path] = source
        while len(cache) > 2:
            _, old = cache.popitem(last=False)
            if hasattr(old, "close"):
                old.close()
        return source

    def probe(self, clips: list[tuple[str, str, str]]) -> list[_ProbeResult]:
        """Open each ``(name, path, kind)`` clip: frame count, fps and size, or why it cannot be read."""
        results = []
        for name, path, kind in clips:
            try:
                source = self._open(path, kind)
                height, width = source.frame_size
                results.append(_ProbeResult(name, len(source), float(source.fps), width, height))
            except Exception as error:
                message, error_kind = _describe_failure(error)
                results.append(_ProbeResult(name, error=message, error_kind=error_kind))
        return results

    def score(self, task: _ChunkTask) -> _ChunkOutcome:
        """Score one chunk; failures come back as a message, never as an exception."""
        began = time.perf_counter()
        try:
            source = self._open(task.path, task.kind)
            scores = score_chunk(self.model, source, task.chunk, self.inference, self.preprocess)
        except Exception as error:
            message, error_kind = _describe_failure(error)
            return _ChunkOutcome(task.clip, None, time.perf_counter() - began, message, error_kind)
        return _ChunkOutcome(task.clip, scores, time.perf_counter() - began)

    def score_decoded(self, task: _ChunkTask, frames: np.ndarray | tuple[str, str]) -> _ChunkOutcome:
        """Score a chunk that ``decode_chunk`` read (or pass on why it could not)."""
        from vad_core.sources import ArraySource

        began = time.perf_counter()
        if isinstance(frames, tuple):
            return _ChunkOutcome(task.clip, None, 0.0, frames[0], frames[1])
        try:
            chunk, offset = task.chunk, task.chunk.read_start  # frames[0] is the chunk's first read frame
            local = replace(
                chunk,
                read_start=0,
                read_stop=len(frames),
                score_start=chunk.score_start - offset,
                score_stop=chunk.score_stop - offset,
            )
            source = ArraySource(frames, fps=self.fps or 25.0, name=task.clip)
            scores = score_chunk(self.model, source, local, self.inference, self.preprocess)
            scores.chunk = task.chunk
        except Exception as error:
            message, error_kind = _describe_failure(error)
            return _ChunkOutcome(task.clip, None, time.perf_counter() - began, message, error_kind)
        return _ChunkOutcome(task.clip, scores, time.perf_counter() - began)


def decode_chunk(
    path: str, kind: str, start: int, stop: int, size: tuple[int, int], channels: int, fps: float | None
) -> np.ndarray | tuple[str, str]:
    """Frames ``[start, stop)`` of a clip as uint8 at model size (what ``Preprocess`` makes of them
    before scaling to [0, 1], so an actor scoring them gets bit-identical input), or ``(reason, kind)``.

    Run as a Ray task on a CPU next to GPU actors (``BatchConfig.decoders``): decoding and resizing,
    not the model, bound GPU archive scoring. It uses one OpenCV thread, as the one CPU it holds.
    """
    import cv2

    from vad_core.sources import FrameFolderSource, VideoFileSource
    from vad_core.sources.image_files import convert_channels
    from vad_core.sources.preprocess import resize_frame

    # Ray sets OMP_NUM_THREADS=1 for the task, but OpenCV's pool ignores it and keeps one thread per
    # core of the machine in every decoding process, all competing with the GPU actor's threads.
    cv2.setNumThreads(1)
    try:
        source = FrameFolderSource(path, fps=fps or 25.0) if kind == "frames" else VideoFileSource(path)
        try:
            frames = source.read(start, stop)
        finally:
            if hasattr(source, "close"):
                source.close()
        return np.stack([resize_frame(convert_channels(frame, channels), size) for frame in frames])
    except Exception as error:
        return _describe_failure(error)


# ============================================================================================ driver
@dataclass
class _Clip:
    ref: ClipRef
    content_hash: str
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    parts: list[ChunkScores] = field(default_factory=list)
    compute_s: float = 0.0
    write_s: float = 0.0
    started_at: float | None = None
    failed: bool = False


@dataclass
class _Worker:
    handle: Any
    capacity: int
    ready: bool = False
    alive: bool = True
    inflight: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def has_room(self) -> bool:
        """Up, alive and with fewer calls in flight than its queue holds: it can take another."""
        return self.ready and self.alive and self.inflight < self.capacity


def settings_hash(inference: InferenceConfig, scoring: ScoringConfig, fps: float | None) -> str:
    """Short hash of the settings that change a clip's numbers (not batch size, device or AMP)."""
    settings = {
        "error": inference.error,
        "reduction": inference.reduction,
        "patch": inference.patch,
        "prediction": getattr(inference, "prediction", None),
        "maps": inference.keep_maps,
        "fps": fps,
        "scoring": asdict(scoring),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def default_inference(checkpoint_scoring: dict[str, Any]) -> InferenceConfig:
    """The inference settings ``vad score`` uses by default for a checkpoint."""
    return InferenceConfig(
        error=checkpoint_scoring.get("error", "mse"),
        reduction=checkpoint_scoring.get("reduction", "mean"),
        patch=int(checkpoint_scoring.get("patch", 16)),
    )


@contextlib.contextmanager
def _results_lock(results: Path) -> Iterator[None]:
    """Hold ``results/.lock`` for the run: two runs never write one index (released even on SIGKILL)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; SQLite still keeps the index whole
        yield
        return
    results.mkdir(parents=True, exist_ok=True)
    with open(results / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise VadError(results, "another `vad batch score` is writing these results") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_stale_temporaries(scores_dir: Path) -> None:
    """Temporary files left by a run killed in the middle of writing a scores file."""
    if scores_dir.is_dir():
        for stale in scores_dir.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


def _hash_all(clips: list[ClipRef], full: bool) -> dict[str, str | SourceError]:
    """Content hash of every clip (threads: the work is reading files), or the error reading it."""

    def one(clip: ClipRef) -> str | SourceError:
        try:
            return content_hash(clip, full)
        except SourceError as error:
            return error

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip((c.name for c in clips), pool.map(one, clips), strict=True))


class _Run:
    """One invocation of ``run_batch`` (state shared by the driver's steps)."""

    def __init__(self, config: BatchConfig, on_progress: Callable[[BatchProgress], None] | None) -> None:
        from vad_core.checkpoint import load_checkpoint

        self.config = config
        self.on_progress = on_progress
        self.root = Path(config.root).expanduser().resolve()
        self.results = Path(config.results).expanduser().resolve()
        self.checkpoint = load_checkpoint(config.checkpoint, device="cpu")
        self.checkpoint_path = str(self.checkpoint.path)
        self.inference = config.inference or default_inference(self.checkpoint.scoring)
        self.settings = settings_hash(self.inference, config.scoring, config.fps)
        self.spec = self.checkpoint.model.spec
        self.summary = BatchSummary(results=str(self.results))
        self.began = time.perf_counter()
        self.frames_total = 0
        self.frames_done = 0
        self.bar = None
        self._postfix = ""

    # ------------------------------------------------------------------ rows
    def _base_row(self, clip: _Clip, run_id: int) -> dict[str, Any]:
        ref = clip.ref
        return {
            "clip": ref.name,
            "path": str(ref.path),
            "kind": ref.kind,
            "camera": ref.camera,
            "folder": ref.folder,
            "content_hash": clip.content_hash,
            "model": self.checkpoint.display_name,
            "model_name": self.checkpoint.config.name,
            "checkpoint": self.checkpoint_path,
            "checkpoint_sha256": self.checkpoint.sha256 or "",
            "settings_hash": self.settings,
            "frames": clip.frames or None,
            "fps": clip.fps or None,
            "width": clip.width or None,
            "height": clip.height or None,
            "chunks": len(clip.chunks) or None,
            "run_id": run_id,
            "started_at": clip.started_at,
            "compute_s": round(clip.compute_s, 4),
        }

    def failed_row(self, clip: _Clip, run_id: int, message: str, kind: str) -> ClipRow:
        now = time.time()
        row = self._base_row(clip, run_id)
        row.update(status="failed", error=message, error_kind=kind, finished_at=now)
        row["wall_s"] = round(now - clip.started_at, 4) if clip.started_at else None
        return ClipRow(**{**dict.fromkeys(ClipRow.__dataclass_fields__), **row})

    def write_clip(self, clip: _Clip, run_id: int) -> ClipRow:
        """Stitch, write the scores files (atomically) and build the done row. Runs on a writer thread."""
        from vad_core.inference.scores_file import write_scores
        from vad_core.scoring import anomaly_scores, find_events

        began = time.perf_counter()
        errors, maps = stitch(clip.frames, clip.parts)
        clip.parts = []
        scoring = self.config.scoring
        relative = Path(SCORES_DIR) / clip.ref.name
        meta = {
            "name": clip.ref.path.name,
            "source": str(clip.ref.path),
            "fps": clip.fps,
            "model": self.checkpoint.display_name,
            "model_name": self.checkpoint.config.name,
            "checkpoint": self.checkpoint_path,
            "checkpoint_sha256": self.checkpoint.sha256,
            "inference": asdict(self.inference),
            "batch": {"clip": clip.ref.name, "content_hash": clip.content_hash, "chunks": len(clip.chunks)},
        }
        npz = write_scores(self.results / relative, errors, maps=maps, meta=meta, scoring=scoring)
        clip.write_s = time.perf_counter() - began
        derived = anomaly_scores(errors, scoring)
        events = find_events(derived.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
        strongest = sorted(
            events, key=lambda e: (-e.peak_score, -float(errors[e.start : e.end].max()), e.start)
        )[: self.config.top_events]
        top = [
            {
                "start": e.start,
                "end": e.end,
                "peak_frame": e.peak_frame,
                "peak_score": round(float(e.peak_score), 6),
                "peak_error": float(errors[e.start : e.end].max()),
                "start_s": round(e.start / clip.fps, 3),
                "end_s": round(e.end / clip.fps, 3),
            }
            for e in strongest
        ]
        now = time.time()
        row = self._base_row(clip, run_id)
        row.update(
            status="done",
            error=None,
            error_kind=None,
            max_score=float(derived.score.max()),
            mean_score=float(derived.score.mean()),
            max_error=float(errors.max()),
            mean_error=float(errors.mean(dtype=np.float64)),
            n_events=len(events),
            top_events=json.dumps(top),
            scores_path=npz.relative_to(self.results).as_posix(),
            finished_at=now,
            wall_s=round(now - clip.started_at, 4) if clip.started_at else None,
        )
        return ClipRow(**row)

    # ------------------------------------------------------------------ progress
    def start_progress(self) -> None:
        """Called when the first worker is up: the bar's clock (frames/s, ETA) starts here."""
        self.summary.startup_s = time.perf_counter() - self.began
        if self.config.progress and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.frames_total, desc="scoring", unit="frame", file=sys.stderr, dynamic_ncols=True
            )

    def report(self) -> None:
        if self.bar is not None:
            clips = (
                f"clips {self.summary.done + self.summary.failed}/{self.summary.clips - self.summary.skipped}"
            )
            postfix = clips + (f", {self.summary.failed} failed" if self.summary.failed else "")
            if self.bar.total != self.frames_total or postfix != self._postfix:
                self.bar.total = self.frames_total
                self.bar.set_postfix_str(postfix, refresh=False)
                self._postfix = postfix
                self.bar.refresh()
            if self.frames_done > self.bar.n:
                self.bar.update(self.frames_done - self.bar.n)
        if self.on_progress is not None:
            self.on_progress(
                BatchProgress(
                    clips_total=self.summary.clips - self.summary.skipped,
                    clips_done=self.summary.done,
                    clips_failed=self.summary.failed,
                    frames_total=self.frames_total,
                    frames_done=self.frames_done,
                    elapsed_s=time.perf_counter() - self.began,
                )
            )


def _todo(run: _Run, index: ResultsIndex, run_id: int) -> list[_Clip]:
    """Discover, hash and skip: the clips this run must score (hash failures are recorded at once)."""
    config = run.config
    refs = discover_clips(run.root, config.min_images, config.exclude, skip=[run.results])
    run.summary.clips = len(refs)
    hashes = _hash_all(refs, config.full_hash)
    previous = index.all_rows()
    todo = []
    for ref in refs:
        digest = hashes[ref.name]
        if isinstance(digest, SourceError):
            clip = _Clip(ref, "")
            index.put(run.failed_row(clip, run_id, str(digest), "source"))
            run.summary.failed += 1
            run.summary.failures.append((ref.name, str(digest)))
            continue
        old = previous.get(ref.name)
        same = (
            old is not None
            and old.content_hash == digest
            and old.checkpoint_sha256 == (run.checkpoint.sha256 or "")
            and old.settings_hash == run.settings
        )
        if same and old.status == "done" and old.scores_path and (run.results / old.scores_path).is_file():
            run.summary.skipped += 1
            continue
        if same and old.status == "failed" and old.error_kind == "source" and not config.retry_failed:
            run.summary.skipped += 1
            continue
        todo.append(_Clip(ref, digest))
    return todo


def _start_ray(config: BatchConfig) -> bool:
    """Join ``config.address`` or start a local Ray; True when this run started it (and stops it)."""
    try:
        import ray
    except ImportError:
        raise VadError(None, "scoring on Ray needs Ray: pip install 'vad-review[batch]'") from None
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    if config.address:
        try:
            ray.init(address=config.address, **options)
        except (ConnectionError, ValueError, RuntimeError, ray.exceptions.RayError) as error:
            hint = ""
            if config.address.startswith("ray://") and "ray[client]" in str(error):
                hint = " (ray:// needs the Ray Client: pip install 'ray[client]')"
            elif "uthentication" in str(error) or os.environ.get("RAY_AUTH_MODE") != "token":
                hint = " (is it up? Ray >= 2.59 clusters also need RAY_AUTH_MODE=token and their token)"
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise VadError(
                "ray", f"cannot join the Ray cluster at {config.address}{hint}: {first_line}"
            ) from None
        return True  # disconnect at the end (a joined cluster keeps running)
    # "local": a new Ray of our own, even when `ray start` runs a cluster on this machine
    ray.init(address="local", num_cpus=config.cpus or os.cpu_count() or 1, include_dashboard=False, **options)
    return True


@dataclass(frozen=True)
class _WorkerPlan:
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    concurrency: int  # chunks one actor scores at once
    device: str
    decoders: int  # decode_chunk tasks in flight (0: actors decode their own chunks)


def _plan_workers(
    config: BatchConfig, inference: InferenceConfig, resources: dict[str, float] | None = None
) -> _WorkerPlan:
    """How many actors, on what, and how many decoding tasks, from the cluster's resources
    (``ray.cluster_resources()`` unless given)."""
    if resources is None:
        import ray

        resources = ray.cluster_resources()
    cpus = float(resources.get("CPU", 1.0))
    gpus = float(resources.get("GPU", 0.0))
    wants_gpu = inference.device != "cpu" and gpus > 0
    gpus_per = config.gpus_per_task if config.gpus_per_task is not None else (1.0 if wants_gpu else 0.0)
    if inference.device.startswith("cuda") and (gpus <= 0 or gpus_per <= 0):
        raise VadError(
            "batch", f"--device {inference.device} asked for, but the Ray cluster has {gpus:g} GPUs"
        )
    if gpus_per > 0:
        workers = config.workers or max(1, int(gpus // gpus_per))
        decoders = config.decoders
        if decoders is None:
            decoders = min(DECODERS_PER_GPU_WORKER * workers, int(cpus - workers) // 2)
        if decoders > 0:  # the actors only run the model; the other CPUs decode for them
            cpus_per = config.cpus_per_worker or 1.0
            concurrency = config.threads or GPU_THREADS_WITH_DECODERS
        else:
            cpus_per = config.cpus_per_worker or float(max(1, min(8, int(cpus // workers))))
            concurrency = config.threads or max(1, int(cpus_per))
        device = inference.device if inference.device != "auto" else "cuda"
    else:
        decoders = config.decoders or 0
        free = max(1.0, cpus - decoders)
        if config.cpus_per_worker:
            cpus_per = config.cpus_per_worker
        elif config.workers:
            cpus_per = float(max(1, int(free // config.workers)))
        else:
            cpus_per = float(max(1, int(free // 8)))
        workers = config.workers or max(1, int(free // cpus_per))
        concurrency = 1
        device = "cpu"
    # Decoding tasks need CPUs the actors do not hold, or they would wait forever.
    decoders = max(0, min(decoders, int(cpus - workers * cpus_per)))
    return _WorkerPlan(workers, cpus_per, gpus_per, concurrency, device, decoders)


def run_batch(
    config: BatchConfig, on_progress: Callable[[BatchProgress], None] | None = None
) -> BatchSummary:
    """Score every clip under ``config.root`` into ``config.results`` (see the module docstring).

    Raises:
        VadError: bad root, checkpoint or results folder, another run writing the same results, or
            no worker could start on the cluster.
    """
    run = _Run(config, on_progress)
    run.results.mkdir(parents=True, exist_ok=True)
    with _results_lock(run.results), ResultsIndex.open(run.results) as index:
        settings = {
            "inference": asdict(run.inference),
            "scoring": asdict(config.scoring),
            "chunk_frames": config.chunk_frames,
            "fps": config.fps,
            "address": config.address,
        }
        run_id = index.start_run(str(run.root), run.checkpoint_path, run.checkpoint.sha256 or "", settings)
        status = "failed"  # an exception (no worker could start, disk full, ...) leaves this
        try:
            _remove_stale_temporaries(run.results / SCORES_DIR)
            todo = _todo(run, index, run_id)
            if todo:
                _score_on_ray(run, index, run_id, todo)
            status = "finished"
        except KeyboardInterrupt:
            run.summary.interrupted = True
            status = "interrupted"
        finally:
            run.summary.wall_s = time.perf_counter() - run.began
            summary = {k: v for k, v in asdict(run.summary).items() if k != "failures"}
            index.finish_run(run_id, status, summary)
    return run.summary


def _score_on_ray(run: _Run, index: ResultsIndex, run_id: int, todo: list[_Clip]) -> None:
    config = run.config
    started_here = _start_ray(config)
    import ray

    workers: list[_Worker] = []
    try:
        plan = _plan_workers(config, run.inference)
        inference = replace(run.inference, device=plan.device)
        actor_class = ray.remote(ScoringWorker).options(
            num_cpus=plan.cpus_per_worker,
            num_gpus=plan.gpus_per_worker,
            max_restarts=config.max_restarts,
            max_task_retries=config.max_task_retries,
            max_concurrency=plan.concurrency,
        )
        threads = max(1, int(plan.cpus_per_worker)) if plan.concurrency == 1 else 1
        count = min(plan.workers, len(todo) * 4)
        # With decoders, a chunk is in flight from its decoding on, so each actor takes more of them.
        capacity = plan.concurrency + 1 + math.ceil(plan.decoders / count)
        for _ in range(count):
            handle = actor_class.remote(run.checkpoint_path, inference, threads, config.fps)
            workers.append(_Worker(handle, capacity=capacity))
        run.summary.workers = len(workers)
        run.summary.decoders = plan.decoders
        decode = ray.remote(num_cpus=1)(decode_chunk) if plan.decoders else None
        _drive(run, index, run_id, todo, workers, decode)
    finally:
        if run.bar is not None:
            run.bar.close()
        for worker in workers:
            with contextlib.suppress(Exception):
                ray.kill(worker.handle, no_restart=True)
        if started_here:
            ray.shutdown()


def _drive(
    run: _Run, index: ResultsIndex, run_id: int, todo: list[_Clip], workers: list[_Worker], decode: Any = None
) -> None:
    """The driver loop: feed workers from a bounded queue, collect results, write and index clips.

    With ``decode`` (the remote ``decode_chunk``), each chunk is decoded by a CPU task whose result
    Ray hands to the actor's ``score_decoded`` as soon as it is ready.
    """
    import ray
    from ray.exceptions import RayActorError, RayError

    config = run.config
    clips = {c.ref.name: c for c in todo}
    probes: deque[list[str]] = deque()
    batch = max(1, min(PROBE_BATCH, math.ceil(len(todo) / (2 * len(workers)))))
    names = [c.ref.name for c in todo]
    for i in range(0, len(names), batch):
        probes.append(names[i : i + batch])
    chunks: deque[tuple[str, int]] = deque()
    inflight: dict[Any, tuple[str, Any, _Worker]] = {}  # ref -> (kind, payload, worker)
    pings = {w.handle.ready.remote(): w for w in workers}
    writes: dict[Future, _Clip] = {}
    writers = config.writers or max(2, min(8, (os.cpu_count() or 1) // 4))  # zlib releases the GIL
    writer = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="vad-batch-writer")
    max_writes = 2 * writers  # clips stitched or being written; past this, no chunk is sent
    held_since: float | None = None  # when chunks began waiting for writes, with workers free
    unfinished = set(clips)
    size, channels = run.checkpoint.preprocess.size, run.checkpoint.preprocess.channels
    ready_deadline = time.monotonic() + READY_TIMEOUT_S
    if config.progress:
        print(f"{len(todo)} clips to score; starting {len(workers)} workers ...", file=sys.stderr)

    def fail(clip: _Clip, message: str, kind: str) -> None:
        if clip.failed:
            return
        clip.failed = True
        clip.parts = []
        index.put(run.failed_row(clip, run_id, message, kind))
        unfinished.discard(clip.ref.name)
        run.summary.failed += 1
        run.summary.failures.append((clip.ref.name, message))

    def dispatch() -> None:
        for worker in workers:
            while worker.has_room:
                if probes:
                    group = probes.popleft()
                    payload = [(n, str(clips[n].ref.path), clips[n].ref.kind) for n in group]
                    ref = worker.handle.probe.remote(payload)
                    inflight[ref] = ("probe", group, worker)
                elif chunks and len(writes) <= max_writes:  # bounded: results wait in memory
                    name, position = chunks.popleft()
                    clip = clips[name]
                    if clip.failed:
                        continue
                    clip.started_at = clip.started_at or time.time()
                    task = _ChunkTask(name, str(clip.ref.path), clip.ref.kind, clip.chunks[position])
                    if decode is None:
                        ref = worker.handle.score.remote(task)
                    else:
                        chunk = task.chunk
                        frames = decode.remote(
                            task.path,
                            task.kind,
                            chunk.read_start,
                            chunk.read_stop,
                            size,
                            channels,
                            config.fps,
                        )
                        ref = worker.handle.score_decoded.remote(task, frames)
                    inflight[ref] = ("chunk", task, worker)
                else:
                    return
                worker.inflight += 1

    def on_probe(results: list[_ProbeResult]) -> None:
        for result in results:
            clip = clips[result.clip]
            if result.error is not None:
                clip.started_at = time.time()
                fail(clip, result.error, result.error_kind or "error")
                continue
            clip.frames, clip.fps = result.frames, result.fps
            clip.width, clip.height = result.width, result.height
            clip.chunks = chunk_plan(result.frames, run.spec, run.inference, config.chunk_frames)
            chunks.extend((clip.ref.name, i) for i in range(len(clip.chunks)))
            run.frames_total += result.frames

    def on_chunk(outcome: _ChunkOutcome) -> None:
        clip = clips[outcome.clip]
        clip.compute_s += outcome.seconds
        if clip.failed:
            return
        if outcome.scores is None:
            fail(clip, outcome.error or "unknown error", outcome.error_kind or "error")
            return
        clip.parts.append(outcome.scores)
        run.frames_done += outcome.scores.chunk.frames
        if len(clip.parts) == len(clip.chunks):
            writes[writer.submit(run.write_clip, clip, run_id)] = clip

    def note_held_back() -> None:
        nonlocal held_since
        held = bool(chunks) and len(writes) > max_writes and any(w.has_room for w in workers)
        now = time.perf_counter()
        if held and held_since is None:
            held_since = now
        elif not held and held_since is not None:
            run.summary.held_back_s += now - held_since
            held_since = None

    try:
        while unfinished or writes:
            dispatch()
            note_held_back()
            waiting = list(inflight) + list(pings)
            if waiting:
                done_refs, _ = ray.wait(waiting, num_returns=1, timeout=0.2)
            else:
                done_refs = []
                if not writes and unfinished and not any(w.alive for w in workers):
                    raise VadError("batch", "every worker died; re-run to score the remaining clips")
                time.sleep(0.05)
            for ref in done_refs:
                if ref in pings:
                    worker = pings.pop(ref)
                    try:
                        worker.info = ray.get(ref)
                        worker.ready = True
                        if run.bar is None and not run.summary.startup_s:
                            run.start_progress()
                        run.summary.device = worker.info.get("device", "")
                        run.summary.nodes = len({w.info.get("node") for w in workers if w.ready})
                    except RayError as error:
                        worker.alive = False
                        print(f"a worker could not start: {error}", file=sys.stderr)
                    continue
                kind, payload, worker = inflight.pop(ref)
                worker.inflight -= 1
                try:
                    value = ray.get(ref)
                except RayActorError as error:  # died max_task_retries + 1 times
                    value = None
                    message = f"worker died while {'probing' if kind == 'probe' else 'scoring'} ({type(error).__name__})"
                    names = payload if kind == "probe" else [payload.clip]
                    for name in names:
                        fail(clips[name], message, "worker")
                    worker.ready = False
                    pings[worker.handle.ready.remote()] = worker  # usable again once restarted
                except RayError as error:  # e.g. a decoding task lost with its node, after Ray's retries
                    value = None
                    names = payload if kind == "probe" else [payload.clip]
                    for name in names:
                        fail(clips[name], f"lost on the cluster ({type(error).__name__})", "worker")
                if value is not None:
                    (on_probe if kind == "probe" else on_chunk)(value)
            for future in [f for f in writes if f.done()]:
                clip = writes.pop(future)
                try:
                    row = future.result()
                except Exception as error:
                    clip.started_at = clip.started_at or time.time()
                    fail(clip, f"cannot write scores: {error}", "error")
                    continue
                index.put(row)
                unfinished.discard(clip.ref.name)
                run.summary.writing_s += clip.write_s
                run.summary.done += 1
                run.summary.frames += clip.frames
            if not any(w.ready for w in workers) and pings and time.monotonic() > ready_deadline:
                raise VadError(
                    "batch",
                    f"no worker started within {READY_TIMEOUT_S:.0f} s; the cluster may lack the CPUs / GPUs "
                    "each worker asks for (see --cpus-per-worker, --gpus-per-task)",
                )
            run.report()
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
        if held_since is not None:
            run.summary.held_back_s += time.perf_counter() - held_since
        if run.summary.startup_s:
            run.summary.scoring_s = time.perf_counter() - run.began - run.summary.startup_s


__all__ = [
    "BatchConfig",
    "BatchProgress",
    "BatchSummary",
    "ScoringWorker",
    "default_inference",
    "run_batch",
    "settings_hash",
]
