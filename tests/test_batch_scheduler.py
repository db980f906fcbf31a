"""The batch driver's scheduling rules, on a fake cluster and a hand-driven writer: no Ray, no model.

Each test names one rule of ``vad_core.batch.scheduler`` (its module docstring lists them). The
tests hand results to the scheduler's event methods (``call_finished``) and call ``dispatch`` /
``step`` themselves, so that the order of events is the test's, not a cluster's.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vad_core.batch.chunking import Chunk, ChunkScores
from vad_core.batch.cluster import Finished, Lost
from vad_core.batch.discover import ClipRef
from vad_core.batch.scheduler import READY_TIMEOUT_S, Scheduler, WorkerState, probe_groups
from vad_core.batch.summary import BatchSummary
from vad_core.batch.work import ChunkOutcome, ChunkTask, ClipJob, ClipState, ProbeResult
from vad_core.errors import VadError

CHUNK = 10  # frames per chunk of the fake plan


# ------------------------------------------------------------------------------------------ fakes
class FakeCluster:
    """Records every call; answers none by itself (``wait`` returns what a test queued)."""

    def __init__(self) -> None:
        self.started = 0
        self.pending: dict[int, tuple[str, int, Any]] = {}  # call -> (kind, worker, payload)
        self.log: list[tuple[str, int, Any]] = []
        self.queued: deque[Finished] = deque()
        self._ids = itertools.count()

    def start_workers(self, count: int) -> None:
        self.started += count

    def ping(self, worker: int) -> int:
        return self._send("ping", worker, None)

    def submit_probe(self, worker: int, clips: list[tuple[str, str, str]]) -> int:
        return self._send("probe", worker, clips)

    def submit_chunk(self, worker: int, task: ChunkTask) -> int:
        return self._send("chunk", worker, task)

    def wait(self, timeout: float) -> list[Finished]:
        return [self.queued.popleft()] if self.queued else []

    def kill(self) -> None:
        pass

    def _send(self, kind: str, worker: int, payload: Any) -> int:
        call = next(self._ids)
        self.pending[call] = (kind, worker, payload)
        self.log.append((kind, worker, payload))
        return call

    def sent(self, kind: str) -> list[tuple[int, Any]]:
        """``(worker, what)`` of every call of ``kind`` so far: clip names of probes, (clip, chunk) of chunks."""
        calls = [(w, p) for k, w, p in self.log if k == kind]
        if kind == "probe":
            return [(w, [name for name, _, _ in p]) for w, p in calls]
        if kind == "chunk":
            return [(w, (p.clip, p.chunk.index)) for w, p in calls]
        return calls

    def calls(self, kind: str, worker: int | None = None) -> list[int]:
        return [c for c, (k, w, _) in self.pending.items() if k == kind and worker in (None, w)]


@dataclass
class FakeOutputs:
    """The run's side: a fixed chunk plan, and lists of what was indexed and reported."""

    failures: list[tuple[str, str, str]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    reports: list[tuple[int, int]] = field(default_factory=list)

    def chunks_of(self, frames: int) -> list[Chunk]:
        starts = range(0, frames, CHUNK)
        return [Chunk(i, s, min(s + CHUNK, frames), s, min(s + CHUNK, frames)) for i, s in enumerate(starts)]

    def record_failure(self, clip: ClipJob, message: str, kind: str) -> None:
        self.failures.append((clip.name, message, kind))

    def write_clip(self, clip: ClipJob) -> str:
        clip.write_s = 0.25
        return f"row {clip.name}"

    def record_done(self, row: str) -> None:
        self.done.append(row)

    def scoring_started(self, frames_total: int) -> None:
        self.started.append(frames_total)

    def report(self, frames_total: int, frames_done: int) -> None:
        self.reports.append((frames_total, frames_done))


class HandWriter(Executor):
    """Writer threads whose writes finish when a test says so."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[Future, Any, tuple]] = {}
        self.shut_down = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self.jobs[args[0].name] = (future, fn, args)
        return future

    def finish(self, clip: str) -> None:
        future, fn, args = self.jobs[clip]
        future.set_result(fn(*args))

    def fail(self, clip: str, error: Exception) -> None:
        self.jobs[clip][0].set_exception(error)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut_down = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Bench:
    """A started scheduler over ``clips`` clips ``c0, c1, ...`` and its fakes."""

    def __init__(self, clips: int = 3, workers: int = 1, capacity: int = 2, writers: int = 1) -> None:
        self.cluster, self.outputs, self.writer = FakeCluster(), FakeOutputs(), HandWriter()
        self.clock, self.summary = Clock(), BatchSummary()
        jobs = [
            ClipJob(ClipRef(f"c{i}", Path(f"/archive/c{i}.avi"), "video"), f"hash{i}") for i in range(clips)
        ]
        self.clips = {job.name: job for job in jobs}
        self.scheduler = Scheduler(
            jobs,
            self.cluster,
            self.outputs,
            self.summary,
            workers=workers,
            capacity=capacity,
            writers=writers,
            writer=self.writer,
            clock=self.clock,
        )
        self.scheduler.start()

    def deliver(self, call: int, value: Any = None, lost: Lost | None = None) -> None:
        del self.cluster.pending[call]
        self.scheduler.call_finished(Finished(call, value, lost))

    def ready(self, *workers: int) -> None:
        for worker in workers:
            for call in self.cluster.calls("ping", worker):
                self.deliver(call, {"device": "CPU (1 threads)", "node": f"node{worker}"})

    def probe(self, frames: dict[str, int], worker: int | None = None) -> None:
        """Answer the pending probe call holding these clips (frames < 0: unreadable)."""
        (call,) = [
            c
            for c in self.cluster.calls("probe", worker)
            if {n for n, _, _ in self._payload(c)} == set(frames)
        ]
        results = [
            ProbeResult(name, n, 10.0, 64, 48)
            if n >= 0
            else ProbeResult(name, error=f"{name}: cannot open video", error_kind="source")
            for name, n in frames.items()
        ]
        self.deliver(call, results)

    def score(
        self,
        clip: str,
        chunk: int,
        error: str | None = None,
        kind: str | None = None,
        seconds: float = 0.5,
        fail: bool = False,
    ) -> None:
        """Answer the pending chunk call of ``clip``'s chunk ``chunk``: scores, or (``fail``, or an
        ``error`` or ``kind`` given) the outcome of a chunk the worker could not score."""
        (call,) = [
            c
            for c in self.cluster.calls("chunk")
            if (self._payload(c).clip, self._payload(c).chunk.index) == (clip, chunk)
        ]
        task = self._payload(call)
        if not (fail or error or kind):
            scores = ChunkScores(task.chunk, np.zeros(task.chunk.frames, np.float32), None)
            self.deliver(call, ChunkOutcome(clip, scores, seconds))
        else:
            self.deliver(call, ChunkOutcome(clip, None, seconds, error, kind))

    def lose(self, kind: str, worker: int, died: bool, error: str = "ActorDiedError") -> None:
        (call, *_) = self.cluster.calls(kind, worker)
        self.deliver(call, lost=Lost(error, f"{error}: gone", worker_died=died))

    def probe_all(self, frames: int = CHUNK) -> None:
        """Every pending probe answered: each clip ``frames`` frames."""
        for call in self.cluster.calls("probe"):
            self.probe({name: frames for name, _, _ in self._payload(call)})

    def _payload(self, call: int) -> Any:
        return self.cluster.pending[call][2]


# ------------------------------------------------------------------------------------------ dispatch
def test_workers_are_pinged_at_the_start_and_take_calls_only_once_they_answer() -> None:
    bench = Bench(clips=4, workers=2)
    assert [(kind, worker) for kind, worker, _ in bench.cluster.log] == [("ping", 0), ("ping", 1)]
    bench.scheduler.dispatch()
    assert bench.cluster.sent("probe") == []
    bench.ready(1)
    bench.scheduler.dispatch()
    assert [worker for worker, _ in bench.cluster.sent("probe")] == [1, 1]
    assert bench.scheduler.workers[0].state is WorkerState.STARTING
    assert bench.scheduler.workers[1].state is WorkerState.READY


def test_a_run_that_announces_itself_names_its_clips_and_workers(capsys) -> None:
    scheduler = Scheduler(
        [],
        FakeCluster(),
        FakeOutputs(),
        BatchSummary(),
        workers=3,
        capacity=1,
        writers=1,
        writer=HandWriter(),
        announce=True,
    )
    scheduler.start()
    assert "0 clips to score; starting 3 workers ..." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("clips", "workers", "size"),
    [(3, 2, 1), (10, 2, 3), (100, 2, 8), (1000, 1, 8), (1, 4, 1)],
)
def test_probe_groups_give_every_worker_two_calls_and_hold_at_most_eight_clips(clips, workers, size) -> None:
    names = [f"c{i}" for i in range(clips)]
    groups = probe_groups(names, workers)
    assert {len(g) for g in groups[:-1]} <= {size} and 0 < len(groups[-1]) <= size
    assert [name for group in groups for name in group] == names  # consecutive, in discovery order


def test_each_worker_is_filled_to_its_capacity_before_the_next_gets_a_call() -> None:
    bench = Bench(clips=10, workers=2, capacity=3)
    bench.ready(0, 1)
    bench.scheduler.dispatch()
    assert bench.cluster.sent("probe") == [
        (0, ["c0", "c1", "c2"]),
        (0, ["c3", "c4", "c5"]),
        (0, ["c6", "c7", "c8"]),
        (1, ["c9"]),
    ]
    assert [w.inflight for w in bench.scheduler.workers] == [3, 1]
    assert all(bench.clips[f"c{i}"].state is ClipState.PROBING for i in range(10))


def test_probes_go_out_before_any_chunk() -> None:
    bench = Bench(clips=6, workers=1, capacity=1)  # two probe calls of three clips
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe({"c0": 20, "c1": 20, "c2": 20})
    bench.scheduler.dispatch()
    assert bench.cluster.sent("probe")[-1] == (0, ["c3", "c4", "c5"])
    assert bench.cluster.sent("chunk") == []


def test_chunks_go_out_in_the_order_probes_came_back_and_each_clips_in_order() -> None:
    bench = Bench(clips=4, workers=1, capacity=10)  # probe calls [c0, c1] and [c2, c3]
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe({"c2": 15, "c3": 5})
    bench.probe({"c0": 10, "c1": 20})
    bench.scheduler.dispatch()
    assert [what for _, what in bench.cluster.sent("chunk")] == [
        ("c2", 0),
        ("c2", 1),
        ("c3", 0),
        ("c0", 0),
        ("c1", 0),
        ("c1", 1),
    ]
    assert bench.scheduler.frames_total == 50
    assert all(clip.state is ClipState.SCORING for clip in bench.clips.values())


def test_a_worker_holds_no_more_calls_than_its_capacity_and_takes_another_when_one_returns() -> None:
    bench = Bench(clips=1, workers=1, capacity=2)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=50)
    bench.scheduler.dispatch()
    assert [what for _, what in bench.cluster.sent("chunk")] == [("c0", 0), ("c0", 1)]
    bench.score("c0", 0)
    bench.scheduler.dispatch()
    assert [what for _, what in bench.cluster.sent("chunk")][-1] == ("c0", 2)
    assert bench.scheduler.workers[0].inflight == 2


def test_the_first_chunk_sent_stamps_its_clips_start() -> None:
    bench = Bench(clips=1)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=30)
    assert bench.clips["c0"].started_at is None
    bench.scheduler.dispatch()
    first = bench.clips["c0"].started_at
    assert first is not None
    bench.score("c0", 0)
    bench.scheduler.dispatch()
    assert bench.clips["c0"].started_at == first


def test_chunks_of_a_failed_clip_are_dropped_without_taking_a_workers_room() -> None:
    bench = Bench(clips=2, workers=1, capacity=1)  # one probe call per clip
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe({"c0": 30})
    bench.scheduler.dispatch()
    bench.probe({"c1": 10})
    bench.scheduler.dispatch()
    bench.score("c0", 0, error="c0: decoding failed", kind="source")
    bench.scheduler.dispatch()
    assert [what for _, what in bench.cluster.sent("chunk")] == [("c0", 0), ("c1", 0)]
    assert not bench.scheduler.chunks


# ------------------------------------------------------------------------------------------ back-pressure
def _writes_backed_up() -> Bench:
    """One writer (so at most 2 clips wait to be written before chunks stop), five one-chunk clips."""
    bench = Bench(clips=5, workers=1, capacity=1, writers=1)
    bench.ready(0)
    for _ in range(2):  # two probe calls: [c0, c1, c2], [c3, c4]
        bench.scheduler.dispatch()
        bench.probe_all()
    for clip in ("c0", "c1", "c2"):
        bench.scheduler.dispatch()
        bench.score(clip, 0)
    return bench


def test_no_chunk_is_sent_while_more_than_twice_the_writers_clips_wait_to_be_written() -> None:
    bench = _writes_backed_up()
    assert [what for _, what in bench.cluster.sent("chunk")] == [("c0", 0), ("c1", 0), ("c2", 0)]
    assert len(bench.scheduler.writes) == 3  # the third was sent with 2 waiting: the bound is "more than"
    bench.scheduler.dispatch()
    assert len(bench.cluster.sent("chunk")) == 3 and bench.scheduler.workers[0].has_room
    bench.writer.finish("c0")
    bench.scheduler.collect_writes()
    bench.scheduler.dispatch()
    assert bench.cluster.sent("chunk")[-1] == (0, ("c3", 0))


def test_time_held_back_counts_while_chunks_wait_for_writes_with_a_worker_free() -> None:
    bench = _writes_backed_up()
    scheduler, clock = bench.scheduler, bench.clock
    clock.now = 10.0
    scheduler.note_held_back()  # chunks queued, 3 clips waiting for 1 writer, the worker idle
    clock.now = 12.5
    bench.writer.finish("c0")
    scheduler.collect_writes()
    scheduler.note_held_back()
    assert bench.summary.held_back_s == pytest.approx(2.5)
    scheduler.note_held_back()
    assert bench.summary.held_back_s == pytest.approx(2.5)


def test_time_held_back_stops_while_no_worker_could_take_a_chunk_and_closes_with_the_run() -> None:
    bench = Bench(clips=5, workers=1, capacity=2, writers=1)
    bench.ready(0)
    for _ in range(2):
        bench.scheduler.dispatch()
        bench.probe_all()
    scheduler, clock = bench.scheduler, bench.clock
    scheduler.dispatch()  # c0, c1
    for clip in ("c0", "c1", "c2"):
        bench.score(clip, 0)
        scheduler.dispatch()  # c2, then c3 (2 waiting), then none (3 waiting)
    assert [what for _, what in bench.cluster.sent("chunk")][-1] == ("c3", 0)
    clock.now = 10.0
    scheduler.note_held_back()
    clock.now = 11.0
    bench.lose("chunk", 0, died=True)  # the worker restarts: nobody could take c4 now
    scheduler.note_held_back()
    assert bench.summary.held_back_s == pytest.approx(1.0)
    clock.now = 20.0
    bench.ready(0)
    scheduler.note_held_back()
    clock.now = 23.0
    scheduler.close()
    assert bench.summary.held_back_s == pytest.approx(4.0)
    assert bench.writer.shut_down


# ------------------------------------------------------------------------------------------ failures
def test_a_clip_the_worker_cannot_read_fails_with_the_kind_the_worker_gave() -> None:
    bench = Bench(clips=2)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe({"c0": -1})
    bench.probe({"c1": 20})
    assert bench.outputs.failures == [("c0", "c0: cannot open video", "source")]
    assert bench.clips["c0"].state is ClipState.FAILED and bench.clips["c0"].started_at is not None
    assert bench.scheduler.frames_total == 20 and list(bench.scheduler.chunks) == [("c1", 0), ("c1", 1)]
    assert bench.summary.failed == 1 and bench.summary.failures == [("c0", "c0: cannot open video")]


def test_a_failure_the_worker_gave_no_kind_is_an_error_and_no_reason_an_unknown_error() -> None:
    bench = Bench(clips=2, capacity=5)  # one probe call per clip
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.deliver(bench.cluster.calls("probe")[0], [ProbeResult("c0", error="c0: odd")])
    bench.probe({"c1": 10})
    bench.scheduler.dispatch()
    bench.score("c1", 0, fail=True)  # neither reason nor kind
    assert bench.outputs.failures == [("c0", "c0: odd", "error"), ("c1", "unknown error", "error")]


def test_a_chunk_the_worker_could_not_score_fails_its_clip_as_the_worker_said() -> None:
    bench = Bench(clips=1)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=10)
    bench.scheduler.dispatch()
    bench.score("c0", 0, error="CUDA out of memory", kind="error")
    assert bench.outputs.failures == [("c0", "CUDA out of memory", "error")]
    assert bench.scheduler.finished and not bench.writer.jobs


def test_a_clip_fails_once_with_its_first_reason_and_its_later_results_only_add_their_time() -> None:
    bench = Bench(clips=1, capacity=3)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=30)
    bench.scheduler.dispatch()
    bench.score("c0", 1, seconds=1.0)
    bench.score("c0", 0, error="first", kind="error", seconds=2.0)
    bench.score("c0", 2, error="second", kind="source", seconds=4.0)
    assert bench.outputs.failures == [("c0", "first", "error")]
    assert bench.summary.failed == 1
    clip = bench.clips["c0"]
    assert clip.compute_s == pytest.approx(7.0) and clip.parts == [] and not bench.writer.jobs


def test_a_failed_clip_is_not_failed_again_when_a_worker_dies_with_its_other_chunk() -> None:
    bench = Bench(clips=1, capacity=2)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=20)
    bench.scheduler.dispatch()
    bench.score("c0", 0, error="c0: bad frame", kind="source")
    bench.lose("chunk", 0, died=True)
    assert bench.outputs.failures == [("c0", "c0: bad frame", "source")]
    assert bench.summary.failed == 1 and bench.summary.failures == [("c0", "c0: bad frame")]


def test_a_worker_dying_with_a_probe_fails_every_clip_of_it_and_is_used_again_once_back() -> None:
    bench = Bench(clips=4, workers=1, capacity=1)  # probe calls [c0, c1] and [c2, c3]
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.lose("probe", 0, died=True, error="ActorDiedError")
    message = "worker died while probing (ActorDiedError)"
    assert bench.outputs.failures == [("c0", message, "worker"), ("c1", message, "worker")]
    worker = bench.scheduler.workers[0]
    assert worker.state is WorkerState.RESTARTING and bench.cluster.calls("ping", 0)
    bench.scheduler.dispatch()
    assert len(bench.cluster.sent("probe")) == 1
    bench.ready(0)
    bench.scheduler.dispatch()
    assert bench.cluster.sent("probe")[-1] == (0, ["c2", "c3"])


def test_a_worker_dying_with_a_chunk_fails_that_chunks_clip_only() -> None:
    bench = Bench(clips=2, workers=2, capacity=1)
    bench.ready(0, 1)
    bench.scheduler.dispatch()
    bench.probe_all(frames=10)
    bench.scheduler.dispatch()
    assert bench.cluster.sent("chunk") == [(0, ("c0", 0)), (1, ("c1", 0))]
    bench.lose("chunk", 1, died=True, error="RayActorError")
    assert bench.outputs.failures == [("c1", "worker died while scoring (RayActorError)", "worker")]
    assert [w.state for w in bench.scheduler.workers] == [WorkerState.READY, WorkerState.RESTARTING]
    bench.score("c0", 0)
    assert bench.clips["c0"].state is ClipState.WRITING


def test_a_call_lost_on_the_cluster_fails_its_clips_and_its_worker_goes_on() -> None:
    bench = Bench(clips=3, workers=1, capacity=2)  # probe calls [c0, c1] and [c2]
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=10)
    pings = len(bench.cluster.sent("ping"))
    bench.scheduler.dispatch()
    assert [what for _, what in bench.cluster.sent("chunk")] == [("c0", 0), ("c1", 0)]
    bench.lose("chunk", 0, died=False, error="ObjectLostError")
    assert bench.outputs.failures == [("c0", "lost on the cluster (ObjectLostError)", "worker")]
    assert bench.scheduler.workers[0].state is WorkerState.READY and len(bench.cluster.sent("ping")) == pings
    bench.scheduler.dispatch()
    assert bench.cluster.sent("chunk")[-1] == (0, ("c2", 0))


def test_a_worker_whose_ping_fails_is_dead_and_never_sent_work(capsys) -> None:
    bench = Bench(clips=2, workers=2)
    bench.lose("ping", 0, died=True, error="ActorDiedError")
    bench.ready(1)
    bench.scheduler.dispatch()
    assert "a worker could not start: ActorDiedError: gone" in capsys.readouterr().err
    assert bench.scheduler.workers[0].state is WorkerState.DEAD
    assert {worker for worker, _ in bench.cluster.sent("probe")} == {1}
    bench.scheduler.step()  # one worker left: the run goes on


def test_every_worker_dead_with_clips_left_and_nothing_in_flight_stops_the_run() -> None:
    bench = Bench(clips=2, workers=2)
    bench.lose("ping", 0, died=True)
    bench.lose("ping", 1, died=False, error="RaySystemError")
    with pytest.raises(VadError, match="every worker died; re-run to score the remaining clips"):
        bench.scheduler.step()


def test_a_scores_file_that_cannot_be_written_fails_its_clip_as_an_error() -> None:
    bench = Bench(clips=1)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=10)
    bench.scheduler.dispatch()
    bench.score("c0", 0)
    started = bench.clips["c0"].started_at
    bench.writer.fail("c0", OSError("No space left on device"))
    bench.scheduler.collect_writes()
    assert bench.outputs.failures == [("c0", "cannot write scores: No space left on device", "error")]
    assert bench.clips["c0"].started_at == started and bench.summary.done == 0
    assert bench.scheduler.finished


# ------------------------------------------------------------------------------------------ writes
def test_a_clip_goes_to_a_writer_only_when_its_last_chunk_is_scored() -> None:
    bench = Bench(clips=1, capacity=2)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=15)
    bench.scheduler.dispatch()
    bench.score("c0", 1)
    assert not bench.writer.jobs and bench.scheduler.frames_done == 5
    bench.score("c0", 0)
    assert list(bench.writer.jobs) == ["c0"] and bench.clips["c0"].state is ClipState.WRITING
    assert bench.scheduler.frames_done == 15 and len(bench.clips["c0"].parts) == 2


def test_finished_writes_are_indexed_in_the_order_they_were_submitted() -> None:
    bench = Bench(clips=3, capacity=3)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=10)
    bench.scheduler.dispatch()
    for clip in ("c0", "c1", "c2"):
        bench.score(clip, 0)
    bench.writer.finish("c2")
    bench.writer.finish("c0")
    bench.scheduler.collect_writes()
    assert bench.outputs.done == ["row c0", "row c2"]  # c1 unfinished does not hold c2 back
    bench.writer.finish("c1")
    bench.scheduler.collect_writes()
    assert bench.outputs.done == ["row c0", "row c2", "row c1"]


def test_a_clip_is_done_once_its_row_is_indexed() -> None:
    bench = Bench(clips=1)
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.probe_all(frames=20)
    bench.scheduler.dispatch()
    bench.score("c0", 0)
    bench.score("c0", 1)
    assert not bench.scheduler.finished and bench.summary.done == 0
    bench.writer.finish("c0")
    assert not bench.scheduler.finished  # written, not yet indexed
    bench.scheduler.collect_writes()
    assert bench.scheduler.finished and bench.clips["c0"].state is ClipState.DONE
    assert (bench.summary.done, bench.summary.frames, bench.summary.writing_s) == (1, 20, 0.25)


# ------------------------------------------------------------------------------------------ start-up
def test_no_worker_up_by_the_start_up_deadline_stops_the_run() -> None:
    bench = Bench(clips=1, workers=2)
    bench.clock.now = READY_TIMEOUT_S - 1
    bench.scheduler.step()
    bench.clock.now = READY_TIMEOUT_S + 1
    with pytest.raises(VadError, match="no worker started within 300 s"):
        bench.scheduler.step()


def test_the_start_up_deadline_does_not_apply_once_a_worker_is_up() -> None:
    bench = Bench(clips=1, workers=2)
    bench.ready(1)
    bench.clock.now = 10 * READY_TIMEOUT_S
    bench.scheduler.step()  # worker 0 still starting: no matter


def test_the_start_up_deadline_counts_from_the_start_for_workers_restarting_later() -> None:
    """Today's rule: the deadline is not renewed when a worker dies and restarts."""
    bench = Bench(clips=2, workers=1, capacity=1)  # one probe call per clip
    bench.ready(0)
    bench.scheduler.dispatch()
    bench.clock.now = READY_TIMEOUT_S + 100
    bench.lose("probe", 0, died=True)  # c0 fails, c1 is still to do
    assert bench.scheduler.workers[0].state is WorkerState.RESTARTING
    with pytest.raises(VadError, match="no worker started within"):
        bench.scheduler.step()


def test_the_first_worker_up_starts_the_progress_clock_once_and_names_device_and_nodes() -> None:
    bench = Bench(clips=2, workers=3)
    bench.ready(0)
    bench.ready(2)
    assert bench.outputs.started == [0]
    assert bench.summary.device == "CPU (1 threads)" and bench.summary.nodes == 2


def test_each_step_reports_frames_of_probed_clips_and_frames_scored() -> None:
    bench = Bench(clips=2, capacity=4)
    bench.ready(0)
    bench.scheduler.step()  # dispatches the probes, one per clip
    bench.probe({"c0": 20})
    bench.probe({"c1": 10})
    bench.scheduler.step()  # dispatches the chunks
    bench.score("c0", 0)
    bench.scheduler.step()
    assert bench.outputs.reports[-1] == (30, 10)


# ------------------------------------------------------------------------------------------ the loop
class AnsweringCluster(FakeCluster):
    """Answers every call at once: workers up, clips of ``frames`` frames (absent: unreadable)."""

    def __init__(self, frames: dict[str, int]) -> None:
        super().__init__()
        self.frames = frames

    def wait(self, timeout: float) -> list[Finished]:
        if not self.pending:
            return []
        call, (kind, _, payload) = next(iter(self.pending.items()))
        del self.pending[call]
        if kind == "ping":
            return [Finished(call, {"device": "CPU", "node": "n"})]
        if kind == "probe":
            results = [
                ProbeResult(name, self.frames[name], 10.0, 4, 4)
                if name in self.frames
                else ProbeResult(name, error="unreadable", error_kind="source")
                for name, _, _ in payload
            ]
            return [Finished(call, results)]
        scores = ChunkScores(payload.chunk, np.zeros(payload.chunk.frames, np.float32), None)
        return [Finished(call, ChunkOutcome(payload.clip, scores, 0.1))]


class InlineWriter(HandWriter):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = super().submit(fn, *args)
        self.finish(args[0].name)
        return future


def test_a_run_ends_once_every_clip_is_done_or_failed_and_every_write_indexed() -> None:
    jobs = [ClipJob(ClipRef(f"c{i}", Path(f"/a/c{i}.avi"), "video"), "h") for i in range(5)]
    outputs, summary, writer = FakeOutputs(), BatchSummary(), InlineWriter()
    cluster = AnsweringCluster({"c0": 35, "c1": 10, "c3": 1, "c4": 20})
    scheduler = Scheduler(jobs, cluster, outputs, summary, workers=2, capacity=2, writers=1, writer=writer)
    scheduler.run()
    assert sorted(outputs.done) == ["row c0", "row c1", "row c3", "row c4"]
    assert outputs.failures == [("c2", "unreadable", "source")]
    assert (summary.done, summary.failed, summary.frames) == (4, 1, 66)
    assert writer.shut_down and not cluster.pending


def test_the_scheduler_and_the_cluster_protocol_do_not_import_ray() -> None:
    import subprocess
    import sys

    code = "import sys, vad_core.batch.scheduler, vad_core.batch.cluster; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
