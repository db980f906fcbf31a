"""Incident export: a video clip, a JSON sidecar and a PNG contact sheet per event or labelled interval.

For each incident (an event of the anomaly score, or a label interval) :func:`export_clip` writes,
into the chosen folder:

* ``incident_0001_f120-179[_tag].mp4``: the incident's frames plus configurable padding before
  and after, with the frame number, time and score burned in and, optionally, the error heatmap
  blended over the picture (``cv2.applyColorMap``, weighted by the error). MPEG-4 (``mp4v``) is
  tried first; when the codec is missing (no writer opens) it falls back to Motion-JPEG ``.avi``.
  Odd frame sizes are padded by one black row / column (the codecs need even sizes);
* ``incident_0001_f120-179[_tag].json``: source path and SHA-256, frame range and timestamps,
  model and checkpoint hash, the per-frame scores and labels of the clip, the operator's note;
* ``incident_0001_f120-179[_tag]_sheet.png``: a 2x4 grid of evenly spaced key frames of the
  incident, the peak frame among them, each captioned.

Frame numbers in names and sidecars are 0-based and inclusive (``f120-179`` is frames 120..179).
Names never replace an existing file (``-2``, ``-3``, ... is added), and text taken from tags or
notes is reduced to letters, digits, ``-`` and ``_`` so no name can leave the folder.

The functions are generators: each ``yield`` reports :class:`ExportProgress`, ``return`` hands the
result, and closing the generator (a cancelled GUI worker) removes the partial files.

Example::

    incidents = select_incidents("accepted", doc=labels, score=scores.score)
    result = run(export_incidents(source, incidents, "out/", scores=scores, labels=labels,
                                  config=ExportConfig(overlay=True)))
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import unicodedata
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from vad_core.atomic_io import file_sha256, open_temp
from vad_core.errors import ExportError
from vad_core.export.rendering import ClipFrames, contact_sheet, key_frames
from vad_core.export.sidecar import sidecar_record, write_sidecar
from vad_core.labels.document import LabelDocument
from vad_core.labels.edits import event_decision
from vad_core.labels.interval import LabelInterval
from vad_core.progress import drive

#: ``(fourcc, extension)`` tried in order for each container preference.
CODECS: dict[str, tuple[tuple[str, str], ...]] = {
    "mp4": (("mp4v", ".mp4"), ("MJPG", ".avi")),
    "avi": (("MJPG", ".avi"),),
}
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportConfig:
    """How incidents are exported. Padding is in seconds of video."""

    pad_before: float = 2.0  # our choice: enough context to see what led up to the incident
    pad_after: float = 2.0
    overlay: bool = False  # blend the per-pixel error map over the frames
    overlay_alpha: float = 0.5  # opacity where the error is highest
    annotate: bool = True  # burn in frame number, time and score
    container: str = "mp4"  # "mp4" (mp4v, falls back to avi) or "avi" (MJPG)
    contact_sheet: bool = True
    sheet_grid: tuple[int, int] = (2, 4)  # rows, columns
    sheet_tile_width: int = 320
    hash_source: bool = True  # record the video file's SHA-256 in the sidecar
    chunk: int = 32  # frames read at a time

    def __post_init__(self) -> None:
        for name in ("pad_before", "pad_after"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ExportError("export", f"{name} must be >= 0 seconds, found {value}")
        if not 0.0 <= self.overlay_alpha <= 1.0:
            raise ExportError("export", f"overlay_alpha must be in [0, 1], found {self.overlay_alpha}")
        if self.container not in CODECS:
            raise ExportError(
                "export", f"container must be one of {', '.join(CODECS)}, found {self.container!r}"
            )
        rows, cols = self.sheet_grid
        if rows < 1 or cols < 1 or self.sheet_tile_width < 32:
            raise ExportError("export", f"contact sheet grid {self.sheet_grid} / tile width too small")
        if self.chunk < 1:
            raise ExportError("export", f"chunk must be >= 1 frame, found {self.chunk}")


@dataclass(frozen=True)
class Incident:
    """What to export: frames ``[start, end)`` and what they are (a model event or a label)."""

    start: int
    end: int  # exclusive
    kind: str = "event"  # "event" (flagged by the model) or "label" (an anomaly interval)
    peak_frame: int | None = None
    peak_score: float | None = None
    tag: str = ""
    note: str = ""
    label_id: str | None = None
    decision: str | None = None  # "accepted" / "rejected" when the operator decided on the event

    @classmethod
    def from_event(cls, event: Any, doc: LabelDocument | None = None) -> Incident:
        """From a :class:`vad_core.scoring.Event` (the operator's decision looked up in ``doc``)."""
        decision = event_decision(doc, event) if doc is not None else None
        return cls(
            event.start, event.end, "event", event.peak_frame, float(event.peak_score), decision=decision
        )

    @classmethod
    def from_interval(cls, interval: LabelInterval, score: np.ndarray | None = None) -> Incident:
        """From a label interval; the peak comes from ``score`` when given."""
        peak = peak_score = None
        if score is not None and len(score) >= interval.end:
            values = np.asarray(score[interval.start : interval.end], np.float64)
            if np.isfinite(values).any():
                peak = interval.start + int(np.nanargmax(values))
                peak_score = float(values[peak - interval.start])
        return cls(
            interval.start,
            interval.end,
            "label",
            peak,
            peak_score,
            interval.tag,
            interval.note,
            interval.id,
            "accepted" if interval.is_anomaly else "rejected",
        )

    @property
    def last(self) -> int:
        return self.end - 1


@dataclass(frozen=True)
class ExportProgress:
    """Where an export is: incident ``incident`` of ``incidents`` (1-based), ``done`` of ``total`` frames."""

    incident: int
    incidents: int
    done: int
    total: int
    stage: str  # "hashing", "writing", "sheet", "finished"
    path: Path | None = None

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1]."""
        within = self.done / self.total if self.total else 1.0
        return min(1.0, ((self.incident - 1) + within) / max(1, self.incidents))


@dataclass(frozen=True)
class ExportedIncident:
    """The files written for one incident and what they hold."""

    clip: Path
    sidecar: Path
    sheet: Path | None
    codec: str
    first_frame: int
    end_frame: int  # exclusive
    frame_size: tuple[int, int]  # (height, width) of the clip's frames

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.first_frame


@dataclass
class ExportInputs:
    """What every incident of one video shares: scores, error maps, labels, model metadata."""

    score: np.ndarray | None = None
    maps: np.ndarray | None = None
    labels: LabelDocument | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    operator: str = ""
    operator_note: str = ""
    source_sha256: str | None = None

    @classmethod
    def from_scores(cls, scores: Any, labels: LabelDocument | None = None, **kwargs: Any) -> ExportInputs:
        """From a :class:`vad_core.inference.scores_file.ScoresFile` (``read_scores``)."""
        meta = dict(scores.meta)
        if scores.path is not None:
            meta.setdefault("scores_file", str(scores.path))
        return cls(score=scores.score, maps=scores.maps, labels=labels, meta=meta, **kwargs)


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def safe_name(text: str, max_length: int = 40) -> str:
    """``text`` reduced to a harmless file-name part: letters, digits, ``-`` and ``_`` only.

    Separators, dots, control characters and anything else become ``_``; leading and trailing
    ``_``/``-`` are dropped; the result may be empty. ``"../../etc/passwd"`` -> ``"etc_passwd"``.
    """
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    return _NAME_CHARS.sub("_", folded).strip("_-")[:max_length].strip("_-")


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise ExportError(folder, f"refusing output name {name!r}: it would leave the folder")
    return path


def incident_stem(index: int, incident: Incident) -> str:
    """``incident_0001_f120-179`` plus ``_tag`` when the incident has a tag."""
    stem = f"incident_{index:04d}_f{incident.start}-{incident.last}"
    tag = safe_name(incident.tag)
    return f"{stem}_{tag}" if tag else stem


def _reserve(folder: Path, base: str) -> tuple[str, Path]:
    """A stem no file uses yet; its ``.json`` is created empty, exclusively, to hold the name."""
    for n in range(1, 10_000):
        stem = base if n == 1 else f"{base}-{n}"
        names = [f"{stem}.json", f"{stem}_sheet.png"] + [
            f"{stem}{ext}" for codecs in CODECS.values() for _, ext in codecs
        ]
        if any((folder / name).exists() for name in names):
            continue
        sidecar = _inside(folder, f"{stem}.json")
        try:
            fd = os.open(sidecar, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            raise ExportError(
                sidecar, f"cannot write in the output folder ({error.strerror or error})"
            ) from None
        os.close(fd)
        return stem, sidecar
    raise ExportError(folder, f"no free output name for {base}")  # pragma: no cover


def _publish(tmp: Path, final: Path) -> None:
    """Move finished ``tmp`` to ``final`` without ever replacing an existing file."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise ExportError(final, "appeared while exporting; not replaced") from None
    except OSError:  # no hard links on this file system
        if final.exists():
            raise ExportError(final, "appeared while exporting; not replaced") from None
        os.replace(tmp, final)
        return
    tmp.unlink(missing_ok=True)


