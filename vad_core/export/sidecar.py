"""The JSON sidecar written next to each exported clip: what the clip shows and where it came from.

One record per incident: the source (path, SHA-256, size), the incident and the clip's frame range
with timestamps, the model and scores file that flagged it, the per-frame scores and labels of the
clip, and the operator's note. Plain JSON a person can read; written atomically over the empty
placeholder that reserved the name.

Example::

    record = sidecar_record(source, incident, inputs, config, first, end, clip, "mp4v", sheet, size)
    write_sidecar(folder / "incident_0001_f120-179.json", record)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vad_core.errors import ExportError, LabelFileError
from vad_core.labels.document import LabelDocument
from vad_core.labels.interval import now_iso
from vad_core.labels.store import atomic_write_bytes

if TYPE_CHECKING:
    from vad_core.export.clips import ExportConfig, ExportInputs, Incident

SIDECAR_FORMAT = "vad-review incident"
SIDECAR_VERSION = 1


def sidecar_record(
    source: Any,
    incident: Incident,
    inputs: ExportInputs,
    config: ExportConfig,
    first: int,
    end: int,
    clip: Path,
    codec: str,
    sheet: Path | None,
    size: tuple[int, int],
) -> dict[str, Any]:
    """The sidecar of the clip of frames ``[first, end)`` written to ``clip`` with ``codec``."""
    fps = float(source.fps)
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "clip": clip.name,
        "codec": codec,
        "contact_sheet": sheet.name if sheet is not None else None,
        "exported": now_iso(),
        "source": _source_part(source, inputs),
        "incident": _incident_part(incident, fps),
        "clip_range": {
            "start_frame": first,
            "end_frame": end - 1,
            "frames": end - first,
            "start_time": _timestamp(first / fps),
            "end_time": _timestamp(end / fps),
            "padding_s": [config.pad_before, config.pad_after],
            "frame_size": list(size),
            "overlay": bool(config.overlay and inputs.maps is not None),
        },
        "model": _model_part(inputs.meta),
        "scoring": _scoring_part(inputs.meta),
        "scores": None
        if inputs.score is None
        else [round(float(v), 5) for v in np.asarray(inputs.score)[first:end]],
        "labels": None if inputs.labels is None else _labels_part(inputs.labels, len(source), first, end),
        "operator": {"name": inputs.operator, "note": inputs.operator_note},
    }


def write_sidecar(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically; a failure is an ``ExportError`` naming the file."""
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write_bytes(path, text.encode("utf-8"))  # over our own empty placeholder
    except LabelFileError as error:
        raise ExportError(error.where, error.problem) from None


def _source_part(source: Any, inputs: ExportInputs) -> dict[str, Any]:
    path = getattr(source, "path", None)
    return {
        "name": getattr(source, "name", ""),
        "path": str(path) if path is not None else None,
        "sha256": inputs.source_sha256 or None,
        "frame_count": len(source),
        "fps": float(source.fps),
        "frame_size": list(source.frame_size),
    }


def _incident_part(incident: Incident, fps: float) -> dict[str, Any]:
    return {
        "kind": incident.kind,
        "decision": incident.decision,
        "start_frame": incident.start,
        "end_frame": incident.last,
        "start_time": _timestamp(incident.start / fps),
        "end_time": _timestamp(incident.end / fps),
        "start_s": round(incident.start / fps, 3),
        "end_s": round(incident.end / fps, 3),
        "peak_frame": incident.peak_frame,
        "peak_score": None if incident.peak_score is None else round(float(incident.peak_score), 5),
        "tag": incident.tag,
        "note": incident.note,
        "label_id": incident.label_id,
    }


def _scoring_part(meta: Any) -> dict[str, Any]:
    """What ``scores`` are and the rule that flagged frames (``vad_core.scoring.vocabulary``)."""
    from vad_core.scoring.vocabulary import SCORE_MEANING, flag_rule

    scoring = meta.get("scoring") if isinstance(meta.get("scoring"), dict) else {}
    threshold = scoring.get("threshold")
    return {
        "score": SCORE_MEANING,
        "kind": scoring.get("score", "error"),
        "threshold": threshold,
        "rule": None if threshold is None else f"{flag_rule(float(threshold))}, inside an event",
        "min_duration_frames": scoring.get("min_duration"),
        "merge_gap_frames": scoring.get("merge_gap"),
        "frame_ranges": "start_frame and end_frame inclusive",
    }


def _model_part(meta: Any) -> dict[str, Any]:
    return {
        "name": meta.get("model"),
        "architecture": meta.get("model_name"),
        "checkpoint": meta.get("checkpoint"),
        "checkpoint_sha256": meta.get("checkpoint_sha256"),
        "scores_file": meta.get("scores_file"),
        "scoring": meta.get("scoring"),
    }


def _labels_part(labels: LabelDocument, length: int, first: int, end: int) -> dict[str, Any]:
    """The clip's per-frame anomaly mask and the label intervals that overlap it."""
    return {
        "frames": labels.to_frame_mask(length)[first:end].astype(int).tolist(),
        "intervals": [
            {
                "id": i.id,
                "kind": i.kind,
                "start_frame": i.start,
                "end_frame": i.last,
                "tag": i.tag,
                "note": i.note,
                "author": i.author,
            }
            for i in labels.intervals_overlapping(first, end)
        ],
    }


def _timestamp(seconds: float) -> str:
    """``seconds`` as ``hh:mm:ss.mmm``."""
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
