"""The label document of one video: anomalous intervals, reviewed negatives and reviewed frames.

A :class:`LabelDocument` holds, for one video, the intervals an operator (or an imported ground
truth) marked, and which frames were reviewed. Every change goes through a *command*: a small
frozen object whose ``apply(document)`` performs the change and returns the command that undoes
it. That is all an undo stack needs: ``QUndoCommand.redo`` applies the command and keeps the
inverse, ``undo`` applies the inverse (see :class:`UndoStack`, the Qt-free twin used by the tests
and the CLI). Builders such as :func:`add_interval` or :func:`split_interval` check the request
against the document and return a command without applying it.

Conventions:

* frames are 0-based and intervals half-open, ``[start, end)``, like :class:`vad_core.scoring.Event`
  and Python slices; the JSON file shows them as inclusive ``start_frame`` / ``end_frame`` for
  people (:mod:`vad_core.labels.schema` converts at the boundary);
* an interval's ``kind`` is ``"anomaly"`` (a labelled incident) or ``"normal"`` (a reviewed
  negative: a flagged event the operator rejected as a false alarm). Only anomalies count in
  :meth:`LabelDocument.to_frame_mask`; intervals may overlap (two incidents at once);
* intervals have stable ids (8 hex digits) that survive moves, tag edits, saves and undo;
* the document keeps its intervals sorted by ``(start, end, id)``; ``revision`` counts applied
  commands (undo included) so that autosave can tell which state it wrote.

Example::

    doc = LabelDocument(VideoInfo(name="01", frame_count=180, fps=10.0))
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 60, 120, tag="bike"))
    stack.push(split_interval(doc, doc.intervals[0].id, 90))
    stack.undo()                                   # back to one interval [60, 120)
    mask = doc.to_frame_mask()                     # (180,) bool
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from vad_core.errors import LabelEditError, LabelFileError

#: An interval's kinds: a labelled incident, or a reviewed negative (rejected false alarm).
KINDS = ("anomaly", "normal")
#: Where an interval came from: drawn by hand, accepted/rejected model event, imported ground truth.
ORIGINS = ("manual", "event", "import")
MAX_TAG_LENGTH = 64
MAX_NOTE_LENGTH = 10_000

#: Half-open frame ranges ``((start, end), ...)``.
Ranges = tuple[tuple[int, int], ...]


# ---------------------------------------------------------------------------------------------
# Interval algebra on half-open ranges
# ---------------------------------------------------------------------------------------------


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, disjoint, non-adjacent ranges covering the same frames; empty ranges are dropped.

    >>> normalize_ranges([(5, 8), (0, 2), (2, 3), (7, 9), (4, 4)])
    ((0, 3), (5, 9))
    """
    items = sorted((int(a), int(b)) for a, b in ranges if int(b) > int(a))
    out: list[tuple[int, int]] = []
    for start, end in items:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def union_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in ``a`` or ``b``."""
    return normalize_ranges([*a, *b])


def intersect_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in both ``a`` and ``b``."""
    left, right = normalize_ranges(a), normalize_ranges(b)
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in ``a`` but not in ``b``."""
    out: list[tuple[int, int]] = []
    cuts = normalize_ranges(b)
    for start, end in normalize_ranges(a):
        cursor = start
        for cut_start, cut_end in cuts:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                out.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


def clip_ranges(ranges: Iterable[tuple[int, int]], start: int, end: int) -> Ranges:
    """The part of ``ranges`` inside ``[start, end)``."""
    return intersect_ranges(ranges, [(start, end)])


def ranges_to_mask(ranges: Iterable[tuple[int, int]], length: int) -> np.ndarray:
    """``(length,)`` bool array, True on the frames of ``ranges`` (parts beyond ``length`` are cut)."""
    mask = np.zeros(max(0, int(length)), dtype=bool)
    for start, end in ranges:
        mask[max(0, start) : max(0, min(end, length))] = True
    return mask


def mask_to_ranges(mask: np.ndarray) -> Ranges:
    """The runs of True in a 1-D array as half-open ranges."""
    values = np.asarray(mask, dtype=bool).ravel()
    edges = np.diff(np.concatenate(([False], values, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple((int(a), int(b)) for a, b in zip(starts, ends, strict=True))


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def now_iso() -> str:
    """The current UTC time as ``2025-01-31T12:34:56Z``, the form every time stamp of a label file uses."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_author() -> str:
    """The operator's login name, or ``""`` where the system cannot tell."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error worth reporting
        return ""


def new_interval_id(taken: Iterable[str] = ()) -> str:
    """A fresh 8-hex-digit id not in ``taken``."""
    used = set(taken)
    while True:
        candidate = uuid.uuid4().hex[:8]
        if candidate not in used:
            return candidate


def clean_tag(tag: str) -> str:
    """``tag`` stripped, NFC-normalised, with control characters and line breaks removed."""
    text = unicodedata.normalize("NFC", str(tag))
    text = "".join(
        " " if ch.isspace() else ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace()
    )
    return " ".join(text.split())


@dataclass(frozen=True)
class LabelInterval:
    """One labelled interval ``[start, end)`` of a video.

    ``kind`` is ``"anomaly"`` or ``"normal"`` (a reviewed negative); ``origin`` says whether it was
    drawn by hand (``"manual"``), came from a model event (``"event"``) or from imported ground
    truth (``"import"``); ``edited`` is the UTC time of the last edit, ``author`` who made it.
    """

    id: str
    start: int
    end: int  # exclusive
    kind: str = "anomaly"
    tag: str = ""
    note: str = ""
    author: str = ""
    edited: str = ""
    origin: str = "manual"

    @property
    def last(self) -> int:
        """The last frame of the interval (inclusive), ``end - 1``."""
        return self.end - 1

    @property
    def duration(self) -> int:
        """Length in frames."""
        return self.end - self.start

    @property
    def is_anomaly(self) -> bool:
        return self.kind == "anomaly"

    def contains(self, frame: int) -> bool:
        """True when ``frame`` lies in ``[start, end)``."""
        return self.start <= frame < self.end

    def overlaps(self, start: int, end: int) -> bool:
        """True when the interval shares at least one frame with ``[start, end)``."""
        return self.start < end and start < self.end

    def seconds(self, fps: float) -> tuple[float, float]:
        """Start and (exclusive) end in seconds at ``fps``."""
        return self.start / fps, self.end / fps

    def replace(self, **changes: object) -> LabelInterval:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def sort_key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.id)


@dataclass(frozen=True)
class VideoInfo:
    """Which video a document labels. ``frame_count`` / ``fps`` / ``sha256`` are None when unknown."""

    name: str = ""
    path: str = ""
    frame_count: int | None = None
    fps: float | None = None
    sha256: str | None = None


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@runtime_checkable
class Command(Protocol):
    """One undoable edit: ``apply(doc)`` changes ``doc`` and returns the command that undoes it.

    ``text`` is the human-readable name shown in an undo menu ("Split interval").
    """

    text: str

    def apply(self, doc: LabelDocument) -> Command: ...


@dataclass(frozen=True)
class InsertInterval:
    """Add ``interval`` (its id must be new). Inverse: :class:`RemoveInterval`."""

    interval: LabelInterval
    text: str = "Add interval"

    def apply(self, doc: LabelDocument) -> Command:
        doc._insert(self.interval)
        return RemoveInterval(self.interval.id, self.text)


@dataclass(frozen=True)
class RemoveInterval:
    """Remove the interval with ``interval_id``. Inverse: :class:`InsertInterval` of the removed one."""

    interval_id: str
    text: str = "Delete interval"

    def apply(self, doc: LabelDocument) -> Command:
        removed = doc._remove(self.interval_id)
        return InsertInterval(removed, self.text)


@dataclass(frozen=True)
class ReplaceInterval:
    """Replace the interval with the same id by ``interval``. Inverse: replace it back."""

    interval: LabelInterval
    text: str = "Edit interval"

    def apply(self, doc: LabelDocument) -> Command:
        old = doc._replace(self.interval)
        return ReplaceInterval(old, self.text)


@dataclass(frozen=True)
class SetReviewed:
    """Inside ``[start, end)``, make exactly the frames of ``runs`` reviewed. Inverse: the old runs."""

    start: int
    end: int
    runs: Ranges
    text: str = "Mark reviewed"

    def apply(self, doc: LabelDocument) -> Command:
        old = clip_ranges(doc.reviewed, self.start, self.end)
        doc._set_reviewed(self.start, self.end, clip_ranges(self.runs, self.start, self.end))
        return SetReviewed(self.start, self.end, old, self.text)


@dataclass(frozen=True)
class CompoundCommand:
    """Several commands applied in order as one undo step; all or nothing."""

    commands: tuple[Command, ...]
    text: str = "Edit"

    def apply(self, doc: LabelDocument) -> Command:
        inverses: list[Command] = []
        try:
            for command in self.commands:
                inverses.append(command.apply(doc))
        except BaseException:
            for inverse in reversed(inverses):
                inverse.apply(doc)
            raise
        return CompoundCommand(tuple(reversed(inverses)), self.text)


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------


class LabelDocument:
    """The labels of one video. Change it only through commands (``apply``) so edits can be undone.

    Attributes:
        video: which video this labels.
        intervals: sorted by ``(start, end, id)``; both kinds.
        reviewed: half-open runs of reviewed frames, normalised.
        created: UTC time the document was created.
        revision: number of commands applied since it was created or loaded (not saved).
        saved_at: the ``saved`` time stamp read from the file, if any (not compared by ``==``).
        migrated_from: the older format version the file was converted from on load, else None.
    """

    def __init__(
        self,
        video: VideoInfo | None = None,
        intervals: Iterable[LabelInterval] = (),
        reviewed: Iterable[tuple[int, int]] = (),
        created: str | None = None,
    ) -> None:
        self.video = video or VideoInfo()
        self.intervals: tuple[LabelInterval, ...] = ()
        self.reviewed: Ranges = normalize_ranges(reviewed)
        self.created = created if created is not None else now_iso()
        self.revision = 0
        self.saved_at: str | None = None
        self.migrated_from: int | None = None
        items = list(intervals)
        ids = [interval.id for interval in items]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise LabelEditError(self.video.name or None, f"interval id {duplicate!r} is used twice")
        for interval in items:
            self._check(interval)
        self.intervals = tuple(sorted(items, key=LabelInterval.sort_key))
        if (
            self.video.frame_count is not None
            and self.reviewed
            and self.reviewed[-1][1] > self.video.frame_count
        ):
            raise LabelEditError(
                self.video.name or None,
                f"reviewed frames run to {self.reviewed[-1][1] - 1}, beyond the video's "
                f"{self.video.frame_count} frames",
            )

    # -------------------------------------------------------------------------- reading
    @property
    def frame_count(self) -> int | None:
        return self.video.frame_count

    @property
    def anomalies(self) -> tuple[LabelInterval, ...]:
        """The anomaly intervals (labelled incidents), sorted."""
        return tuple(i for i in self.intervals if i.kind == "anomaly")

    @property
    def negatives(self) -> tuple[LabelInterval, ...]:
        """The reviewed negatives (rejected false alarms), sorted."""
        return tuple(i for i in self.intervals if i.kind == "normal")

    def interval(self, interval_id: str) -> LabelInterval:
        """The interval with ``interval_id``; ``LabelEditError`` when there is none."""
        for interval in self.intervals:
            if interval.id == interval_id:
                return interval
        raise LabelEditError(self.video.name or None, f"no interval with id {interval_id!r}")

    def has_interval(self, interval_id: str) -> bool:
        return any(interval.id == interval_id for interval in self.intervals)

    def intervals_at(self, frame: int) -> tuple[LabelInterval, ...]:
        """Intervals containing ``frame`` (what is under the playhead)."""
        return tuple(i for i in self.intervals if i.contains(frame))

    def intervals_overlapping(self, start: int, end: int) -> tuple[LabelInterval, ...]:
        """Intervals sharing a frame with ``[start, end)``."""
        return tuple(i for i in self.intervals if i.overlaps(start, end))

    def anomaly_ranges(self) -> Ranges:
        """The frames labelled anomalous, as normalised half-open ranges."""
        return normalize_ranges((i.start, i.end) for i in self.anomalies)

    def _length(self, length: int | None) -> int:
        if length is not None:
            return int(length)
        if self.video.frame_count is not None:
            return self.video.frame_count
        ends = [i.end for i in self.intervals] + [end for _, end in self.reviewed]
        return max(ends, default=0)

    def to_frame_mask(self, length: int | None = None) -> np.ndarray:
        """``(length,)`` bool, True on frames inside an anomaly interval.

        ``length`` defaults to the video's frame count, or (when unknown) the last labelled frame + 1.
        """
        return ranges_to_mask(self.anomaly_ranges(), self._length(length))

    def reviewed_mask(self, length: int | None = None) -> np.ndarray:
        """``(length,)`` bool, True on reviewed frames."""
        return ranges_to_mask(self.reviewed, self._length(length))

    def is_reviewed(self, frame: int) -> bool:
        return any(start <= frame < end for start, end in self.reviewed)

    def check_frame_count(self, frame_count: int, where: object = None) -> None:
        """Refuse to apply this document to a video of ``frame_count`` frames when it does not fit.

        Raises ``LabelFileError`` naming ``where`` (the label file) when the document was made for a
        video of a different length, or when an interval runs past the end of the video.
        """
        place = str(where) if where is not None else (self.video.name or None)
        known = self.video.frame_count
        if known is not None and known != frame_count:
            video = f" {self.video.name!r}" if self.video.name else ""
            raise LabelFileError(
                place,
                f"labels are for a video{video} of {known} frames, but this video has {frame_count} frames",
            )
        last = max([i.end for i in self.intervals] + [end for _, end in self.reviewed], default=0)
        if last > frame_count:
            raise LabelFileError(
                place,
                f"labels reach frame {last - 1}, beyond the video's {frame_count} frames (0..{frame_count - 1})",
            )

    def with_video(self, video: VideoInfo) -> LabelDocument:
        """A copy bound to ``video`` (checked with :meth:`check_frame_count` when its length is known)."""
        if video.frame_count is not None:
            self.check_frame_count(video.frame_count)
        copy = self.copy()
        copy.video = video
        return copy

    def copy(self) -> LabelDocument:
        """An independent copy with the same content (revision and metadata carried over)."""
        other = LabelDocument(self.video, self.intervals, self.reviewed, self.created)
        other.revision = self.revision
        other.saved_at = self.saved_at
        other.migrated_from = self.migrated_from
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelDocument):
            return NotImplemented
        return (
            self.video == other.video
            and self.intervals == other.intervals
            and self.reviewed == other.reviewed
            and self.created == other.created
        )

    __hash__ = None  # type: ignore[assignment] - mutable

    def __repr__(self) -> str:
        return (
            f"LabelDocument(video={self.video.name!r}, frames={self.video.frame_count}, "
            f"intervals={len(self.intervals)}, reviewed={sum(b - a for a, b in self.reviewed)}, "
            f"revision={self.revision})"
        )

    # -------------------------------------------------------------------------- changing
    def apply(self, command: Command) -> Command:
        """Apply ``command`` and return its inverse; the document is unchanged if it raises."""
        inverse = command.apply(self)
        self.revision += 1
        return inverse

    def _check(self, interval: LabelInterval) -> None:
        where = self.video.name or None
        for name in ("start", "end"):
            value = getattr(interval, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise LabelEditError(where, f"interval {name} must be a whole frame number, found {value!r}")
        if not 0 <= interval.start < interval.end:
            raise LabelEditError(
                where,
                f"an interval needs 0 <= first frame <= last frame, found {interval.start}..{interval.end - 1}",
            )
        count = self.video.frame_count
        if count is not None and interval.end > count:
            raise LabelEditError(
                where,
                f"interval {interval.start}..{interval.end - 1} runs past the video's last frame {count - 1}",
            )
        if interval.kind not in KINDS:
            raise LabelEditError(
                where, f"interval kind must be one of {', '.join(KINDS)}, found {interval.kind!r}"
            )
        if interval.origin not in ORIGINS:
            raise LabelEditError(
                where, f"interval origin must be one of {', '.join(ORIGINS)}, found {interval.origin!r}"
            )
        if not interval.id:
            raise LabelEditError(where, "interval id is empty")
        if len(interval.tag) > MAX_TAG_LENGTH:
            raise LabelEditError(where, f"tag longer than {MAX_TAG_LENGTH} characters")
        if len(interval.note) > MAX_NOTE_LENGTH:
            raise LabelEditError(where, f"note longer than {MAX_NOTE_LENGTH} characters")

    def _insert(self, interval: LabelInterval) -> None:
        self._check(interval)
        if self.has_interval(interval.id):
            raise LabelEditError(self.video.name or None, f"interval id {interval.id!r} already exists")
        self.intervals = tuple(sorted((*self.intervals, interval), key=LabelInterval.sort_key))

    def _remove(self, interval_id: str) -> LabelInterval:
        removed = self.interval(interval_id)
        self.intervals = tuple(i for i in self.intervals if i.id != interval_id)
        return removed

    def _replace(self, interval: LabelInterval) -> LabelInterval:
        old = self.interval(interval.id)
        self._check(interval)
        rest = [i for i in self.intervals if i.id != interval.id]
        self.intervals = tuple(sorted((*rest, interval), key=LabelInterval.sort_key))
        return old

    def _set_reviewed(self, start: int, end: int, runs: Ranges) -> None:
        count = self.video.frame_count
        if start < 0 or end < start or (count is not None and end > count):
            raise LabelEditError(
                self.video.name or None, f"reviewed range {start}..{end - 1} lies outside the video"
            )
        self.reviewed = union_ranges(subtract_ranges(self.reviewed, [(start, end)]), runs)


# ---------------------------------------------------------------------------------------------
# Builders: check a request against the document, return a command (not applied)
# ---------------------------------------------------------------------------------------------


def _frame(value: object, what: str, where: str | None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LabelEditError(where, f"{what} must be a whole frame number, found {value!r}")
    return int(value)


def _span(doc: LabelDocument, start: object, end: object) -> tuple[int, int]:
    where = doc.video.name or None
    first, stop = _frame(start, "start", where), _frame(end, "end", where)
    if not 0 <= first < stop:
        raise LabelEditError(where, f"an interval needs 0 <= start < end, found start={first}, end={stop}")
    count = doc.video.frame_count
    if count is not None and stop > count:
        raise LabelEditError(where, f"end {stop} lies past the video's {count} frames")
    return first, stop


def _author(author: str | None) -> str:
    return default_author() if author is None else author


def add_interval(
    doc: LabelDocument,
    start: int,
    end: int,
    *,
    kind: str = "anomaly",
    tag: str = "",
    note: str = "",
    author: str | None = None,
    origin: str = "manual",
    interval_id: str | None = None,
) -> Command:
    """A new interval ``[start, end)`` (drag on the label band, or mark-in / mark-out)."""
    first, stop = _span(doc, start, end)
    interval = LabelInterval(
        id=interval_id or new_interval_id(i.id for i in doc.intervals),
        start=first,
        end=stop,
        kind=kind,
        tag=clean_tag(tag),
        note=str(note),
        author=_author(author),
        edited=now_iso(),
        origin=origin,
    )
    doc._check(interval)
    return InsertInterval(interval, "Add interval" if kind == "anomaly" else "Add reviewed negative")


def remove_interval(doc: LabelDocument, interval_id: str) -> Command:
    """Delete one interval."""
    doc.interval(interval_id)
    return RemoveInterval(interval_id, "Delete interval")


def remove_intervals(doc: LabelDocument, interval_ids: Sequence[str]) -> Command:
    """Delete several intervals as one undo step."""
    for interval_id in interval_ids:
        doc.interval(interval_id)
    return CompoundCommand(tuple(RemoveInterval(i) for i in dict.fromkeys(interval_ids)), "Delete intervals")


def update_interval(
    doc: LabelDocument,
    interval_id: str,
    *,
    start: int | None = None,
    end: int | None = None,
    kind: str | None = None,
    tag: str | None = None,
    note: str | None = None,
    author: str | None = None,
    text: str = "Edit interval",
) -> Command:
    """Change any of an interval's fields; the id stays, ``edited`` and ``author`` are refreshed."""
    old = doc.interval(interval_id)
    first, stop = _span(doc, old.start if start is None else start, old.end if end is None else end)
    new = old.replace(
        start=first,
        end=stop,
        kind=old.kind if kind is None else kind,
        tag=old.tag if tag is None else clean_tag(tag),
        note=old.note if note is None else str(note),
        author=_author(author),
        edited=now_iso(),
    )
    doc._check(new)
    return ReplaceInterval(new, text)


