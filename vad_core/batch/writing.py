"""A batch run's index rows: a scored clip stitched into its scores file and done row, a failed
clip's failed row (``ClipWriter``).

Only the driver writes. ``write_clip`` runs on a writer thread: it stitches the chunks, writes the
scores file atomically (``write_scores``: temporary file, then rename) and returns the row, which
the scheduler puts into the index only then, so a run killed at any moment leaves no row without
its file.

Example::

    writer = ClipWriter(checkpoint, inference, config, results, settings, run_id)
    index.put(writer.write_clip(clip))
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vad_core.batch.chunking import stitch
from vad_core.batch.config import BatchConfig
from vad_core.batch.index import SCORES_DIR, ClipRow
from vad_core.batch.work import ClipJob
from vad_core.inference.config import InferenceConfig

if TYPE_CHECKING:
    from vad_core.checkpoint import Checkpoint
    from vad_core.scoring import Event


class ClipWriter:
    """Rows and scores files of one run's clips, under ``results``."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        inference: InferenceConfig,
        config: BatchConfig,
        results: Path,
        settings: str,
        run_id: int,
    ) -> None:
        self.checkpoint = checkpoint
        self.checkpoint_path = str(checkpoint.path)
        self.inference = inference
        self.scoring = config.scoring
        self.top_events = config.top_events
        self.results = results
        self.settings = settings
        self.run_id = run_id

    def failed_row(self, clip: ClipJob, message: str, kind: str) -> ClipRow:
        """The row of a clip that failed with ``message`` (``kind``: ``ClipRow.error_kind``)."""
        now = time.time()
        row = self._base_row(clip)
        row.update(status="failed", error=message, error_kind=kind, finished_at=now)
        row["wall_s"] = round(now - clip.started_at, 4) if clip.started_at else None
        return ClipRow(**{**dict.fromkeys(ClipRow.__dataclass_fields__), **row})

    def write_clip(self, clip: ClipJob) -> ClipRow:
        """Stitch, write the scores files (atomically) and build the done row. Runs on a writer thread."""
        from vad_core.inference.scores_file import write_scores
        from vad_core.scoring import anomaly_scores, find_events

        began = time.perf_counter()
        errors, maps = stitch(clip.frames, clip.parts)
        clip.parts = []
        scoring = self.scoring
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
        relative = Path(SCORES_DIR) / clip.ref.name
        npz = write_scores(self.results / relative, errors, maps=maps, meta=meta, scoring=scoring)
        clip.write_s = time.perf_counter() - began
        derived = anomaly_scores(errors, scoring)
        events = find_events(derived.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
        now = time.time()
        row = self._base_row(clip)
        row.update(
            status="done",
            error=None,
            error_kind=None,
            max_score=float(derived.score.max()),
            mean_score=float(derived.score.mean()),
            max_error=float(errors.max()),
            mean_error=float(errors.mean(dtype=np.float64)),
            n_events=len(events),
            top_events=json.dumps(self._strongest(events, errors, clip.fps)),
            scores_path=npz.relative_to(self.results).as_posix(),
            finished_at=now,
            wall_s=round(now - clip.started_at, 4) if clip.started_at else None,
        )
        return ClipRow(**row)

    def _strongest(self, events: list[Event], errors: np.ndarray, fps: float) -> list[dict[str, Any]]:
        """The ``top_events`` strongest events (peak score, then peak error, then first), as the index keeps them."""
        strongest = sorted(
            events, key=lambda e: (-e.peak_score, -float(errors[e.start : e.end].max()), e.start)
        )[: self.top_events]
        return [
            {
                "start": e.start,
                "end": e.end,
                "peak_frame": e.peak_frame,
                "peak_score": round(float(e.peak_score), 6),
                "peak_error": float(errors[e.start : e.end].max()),
                "start_s": round(e.start / fps, 3),
                "end_s": round(e.end / fps, 3),
            }
            for e in strongest
        ]

    def _base_row(self, clip: ClipJob) -> dict[str, Any]:
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
            "run_id": self.run_id,
            "started_at": clip.started_at,
            "compute_s": round(clip.compute_s, 4),
        }
