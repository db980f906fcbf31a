"""One watched stream: a reader thread, a bounded queue and a scoring thread, end to end.

The reader thread pulls frames from a :class:`vad_core.sources.live.LiveSource` into a
:class:`DroppingQueue`; the scoring thread takes everything waiting as one batch, scores it
(:class:`StreamScorer`), normalises causally (:class:`CausalNormaliser`), opens and closes events
(:class:`EventTracker`), feeds the :class:`IncidentRecorder` and logs every score. A gap from the
source closes any open event, resets the model's context and is journalled.

Example::

    worker = StreamWorker(source, scorer, normaliser, config, journal, scores_log, writer.submit)
    worker.start(); ...; worker.stop(); worker.join()
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vad_core.live.event_tracker import EventChange, EventTracker
from vad_core.live.frame_queue import DroppingQueue
from vad_core.live.journal import EventJournal, ScoresLog, iso_utc
from vad_core.live.normaliser import CausalNormaliser
from vad_core.live.recorder import IncidentRecorder
from vad_core.live.stream_scorer import ScoredFrame, StreamScorer
from vad_core.sources.live import Gap, LiveFrame, LiveSource

_END = object()  # put in the queue when the source ends


@dataclass(frozen=True)
class WatchConfig:
    """How streams are watched; the CLI and the window fill the same one."""

    threshold: float = 1.0  # causal score 1 = the largest error on normal footage
    min_duration: int = 5  # frames, as review (ScoringConfig)
    merge_gap: int = 5  # frames, as review (ScoringConfig)
    pre_roll: float = 3.0  # seconds of video before an event in its clip
    post_roll: float = 3.0  # seconds after it
    max_event: float = 120.0  # seconds of event kept in one clip (memory bound)
    queue_size: int = 64  # frames waiting for the scorer before the oldest are dropped
    batch_size: int = 16  # most frames scored in one model call
    calibration_seconds: float = 10.0  # stream calibration when the checkpoint has none


@dataclass
class StreamStats:
    """What the status line shows for one stream."""

    state: str
    frames_in: int
    frames_out: int
    queue: int
    dropped: int
    fps_in: float
    fps_out: float
    latency_p50: float
    latency_p99: float
    events: int
    last_event: str
    calibration: str


class StreamWorker:
    """Reads, scores, tracks and records one stream (see the module docstring)."""

    def __init__(
        self,
        source: LiveSource,
        scorer: StreamScorer,
        normaliser: CausalNormaliser,
        config: WatchConfig,
        journal: EventJournal,
        scores_log: ScoresLog,
        submit_clip: Callable,
    ) -> None:
        self.source, self.scorer, self.normaliser, self.config = source, scorer, normaliser, config
        self.journal, self.scores_log = journal, scores_log
        self.name = source.name
        self.queue = DroppingQueue(config.queue_size, droppable=lambda item: isinstance(item, LiveFrame))
        self.tracker = EventTracker(config.threshold, config.min_duration, config.merge_gap)
        self.recorder = IncidentRecorder(
            self.name, source.fps, config.pre_roll, config.post_roll, submit_clip, config.max_event
        )
        self.latencies: deque[float] = deque(maxlen=2000)  # seconds, the newest frames'
        self._latency_lock = threading.Lock()  # appended by the scoring thread, read by stats()
        self.scored = 0
        self.last_event = ""
        self.events = 0
        self.listeners: list[Callable[[ScoredFrame, float, list[EventChange]], None]] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"vad-read-{self.name}", daemon=True)
        self._scoring = threading.Thread(target=self._score_loop, name=f"vad-score-{self.name}", daemon=True)
        self._rates: deque[tuple[float, int, int]] = deque(maxlen=20)
        self.error: str | None = None

    def start(self) -> None:
        self.journal.append(
            {
                "kind": "stream started",
                "stream": self.name,
                "source": self.source.spec,
                "time": iso_utc(time.time()),
                "normalisation": self.normaliser.describe(),
            }
        )
        self._reader.start()
        self._scoring.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._reader.join(timeout)
        self._scoring.join(timeout)

    @property
    def alive(self) -> bool:
        return self._scoring.is_alive()

    def _read(self) -> None:
        try:
            for item in self.source.stream(self._stop):
                self.queue.put(item)
        except Exception as error:  # a source that cannot be opened at all: reported, run goes on
            self.error = str(error)
        finally:
            self.queue.put(_END)

    def _score_loop(self) -> None:
        try:
            while True:
                batch = self.queue.take(self.config.batch_size, timeout=0.2)
                frames: list[LiveFrame] = []
                for item in batch:
                    if isinstance(item, LiveFrame):
                        frames.append(item)
                        continue
                    self._score(frames)
                    frames = []
                    if item is _END:
                        self._finish("stream ended")
                        return
                    self._gap(item)
                self._score(frames)
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            self._finish("scoring failed")

    def _score(self, frames: list[LiveFrame]) -> None:
        if not frames:
            return
        rows = []
        for scored in self.scorer.score(frames):
            score = self.normaliser.score(scored.error, scored.side)
            changes = self.tracker.push(scored.frame.index, score)
            self.recorder.add(scored.frame, score, self.tracker.candidate_start, changes)
            latency = time.monotonic() - scored.frame.arrival
            with self._latency_lock:
                self.latencies.append(latency)
            rows.append((scored.frame.wall, self.name, scored.frame.index, scored.error, score, latency))
            self._note(changes)
            for listener in self.listeners:
                listener(scored, score, changes)
        self.scored += len(rows)
        self.scores_log.write(rows)

    def _note(self, changes: list[EventChange]) -> None:
        for change in changes:
            event = change.event
            if change.kind == "closed":
                self.events += 1
            else:  # the alert: written at once, the clip follows when the event closes
                self.journal.append(
                    {
                        "kind": "alert",
                        "stream": self.name,
                        "start_frame": event.start,
                        "peak_score": round(event.peak_score, 5),
                        "time": iso_utc(time.time()),
                    }
                )
            self.last_event = f"{change.kind} f{event.start}-{event.end - 1} peak {event.peak_score:.2f}"

    def _gap(self, gap: Gap) -> None:
        for unscored in self.scorer.reset():
            self.recorder.add(unscored.frame, float("nan"), self.tracker.candidate_start, [])
        changes = self.tracker.flush()
        self._note(changes)
        self.recorder.finish(changes)
        self.journal.append(
            {
                "kind": "gap",
                "stream": self.name,
                **gap.to_dict(),
                "start_time": iso_utc(gap.start),
                "end_time": iso_utc(gap.end),
            }
        )

    def _finish(self, why: str) -> None:
        changes = self.tracker.flush()
        self._note(changes)
        self.recorder.finish(changes)
        self.journal.append(
            {
                "kind": "stream ended",
                "stream": self.name,
                "why": self.error or why,
                "time": iso_utc(time.time()),
                "frames": self.source.frames,
                "scored": self.scored,
                "dropped": self.queue.dropped,
                "gaps": len(self.source.gaps),
            }
        )

    def stats(self) -> StreamStats:
        now = time.monotonic()
        self._rates.append((now, self.source.frames, self.scored))
        then, frames_then, scored_then = self._rates[0]
        span = now - then
        with self._latency_lock:
            recent = list(self.latencies)
        latencies = np.asarray(recent) * 1000 if recent else np.array([np.nan])
        return StreamStats(
            state=self.source.state,
            frames_in=self.source.frames,
            frames_out=self.scored,
            queue=len(self.queue),
            dropped=self.queue.dropped,
            fps_in=(self.source.frames - frames_then) / span if span > 0 else 0.0,
            fps_out=(self.scored - scored_then) / span if span > 0 else 0.0,
            latency_p50=float(np.nanmedian(latencies)),
            latency_p99=float(np.nanpercentile(latencies, 99)),
            events=self.events,
            last_event=self.last_event,
            calibration=self.normaliser.describe(),
        )


def status_line(name: str, stats: StreamStats) -> str:
    """One line: state, frames/s in and out, queue, drops, latency, events."""
    text = (
        f"{name}: {stats.state}  in {stats.fps_in:4.1f}/s  out {stats.fps_out:4.1f}/s  "
        f"queue {stats.queue}  dropped {stats.dropped}  latency p50 {stats.latency_p50:.0f} ms "
        f"p99 {stats.latency_p99:.0f} ms  events {stats.events}"
    )
    if stats.last_event:
        text += f"  last: {stats.last_event}"
    if stats.calibration.startswith("calibrating"):
        text += f"  ({stats.calibration})"
    return text
