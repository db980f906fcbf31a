"""The label document of the open video, edited undoably and saved safely: ``LabelEditor`` (Qt, no widgets).

A thin layer over ``vad_core.labels`` (which holds the document, the commands, atomic saves,
conflict detection and crash-recovery journals). It opens the label file of the current video
(``load_or_create``), wraps every engine command in one ``QUndoCommand`` on a ``QUndoStack``,
and saves in the labelme way: an ``AutosaveWriter`` thread writes a recovery journal after every
edit and the label file itself at most ``SAVE_DELAY_MS`` after the first unsaved edit
(atomically, the previous version kept as ``.bak``); the writer's callback is re-emitted as a Qt
signal, so results are handled on the GUI thread. Opening a file offers to restore the journal a
crashed session left, and warns when another window has the same file open. When the file
changed on disk since it was loaded (another window, another program), the save is refused by
the engine and the operator is asked (``app.controllers.label_dialogs``): reload theirs,
overwrite it, or save ours elsewhere; until then the edits live in the journal.

Example::

    editor = LabelEditor(window)
    editor.open(path, VideoInfo("clip.avi", frame_count=240))
    editor.push(lambda doc: add_interval(doc, 60, 120))
    editor.undo_stack.undo()
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers import label_dialogs
from vad_core.errors import LabelEditError, LabelFileError, VadError
from vad_core.labels import Command, LabelDocument, VideoInfo
from vad_core.labels.store import (
    AutosaveWriter,
    LabelConflictError,
    LabelStore,
    Recovery,
    load_document,
    load_or_create,
    restore_recovery,
)

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 1000  # the label file is written at most this long after the first unsaved edit
JOURNAL_DELAY_S = 0.2  # the writer gathers a burst of edits this long before writing the journal


class _WriterBridge(QObject):
    """Carries the autosave writer's callback (on its thread) to the GUI thread as a signal."""

    written = Signal(int, int, object)  # request id, revision, error or None

    def report(self, request_id: int, revision: int, error: BaseException | None) -> None:
        self.written.emit(request_id, revision, error)


class EngineCommand(QUndoCommand):
    """One engine command on the ``QUndoStack``: ``redo`` applies it, ``undo`` applies its inverse."""

    def __init__(self, editor: LabelEditor, command: Command) -> None:
        super().__init__(command.text)
        self.editor = editor
        self.doc = editor.doc
        self.command = command
        self.inverse: Command | None = None

    def redo(self) -> None:
        try:
            self.inverse = self.doc.apply(self.command)
        except VadError as error:  # checked by the builder; only a bug gets here
            log.error("label edit failed: %s", error)
            self.setObsolete(True)
            self.editor.message.emit(str(error))
            return
        self.editor._edited()

    def undo(self) -> None:
        if self.inverse is not None:
            self.doc.apply(self.inverse)
            self.editor._edited()


