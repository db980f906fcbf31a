"""Incident clips of a live stream: a ring buffer of recent frames, pre-roll, post-roll, clip + sidecar.

:class:`IncidentRecorder` keeps the last ``pre_roll`` seconds of frames. When a candidate event
starts (:class:`vad_core.live.event_tracker.EventTracker`), it starts a capture with those frames
and adds every new frame to it; when the event closes, the capture goes on for ``post_roll``
seconds after the event's end and is then handed to the :class:`ClipWriter` thread, which writes it
with the incident export of review (:func:`vad_core.export.clips.export_clip`: the clip with frame,
time and score burned in, the JSON sidecar and the contact sheet), adds a ``"stream"`` part to the
sidecar (stream frame numbers, wall-clock times) and appends the event's line to ``events.jsonl``.
A candidate that never becomes an event is dropped. A capture is cut at ``max_event`` seconds of
event (``"truncated": true``) so memory stays bounded. Frame numbers inside the clip and its sidecar
count from the clip's first frame; the ``"stream"`` part gives the offset.

Example::

    recorder = IncidentRecorder("cam0", fps=25.0, pre_roll=3.0, post_roll=3.0, writer=writer)
    recorder.add(scored_frame, score, tracker.candidate_start, changes)
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.errors import VadError
from vad_core.labels.store import atomic_write_bytes
from vad_core.live.event_tracker import EventChange
from vad_core.live.journal import EventJournal, iso_utc
from vad_core.scoring.events import Event
from vad_core.sources.live import LiveFrame


@dataclass
class Capture:
    """The frames of one incident being recorded, with their scores."""

    frames: list[LiveFrame]
    scores: list[float]
    event: Event | None = None  # set when the event closes
    until: int = 0  # stream index after the last frame to keep (event end + post-roll)
    truncated: bool = False

    @property
    def first(self) -> int:
        return self.frames[0].index


@dataclass
class ClipJob:
    """A finished capture, to be written by the clip writer."""

    stream: str
    number: int
    capture: Capture
    fps: float
    pre_roll: float
    post_roll: float
    extra: dict[str, Any] = field(default_factory=dict)


class IncidentRecorder:
    """Per-stream ring buffer and captures (see the module docstring)."""

    def __init__(
        self,
        stream: str,
        fps: float,
        pre_roll: float,
        post_roll: float,
        submit: Callable[[ClipJob], None],
        max_event: float = 120.0,
    ) -> None:
        self.stream, self.fps = stream, float(fps)
        self.pre_roll, self.post_roll = pre_roll, post_roll
        self.pre_frames = int(round(pre_roll * self.fps))
        self.post_frames = int(round(post_roll * self.fps))
        self.max_frames = self.pre_frames + int(round(max_event * self.fps)) + self.post_frames
        self.submit = submit
        self.ring: deque[tuple[LiveFrame, float]] = deque(maxlen=max(1, self.pre_frames))
        self.captures: list[Capture] = []
        self.events = 0

    def _forming(self) -> Capture | None:
        return next((c for c in self.captures if c.event is None), None)

    def add(
        self, frame: LiveFrame, score: float, candidate_start: int | None, changes: list[EventChange]
    ) -> None:
        """Take one scored frame, after the tracker has seen it (``candidate_start`` and ``changes``
        are what it says now)."""
        for capture in self.captures:
            if capture.event is None and len(capture.frames) >= self.max_frames - self.post_frames:
                capture.truncated = True
            elif capture.event is None or frame.index < capture.until:
                capture.frames.append(frame)
                capture.scores.append(score)
        forming = self._forming()
        if forming is None and candidate_start is not None and not any(c.kind == "closed" for c in changes):
            start = candidate_start - self.pre_frames
            kept = [(f, s) for f, s in self.ring if f.index >= start]
            self.captures.append(Capture([f for f, _ in kept] + [frame], [s for _, s in kept] + [score]))
        for change in changes:
            if change.kind == "closed" and forming is not None:
                forming.event = change.event
                forming.until = change.event.end + self.post_frames
        if forming is not None and forming.event is None and candidate_start is None:
            self.captures.remove(forming)  # the candidate was flicker
        self.ring.append((frame, score))
        self._hand_over(frame.index)

    def _hand_over(self, index: int, everything: bool = False) -> None:
        for capture in list(self.captures):
            if capture.event is None:
                continue
            if everything or capture.truncated or index + 1 >= capture.until:
                self.captures.remove(capture)
                keep = [i for i, f in enumerate(capture.frames) if f.index < capture.until]
                capture.frames = [capture.frames[i] for i in keep]
                capture.scores = [capture.scores[i] for i in keep]
                self.events += 1
                self.submit(
                    ClipJob(self.stream, self.events, capture, self.fps, self.pre_roll, self.post_roll)
                )

    def finish(self, changes: list[EventChange]) -> None:
        """The stream stopped or broke: close the forming capture with ``changes`` (the tracker's
        flush) and hand every closed capture over with the post-roll it has."""
        forming = self._forming()
        for change in changes:
            if change.kind == "closed" and forming is not None:
                forming.event = change.event
                forming.until = change.event.end + self.post_frames
        if forming is not None and forming.event is None:
            self.captures.remove(forming)
        self._hand_over(-1, everything=True)
        self.ring.clear()


class ClipWriter:
    """One thread that writes finished captures (clip, sidecar, sheet) and journals them."""

    def __init__(self, folder: Path, journal: EventJournal, meta: dict[str, Any]) -> None:
        self.folder, self.journal, self.meta = Path(folder), journal, meta
        self.written: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._jobs: queue.Queue[ClipJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="vad-clip-writer", daemon=True)
        self._thread.start()

    def submit(self, job: ClipJob) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self.written.append(self.write(job))
            except Exception as error:  # one clip that cannot be written must not stop the others
                problem = str(error) if isinstance(error, VadError) else f"{type(error).__name__}: {error}"
                self.failures.append(problem)
                self.journal.append({"kind": "error", "stream": job.stream, "problem": problem})

    def write(self, job: ClipJob) -> dict[str, Any]:
        """Export one capture and append its line to the journal; returns the line."""
        from vad_core.export.clips import ExportConfig, ExportInputs, Incident, export_clip, run
        from vad_core.sources.base import ArraySource

        capture, event = job.capture, job.capture.event
        assert event is not None
        first = capture.first
        source = ArraySource(np.stack([f.image for f in capture.frames]), fps=job.fps, name=job.stream)
        end = min(event.end, capture.frames[-1].index + 1)
        incident = Incident(
            event.start - first, end - first, "event", event.peak_frame - first, event.peak_score
        )
        scores = np.asarray(capture.scores, np.float64)
        inputs = ExportInputs(score=np.nan_to_num(scores, nan=0.0), meta=self.meta)
        config = ExportConfig(pad_before=job.pre_roll, pad_after=job.post_roll, hash_source=False)
        exported = run(export_clip(source, incident, self.folder / job.stream, inputs, config, job.number))
        stream_part = self._stream_part(job, exported, scores)
        self._amend_sidecar(exported.sidecar, stream_part, scores[exported.first_frame : exported.end_frame])
        line = {
            "kind": "event",
            "stream": job.stream,
            "number": job.number,
            **stream_part,
            "clip": str(exported.clip),
            "sidecar": str(exported.sidecar),
        }
        self.journal.append(line)
        return line

    @staticmethod
    def _stream_part(job: ClipJob, exported: Any, scores: np.ndarray) -> dict[str, Any]:
        capture, event = job.capture, job.capture.event
        frames = capture.frames
        clip_first = frames[exported.first_frame]
        clip_last = frames[exported.end_frame - 1]
        start = next(f for f in frames if f.index >= event.start)
        return {
            "start_frame": event.start,
            "end_frame": event.end - 1,
            "peak_frame": event.peak_frame,
            "peak_score": round(float(event.peak_score), 5),
            "start_time": iso_utc(start.wall),
            "seconds": round(event.duration / job.fps, 3),
            "clip_first_frame": clip_first.index,
            "clip_last_frame": clip_last.index,
            "clip_start_time": iso_utc(clip_first.wall),
            "clip_end_time": iso_utc(clip_last.wall),
            "pre_roll_frames": start.index - clip_first.index,
            "truncated": capture.truncated,
        }

    @staticmethod
    def _amend_sidecar(path: Path, stream_part: dict[str, Any], scores: np.ndarray) -> None:
        """Add the ``"stream"`` part; frames without a score get ``null`` instead of the 0 drawn."""
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(path.read_text(encoding="utf-8"))
            record["stream"] = stream_part
            record["scores"] = [None if not np.isfinite(v) else round(float(v), 5) for v in scores]
            text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
            atomic_write_bytes(path, text.encode("utf-8"))