def move_interval(
    doc: LabelDocument, interval_id: str, start: int, end: int, *, author: str | None = None
) -> Command:
    """Move an interval or resize it by its edges: its new extent is ``[start, end)``."""
    old = doc.interval(interval_id)
    moved = (end - start) == old.duration
    return update_interval(
        doc,
        interval_id,
        start=start,
        end=end,
        author=author,
        text="Move interval" if moved else "Resize interval",
    )


def shift_interval(
    doc: LabelDocument, interval_id: str, offset: int, *, author: str | None = None
) -> Command:
    """Move an interval by ``offset`` frames, keeping its length (clamped inside the video)."""
    old = doc.interval(interval_id)
    start = max(0, old.start + int(offset))
    if doc.video.frame_count is not None:
        start = min(start, doc.video.frame_count - old.duration)
    return move_interval(doc, interval_id, start, start + old.duration, author=author)


def set_tag(doc: LabelDocument, interval_id: str, tag: str, *, author: str | None = None) -> Command:
    """Set an interval's tag ("bike", "cart", ...); ``""`` clears it."""
    return update_interval(doc, interval_id, tag=tag, author=author, text="Set tag")


def set_note(doc: LabelDocument, interval_id: str, note: str, *, author: str | None = None) -> Command:
    """Set an interval's free-text note."""
    return update_interval(doc, interval_id, note=note, author=author, text="Set note")


