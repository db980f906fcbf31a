"""Import ground truth into label documents, export them, and read per-frame labels for ``vad eval``.

Import (:func:`import_labels`, one :class:`LabelDocument` per clip):

* ``ucsd-m``: a UCSD ``UCSDped1.m`` / ``UCSDped2.m`` file of 1-based inclusive frame ranges, one
  line per test clip (parsed by :func:`vad_core.datasets.ucsd.parse_ucsd_m`); clips are named
  ``01``, ``02``, ... like the re-packed frame folders;
* ``avenue-mat``: an Avenue ``N_label.mat`` (per-frame masks or 0/1 labels, read by
  :func:`vad_core.datasets.avenue.read_label_file`), or a ``ped2.mat`` / ``avenue.mat`` cell of
  ``[start; end]`` ranges per clip (:func:`vad_core.datasets.ucsd.parse_ranges_mat`);
* ``csv``: a header row, then one interval per row. Columns ``start_frame,end_frame`` (or
  ``start,end``) are **0-based frame numbers, both inclusive** (``60,179`` is frames 60 to 179,
  120 frames), the same as ``start_frame`` / ``end_frame`` in the JSON label file. Optional
  columns: ``clip`` (several videos in one file), ``tag``, ``note``, ``kind``
  (``anomaly`` / ``normal``), ``author``, ``edited``, ``id``, ``origin``; other columns (``start_s``,
  ``end_s``, ...) are ignored. Lines starting with ``#`` are comments;
* ``npy``: a per-frame 0/1 (or bool) array, ``.npy`` or whitespace/comma separated ``.txt``;
* ``json``: a label document (validated like any label file).

Export: :func:`export_json`, :func:`export_csv` (the CSV format above, with ``clip`` and times
added) and :func:`export_npy` (uint8 0/1 per frame). Exports never replace an existing file
unless ``force=True``, and are written atomically.

Example::

    docs = import_labels("ucsd_ped2/UCSDped2.m", clip="01", video=video_info(source))
    export_csv(docs["01"], "01.csv")
    masks = read_frame_labels("labels/")             # {"01": bool array, ...} for vad eval
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vad_core.errors import GroundTruthError, LabelFileError
from vad_core.labels.document import LabelDocument, LabelEditError
from vad_core.labels.interval import (
    KINDS,
    ORIGINS,
    LabelInterval,
    VideoInfo,
    clean_tag,
    new_interval_id,
    now_iso,
)
from vad_core.labels.ranges import mask_to_ranges
from vad_core.labels.schema import dumps
from vad_core.labels.store import atomic_write_bytes, file_sha256, load_document

FORMATS = ("auto", "json", "ucsd-m", "avenue-mat", "csv", "npy")
LABEL_SUFFIX = ".labels.json"
_SUFFIX_FORMAT = {
    ".json": "json",
    ".m": "ucsd-m",
    ".mat": "avenue-mat",
    ".csv": "csv",
    ".npy": "npy",
    ".txt": "npy",
}
_CSV_KNOWN = {
    "clip",
    "id",
    "kind",
    "start_frame",
    "end_frame",
    "start",
    "end",
    "tag",
    "note",
    "author",
    "edited",
    "origin",
}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def default_label_path(video_path: str | os.PathLike[str]) -> Path:
    """Where a video's label file lives by default: ``clip.avi`` -> ``clip.labels.json``,
    frame folder ``frames/01`` -> ``frames/01.labels.json``."""
    path = Path(video_path)
    stem = path.name if path.is_dir() or not path.suffix else path.stem
    return path.with_name(stem + LABEL_SUFFIX)


def clip_name_of(path: str | os.PathLike[str]) -> str:
    """``01.labels.json`` -> ``01``; ``clip.csv`` -> ``clip``."""
    name = Path(path).name
    for suffix in (LABEL_SUFFIX, ".json", ".csv", ".npy", ".txt", ".mat", ".m"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def video_info(source: object, sha256: bool = False) -> VideoInfo:
    """A :class:`VideoInfo` for a frame source (``open_source(...)``): name, path, length, fps.

    With ``sha256`` the video file's content hash is recorded too (read once, whole; frame
    folders have no single file and get None).
    """
    path = getattr(source, "path", None)
    digest = None
    if sha256 and path is not None and Path(path).is_file():
        digest = file_sha256(path)
    return VideoInfo(
        name=str(getattr(source, "name", "") or ""),
        path=str(path) if path is not None else "",
        frame_count=len(source),  # type: ignore[arg-type]
        fps=float(source.fps),  # type: ignore[attr-defined]
        sha256=digest,
    )


def detect_format(path: str | os.PathLike[str]) -> str:
    """The import format of ``path`` from its extension; ``LabelFileError`` for an unknown one."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise LabelFileError(
            path,
            f"cannot tell the label format from {suffix or 'no extension'}; "
            f"expected .json, .m, .mat, .csv, .npy or .txt (or give --format)",
        )
    return _SUFFIX_FORMAT[suffix]


