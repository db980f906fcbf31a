"""Undoable edits of a label document, and the Qt-free undo stack that plays them.

Every change goes through a *command*: a small frozen object whose ``apply(document)`` performs
the change and returns the command that undoes it. That is all an undo stack needs:
``QUndoCommand.redo`` applies the command and keeps the inverse, ``undo`` applies the inverse
(:class:`UndoStack` is the Qt-free twin used by the tests and the CLI). The builders of
:mod:`vad_core.labels.edits` make commands from requests.

Example::

    stack = UndoStack(doc)
    stack.push(InsertInterval(LabelInterval("a1b2c3d4", 60, 120)))
    stack.undo()                                   # the interval is gone again
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from vad_core.labels.interval import LabelInterval
from vad_core.labels.ranges import Ranges, clip_ranges

if TYPE_CHECKING:
    from vad_core.labels.document import LabelDocument


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