def set_kind(doc: LabelDocument, interval_id: str, kind: str, *, author: str | None = None) -> Command:
    """Turn an anomaly into a reviewed negative or back."""
    return update_interval(doc, interval_id, kind=kind, author=author, text="Change interval kind")


def split_interval(doc: LabelDocument, interval_id: str, at: int, *, author: str | None = None) -> Command:
    """Split ``[start, end)`` into ``[start, at)`` (keeps the id) and ``[at, end)`` (a new id)."""
    old = doc.interval(interval_id)
    at = _frame(at, "split frame", doc.video.name or None)
    if not old.start < at < old.end:
        raise LabelEditError(
            doc.video.name or None,
            f"cannot split interval {old.start}..{old.last} at frame {at}: choose a frame in "
            f"{old.start + 1}..{old.last}",
        )
    stamp, who = now_iso(), _author(author)
    left = old.replace(end=at, edited=stamp, author=who)
    right = old.replace(id=new_interval_id(i.id for i in doc.intervals), start=at, edited=stamp, author=who)
    return CompoundCommand((ReplaceInterval(left), InsertInterval(right)), "Split interval")


def merge_intervals(doc: LabelDocument, interval_ids: Sequence[str], *, author: str | None = None) -> Command:
    """Merge two or more intervals of the same kind into one spanning all of them (gaps included).

    The earliest interval keeps its id; tags and notes that differ are joined (``"bike; cart"``).
    """
    ids = list(dict.fromkeys(interval_ids))
    if len(ids) < 2:
        raise LabelEditError(doc.video.name or None, "select at least two intervals to merge")
    items = sorted((doc.interval(i) for i in ids), key=LabelInterval.sort_key)
    kinds = {i.kind for i in items}
    if len(kinds) > 1:
        raise LabelEditError(doc.video.name or None, "cannot merge an anomaly with a reviewed negative")
    first = items[0]
    tags = list(dict.fromkeys(i.tag for i in items if i.tag))
    notes = list(dict.fromkeys(i.note for i in items if i.note))
    origins = {i.origin for i in items}
    merged = first.replace(
        start=min(i.start for i in items),
        end=max(i.end for i in items),
        tag=clean_tag("; ".join(tags))[:MAX_TAG_LENGTH],
        note="\n".join(notes)[:MAX_NOTE_LENGTH],
        author=_author(author),
        edited=now_iso(),
        origin=first.origin if len(origins) == 1 else "manual",
    )
    commands: list[Command] = [ReplaceInterval(merged)]
    commands.extend(RemoveInterval(i.id) for i in items[1:])
    return CompoundCommand(tuple(commands), "Merge intervals")