def _clip_number(text: str) -> int | None:
    digits = re.findall(r"\d+", text)
    return int(digits[-1]) if digits else None


def select_clip(names: list[str], clip: str, where: object) -> str:
    """The one of ``names`` that ``clip`` means: the exact name, or the same number (``1``, ``01``,
    ``Test001``)."""
    if clip in names:
        return clip
    number = _clip_number(clip)
    matches = [name for name in names if number is not None and _clip_number(name) == number]
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise LabelFileError(where, f"no clip {clip!r} (clips: {shown})")


def document_from_ranges(
    ranges: list[tuple[int, int]], video: VideoInfo, where: object, author: str = "", origin: str = "import"
) -> LabelDocument:
    """A document with one anomaly interval per half-open range, checked against ``video``'s length."""
    stamp = now_iso()
    intervals: list[LabelInterval] = []
    for start, end in ranges:
        if video.frame_count is not None and end > video.frame_count:
            raise LabelFileError(
                where,
                f"frames {start}..{end - 1} (0-based) run past the end of {video.name or 'the video'} "
                f"({video.frame_count} frames)",
            )
        intervals.append(
            LabelInterval(
                id=new_interval_id(i.id for i in intervals),
                start=start,
                end=end,
                author=author,
                edited=stamp,
                origin=origin,
            )
        )
    return LabelDocument(video, intervals)


def _bind(video: VideoInfo | None, name: str, frame_count: int | None = None) -> VideoInfo:
    """``video`` named ``name`` when it has no name; the frame count filled in when known."""
    if video is None:
        return VideoInfo(name=name, frame_count=frame_count)
    if frame_count is not None and video.frame_count is not None and frame_count != video.frame_count:
        return video  # the caller's check reports the mismatch
    return VideoInfo(
        name=video.name or name,
        path=video.path,
        frame_count=video.frame_count if video.frame_count is not None else frame_count,
        fps=video.fps,
        sha256=video.sha256,
    )


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def _import_ranges_per_clip(
    path: Path, per_clip: list[list[tuple[int, int]]], clip: str | None, video: VideoInfo | None, author: str
) -> dict[str, LabelDocument]:
    names = [f"{i + 1:02d}" for i in range(len(per_clip))]
    wanted = names
    if clip is not None:
        wanted = [select_clip(names, clip, path)]
    elif video is not None and video.name and len(names) > 1:
        try:
            wanted = [select_clip(names, video.name, path)]
        except LabelFileError:
            raise LabelFileError(
                path, f"holds {len(names)} clips; say which one is {video.name!r} with --clip"
            ) from None
    if video is not None and len(wanted) > 1:
        raise LabelFileError(path, f"holds {len(names)} clips; say which one the video is with --clip")
    docs = {}
    for name in wanted:
        ranges = [(first - 1, last) for first, last in per_clip[names.index(name)]]  # 1-based incl. -> [a, b)
        info = _bind(video, name)
        docs[info.name if video is not None else name] = document_from_ranges(ranges, info, path, author)
    return docs


def import_ucsd_m(
    path: str | os.PathLike[str], clip: str | None = None, video: VideoInfo | None = None, author: str = ""
) -> dict[str, LabelDocument]:
    """Label documents from a UCSD ``.m`` ground-truth file (all clips, or the one ``clip``)."""
    from vad_core.datasets.ucsd import parse_ucsd_m

    path = Path(path)
    return _import_ranges_per_clip(path, parse_ucsd_m(path), clip, video, author)


def import_avenue_mat(
    path: str | os.PathLike[str], clip: str | None = None, video: VideoInfo | None = None, author: str = ""
) -> dict[str, LabelDocument]:
    """Label documents from an Avenue ``N_label.mat`` (one clip) or a ``.mat`` cell ``gt`` of ranges."""
    import scipy.io

    from vad_core.datasets.avenue import read_label_file
    from vad_core.datasets.ucsd import parse_ranges_mat

    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(path, "ground-truth file missing (no such file)")
    try:
        variables = {name for name, _shape, _kind in scipy.io.whosmat(str(path))}
    except Exception:  # the readers below produce the precise message
        variables = set()
    if "gt" in variables and "volLabel" not in variables:
        return _import_ranges_per_clip(path, parse_ranges_mat(path, "gt"), clip, video, author)
    labels = read_label_file(path).labels
    name = clip_name_of(path).removesuffix("_label")
    name = f"{int(name):02d}" if name.isdigit() else name
    return {name: _document_from_mask(labels, path, video, name, author)}


