"""Scoring a whole footage archive on Ray: workers hold the model, the driver stitches, writes and indexes.

``run_batch`` finds every clip under a root (``discover``), skips those already scored with the
same content, checkpoint and settings (``resume``), and scores the rest on a Ray cluster: a local
one started for the run (``ray.init(num_cpus=N)``), or an existing one (``address="auto"``,
``"ray://host:10001"``). Ray is imported only in ``ray_cluster``, inside functions, so the rest of
the engine does not need it.

How the work flows::

    driver: discover + content hashes -> skip check -> probe tasks -> chunk plan per clip
        -> chunk tasks (a bounded queue per worker) -> stitch -> write_scores (writer threads)
        -> one index transaction per clip
    worker (Ray actor, one per GPU, or per ``cpus_per_worker`` CPUs): loads the checkpoint once from
        its path, opens clips, scores chunks (``chunking.score_chunk``) and returns errors and maps
    decoders (Ray tasks, one CPU each; by default only for GPU actors): read and resize a chunk's
        frames (``decode_chunk``); Ray hands them to the worker's ``score_decoded``, so a GPU actor
        only runs the model while other CPUs decode

The pieces: ``config`` (``BatchConfig``), ``planning`` (how many actors, on what: ``plan_workers``),
``worker`` (the actor, ``ScoringWorker``, and ``decode_chunk``), ``ray_cluster`` (every Ray call),
``scheduler`` (the driver loop's rules, tested without Ray), ``writing`` (scores files and index
rows), ``resume`` (the skip rule, the results lock), ``progress`` and ``summary``.

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

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from vad_core.batch.chunking import Chunk, chunk_plan
from vad_core.batch.config import BatchConfig, default_inference, settings_hash
from vad_core.batch.discover import discover_clips
from vad_core.batch.index import SCORES_DIR, ClipRow, ResultsIndex
from vad_core.batch.planning import plan_workers, writer_threads
from vad_core.batch.progress import RunProgress
from vad_core.batch.ray_cluster import RayCluster, cluster_resources, start_ray, stop_ray
from vad_core.batch.resume import hash_all, is_up_to_date, remove_stale_temporaries, results_lock
from vad_core.batch.scheduler import Scheduler
from vad_core.batch.summary import BatchProgress, BatchSummary
from vad_core.batch.work import ClipJob
from vad_core.batch.worker import ScoringWorker, decode_chunk
from vad_core.batch.writing import ClipWriter
from vad_core.errors import SourceError


class _Run:
    """One invocation of ``run_batch``: its config, checkpoint, settings, summary and progress."""

    def __init__(self, config: BatchConfig, on_progress: Callable[[BatchProgress], None] | None) -> None:
        from vad_core.checkpoint import load_checkpoint

        self.config = config
        self.root = Path(config.root).expanduser().resolve()
        self.results = Path(config.results).expanduser().resolve()
        self.checkpoint = load_checkpoint(config.checkpoint, device="cpu")
        self.checkpoint_path = str(self.checkpoint.path)
        self.inference = config.inference or default_inference(self.checkpoint.scoring)
        self.settings = settings_hash(self.inference, config.scoring, config.fps)
        self.summary = BatchSummary(results=str(self.results))
        self.began = time.perf_counter()
        self.progress = RunProgress(self.summary, config.progress, on_progress, self.began)


class _Outputs:
    """The scheduler's ``RunOutputs`` for ``run_batch``: the index, the clip writer, the progress bar."""

    def __init__(self, run: _Run, index: ResultsIndex, rows: ClipWriter) -> None:
        self.run = run
        self.index = index
        self.rows = rows

    def chunks_of(self, frames: int) -> list[Chunk]:
        run = self.run
        return chunk_plan(frames, run.checkpoint.model.spec, run.inference, run.config.chunk_frames)

    def record_failure(self, clip: ClipJob, message: str, kind: str) -> None:
        self.index.put(self.rows.failed_row(clip, message, kind))

    def write_clip(self, clip: ClipJob) -> ClipRow:
        return self.rows.write_clip(clip)

    def record_done(self, row: ClipRow) -> None:
        self.index.put(row)

    def scoring_started(self, frames_total: int) -> None:
        self.run.progress.start(frames_total)

    def report(self, frames_total: int, frames_done: int) -> None:
        self.run.progress.report(frames_total, frames_done)


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
    with results_lock(run.results), ResultsIndex.open(run.results) as index:
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
            remove_stale_temporaries(run.results / SCORES_DIR)
            rows = ClipWriter(run.checkpoint, run.inference, config, run.results, run.settings, run_id)
            outputs = _Outputs(run, index, rows)
            todo = _todo(run, outputs)
            if todo:
                _score_on_ray(run, outputs, todo)
            status = "finished"
        except KeyboardInterrupt:
            run.summary.interrupted = True
            status = "interrupted"
        finally:
            run.summary.wall_s = time.perf_counter() - run.began
            summary = {k: v for k, v in asdict(run.summary).items() if k != "failures"}
            index.finish_run(run_id, status, summary)
    return run.summary


def _todo(run: _Run, outputs: _Outputs) -> list[ClipJob]:
    """Discover, hash and skip: the clips this run must score (hash failures are recorded at once)."""
    config, summary = run.config, run.summary
    refs = discover_clips(run.root, config.min_images, config.exclude, skip=[run.results])
    summary.clips = len(refs)
    hashes = hash_all(refs, config.full_hash)
    previous = outputs.index.all_rows()
    sha256 = run.checkpoint.sha256 or ""
    todo = []
    for ref in refs:
        digest = hashes[ref.name]
        if isinstance(digest, SourceError):
            outputs.record_failure(ClipJob(ref, ""), str(digest), "source")
            summary.failed += 1
            summary.failures.append((ref.name, str(digest)))
        elif is_up_to_date(
            previous.get(ref.name), digest, sha256, run.settings, run.results, config.retry_failed
        ):
            summary.skipped += 1
        else:
            todo.append(ClipJob(ref, digest))
    return todo


def _score_on_ray(run: _Run, outputs: _Outputs, todo: list[ClipJob]) -> None:
    """Plan and start the workers, run the scheduler over ``todo``, then stop the workers (and Ray)."""
    config, summary = run.config, run.summary
    started_here = start_ray(config)
    cluster: RayCluster | None = None
    try:
        plan = plan_workers(config, run.inference, cluster_resources())
        preprocess = run.checkpoint.preprocess
        inference = replace(run.inference, device=plan.device)
        cluster = RayCluster(
            plan, config, run.checkpoint_path, inference, preprocess.size, preprocess.channels
        )
        count = plan.actors_for(len(todo))
        cluster.start_workers(count)
        summary.workers = count
        summary.decoders = plan.decoders
        scheduler = Scheduler(
            todo,
            cluster,
            outputs,
            summary,
            workers=count,
            capacity=plan.queue_capacity(count),
            writers=writer_threads(config.writers),
            announce=config.progress,
        )
        scheduler.run()
    finally:
        if summary.startup_s:
            summary.scoring_s = time.perf_counter() - run.began - summary.startup_s
        run.progress.close()
        if cluster is not None:
            cluster.kill()
        if started_here:
            stop_ray()


__all__ = [
    "BatchConfig",
    "BatchProgress",
    "BatchSummary",
    "ScoringWorker",
    "decode_chunk",
    "default_inference",
    "run_batch",
    "settings_hash",
]