def mark_reviewed(doc: LabelDocument, start: int, end: int, reviewed: bool = True) -> Command:
    """Mark frames ``[start, end)`` reviewed (or, with ``reviewed=False``, not reviewed)."""
    first, stop = _span(doc, start, end)
    runs: Ranges = ((first, stop),) if reviewed else ()
    return SetReviewed(first, stop, runs, "Mark reviewed" if reviewed else "Mark not reviewed")


def _decide_event(
    doc: LabelDocument, event: object, kind: str, tag: str, note: str, author: str | None, text: str
) -> Command:
    start = _frame(getattr(event, "start", None), "event start", doc.video.name or None)
    end = _frame(getattr(event, "end", None), "event end", doc.video.name or None)
    first, stop = _span(doc, start, end)
    same = [i for i in doc.intervals if i.origin == "event" and (i.start, i.end) == (first, stop)]
    commands: list[Command] = []
    if same:  # decided before: change the decision, keep the id
        old = same[0]
        commands.append(
            update_interval(
                doc,
                old.id,
                kind=kind,
                tag=tag or old.tag,
                note=note or old.note,
                author=author,
                text=text,
            )
        )
    else:
        commands.append(
            add_interval(doc, first, stop, kind=kind, tag=tag, note=note, author=author, origin="event")
        )
    commands.append(mark_reviewed(doc, first, stop))
    return CompoundCommand(tuple(commands), text)


