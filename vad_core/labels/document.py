"""The label document of one video: anomalous intervals, reviewed negatives and reviewed frames.

A :class:`LabelDocument` holds, for one video, the intervals an operator (or an imported ground
truth) marked, and which frames were reviewed. Every change goes through a command
(:mod:`vad_core.labels.commands`) applied with :meth:`LabelDocument.apply`, which returns the
command that undoes it; builders such as :func:`~vad_core.labels.edits.add_interval` or
:func:`~vad_core.labels.edits.split_interval` check a request against the document and return a
command without applying it. The values it holds are in :mod:`vad_core.labels.interval`, the
range algebra in :mod:`vad_core.labels.ranges`.

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

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from vad_core.errors import LabelEditError, LabelFileError
from vad_core.labels.interval import (
    KINDS,
    MAX_NOTE_LENGTH,
    MAX_TAG_LENGTH,
    ORIGINS,
    LabelInterval,
    VideoInfo,
    now_iso,
)
from vad_core.labels.ranges import Ranges, normalize_ranges, ranges_to_mask, subtract_ranges, union_ranges

if TYPE_CHECKING:
    from vad_core.labels.commands import Command


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


__all__ = ["LabelDocument", "LabelEditError"]