def _document_from_mask(
    mask: np.ndarray, where: Path, video: VideoInfo | None, name: str, author: str
) -> LabelDocument:
    info = _bind(video, name, len(mask))
    if info.frame_count is not None and info.frame_count != len(mask):
        raise LabelFileError(
            where, f"{len(mask)} per-frame labels, but the video {info.name!r} has {info.frame_count} frames"
        )
    return document_from_ranges(list(mask_to_ranges(mask)), info, where, author)


def read_mask_file(path: str | os.PathLike[str]) -> np.ndarray:
    """A per-frame 0/1 array from ``.npy`` or ``.txt``; ``GroundTruthError`` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(path, "no such file")
    try:
        if path.suffix.lower() == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            tokens = re.split(r"[\s,;]+", path.read_text(encoding="utf-8-sig").strip())
            values = np.array([float(t) for t in tokens if t], dtype=np.float64)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise GroundTruthError(path, f"cannot read per-frame labels ({error})") from None
    values = np.asarray(values)
    if values.ndim == 2 and 1 in values.shape:
        values = values.ravel()
    if values.ndim != 1:
        raise GroundTruthError(path, f"expected one 0/1 value per frame (1-D), found shape {values.shape}")
    if values.dtype == bool:
        return values
    if values.dtype.kind not in "iuf" or not np.all(np.isin(values, (0, 1))):
        raise GroundTruthError(path, "per-frame labels must be 0 or 1")
    return values.astype(bool)


def import_frame_mask(
    path: str | os.PathLike[str], video: VideoInfo | None = None, author: str = ""
) -> dict[str, LabelDocument]:
    """A label document from a per-frame 0/1 array (``.npy`` or ``.txt``)."""
    path = Path(path)
    name = clip_name_of(path)
    return {name: _document_from_mask(read_mask_file(path), path, video, name, author)}


def _csv_int(value: str | None, column: str, line: int, path: Path) -> int:
    text = (value or "").strip()
    try:
        number = float(text)
    except ValueError:
        raise GroundTruthError(
            path, f"line {line}: {column} must be a frame number, found {text!r}"
        ) from None
    if not number.is_integer() or number < 0:
        raise GroundTruthError(
            path, f"line {line}: {column} must be a whole frame number >= 0, found {text!r}"
        )
    return int(number)


def import_csv(
    path: str | os.PathLike[str], clip: str | None = None, video: VideoInfo | None = None, author: str = ""
) -> dict[str, LabelDocument]:
    """Label documents from a CSV of intervals (format in the module docstring; ends inclusive)."""
    path = Path(path)
    rows = _csv_lines(path)
    reader = csv.reader([line for _, line in rows])
    header = _CsvHeader.read(next(reader), rows[0][0], path)
    default_name = (video.name if video is not None and video.name else "") or clip_name_of(path)
    per_clip: dict[str, list[LabelInterval]] = {}
    stamp = now_iso()
    for (line, _), values in zip(rows[1:], reader, strict=False):
        if not any(v.strip() for v in values):
            continue
        get = header.row(values, line, path)
        items = per_clip.setdefault(get("clip") or default_name, [])
        items.append(_csv_interval(get, header, line, path, items, author, stamp))
    if not per_clip:
        per_clip[default_name] = []
    return _csv_documents(per_clip, clip, video, path)


def _csv_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines that are neither empty nor comments, with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GroundTruthError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GroundTruthError(path, f"cannot read ({error})") from None
    rows = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not rows:
        raise GroundTruthError(path, "empty CSV (expected a header such as start_frame,end_frame,tag,note)")
    return rows


@dataclass(frozen=True)
class _CsvHeader:
    """The CSV's columns, and which of them hold the first and last frames."""

    names: list[str]
    columns: dict[str, int]
    start: str
    end: str

    @classmethod
    def read(cls, row: list[str], line: int, path: Path) -> _CsvHeader:
        names = [h.strip().lower() for h in row]
        columns = {name: i for i, name in enumerate(names)}
        start = "start_frame" if "start_frame" in columns else "start"
        end = "end_frame" if "end_frame" in columns else "end"
        if start not in columns or end not in columns:
            raise GroundTruthError(
                path,
                f"line {line}: header must name start_frame,end_frame (or start,end), found {','.join(names)}",
            )
        return cls(names, columns, start, end)

    def row(self, values: list[str], line: int, path: Path) -> Callable[[str], str]:
        """A getter of the row's value in a column (``""`` when the column or value is missing)."""
        if len(values) > len(self.names):
            raise GroundTruthError(path, f"line {line}: {len(values)} values for {len(self.names)} columns")

        def get(column: str) -> str:
            index = self.columns.get(column)
            return values[index].strip() if index is not None and index < len(values) else ""

        return get