def accept_event(
    doc: LabelDocument, event: object, *, tag: str = "", note: str = "", author: str | None = None
) -> Command:
    """Accept a flagged event (anything with ``start`` / ``end``, e.g. ``scoring.Event``) as a label.

    Adds an anomaly interval over the event's frames with origin ``"event"`` and marks them
    reviewed. An event decided before (same frames) is turned into an anomaly instead of added twice.
    """
    return _decide_event(doc, event, "anomaly", tag, note, author, "Accept event")


def reject_event(
    doc: LabelDocument, event: object, *, tag: str = "", note: str = "", author: str | None = None
) -> Command:
    """Reject a flagged event as a false alarm: kept as a reviewed negative (kind ``"normal"``).

    Existing anomaly labels over the same frames are left alone: the operator decides about them.
    """
    return _decide_event(doc, event, "normal", tag, note, author, "Reject event")


def event_decision(doc: LabelDocument, event: object) -> str | None:
    """``"accepted"``, ``"rejected"`` or None for an event (by its exact frames), for the events table."""
    start, end = getattr(event, "start", None), getattr(event, "end", None)
    for interval in doc.intervals:
        if interval.origin == "event" and (interval.start, interval.end) == (start, end):
            return "accepted" if interval.kind == "anomaly" else "rejected"
    return None