def _write_exclusive(final: Path, data: bytes) -> None:
    fd, tmp = open_temp(final)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _open_writer(folder: Path, stem: str, fps: float, size: tuple[int, int], container: str):
    """The first codec whose writer opens: ``(writer, fourcc, temporary path, final extension)``."""
    height, width = size
    tried = []
    for fourcc, ext in CODECS[container]:
        tmp = folder / f".{stem}.partial{ext}"
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height), True)
        if writer.isOpened():
            return writer, fourcc, tmp, ext
        writer.release()
        tmp.unlink(missing_ok=True)
        tried.append(fourcc)
    raise ExportError(folder, f"no video writer available (tried codecs {', '.join(tried)})")


def _source_sha256(source: Any) -> str | None:
    path = getattr(source, "path", None)
    if path is None or not Path(path).is_file():
        return None
    try:
        return file_sha256(path)
    except OSError:
        return None


def _check_inputs(source: Any, inputs: ExportInputs) -> None:
    length = len(source)
    where = getattr(source, "path", None) or getattr(source, "name", "video")
    if inputs.score is not None and len(inputs.score) != length:
        raise ExportError(where, f"scores have {len(inputs.score)} frames, the video has {length}")
    if inputs.maps is not None and len(inputs.maps) != length:
        raise ExportError(where, f"error maps have {len(inputs.maps)} frames, the video has {length}")
    if inputs.labels is not None:
        inputs.labels.check_frame_count(length)