def _csv_interval(
    get: Callable[[str], str],
    header: _CsvHeader,
    line: int,
    path: Path,
    items: list[LabelInterval],
    author: str,
    stamp: str,
) -> LabelInterval:
    """The interval of one CSV row, checked; an id that is invalid or taken in ``items`` is replaced."""
    start = _csv_int(get(header.start), header.start, line, path)
    last = _csv_int(get(header.end), header.end, line, path)
    if last < start:
        raise GroundTruthError(
            path, f"line {line}: {header.end} {last} is before {header.start} {start} (ends are inclusive)"
        )
    kind = get("kind") or "anomaly"
    if kind not in KINDS:
        raise GroundTruthError(path, f"line {line}: kind must be one of {', '.join(KINDS)}, found {kind!r}")
    origin = get("origin") or "import"
    if origin not in ORIGINS:
        raise GroundTruthError(
            path, f"line {line}: origin must be one of {', '.join(ORIGINS)}, found {origin!r}"
        )
    given_id = get("id")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", given_id) or any(i.id == given_id for i in items):
        given_id = new_interval_id(i.id for i in items)
    return LabelInterval(
        id=given_id,
        start=start,
        end=last + 1,
        kind=kind,
        tag=clean_tag(get("tag")),
        note=get("note"),
        author=get("author") or author,
        edited=get("edited") or stamp,
        origin=origin,
    )


def _csv_documents(
    per_clip: dict[str, list[LabelInterval]], clip: str | None, video: VideoInfo | None, path: Path
) -> dict[str, LabelDocument]:
    """One document per clip of the CSV (only ``clip``'s when given), bound to ``video``."""
    names = list(per_clip)
    if clip is not None:
        names = [select_clip(names, clip, path)]
    elif video is not None and len(names) > 1:
        raise GroundTruthError(
            path, f"holds intervals of {len(names)} clips; say which one the video is with --clip"
        )
    docs = {}
    for name in names:
        info = _bind(video, name)
        for interval in per_clip[name]:
            if info.frame_count is not None and interval.end > info.frame_count:
                raise GroundTruthError(
                    path,
                    f"interval {interval.start}..{interval.last} runs past the video's {info.frame_count} frames",
                )
        try:
            docs[info.name] = LabelDocument(info, per_clip[name])
        except LabelEditError as error:  # pragma: no cover - rows are checked above
            raise GroundTruthError(path, error.problem) from None
    return docs


def import_labels(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    clip: str | None = None,
    video: VideoInfo | None = None,
    author: str = "",
) -> dict[str, LabelDocument]:
    """Import ground truth as label documents keyed by clip name.

    Args:
        path: the ground-truth file.
        format: one of :data:`FORMATS`; ``auto`` decides from the extension.
        clip: keep only this clip of a multi-clip file (``01``, ``1`` or ``Test001`` all mean clip 1).
        video: the video the labels are for; its frame count is checked and recorded.
        author: recorded on every imported interval.

    Raises:
        GroundTruthError: the file is missing or malformed (naming the file and line).
        LabelFileError: the labels do not fit ``video``, or the clip is unknown.
    """
    if format not in FORMATS:
        raise LabelFileError(path, f"unknown label format {format!r} (expected one of {', '.join(FORMATS)})")
    kind = detect_format(path) if format == "auto" else format
    if kind == "json":
        doc = load_document(path)
        if video is not None and video.frame_count is not None:
            doc.check_frame_count(video.frame_count, path)
            doc = doc.with_video(_bind(video, doc.video.name))
        return {doc.video.name or clip_name_of(path): doc}
    if kind == "ucsd-m":
        return import_ucsd_m(path, clip, video, author)
    if kind == "avenue-mat":
        return import_avenue_mat(path, clip, video, author)
    if kind == "csv":
        return import_csv(path, clip, video, author)
    return import_frame_mask(path, video, author)


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _write_new(path: str | os.PathLike[str], data: bytes, force: bool) -> Path:
    path = Path(path)
    if path.exists() and not force:
        raise LabelFileError(path, "already exists; choose another name or replace it on purpose (--force)")
    if path.is_dir():
        raise LabelFileError(path, "is a folder")
    atomic_write_bytes(path, data)
    return path