# ---------------------------------------------------------------------------------------------
# A Qt-free undo stack (the GUI uses QUndoStack with the same commands)
# ---------------------------------------------------------------------------------------------


class UndoStack:
    """Undo / redo over a document, the model of what a ``QUndoStack`` wrapper does.

    ``push`` applies a command and forgets anything that was undone; ``set_clean`` records the
    saved state and ``is_clean`` tells whether the document is back at it.
    """

    def __init__(self, doc: LabelDocument) -> None:
        self.doc = doc
        self._done: list[tuple[Command, Command]] = []
        self._undone: list[Command] = []
        self._index_clean: int | None = 0

    def push(self, command: Command) -> None:
        inverse = self.doc.apply(command)
        self._done.append((command, inverse))
        if self._index_clean is not None and self._index_clean > len(self._done) - 1:
            self._index_clean = None  # the saved state was on the undone branch: unreachable now
        self._undone.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo(self) -> None:
        if not self._done:
            return
        command, inverse = self._done.pop()
        self.doc.apply(inverse)
        self._undone.append(command)

    def redo(self) -> None:
        if not self._undone:
            return
        command = self._undone.pop()
        inverse = self.doc.apply(command)
        self._done.append((command, inverse))

    def undo_text(self) -> str:
        return self._done[-1][0].text if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def set_clean(self) -> None:
        self._index_clean = len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._index_clean == len(self._done)


__all__ = [
    "KINDS",
    "ORIGINS",
    "Command",
    "CompoundCommand",
    "InsertInterval",
    "LabelDocument",
    "LabelEditError",
    "LabelInterval",
    "Ranges",
    "RemoveInterval",
    "ReplaceInterval",
    "SetReviewed",
    "UndoStack",
    "VideoInfo",
    "accept_event",
    "add_interval",
    "clean_tag",
    "clip_ranges",
    "default_author",
    "event_decision",
    "intersect_ranges",
    "mask_to_ranges",
    "mark_reviewed",
    "merge_intervals",
    "move_interval",
    "new_interval_id",
    "normalize_ranges",
    "now_iso",
    "ranges_to_mask",
    "reject_event",
    "remove_interval",
    "remove_intervals",
    "set_kind",
    "set_note",
    "set_tag",
    "shift_interval",
    "split_interval",
    "subtract_ranges",
    "union_ranges",
    "update_interval",
]
