"""The driver's scheduling: which worker gets which probe or chunk, when, and what each result does.

``Scheduler`` drives a ``Cluster`` (Ray's, or a test's fake: nothing here imports Ray) through one
loop of ``step``\\ s. Each step sends work (``dispatch``), measures back-pressure, takes at most one
finished call from the cluster and hands it to the event it is (``worker_ready``, ``probes_arrived``,
``chunk_finished``, ``chunk_failed``, ``worker_died``, ...), collects finished writes and checks the
start-up deadline. Its rules:

* Workers start ``STARTING`` and are pinged; one that answers is ``READY``; one whose ping fails is
  ``DEAD`` for good. A worker takes calls while ``READY`` and under its queue ``capacity``.
* Work goes to workers in order, each filled up before the next: probe groups first (clips in
  discovery order, ``probe_groups``), then chunks in the order their clips' probes came back, each
  clip's in order. Chunks of a failed clip are dropped without a call.
* Back-pressure: a chunk is sent only while at most ``2 * writers`` finished clips are waiting to
  be written; probes are never held back. The time chunks wait so, with a worker free, is the
  summary's ``held_back_s``.
* A clip fails once (its first reason is kept, later results for it are ignored), with a kind:
  ``"source"`` / ``"error"`` as the worker reported it (``"error"`` when it gave none), ``"worker"``
  when its call was lost: the worker died (after Ray's restarts and retries; the worker is pinged
  and takes calls again once back) or the call was lost on the cluster (the worker keeps going).
  A scores file that cannot be written fails its clip with ``"error"``.
* A clip is done when its row is indexed, after its writer thread finished; finished writes are
  indexed in the order they were submitted.
* With no worker ``READY`` and pings unanswered past ``READY_TIMEOUT_S`` after the start, or every
  worker ``DEAD`` with clips left and nothing in flight, the run stops with a ``VadError``.

Example::

    scheduler = Scheduler(clips, cluster, outputs, summary, workers=2, capacity=4, writers=2)
    scheduler.run()  # returns when every clip is done or failed
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from vad_core.batch.chunking import Chunk, ChunkScores
from vad_core.batch.cluster import Cluster, Finished, Lost
from vad_core.batch.index import ClipRow
from vad_core.batch.summary import BatchSummary
from vad_core.batch.work import ChunkOutcome, ChunkTask, ClipJob, ClipState, ProbeResult
from vad_core.errors import VadError

PROBE_BATCH = 8  # clips probed per task: small enough to spread over workers, large enough to amortise
READY_TIMEOUT_S = 300.0  # our choice: a worker that cannot start in 5 minutes will not start
WAIT_S = 0.2  # longest wait for a call to finish before writes and the deadline are looked at again


class WorkerState(Enum):
    """Where a worker is, as far as the driver knows."""

    STARTING = "starting"  # created; its first ping unanswered
    READY = "ready"  # answered a ping: takes calls
    RESTARTING = "restarting"  # died in a call; the cluster restarts it and a ping asks when it is back
    DEAD = "dead"  # a ping failed: never sent anything again


@dataclass
class WorkerSlot:
    """The driver's view of one worker: its state and the calls it holds."""

    index: int
    capacity: int  # calls it may hold at once (``WorkerPlan.queue_capacity``)
    state: WorkerState = WorkerState.STARTING
    inflight: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # its last ``ScoringWorker.ready()``

    @property
    def has_room(self) -> bool:
        """Ready and with fewer calls in flight than its queue holds: it can take another."""
        return self.state is WorkerState.READY and self.inflight < self.capacity


class CallKind(Enum):
    PING = "ping"
    PROBE = "probe"
    CHUNK = "chunk"


@dataclass(frozen=True)
class Call:
    """A call in flight: what it is, on which worker, for which clips."""

    kind: CallKind
    worker: WorkerSlot
    clips: tuple[str, ...] = ()