def export_clip(
    source: Any,
    incident: Incident,
    folder: str | os.PathLike[str],
    inputs: ExportInputs | None = None,
    config: ExportConfig | None = None,
    index: int = 1,
    _position: tuple[int, int] = (1, 1),
) -> Generator[ExportProgress, None, ExportedIncident]:
    """Export one incident of ``source`` into ``folder`` (created if missing).

    Yields progress after each chunk of frames; returns the :class:`ExportedIncident`. Raises
    ``ExportError`` naming the file for an incident outside the video, scores or maps of another
    length, or a folder that cannot be written. Closing the generator removes partial files.
    """
    inputs = inputs or ExportInputs()
    config = config or ExportConfig()
    folder = Path(folder)
    progress = partial(ExportProgress, *_position)
    if config.hash_source and inputs.source_sha256 is None and getattr(source, "path", None) is not None:
        yield progress(0, 1, "hashing", Path(source.path))
        inputs = _replace_inputs(inputs, source_sha256=_source_sha256(source))
    _check_incident(source, incident)
    _check_inputs(source, inputs)
    _make_folder(folder)
    frames = ClipFrames(source, incident, inputs, config)
    stem, sidecar = _reserve(folder, incident_stem(index, incident))
    finished = False
    published: list[Path] = []
    try:
        clip, fourcc, done = yield from _write_clip(source, frames, folder, stem, progress)
        published.append(clip)
        sheet = None
        if config.contact_sheet and frames.tiles:
            yield progress(done, frames.total, "sheet", clip)
            sheet = _write_sheet(frames, _inside(folder, f"{stem}_sheet.png"), stem)
            published.append(sheet)
        record = sidecar_record(
            source, incident, inputs, config, frames.first, frames.end, clip, fourcc, sheet, frames.size
        )
        write_sidecar(sidecar, record)
        finished = True
        yield progress(frames.total, frames.total, "finished", clip)
        return ExportedIncident(clip, sidecar, sheet, fourcc, frames.first, frames.end, frames.size)
    finally:
        if not finished:
            _remove_partial_files(folder, stem, [sidecar, *published])


def _check_incident(source: Any, incident: Incident) -> None:
    length = len(source)
    if not 0 <= incident.start < incident.end <= length:
        raise ExportError(
            getattr(source, "path", None) or source.name,
            f"incident frames {incident.start}..{incident.last} lie outside the video (0..{length - 1})",
        )


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(folder, f"cannot create the output folder ({error.strerror or error})") from None


def _write_clip(
    source: Any,
    frames: ClipFrames,
    folder: Path,
    stem: str,
    progress: Callable[..., ExportProgress],
) -> Generator[ExportProgress, None, tuple[Path, str, int]]:
    """Render and encode the clip, then publish it; returns (clip path, fourcc, frames written)."""
    config = frames.config
    writer = tmp = None
    try:
        writer, fourcc, tmp, ext = _open_writer(folder, stem, frames.fps, frames.size, config.container)
        clip = _inside(folder, f"{stem}{ext}")
        done = 0
        yield progress(0, frames.total, "writing", clip)
        for chunk_start in range(frames.first, frames.end, config.chunk):
            chunk = source.read(chunk_start, min(frames.end, chunk_start + config.chunk))
            for offset, frame in enumerate(chunk):
                writer.write(frames.render(chunk_start + offset, frame))
            done += len(chunk)
            yield progress(done, frames.total, "writing", clip)
        writer.release()
        writer = None
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ExportError(clip, f"the {fourcc} writer produced no data")
        _publish(tmp, clip)
        return clip, fourcc, done
    finally:
        if writer is not None:
            writer.release()
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _write_sheet(frames: ClipFrames, sheet: Path, stem: str) -> Path:
    """The contact sheet of the key frames ``frames`` kept, as a PNG at ``sheet``."""
    incident, config, fps = frames.incident, frames.config, frames.fps
    seconds = f"{incident.start / fps:.2f}-{incident.end / fps:.2f} s"
    scoring = frames.inputs.meta.get("scoring") if isinstance(frames.inputs.meta.get("scoring"), dict) else {}
    rule = (
        f"flagged where anomaly score >= {float(scoring['threshold']):.2f}" if "threshold" in scoring else ""
    )
    title = f"{stem}  frames {incident.start}-{incident.last}  ({seconds})  {rule or 'anomaly score: high = anomalous'}"
    image = contact_sheet(
        frames.tiles,
        fps,
        frames.inputs.score,
        incident.peak_frame,
        title,
        config.sheet_grid,
        config.sheet_tile_width,
    )
    ok, png = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover
        raise ExportError(sheet, "cannot encode the contact sheet")
    _write_exclusive(sheet, png.tobytes())
    return sheet