class LabelEditor(QObject):
    """The open video's label document, its undo stack and its safe saving (see the module docstring)."""

    changed = Signal()  # the document's content changed (edit, undo, redo, open, reload)
    stateChanged = Signal()  # saved / unsaved / conflict / error
    message = Signal(str)  # one line for the status bar

    def __init__(self, parent: QWidget | None = None, save_delay_ms: int = SAVE_DELAY_MS) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.undo_stack = QUndoStack(self)
        self.doc: LabelDocument | None = None
        self.store: LabelStore | None = None
        self.problem: str | None = None  # why there is no document for the open video
        self.last_error: str | None = None  # why the last save failed (not a conflict)
        self.conflicted = False
        self.saved_at: str | None = None
        self.other_sessions: list[Recovery] = []
        self._saved_revision = 0
        self._generation = 0  # bumped when the document is replaced: older write reports are stale
        self._requests: dict[int, tuple[str, int]] = {}
        self._resolving = False
        self._bridge = _WriterBridge(self)
        self._bridge.written.connect(self._written, Qt.ConnectionType.QueuedConnection)
        self.writer = AutosaveWriter(callback=self._bridge.report, delay=JOURNAL_DELAY_S)
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(save_delay_ms)
        self.save_timer.timeout.connect(self._autosave)
        self.notice_box: QMessageBox | None = None

    # -- state ---------------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self.store.path if self.store is not None else None

    @property
    def dirty(self) -> bool:
        """True while the document holds edits that are not in the label file."""
        return self.doc is not None and self.doc.revision != self._saved_revision

    def state(self) -> tuple[str, str]:
        """``(one line about the label file, level)`` with level ``ok``, ``busy`` or ``problem``."""
        if self.doc is None or self.store is None:
            return (self.problem or "No video open."), ("problem" if self.problem else "busy")
        name = self.store.path.name
        if self.conflicted:
            return (
                f"{name}: NOT saved - the file changed on disk. Labels ▸ Save labels now to decide "
                "(your edits are kept in a recovery journal).",
                "problem",
            )
        if self.last_error:
            return f"NOT saved: {self.last_error}", "problem"
        if self.dirty:
            return f"{name}: saving…", "busy"
        if self.saved_at:
            return f"{name}: saved {self.saved_at}", "ok"
        if self.store.stamp is None:
            return f"{name}: new (written with the first edit)", "busy"
        return f"{name}: loaded, no changes", "ok"

    # -- opening and closing -------------------------------------------------------------------------
    def open(self, label_path: Path, video: VideoInfo, seed: Path | None = None) -> bool:
        """Open the labels of ``video`` at ``label_path`` (or start from ``seed``, a read-only copy).

        Offers to restore a crashed session's journal and warns about other open windows. Returns
        False (``problem`` says why) when the file cannot be used; it is then left untouched.
        """
        self.close_document()
        self.problem = None
        frames = video.frame_count
        try:
            if not label_path.parent.is_dir():  # the user data folder, on first use
                try:
                    label_path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise LabelFileError(
                        label_path, f"cannot create the folder ({error.strerror or error})"
                    ) from None
            if not label_path.exists() and seed is not None:
                store, doc = LabelStore.create(label_path), load_document(seed)
            else:
                store, doc = load_or_create(label_path, video)
            if doc.video.frame_count is None and frames is not None:
                doc = doc.with_video(video)
            if frames is not None:
                doc.check_frame_count(
                    frames, seed if seed is not None and not label_path.exists() else label_path
                )
        except (LabelFileError, LabelEditError) as error:
            self.problem = f"Labels unavailable: {error}"
            self.message.emit(self.problem)
            self._set_document(None, None)
            return False
        self._set_document(doc, store)
        self._offer_recovery(video)
        self.other_sessions = store.other_sessions()
        if self.other_sessions:
            self._warn_other_sessions()
        return True

    def _set_document(self, doc: LabelDocument | None, store: LabelStore | None, saved: bool = True) -> None:
        self._generation += 1
        self.undo_stack.clear()
        self.doc, self.store = doc, store
        self._saved_revision = doc.revision if (doc is not None and saved) else -1
        self.conflicted = False
        self.last_error = None
        self.saved_at = None
        self.changed.emit()
        self.stateChanged.emit()

    def _offer_recovery(self, video: VideoInfo) -> None:
        assert self.store is not None
        for recovery in self.store.recoveries():
            try:
                candidate = recovery.load()
                if video.frame_count is not None:
                    candidate.check_frame_count(video.frame_count, recovery.journal)
            except LabelFileError as error:
                log.warning("unusable recovery journal %s: %s", recovery.journal, error)
                continue
            choice = label_dialogs.ask_recovery(self.parent_widget, recovery)
            if choice == "discard":
                recovery.discard()
            elif choice == "restore":
                try:
                    doc = restore_recovery(recovery, self.store)
                except LabelFileError as error:
                    self.message.emit(f"Could not restore {recovery.journal.name}: {error}")
                    continue
                if doc.video.frame_count is None and video.frame_count is not None:
                    doc = doc.with_video(video)
                self._set_document(doc, self.store, saved=False)
                self.message.emit(f"Restored unsaved label edits from {recovery.written or 'a journal'}.")
                self.save_timer.start()
                return

    def _warn_other_sessions(self) -> None:
        assert self.store is not None
        pids = ", ".join(str(r.pid) for r in self.other_sessions if r.pid is not None)
        text = (
            f"{self.store.path.name} is also open in another vad-review window"
            f"{' (process ' + pids + ')' if pids else ''}. Both can edit it: before either window "
            "overwrites changes made by the other, it asks."
        )
        self.message.emit(text)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Labels open elsewhere",
            text,
            QMessageBox.StandardButton.Ok,
            self.parent_widget,
        )
        box.setWindowModality(Qt.WindowModality.NonModal)
        self.notice_box = box
        box.show()

    def close_document(self, timeout: float = 5.0) -> bool:
        """Write pending edits (unless in conflict: they stay in the journal) and forget the document.

        Returns True when everything reached the disk within ``timeout`` seconds.
        """
        self.save_timer.stop()
        if self.doc is not None and self.store is not None and self.dirty and not self.conflicted:
            self.save()
        done = self.writer.flush(timeout)
        if self.doc is not None:
            self._set_document(None, None)
        return done

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Close the document and stop the writer thread (the window is closing)."""
        done = self.close_document(timeout)
        return self.writer.close(timeout) and done

    # -- editing -------------------------------------------------------------------------------------
    def push(self, build: Callable[[LabelDocument], Command]) -> Command | None:
        """Build a command against the document and push it (applied at once); None if refused."""
        if self.doc is None:
            self.message.emit(self.problem or "Open a video first.")
            return None
        try:
            command = build(self.doc)
        except (LabelEditError, LabelFileError) as error:
            self.message.emit(error.problem if hasattr(error, "problem") else str(error))
            return None
        self.undo_stack.push(EngineCommand(self, command))
        return command

    def _edited(self) -> None:
        """After every apply (edit, undo, redo): repaint, journal now, save soon."""
        self.changed.emit()
        if self.store is None or self.doc is None:
            return
        self._submit("journal")
        if not self.conflicted and not self.save_timer.isActive():
            self.save_timer.start()
        self.stateChanged.emit()

    # -- saving --------------------------------------------------------------------------------------
    def _submit(self, kind: str, force: bool = False) -> int | None:
        assert self.store is not None and self.doc is not None
        request = (
            self.store.save_request(self.doc, force)
            if kind == "file"
            else self.store.journal_request(self.doc)
        )
        try:
            request_id = self.writer.submit(request)
        except LabelFileError as error:  # the writer is closed (window closing)
            log.warning("label save not queued: %s", error)
            return None
        self._requests[request_id] = (kind, self._generation)
        return request_id

    def _autosave(self) -> None:
        """The save timer: write the label file unless a conflict waits for the operator."""
        if not self.conflicted:
            self.save()

    def save(self, force: bool = False) -> None:
        """Write the label file now (in the background); a conflict asks the operator."""
        self.save_timer.stop()
        if self.doc is None or self.store is None:
            return
        if self.conflicted and not force:
            self.resolve_conflict()
            return
        if not self.dirty and not force and self.store.stamp is not None:
            return
        if not self.dirty and self.store.stamp is None and not self.doc.intervals and not self.doc.reviewed:
            return  # nothing to write: no empty label files beside every video opened
        self._submit("file", force)

    def _written(self, request_id: int, revision: int, error: object) -> None:
        kind, generation = self._requests.pop(request_id, ("", -1))
        if generation != self._generation:
            return
        if kind == "file":
            if error is None:
                self._saved_revision = revision
                self.last_error = None
                self.conflicted = False
                self.saved_at = _dt.datetime.now().strftime("%H:%M:%S")
            elif isinstance(error, LabelConflictError):
                self.conflicted = True
                self.stateChanged.emit()
                self.resolve_conflict()
            else:
                self.last_error = str(error)
                self.message.emit(f"Labels not saved: {error}")
            self.stateChanged.emit()
        elif error is not None:
            self.message.emit(f"Label recovery journal not written: {error}")

    def resolve_conflict(self) -> None:
        """Ask what to do about a label file that changed on disk, and do it."""
        if self._resolving or self.store is None or self.doc is None:
            return
        self._resolving = True
        try:
            choice = label_dialogs.ask_conflict(self.parent_widget, self.store.path)
            if choice == "reload":
                self.reload()
            elif choice == "overwrite":
                self.conflicted = False
                self._submit("file", force=True)
            elif choice == "save_as":
                path = label_dialogs.ask_save_path(
                    self.parent_widget, self.store.path.with_name(self.store.path.stem + ".mine.json")
                )
                if path is not None:
                    self.save_as(path)
            else:
                self.message.emit(
                    "Labels are not written to the label file until you decide (Labels ▸ Save labels now); "
                    "your edits are kept in a recovery journal."
                )
        finally:
            self._resolving = False
            self.stateChanged.emit()

    def reload(self) -> bool:
        """Take the label file as it is on disk now; unsaved edits and the undo history are dropped."""
        if self.store is None:
            return False
        frames = self.doc.video.frame_count if self.doc is not None else None
        self.save_timer.stop()
        self.writer.discard_pending()
        self.writer.flush(5.0)
        try:
            doc = self.store.reload()
            if frames is not None:
                doc.check_frame_count(frames, self.store.path)
        except LabelFileError as error:
            self.message.emit(f"Cannot reload the labels: {error}")
            return False
        self.store.discard_journal()
        self._set_document(doc, self.store)
        self.message.emit(f"Reloaded {self.store.path.name} from disk.")
        return True

    def save_as(self, path: Path) -> bool:
        """Save to ``path`` (replacing it: the file dialog asked) and keep editing there."""
        if self.store is None or self.doc is None:
            return False
        self.save_timer.stop()
        self.writer.flush(5.0)
        try:
            self.store.save_as(self.doc, path, force=True)
        except LabelFileError as error:
            self.message.emit(f"Labels not saved: {error}")
            return False
        self._saved_revision = self.doc.revision
        self.conflicted, self.last_error = False, None
        self.saved_at = _dt.datetime.now().strftime("%H:%M:%S")
        self.message.emit(f"Labels saved as {path}.")
        self.stateChanged.emit()
        return True