class RunOutputs(Protocol):
    """Where the scheduler's results go: the run's index, scores files and progress bar."""

    def chunks_of(self, frames: int) -> list[Chunk]:
        """The chunk plan of a clip of ``frames`` frames."""

    def record_failure(self, clip: ClipJob, message: str, kind: str) -> None:
        """Index ``clip`` as failed."""

    def write_clip(self, clip: ClipJob) -> ClipRow:
        """Stitch and write a fully scored clip's scores; its done row. Runs on a writer thread."""

    def record_done(self, row: ClipRow) -> None:
        """Index a done row."""

    def scoring_started(self, frames_total: int) -> None:
        """The first worker is up: the progress clock starts."""

    def report(self, frames_total: int, frames_done: int) -> None:
        """Progress, after every step."""


def probe_groups(names: list[str], workers: int) -> list[list[str]]:
    """``names`` cut into consecutive probe calls: ``PROBE_BATCH`` clips each, fewer when there are
    not enough clips to give every worker two calls."""
    batch = max(1, min(PROBE_BATCH, math.ceil(len(names) / (2 * workers))))
    return [names[i : i + batch] for i in range(0, len(names), batch)]


class Scheduler:
    """Feeds ``workers`` workers of a ``cluster`` with the probes and chunks of ``clips`` (see the module)."""

    def __init__(
        self,
        clips: list[ClipJob],
        cluster: Cluster,
        outputs: RunOutputs,
        summary: BatchSummary,
        *,
        workers: int,
        capacity: int,
        writers: int,
        writer: Executor | None = None,
        announce: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clips = {clip.name: clip for clip in clips}
        self.cluster = cluster
        self.outputs = outputs
        self.summary = summary
        self.workers = [WorkerSlot(i, capacity) for i in range(workers)]
        self.probes: deque[list[str]] = deque(probe_groups([clip.name for clip in clips], workers))
        self.chunks: deque[tuple[str, int]] = deque()  # (clip, chunk position), in sending order
        self.calls: dict[int, Call] = {}
        self.pings = 0  # pings unanswered
        self.writes: dict[Future[ClipRow], ClipJob] = {}  # in submission order
        self.max_writes = 2 * writers  # clips stitched or being written; past this, no chunk is sent
        self.writer = writer or ThreadPoolExecutor(max_workers=writers, thread_name_prefix="vad-batch-writer")
        self.unfinished = set(self.clips)
        self.frames_total = 0  # frames of the clips probed so far
        self.frames_done = 0
        self.held_since: float | None = None  # when chunks began waiting for writes, with workers free
        self.ready_deadline = math.inf
        self.scoring = False  # a worker has been up
        self._announce = announce
        self._clock = clock

    # ------------------------------------------------------------------ loop
    @property
    def finished(self) -> bool:
        return not self.unfinished and not self.writes

    def run(self) -> None:
        """Start, step until every clip is done or failed, and wait for the writer threads."""
        self.start()
        try:
            while not self.finished:
                self.step()
        finally:
            self.close()

    def start(self) -> None:
        """Ping every worker; the start-up deadline runs from here."""
        for worker in self.workers:
            self._ping(worker)
        self.ready_deadline = self._clock() + READY_TIMEOUT_S
        if self._announce:
            print(
                f"{len(self.clips)} clips to score; starting {len(self.workers)} workers ...", file=sys.stderr
            )

    def step(self, timeout: float = WAIT_S) -> None:
        """Send work, take what finished, index finished writes, check the deadline, report."""
        self.dispatch()
        self.note_held_back()
        if not self.calls and not self.writes and self.unfinished:
            self.check_workers_left()
        for finished in self.cluster.wait(timeout):
            self.call_finished(finished)
        self.collect_writes()
        self.check_start_up_deadline()
        self.outputs.report(self.frames_total, self.frames_done)

    def close(self) -> None:
        """Wait for writes under way (the rest are cancelled); close the held-back measure."""
        self.writer.shutdown(wait=True, cancel_futures=True)
        if self.held_since is not None:
            self.summary.held_back_s += self._clock() - self.held_since
            self.held_since = None

    # ------------------------------------------------------------------ sending
    def dispatch(self) -> None:
        """Fill every worker with room, in order: probes first, then chunks while writes keep up."""
        for worker in self.workers:
            while worker.has_room:
                if self.probes:
                    self._send_probe(worker, self.probes.popleft())
                elif self.chunks and len(self.writes) <= self.max_writes:  # bounded: results wait in memory
                    name, position = self.chunks.popleft()
                    clip = self.clips[name]
                    if not clip.failed:
                        self._send_chunk(worker, clip, position)
                else:
                    return

    def note_held_back(self) -> None:
        """Time chunks wait for writes while a worker could take them (``summary.held_back_s``)."""
        held = (
            bool(self.chunks) and len(self.writes) > self.max_writes and any(w.has_room for w in self.workers)
        )
        now = self._clock()
        if held and self.held_since is None:
            self.held_since = now
        elif not held and self.held_since is not None:
            self.summary.held_back_s += now - self.held_since
            self.held_since = None

    def _ping(self, worker: WorkerSlot) -> None:
        self.calls[self.cluster.ping(worker.index)] = Call(CallKind.PING, worker)
        self.pings += 1

    def _send_probe(self, worker: WorkerSlot, group: list[str]) -> None:
        clips = [self.clips[name] for name in group]
        call = self.cluster.submit_probe(worker.index, [(c.name, str(c.ref.path), c.ref.kind) for c in clips])
        for clip in clips:
            clip.state = ClipState.PROBING
        self.calls[call] = Call(CallKind.PROBE, worker, tuple(group))
        worker.inflight += 1

    def _send_chunk(self, worker: WorkerSlot, clip: ClipJob, position: int) -> None:
        clip.started_at = clip.started_at or time.time()
        task = ChunkTask(clip.name, str(clip.ref.path), clip.ref.kind, clip.chunks[position])
        self.calls[self.cluster.submit_chunk(worker.index, task)] = Call(CallKind.CHUNK, worker, (clip.name,))
        worker.inflight += 1

    # ------------------------------------------------------------------ events
    def call_finished(self, finished: Finished) -> None:
        """Hand a finished call to the event it is."""
        call = self.calls.pop(finished.call)
        worker, lost = call.worker, finished.lost
        if call.kind is CallKind.PING:
            self.pings -= 1
            if lost is None:
                self.worker_ready(worker, finished.value)
            else:
                self.worker_could_not_start(worker, lost)
            return
        worker.inflight -= 1
        if lost is not None and lost.worker_died:
            self.worker_died(call, lost)
        elif lost is not None:
            self.call_lost(call, lost)
        elif call.kind is CallKind.PROBE:
            self.probes_arrived(finished.value)
        else:
            self.chunk_returned(finished.value)

    def worker_ready(self, worker: WorkerSlot, info: dict[str, Any]) -> None:
        """A ping was answered: the worker takes calls; the first one up starts the progress clock."""
        worker.info = info
        if worker.state is not WorkerState.DEAD:
            worker.state = WorkerState.READY
        if not self.scoring:
            self.scoring = True
            self.outputs.scoring_started(self.frames_total)
        self.summary.device = info.get("device", "")
        self.summary.nodes = len({w.info.get("node") for w in self.workers if w.state is WorkerState.READY})

    def worker_could_not_start(self, worker: WorkerSlot, lost: Lost) -> None:
        """A ping failed: the worker is written off."""
        worker.state = WorkerState.DEAD
        print(f"a worker could not start: {lost.message}", file=sys.stderr)

    def worker_died(self, call: Call, lost: Lost) -> None:
        """The worker died with the call (Ray's restarts and retries spent on it): its clips fail;
        the worker is pinged, to take calls again once Ray has restarted it."""
        message = (
            f"worker died while {'probing' if call.kind is CallKind.PROBE else 'scoring'} ({lost.error})"
        )
        for name in call.clips:
            self._fail(self.clips[name], message, "worker")
        if call.worker.state is not WorkerState.DEAD:
            call.worker.state = WorkerState.RESTARTING
        self._ping(call.worker)

    def call_lost(self, call: Call, lost: Lost) -> None:
        """The call was lost on the cluster, its worker alive (e.g. a decoding task lost with its node)."""
        for name in call.clips:
            self._fail(self.clips[name], f"lost on the cluster ({lost.error})", "worker")

    def probes_arrived(self, results: list[ProbeResult]) -> None:
        """Probed clips get their chunk plan and their chunks queue up; unreadable ones fail."""
        for result in results:
            clip = self.clips[result.clip]
            if result.error is not None:
                clip.started_at = time.time()
                self._fail(clip, result.error, result.error_kind or "error")
                continue
            clip.frames, clip.fps = result.frames, result.fps
            clip.width, clip.height = result.width, result.height
            clip.chunks = self.outputs.chunks_of(result.frames)
            clip.state = ClipState.SCORING
            self.chunks.extend((clip.name, i) for i in range(len(clip.chunks)))
            self.frames_total += result.frames

    def chunk_returned(self, outcome: ChunkOutcome) -> None:
        """A chunk call came back: its time counts for its clip even when the clip has failed."""
        clip = self.clips[outcome.clip]
        clip.compute_s += outcome.seconds
        if clip.failed:
            return
        if outcome.scores is None:
            self.chunk_failed(clip, outcome)
        else:
            self.chunk_finished(clip, outcome.scores)

    def chunk_failed(self, clip: ClipJob, outcome: ChunkOutcome) -> None:
        """The worker could not score the chunk: the clip fails with the reason and kind it gave."""
        self._fail(clip, outcome.error or "unknown error", outcome.error_kind or "error")

    def chunk_finished(self, clip: ClipJob, scores: ChunkScores) -> None:
        """A scored chunk; the clip's last one sends the clip to a writer thread."""
        clip.parts.append(scores)
        self.frames_done += scores.chunk.frames
        if len(clip.parts) == len(clip.chunks):
            clip.state = ClipState.WRITING
            self.writes[self.writer.submit(self.outputs.write_clip, clip)] = clip

    def collect_writes(self) -> None:
        """Index the writes that finished, in the order they were submitted."""
        for future in [f for f in self.writes if f.done()]:
            clip = self.writes.pop(future)
            try:
                row = future.result()
            except Exception as error:  # e.g. disk full: record, go on
                self.write_failed(clip, error)
                continue
            self.write_finished(clip, row)

    def write_finished(self, clip: ClipJob, row: ClipRow) -> None:
        """The clip's scores file is in place: its done row goes into the index."""
        self.outputs.record_done(row)
        clip.state = ClipState.DONE
        self.unfinished.discard(clip.name)
        self.summary.writing_s += clip.write_s
        self.summary.done += 1
        self.summary.frames += clip.frames

    def write_failed(self, clip: ClipJob, error: Exception) -> None:
        clip.started_at = clip.started_at or time.time()
        self._fail(clip, f"cannot write scores: {error}", "error")

    def check_workers_left(self) -> None:
        """Nothing in flight, nothing being written, clips left: some worker must still be alive."""
        if all(w.state is WorkerState.DEAD for w in self.workers):
            raise VadError("batch", "every worker died; re-run to score the remaining clips")

    def check_start_up_deadline(self) -> None:
        """Past the deadline with pings unanswered and no worker ready, the run stops."""
        ready = any(w.state is WorkerState.READY for w in self.workers)
        if self.pings and not ready and self._clock() > self.ready_deadline:
            self.start_up_deadline_passed()

    def start_up_deadline_passed(self) -> None:
        """No worker is up ``READY_TIMEOUT_S`` after the start, and pings are unanswered."""
        raise VadError(
            "batch",
            f"no worker started within {READY_TIMEOUT_S:.0f} s; the cluster may lack the CPUs / GPUs "
            "each worker asks for (see --cpus-per-worker, --gpus-per-task)",
        )

    def _fail(self, clip: ClipJob, message: str, kind: str) -> None:
        """Index the clip as failed, once: a clip keeps the first reason it failed for."""
        if clip.failed:
            return
        clip.state = ClipState.FAILED
        clip.parts = []
        self.outputs.record_failure(clip, message, kind)
        self.unfinished.discard(clip.name)
        self.summary.failed += 1
        self.summary.failures.append((clip.name, message))
