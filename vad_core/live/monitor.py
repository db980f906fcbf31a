"""A watch run as a generator of display updates, for a window's background worker.

:func:`watch_updates` builds a :class:`WatchSession` (loading the checkpoint: slow, so on the
worker's thread), starts it and, every ``period`` seconds, yields one :class:`LiveUpdate` per stream
with what arrived since the last one: the newest frame and its error map (frame-sized, divided by a
scale fixed on the stream's first maps, so colours mean the same on every frame), the new scores,
the events that opened or closed, the clips written, the connection state and the status line.
The period throttles the window: however fast the stream, it repaints at most ``1 / period`` times
a second. Closing the generator (a cancelled worker) stops the session cleanly.

Example::

    for updates in watch_updates(["http://127.0.0.1:8080/stream.mjpg"], "bcae1.safetensors", "watch/"):
        for update in updates:
            curve.append(update.scores)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.live.event_tracker import EventChange
from vad_core.live.stream_worker import WatchConfig, status_line
from vad_core.sources.preprocess import resize_map

MAP_SCALE_FRAMES = 25  # maps whose 99.9th percentile fixes the overlay scale


@dataclass
class LiveUpdate:
    """What one stream did since the previous update."""

    stream: str
    state: str
    status: str
    frame: np.ndarray | None = None  # newest scored frame, uint8
    overlay: np.ndarray | None = None  # its error map at frame size, 1.0 = the stream's scale
    scores: list[tuple[int, float]] = field(default_factory=list)  # (frame index, score)
    changes: list[EventChange] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)  # events.jsonl lines of written clips
    gaps: int = 0


class _Collector:
    """Gathers what a stream's scoring thread reports, for the next update (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scores: list[tuple[int, float]] = []
        self.changes: list[EventChange] = []
        self.latest = None
        self.scale_samples: list[float] = []
        self.scale: float | None = None

    def __call__(self, scored, score: float, changes: list[EventChange]) -> None:
        with self.lock:
            self.scores.append((scored.frame.index, score))
            self.changes.extend(changes)
            self.latest = scored
            if self.scale is None and scored.error_map is not None:
                self.scale_samples.append(float(np.percentile(scored.error_map, 99.9)))
                if len(self.scale_samples) >= MAP_SCALE_FRAMES:
                    self.scale = max(float(np.median(self.scale_samples)), 1e-6)

    def take(self) -> tuple[list, list, Any, float | None]:
        with self.lock:
            scores, changes, latest = self.scores, self.changes, self.latest
            self.scores, self.changes, self.latest = [], [], None
            return scores, changes, latest, self.scale


def watch_updates(
    sources: Sequence[str],
    model: str | Path,
    out: str | Path,
    config: WatchConfig | None = None,
    device: str = "auto",
    period: float = 0.1,
) -> Generator[list[LiveUpdate], None, None]:
    """Yield the streams' updates every ``period`` seconds until every stream ends (see module docstring)."""
    from vad_core.live.session import WatchSession

    session = WatchSession(sources, model, out, config, device=device, keep_maps=True)
    collectors = []
    for worker in session.workers:
        collector = _Collector()
        worker.listeners.append(collector)
        collectors.append(collector)
    clips_seen = 0
    session.start()
    try:
        while any(worker.alive for worker in session.workers):
            time.sleep(period)
            written = session.writer.written[clips_seen:]
            clips_seen += len(written)
            yield [
                _update(worker, collector, [c for c in written if c["stream"] == worker.name])
                for worker, collector in zip(session.workers, collectors, strict=True)
            ]
    finally:
        session.stop()


def _update(worker, collector: _Collector, clips: list[dict[str, Any]]) -> LiveUpdate:
    scores, changes, latest, scale = collector.take()
    update = LiveUpdate(
        worker.name,
        worker.source.state,
        status_line(worker.name, worker.stats()),
        scores=scores,
        changes=changes,
        clips=clips,
        gaps=len(worker.source.gaps),
    )
    if latest is not None:
        update.frame = latest.frame.image
        if latest.error_map is not None and scale is not None:
            height, width = latest.frame.image.shape[:2]
            update.overlay = resize_map(np.asarray(latest.error_map, np.float32), (height, width)) / scale
    return update
