"""The label file format: versioned JSON, validated on load, migrated from older versions.

A label file is plain JSON a person can read and diff (one interval per line). Version 1 is
documented with an example in ``docs/labels-schema.md``. In the file, frames are 0-based and
*inclusive* (``"start_frame": 60, "end_frame": 179`` is 120 frames); in memory intervals are
half-open ``[start, end)``: this module converts at the boundary.

* :func:`parse_document` validates every field and raises ``LabelFileError`` naming the file, the
  field (``intervals[2].end_frame``) and the problem; several problems are reported together.
* Older versions are migrated in memory (:data:`MIGRATIONS`); the file itself is only rewritten
  when the document is saved, and the store then keeps the old file as ``.bak``. Version 0 is the
  pre-release format (end-exclusive ``labels`` and a per-frame 0/1 ``reviewed`` list).
* A newer version than :data:`CURRENT_VERSION` raises :class:`LabelVersionError`; nothing is
  written, so the file stays as the newer program left it.

Example::

    text = dumps(doc)                               # str, ends with a newline
    same = loads(text, where="labels.json")         # == doc
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from vad_core.errors import LabelFileError, LabelVersionError
from vad_core.json_reading import decode_json
from vad_core.labels.document import LabelDocument, LabelEditError
from vad_core.labels.interval import KINDS, MAX_NOTE_LENGTH, MAX_TAG_LENGTH, ORIGINS, LabelInterval, VideoInfo
from vad_core.labels.ranges import normalize_ranges

FORMAT = "vad-review labels"
CURRENT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024  # a label file of a day-long video is well under 1 MB
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOP_FIELDS = {"format", "version", "video", "created", "saved", "intervals", "reviewed", "autosave_of"}
_VIDEO_FIELDS = {"name", "path", "frame_count", "fps", "sha256"}
_INTERVAL_FIELDS = {"id", "kind", "start_frame", "end_frame", "tag", "note", "author", "edited", "origin"}
_MAX_REPORTED = 6


class _Problems:
    """Collects validation problems so one error reports several of them."""

    def __init__(self, where: object) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, field: str, problem: str) -> None:
        self.items.append(f"{field}: {problem}" if field else problem)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:_MAX_REPORTED]
        more = len(self.items) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more problem(s)" if more else "")
        prefix = (
            "invalid label file: "
            if len(self.items) == 1
            else f"invalid label file ({len(self.items)} problems): "
        )
        raise LabelFileError(self.where, prefix + text)


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def interval_to_json(interval: LabelInterval) -> dict[str, Any]:
    """One interval as the file stores it (inclusive ``end_frame``)."""
    return {
        "id": interval.id,
        "kind": interval.kind,
        "start_frame": interval.start,
        "end_frame": interval.end - 1,
        "tag": interval.tag,
        "note": interval.note,
        "author": interval.author,
        "edited": interval.edited,
        "origin": interval.origin,
    }


def document_to_json(doc: LabelDocument, saved: str | None = None) -> dict[str, Any]:
    """The document as a JSON-ready dict of the current version."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": CURRENT_VERSION,
        "video": {
            "name": doc.video.name,
            "path": doc.video.path,
            "frame_count": doc.video.frame_count,
            "fps": doc.video.fps,
            "sha256": doc.video.sha256,
        },
        "created": doc.created,
    }
    if saved is not None:
        data["saved"] = saved
    data["intervals"] = [interval_to_json(i) for i in doc.intervals]
    data["reviewed"] = [[start, end - 1] for start, end in doc.reviewed]
    return data


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def dumps(doc: LabelDocument, saved: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """The document as readable JSON text: indented, one interval and one reviewed run per line.

    ``saved`` is the time stamp to record; ``extra`` adds top-level fields the schema knows
    (``autosave_of`` in recovery journals).
    """
    data = document_to_json(doc, saved)
    if extra:
        data.update(extra)
    lines = ["{"]
    items = list(data.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if key in ("intervals", "reviewed") and value:
            lines.append(f"  {_dump(key)}: [")
            lines.extend(
                f"    {_dump(item)}{',' if n < len(value) - 1 else ''}" for n, item in enumerate(value)
            )
            lines.append(f"  ]{comma}")
        elif isinstance(value, dict) and value:
            inner = list(value.items())
            lines.append(f"  {_dump(key)}: {{")
            lines.extend(
                f"    {_dump(k)}: {_dump(v)}{',' if n < len(inner) - 1 else ''}"
                for n, (k, v) in enumerate(inner)
            )
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {_dump(key)}: {_dump(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def decode(data: bytes, where: object) -> dict[str, Any]:
    """Bytes of a label file -> its JSON object, or ``LabelFileError`` naming the file and the problem
    (read through :func:`vad_core.json_reading.decode_json`: size and nesting limits, no NaN)."""
    if not data.strip():
        raise LabelFileError(where, "empty file (expected a JSON label document)")
    value = decode_json(
        data, where, LabelFileError, max_bytes=MAX_FILE_BYTES, what="a JSON label document", constants=False
    )
    if not isinstance(value, dict):
        raise LabelFileError(where, f"expected a JSON object at the top level, found {type(value).__name__}")
    return value


def file_version(data: dict[str, Any], where: object) -> int:
    """The format version of a decoded file; refuses files that are not label files or are newer."""
    fmt = data.get("format")
    version = data.get("version")
    if fmt is None and version == 0 and "labels" in data:
        return 0  # the pre-release format carried no "format" field
    if fmt != FORMAT:
        found = f"found format {_describe(fmt)}" if fmt is not None else 'no "format" field'
        raise LabelFileError(where, f'not a vad-review label file ({found}; expected "format": "{FORMAT}")')
    if not _is_int(version) or version < 0:
        raise LabelFileError(where, f"version: expected a whole number >= 0, found {_describe(version)}")
    if version > CURRENT_VERSION:
        raise LabelVersionError(
            where,
            f"written by a newer vad-review (label format version {version}; this one reads up to "
            f"{CURRENT_VERSION}); update vad-review to open it. The file was not changed.",
        )
    return version


def _migrate_0_to_1(data: dict[str, Any], where: object) -> dict[str, Any]:
    """Version 0 (pre-release) -> 1.

    Version 0 looked like ``{"version": 0, "video": "clip.avi", "frames": 180, "fps": 10,
    "labels": [{"start": 60, "end": 180, "label": "bike", "note": ""}], "reviewed": [0, 1, ...]}``:
    the video was only a path, label ends were exclusive, ``label`` was the tag, and ``reviewed``
    held one 0/1 per frame. Ids are made from the label's position (``v0-1``, ``v0-2``, ...).
    """
    problems = _Problems(where)
    video = data.get("video", "")
    if not isinstance(video, str):
        problems.add("video", f"expected a path (version 0), found {_describe(video)}")
        video = ""
    labels = data.get("labels")
    if not isinstance(labels, list):
        problems.add("labels", f"expected a list, found {_describe(labels)}")
        labels = []
    intervals = []
    for n, item in enumerate(labels):
        if not isinstance(item, dict):
            problems.add(f"labels[{n}]", f"expected an object, found {_describe(item)}")
            continue
        start, end = item.get("start"), item.get("end")
        if not (_is_int(start) and _is_int(end)) or not 0 <= start < end:
            problems.add(f"labels[{n}]", f"expected whole numbers 0 <= start < end, found {start!r}, {end!r}")
            continue
        intervals.append(
            {
                "id": f"v0-{n + 1}",
                "kind": "anomaly",
                "start_frame": start,
                "end_frame": end - 1,
                "tag": item.get("label", "") or "",
                "note": item.get("note", "") or "",
                "author": "",
                "edited": "",
                "origin": "manual",
            }
        )
    reviewed = data.get("reviewed", [])
    runs: list[list[int]] = []
    if not isinstance(reviewed, list) or not all(v in (0, 1) and not isinstance(v, float) for v in reviewed):
        problems.add("reviewed", "expected a list of 0/1 per frame (version 0)")
    else:
        start = None
        for frame, value in enumerate([*reviewed, 0]):
            if value and start is None:
                start = frame
            elif not value and start is not None:
                runs.append([start, frame - 1])
                start = None
    problems.raise_if_any()
    name = re.split(r"[\\/]", video.rstrip("/\\"))[-1] if video else ""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return {
        "format": FORMAT,
        "version": 1,
        "video": {
            "name": stem,
            "path": video,
            "frame_count": data.get("frames"),
            "fps": data.get("fps"),
            "sha256": None,
        },
        "created": data.get("created", "") or "",
        "intervals": intervals,
        "reviewed": runs,
    }


#: ``version -> function(data, where) -> data of version + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any], object], dict[str, Any]]] = {0: _migrate_0_to_1}


def migrate(data: dict[str, Any], where: object) -> tuple[dict[str, Any], int]:
    """Bring decoded data to :data:`CURRENT_VERSION`; returns it and the version it was read as."""
    original = version = file_version(data, where)
    while version < CURRENT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:  # pragma: no cover - every older version has a step
            raise LabelFileError(where, f"cannot convert label format version {version}")
        data = step(data, where)
        version += 1
    return data, original


def _check_text(problems: _Problems, field: str, value: Any, limit: int, single_line: bool) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.add(field, f"expected text, found {_describe(value)}")
        return ""
    if len(value) > limit:
        problems.add(field, f"longer than {limit} characters ({len(value)})")
    if single_line and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problems.add(field, "control characters or line breaks are not allowed")
    return value


def _unknown(problems: _Problems, field: str, data: dict[str, Any], known: set[str]) -> None:
    for key in data:
        if key not in known:
            problems.add(
                f"{field}{key}" if field else key, f"unknown field (known: {', '.join(sorted(known))})"
            )


def _video(problems: _Problems, value: Any) -> VideoInfo:
    if not isinstance(value, dict):
        problems.add("video", f"expected an object, found {_describe(value)}")
        return VideoInfo()
    _unknown(problems, "video.", value, _VIDEO_FIELDS)
    name = _check_text(problems, "video.name", value.get("name", ""), 1000, True)
    path = _check_text(problems, "video.path", value.get("path", ""), 10_000, True)
    count = value.get("frame_count")
    if count is not None and (not _is_int(count) or count < 1):
        problems.add("video.frame_count", f"expected a whole number >= 1 or null, found {_describe(count)}")
        count = None
    fps = value.get("fps")
    if fps is not None and (
        isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0
    ):
        problems.add("video.fps", f"expected a number > 0 or null, found {_describe(fps)}")
        fps = None
    sha = value.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        problems.add("video.sha256", f"expected 64 lowercase hex digits or null, found {_describe(sha)}")
        sha = None
    return VideoInfo(
        name=name, path=path, frame_count=count, fps=None if fps is None else float(fps), sha256=sha
    )


def _interval(problems: _Problems, n: int, item: Any, frame_count: int | None) -> LabelInterval | None:
    field = f"intervals[{n}]"
    if not isinstance(item, dict):
        problems.add(field, f"expected an object, found {_describe(item)}")
        return None
    before = len(problems.items)
    _unknown(problems, f"{field}.", item, _INTERVAL_FIELDS)
    interval_id = item.get("id")
    if not isinstance(interval_id, str) or not _ID.match(interval_id):
        problems.add(
            f"{field}.id", f"expected 1-64 letters, digits, '-' or '_', found {_describe(interval_id)}"
        )
    kind = item.get("kind", "anomaly")
    if kind not in KINDS:
        problems.add(f"{field}.kind", f"expected one of {', '.join(KINDS)}, found {_describe(kind)}")
    origin = item.get("origin", "manual")
    if origin not in ORIGINS:
        problems.add(f"{field}.origin", f"expected one of {', '.join(ORIGINS)}, found {_describe(origin)}")
    start, last = item.get("start_frame"), item.get("end_frame")
    if not _is_int(start) or start < 0:
        problems.add(f"{field}.start_frame", f"expected a whole number >= 0, found {_describe(start)}")
    elif not _is_int(last) or last < start:
        problems.add(
            f"{field}.end_frame", f"expected a whole number >= start_frame ({start}), found {_describe(last)}"
        )
    elif frame_count is not None and last >= frame_count:
        problems.add(f"{field}.end_frame", f"frame {last} is past the video's last frame {frame_count - 1}")
    tag = _check_text(problems, f"{field}.tag", item.get("tag", ""), MAX_TAG_LENGTH, True)
    note = _check_text(problems, f"{field}.note", item.get("note", ""), MAX_NOTE_LENGTH, False)
    author = _check_text(problems, f"{field}.author", item.get("author", ""), 200, True)
    edited = _check_text(problems, f"{field}.edited", item.get("edited", ""), 64, True)
    if len(problems.items) > before:
        return None
    return LabelInterval(
        id=interval_id,
        start=start,
        end=last + 1,
        kind=kind,
        tag=tag,
        note=note,
        author=author,
        edited=edited,
        origin=origin,
    )


def _reviewed(problems: _Problems, value: Any, frame_count: int | None) -> list[tuple[int, int]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add("reviewed", f"expected a list of [first, last] frame pairs, found {_describe(value)}")
        return []
    runs = []
    for n, item in enumerate(value):
        ok = isinstance(item, list) and len(item) == 2 and all(_is_int(v) for v in item)
        if not ok or not 0 <= item[0] <= item[1]:
            problems.add(
                f"reviewed[{n}]", f"expected [first, last] with 0 <= first <= last, found {_describe(item)}"
            )
            continue
        if frame_count is not None and item[1] >= frame_count:
            problems.add(
                f"reviewed[{n}]", f"frame {item[1]} is past the video's last frame {frame_count - 1}"
            )
            continue
        runs.append((item[0], item[1] + 1))
    return runs


def parse_document(data: dict[str, Any], where: object) -> LabelDocument:
    """A decoded label file (any supported version) -> a validated :class:`LabelDocument`."""
    data, original = migrate(data, where)
    problems = _Problems(where)
    _unknown(problems, "", data, _TOP_FIELDS)
    video = _video(problems, data.get("video"))
    created = _check_text(problems, "created", data.get("created", ""), 64, True)
    saved = data.get("saved")
    saved = _check_text(problems, "saved", saved, 64, True) if saved is not None else None
    journal = data.get("autosave_of")
    if journal is not None and not isinstance(journal, dict):
        problems.add("autosave_of", f"expected an object, found {_describe(journal)}")
    raw_intervals = data.get("intervals", [])
    intervals: list[LabelInterval] = []
    if not isinstance(raw_intervals, list):
        problems.add("intervals", f"expected a list, found {_describe(raw_intervals)}")
    else:
        seen: dict[str, int] = {}
        for n, item in enumerate(raw_intervals):
            interval = _interval(problems, n, item, video.frame_count)
            if interval is None:
                continue
            if interval.id in seen:
                problems.add(
                    f"intervals[{n}].id", f"{interval.id!r} is already used by intervals[{seen[interval.id]}]"
                )
                continue
            seen[interval.id] = n
            intervals.append(interval)
    reviewed = _reviewed(problems, data.get("reviewed", []), video.frame_count)
    problems.raise_if_any()
    try:
        doc = LabelDocument(video, intervals, normalize_ranges(reviewed), created)
    except LabelEditError as error:  # pragma: no cover - the checks above catch these first
        raise LabelFileError(where, f"invalid label file: {error.problem}") from None
    doc.saved_at = saved
    doc.migrated_from = original if original != CURRENT_VERSION else None
    return doc


def loads(text: str | bytes, where: object = None) -> LabelDocument:
    """Parse label-file text; ``LabelFileError`` (or :class:`LabelVersionError`) names every problem."""
    data = text.encode() if isinstance(text, str) else text
    return parse_document(decode(data, where), where)


__all__ = [
    "CURRENT_VERSION",
    "FORMAT",
    "MIGRATIONS",
    "LabelVersionError",
    "decode",
    "document_to_json",
    "dumps",
    "file_version",
    "interval_to_json",
    "loads",
    "migrate",
    "parse_document",
]
