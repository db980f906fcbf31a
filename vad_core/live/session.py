"""A watch run: several live streams scored with one checkpoint, writing into one folder.

Each source gets its own :class:`StreamWorker` (reader thread, bounded queue, scoring thread) and
its own copy of the model on the shared device; all share the folder's ``events.jsonl``, the
rolling ``scores.csv`` and one clip-writer thread. :meth:`WatchSession.stop` ends the sources,
lets the scorers finish what is queued, closes open events and waits for the clips being written.

Layout of ``out``::

    events.jsonl                     stream start / end, gaps, closed events (one JSON line each)
    scores.csv                       time, stream, frame, error, score, latency_ms
    STREAM/incident_0001_f75-130.mp4 clip with pre- and post-roll, + .json sidecar, _sheet.png

Example::

    session = WatchSession(["lobby=http://127.0.0.1:8080/stream.mjpg"], "bcae1.safetensors", "watch/")
    session.run(duration=60, status=print)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vad_core.inference.config import InferenceConfig
from vad_core.live.journal import EventJournal, ScoresLog
from vad_core.live.normaliser import CausalNormaliser
from vad_core.live.recorder import ClipWriter
from vad_core.live.stream_scorer import StreamScorer
from vad_core.live.stream_worker import StreamWorker, WatchConfig, status_line
from vad_core.sources.live import Backoff, LiveSource


class WatchSession:
    """Watches ``sources`` with the checkpoint at ``model`` into the folder ``out``."""

    def __init__(
        self,
        sources: Sequence[str],
        model: str | Path,
        out: str | Path,
        config: WatchConfig | None = None,
        device: str = "auto",
        backoff: Backoff | None = None,
        fps: float | None = None,
        keep_maps: bool = False,
    ) -> None:
        """``keep_maps`` keeps each frame's error map (for a window's heatmap)."""
        from vad_core.checkpoint import load_checkpoint

        self.config = config or WatchConfig()
        self.out = Path(out)
        self.journal = EventJournal(self.out / "events.jsonl")
        self.scores_log = ScoresLog(self.out / "scores.csv")
        first = load_checkpoint(model)
        defaults = first.scoring
        self.inference = InferenceConfig(
            batch_size=self.config.batch_size,
            device=device,
            error=defaults.get("error", "mse"),
            reduction=defaults.get("reduction", "mean"),
            patch=int(defaults.get("patch", 16)),
            keep_maps=keep_maps,
        )
        self.checkpoint = first
        meta = {
            "model": first.display_name,
            "model_name": first.config.name,
            "checkpoint": str(first.path),
            "checkpoint_sha256": first.sha256,
            "scoring": {**defaults, "threshold": self.config.threshold, "normalisation": "causal"},
        }
        self.writer = ClipWriter(self.out, self.journal, meta)
        self.workers: list[StreamWorker] = []
        names: set[str] = set()
        for number, spec in enumerate(sources):
            checkpoint = first if number == 0 else load_checkpoint(model)
            name, spec = named_source(spec)
            source = LiveSource(spec, name=name, backoff=backoff, fps=fps)
            source.name = _unique(source.name, names)
            self.workers.append(self._worker(source, checkpoint))
        self._stopped = False

    def _worker(self, source: LiveSource, checkpoint) -> StreamWorker:
        defaults = checkpoint.scoring
        normaliser = CausalNormaliser.for_checkpoint(
            checkpoint.metadata,
            self.inference,
            score=str(defaults.get("score", "error")),
            weight=float(defaults.get("mnad_weight", 0.6)),
            calibration_frames=int(round(self.config.calibration_seconds * source.fps)),
        )
        scorer = StreamScorer(checkpoint.model, self.inference, checkpoint.preprocess)
        return StreamWorker(
            source, scorer, normaliser, self.config, self.journal, self.scores_log, self.writer.submit
        )

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def status(self) -> list[str]:
        return [status_line(worker.name, worker.stats()) for worker in self.workers]

    def run(
        self,
        duration: float | None = None,
        status: Callable[[list[str]], None] | None = None,
        every: float = 1.0,
        on_interrupt: Callable[[], None] | None = None,
    ) -> None:
        """Start, report ``status`` every ``every`` seconds, stop after ``duration`` seconds (or when
        every stream has ended); Ctrl+C stops cleanly (the clips being written are finished)."""
        self.start()
        began = last = time.monotonic()
        try:
            while any(worker.alive for worker in self.workers):
                now = time.monotonic()
                if duration is not None and now - began >= duration:
                    break
                if status is not None and now - last >= every:
                    last = now
                    status(self.status())
                time.sleep(0.05)
        except KeyboardInterrupt:
            if on_interrupt is not None:
                on_interrupt()
            raise
        finally:
            self.stop()

    def stop(self) -> None:
        """End the sources, drain the scorers, write the clips in progress, close the files."""
        if self._stopped:
            return
        self._stopped = True
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join()
        self.writer.close()
        self.scores_log.close()


_NAME_PREFIX = re.compile(r"^([A-Za-z0-9_-]+)=(.+)$")


def named_source(spec: str) -> tuple[str | None, str]:
    """``"lobby=rtsp://cam/1"`` -> ``("lobby", "rtsp://cam/1")``; a spec without a name prefix
    (``"rtsp://cam/1?a=b"``, ``"0"``) -> ``(None, spec)``."""
    match = _NAME_PREFIX.match(spec)
    return (match.group(1), match.group(2)) if match else (None, spec)


def _unique(name: str, taken: set[str]) -> str:
    from vad_core.export.clips import safe_name

    base = safe_name(name) or "stream"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate
