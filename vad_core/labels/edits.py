"""Builders of label edits: each checks a request against the document and returns a command
(:mod:`vad_core.labels.commands`) without applying it, ready for an undo stack.

Example::

    stack = UndoStack(doc)
    stack.push(add_interval(doc, 60, 120, tag="bike"))
    stack.push(split_interval(doc, doc.intervals[0].id, 90))
    stack.push(accept_event(doc, event))           # anything with start / end, e.g. scoring.Event
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vad_core.errors import LabelEditError
from vad_core.labels.commands import (
    Command,
    CompoundCommand,
    InsertInterval,
    RemoveInterval,
    ReplaceInterval,
    SetReviewed,
)
from vad_core.labels.document import LabelDocument
from vad_core.labels.interval import (
    MAX_NOTE_LENGTH,
    MAX_TAG_LENGTH,
    LabelInterval,
    clean_tag,
    default_author,
    new_interval_id,
    now_iso,
)
from vad_core.labels.ranges import Ranges


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