def export_json(doc: LabelDocument, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``doc`` as a label file (a copy: the open document's own file is saved by the store)."""
    return _write_new(path, dumps(doc, saved=now_iso()).encode("utf-8"), force)


def csv_text(doc: LabelDocument, include_negatives: bool = False) -> str:
    """The document's intervals as CSV text (0-based inclusive frames; times when fps is known)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "clip",
            "id",
            "kind",
            "start_frame",
            "end_frame",
            "start_s",
            "end_s",
            "tag",
            "note",
            "author",
            "edited",
            "origin",
        ]
    )
    fps = doc.video.fps
    for interval in doc.intervals:
        if interval.kind != "anomaly" and not include_negatives:
            continue
        times = [f"{interval.start / fps:.3f}", f"{interval.end / fps:.3f}"] if fps else ["", ""]
        writer.writerow(
            [
                doc.video.name,
                interval.id,
                interval.kind,
                interval.start,
                interval.last,
                *times,
                interval.tag,
                interval.note,
                interval.author,
                interval.edited,
                interval.origin,
            ]
        )
    return buffer.getvalue()


def export_csv(
    doc: LabelDocument, path: str | os.PathLike[str], force: bool = False, include_negatives: bool = False
) -> Path:
    """Write the anomaly intervals (and with ``include_negatives`` the reviewed negatives) as CSV."""
    return _write_new(path, csv_text(doc, include_negatives).encode("utf-8"), force)


def export_npy(
    doc: LabelDocument, path: str | os.PathLike[str], length: int | None = None, force: bool = False
) -> Path:
    """Write the per-frame labels as a uint8 0/1 ``.npy`` of ``length`` (default: the video's) frames."""
    if length is None and doc.video.frame_count is None:
        raise LabelFileError(path, "the video's frame count is unknown; give the number of frames (--frames)")
    buffer = io.BytesIO()
    np.save(buffer, doc.to_frame_mask(length).astype(np.uint8), allow_pickle=False)
    return _write_new(path, buffer.getvalue(), force)


def export_labels(
    doc: LabelDocument, path: str | os.PathLike[str], force: bool = False, **options: object
) -> Path:
    """Export by extension: ``.json``, ``.csv`` or ``.npy``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return export_json(doc, path, force)
    if suffix == ".csv":
        return export_csv(doc, path, force, bool(options.get("include_negatives", False)))
    if suffix == ".npy":
        length = options.get("length")
        return export_npy(doc, path, int(length) if length is not None else None, force)  # type: ignore[arg-type]
    raise LabelFileError(path, f"cannot export to {suffix or 'no extension'}; use .json, .csv or .npy")


# ---------------------------------------------------------------------------------------------
# Per-frame labels for evaluation
# ---------------------------------------------------------------------------------------------


def read_frame_labels(
    path: str | os.PathLike[str], lengths: Mapping[str, int] | None = None
) -> dict[str, np.ndarray]:
    """Per-frame bool labels (True = anomalous) by clip name, for ``vad eval --labels``.

    ``path`` is a label document (``.json``), a folder of them, a CSV of intervals, a per-frame
    ``.npy`` / ``.txt``, or a UCSD ``.m`` / ``.mat`` ground-truth file. Each mask has the document's
    frame count; where that is unknown (CSV, ``.m``), ``lengths[clip]`` when given, else it ends at
    the last labelled frame. Reviewed negatives count as normal frames.
    """
    path = Path(path)
    lengths = lengths or {}
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        if not files:
            raise LabelFileError(path, "no label files (.json) in this folder")
        docs: dict[str, LabelDocument] = {}
        for file in files:
            doc = load_document(file)
            docs[doc.video.name or clip_name_of(file)] = doc
    elif not path.exists():
        raise LabelFileError(path, "no such label file")
    else:
        docs = import_labels(path)
    masks = {}
    for name, doc in docs.items():
        length = doc.video.frame_count if doc.video.frame_count is not None else lengths.get(name)
        masks[name] = doc.to_frame_mask(length)
    return masks


__all__ = [
    "FORMATS",
    "LABEL_SUFFIX",
    "clip_name_of",
    "csv_text",
    "default_label_path",
    "detect_format",
    "document_from_ranges",
    "export_csv",
    "export_json",
    "export_labels",
    "export_npy",
    "import_avenue_mat",
    "import_csv",
    "import_frame_mask",
    "import_labels",
    "import_ucsd_m",
    "read_frame_labels",
    "read_mask_file",
    "select_clip",
    "video_info",
]