def _remove_partial_files(folder: Path, stem: str, written: list[Path]) -> None:
    """What an unfinished export leaves: the reserved sidecar, published files, temporary files."""
    for path in written:
        with contextlib.suppress(OSError):
            path.unlink()
    for leftover in folder.glob(f".{stem}*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def export_incidents(
    source: Any,
    incidents: Sequence[Incident],
    folder: str | os.PathLike[str],
    inputs: ExportInputs | None = None,
    config: ExportConfig | None = None,
    first_index: int = 1,
) -> Generator[ExportProgress, None, list[ExportedIncident]]:
    """Export several incidents (the batch export of accepted events); returns what was written.

    Numbering starts at ``first_index``; the source is hashed once. An error stops the batch and
    keeps the incidents already exported.
    """
    inputs = inputs or ExportInputs()
    config = config or ExportConfig()
    _check_inputs(source, inputs)
    if config.hash_source and inputs.source_sha256 is None and getattr(source, "path", None) is not None:
        yield ExportProgress(1, max(1, len(incidents)), 0, 1, "hashing", Path(source.path))
        inputs = _replace_inputs(inputs, source_sha256=_source_sha256(source) or "")
    results = []
    for n, incident in enumerate(incidents):
        result = yield from export_clip(
            source, incident, folder, inputs, config, first_index + n, _position=(n + 1, len(incidents))
        )
        results.append(result)
    return results


def _replace_inputs(inputs: ExportInputs, **changes: Any) -> ExportInputs:
    from dataclasses import replace

    return replace(inputs, **changes)


def select_incidents(
    which: str,
    doc: LabelDocument | None = None,
    score: np.ndarray | None = None,
    scoring: Any = None,
) -> list[Incident]:
    """The incidents of one video to export, sorted by start.

    ``which`` is ``"accepted"`` (the anomaly intervals of ``doc``: labels drawn or accepted by the
    operator), ``"flagged"`` (the events of ``score`` under ``scoring``, a ``ScoringConfig``) or
    ``"all"`` (accepted labels plus flagged events that overlap no label and were not rejected).
    """
    from vad_core.scoring import ScoringConfig, find_events

    if which not in ("accepted", "flagged", "all"):
        raise ExportError("export", f"events must be accepted, flagged or all, found {which!r}")
    out: list[Incident] = []
    if which in ("accepted", "all"):
        if doc is None:
            raise ExportError("export", f"--events {which} needs a label file (--labels)")
        out.extend(Incident.from_interval(i, score) for i in doc.anomalies)
    if which in ("flagged", "all"):
        if score is None:
            raise ExportError("export", f"--events {which} needs scores")
        config = scoring or ScoringConfig()
        events = find_events(
            np.asarray(score, np.float64), config.threshold, config.min_duration, config.merge_gap
        )
        for event in events:
            incident = Incident.from_event(event, doc)
            if which == "all" and (
                incident.decision == "rejected"
                or (doc is not None and any(i.overlaps(event.start, event.end) for i in doc.anomalies))
            ):
                continue
            out.append(incident)
    return sorted(out, key=lambda i: (i.start, i.end))


def run(generator: Generator[Any, None, T], progress: Callable[[Any], None] | None = None) -> T:
    """Drive a progress generator to the end (CLI, tests); ``progress`` sees each yielded value."""
    return drive(generator, progress, what="export")


__all__ = [
    "CODECS",
    "ExportConfig",
    "ExportInputs",
    "ExportProgress",
    "ExportedIncident",
    "Incident",
    "contact_sheet",
    "export_clip",
    "export_incidents",
    "file_sha256",
    "incident_stem",
    "key_frames",
    "run",
    "safe_name",
    "select_incidents",
]
