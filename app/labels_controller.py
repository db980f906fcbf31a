"""Labels in the review window: one label document per video, edited undoably, never lost.

Two pieces, both thin layers over ``vad_core.labels`` (which holds the document, the commands,
atomic saves, conflict detection and crash-recovery journals):

* ``LabelEditor`` - the document side (Qt, no widgets). It opens the label file of the current
  video (``load_or_create``), wraps every engine command in one ``QUndoCommand`` on a
  ``QUndoStack``, and saves in the labelme way: an ``AutosaveWriter`` thread writes a recovery
  journal after every edit and the label file itself at most ``SAVE_DELAY_MS`` after the first
  unsaved edit (atomically, the previous version kept as ``.bak``); the writer's callback is
  re-emitted as a Qt signal, so results are handled on the GUI thread. Opening a file offers to
  restore the journal a crashed session left, and warns when another window has the same file
  open. When the file changed on disk since it was loaded (another window, another program), the
  save is refused by the engine and the operator is asked: reload theirs, overwrite it, or save
  ours elsewhere; until then the edits live in the journal.
* ``LabelsController`` - the window side. It adds the label band under the timeline
  (``app.widgets.label_band``), the "Labels" dock (``app.widgets.labels_panel``: intervals,
  tag / note editing, live AUROC / EER / F1), the label actions and their keys, the "Labels" menu,
  and the incident export dialog (``app.widgets.export_dialog``). The main window calls
  ``open_for_source()`` after opening a video, ``scores_changed()`` when scores or events change,
  and ``shutdown()`` when it closes.

Where labels live: beside the video (``clip.avi`` -> ``clip.labels.json``, ``frames/01`` ->
``frames/01.labels.json``), or, when that folder is read-only (a shared dataset) or the video
has no file (the built-in demo), in the user data folder (``label_location``). A label file
beside a read-only video is read as the starting point and never written.

The dialogs are module functions (``ask_recovery``, ``ask_conflict``, ``ask_save_path``) so tests
can replace them.

Example::

    controller = LabelsController(window)    # done by MainWindow
    controller.open_for_source()              # after window.session.open_source(...)
    controller.add_interval(60, 120)          # what a drag on the band does
    controller.editor.undo_stack.undo()
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox, QWidget

from app.widgets.label_band import ROW_HEIGHT, LabelBand
from app.widgets.labels_panel import LabelsPanel
from vad_core.errors import LabelEditError, LabelFileError, VadError
from vad_core.labels import (
    Command,
    CompoundCommand,
    InsertInterval,
    LabelDocument,
    LabelInterval,
    VideoInfo,
    accept_event,
    add_interval,
    default_author,
    event_decision,
    merge_intervals,
    move_interval,
    new_interval_id,
    reject_event,
    remove_intervals,
    set_note,
    set_tag,
    split_interval,
)
from vad_core.labels.store import (
    AutosaveWriter,
    LabelConflictError,
    LabelStore,
    Recovery,
    load_document,
    load_or_create,
    restore_recovery,
)

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from vad_core.export import Incident

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 1000  # the label file is written at most this long after the first unsaved edit
JOURNAL_DELAY_S = 0.2  # the writer gathers a burst of edits this long before writing the journal


# =================================================================================================
# Where labels live
# =================================================================================================


def folder_writable(folder: Path) -> bool:
    """True when we may create files in ``folder``.

    A folder without any write permission bit counts as read-only even for a superuser, who could
    write there anyway: a shared dataset marked read-only stays untouched.
    """
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(stat.S_IMODE(mode) & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def _file_writable(path: Path) -> bool:
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o222)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _safe_stem(text: str) -> str:
    """``demo (synthetic)`` -> ``demo_synthetic``: a file-name part without separators."""
    cleaned = re.sub(r"[^\w.-]+", "_", text, flags=re.ASCII).strip("._-")
    return cleaned[:60] or "video"


def label_location(source_path: Path | None, name: str) -> tuple[Path, Path | None]:
    """``(label file to save to, existing read-only label file to start from or None)``.

    Beside the video when its folder is writable; else in ``data_dir()/labels``, named after the
    video plus a hash of its full path (two ``01`` folders of different datasets do not collide).
    Videos without a file (the demo) get ``data_dir()/labels/<name>.labels.json``.
    """
    from vad_core.labels.io import LABEL_SUFFIX, default_label_path
    from vad_core.paths import data_dir

    store = data_dir() / "labels"
    if source_path is None:
        return store / f"{_safe_stem(name)}{LABEL_SUFFIX}", None
    beside = default_label_path(source_path)
    if folder_writable(beside.parent) and _file_writable(beside):
        return beside, None
    digest = hashlib.sha1(str(Path(source_path).resolve()).encode("utf-8")).hexdigest()[:10]
    stem = beside.name[: -len(LABEL_SUFFIX)]
    return store / f"{_safe_stem(stem)}-{digest}{LABEL_SUFFIX}", (beside if beside.is_file() else None)


# =================================================================================================
# Dialogs (module functions, so tests can replace them)
# =================================================================================================


def ask_recovery(parent: QWidget | None, recovery: Recovery) -> str:
    """Ask whether to restore a crashed session's unsaved edits: ``restore``, ``discard`` or ``later``."""
    changed = (
        "\n\nThe label file was saved by someone else since those edits began: if you restore them, "
        "you will be asked before the file is overwritten."
        if not recovery.base_matches
        else ""
    )
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Restore unsaved labels?",
        f"A session that ended unexpectedly left unsaved label edits for {recovery.label_file.name} "
        f"(written {recovery.written or 'at an unknown time'}"
        f"{' on ' + recovery.host if recovery.host else ''}).{changed}",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    restore = box.addButton("Restore the edits", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard them", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def ask_conflict(parent: QWidget | None, path: Path) -> str:
    """The label file changed on disk: ``reload``, ``overwrite``, ``save_as`` or ``later``."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Label file changed on disk",
        f"{path.name} was changed by another window or program since you opened it, so your "
        "latest label edits were not written to it.\n\nReload discards your unsaved edits and shows "
        "the file as it is now. Overwrite replaces it with your labels (the other version is kept "
        f"as {path.name}.bak). Save as… keeps both.",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setDetailedText(str(path))
    reload = box.addButton("Reload", QMessageBox.ButtonRole.DestructiveRole)
    overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.AcceptRole)
    save_as = box.addButton("Save as…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Decide later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(save_as)
    box.exec()
    clicked = box.clickedButton()
    if clicked is reload:
        return "reload"
    if clicked is overwrite:
        return "overwrite"
    return "save_as" if clicked is save_as else "later"


def ask_save_path(parent: QWidget | None, suggested: Path) -> Path | None:
    """A new label file name (the file dialog asks before replacing one)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save labels as", str(suggested), "Label files (*.json)")
    return Path(path) if path else None


# =================================================================================================
# The document side
# =================================================================================================


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
            choice = ask_recovery(self.parent_widget, recovery)
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
            choice = ask_conflict(self.parent_widget, self.store.path)
            if choice == "reload":
                self.reload()
            elif choice == "overwrite":
                self.conflicted = False
                self._submit("file", force=True)
            elif choice == "save_as":
                path = ask_save_path(
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


# =================================================================================================
# The window side
# =================================================================================================


class LabelsController(QObject):
    """Label band, Labels dock, label actions, Labels menu and export for the review window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.editor = LabelEditor(window)
        self.band = LabelBand(window.timeline, self)
        window.timeline.setMinimumHeight(window.timeline.minimumHeight() + ROW_HEIGHT + 30)
        self.selection: list[str] = []
        self.label_in: int | None = None
        self.export_dialog: QWidget | None = None
        self.export_folder: Path | None = None
        self._build_actions()
        self.panel = LabelsPanel(window.actions_by_name)
        self.dock = self._add_dock()
        self._build_menu()
        self._connect()
        self._refresh()

    # -- construction --------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        a = self.window._action
        a(
            "label_in",
            "Label: first frame here",
            self.mark_label_in,
            ("B",),
            tip="Label: the anomaly begins here",
        )
        a("label_out", "Label: last frame here (adds the interval)", self.mark_label_out, ("N",))
        a("accept_event", "Accept the event as a label", self.accept_event, ("A",))
        a("reject_event", "Reject the event (false alarm)", self.reject_event, ("R",))
        a("delete_label", "Delete the selected label", self.delete_selected, ("Delete",))
        a("split_label", "Split the label at the current frame", self.split_at_playhead, ("S",))
        a("merge_labels", "Merge the selected labels", self.merge_selected, ("M",))
        a("undo", "Undo", self.editor.undo_stack.undo, ("Ctrl+Z",))
        a("redo", "Redo", self.editor.undo_stack.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))
        a("save_labels", "Save labels now", self.editor.save, ("Ctrl+S",))
        a("export_selected", "Export the selected incident…", self.export_selected, ("Ctrl+E",))
        a("export_incidents", "Export incidents…", lambda: self.open_export_dialog(None))
        a(
            "export_accepted",
            "Export all accepted incidents…",
            lambda: self.open_export_dialog("accepted labels"),
        )
        a("import_labels", "Import ground truth…", self.import_ground_truth)
        a("copy_truth", "Copy the dataset's ground truth into the labels", self.copy_dataset_truth)
        a("export_labels", "Export labels…", self.export_labels)
        stack = self.editor.undo_stack
        actions = self.window.actions_by_name
        stack.canUndoChanged.connect(actions["undo"].setEnabled)
        stack.canRedoChanged.connect(actions["redo"].setEnabled)
        stack.undoTextChanged.connect(lambda text: actions["undo"].setText(f"Undo {text}".strip()))
        stack.redoTextChanged.connect(lambda text: actions["redo"].setText(f"Redo {text}".strip()))
        actions["undo"].setEnabled(False)
        actions["redo"].setEnabled(False)

    def shortcut_actions(self) -> list[Any]:
        """The label actions with keys, for the help dialog."""
        names = (
            "label_in",
            "label_out",
            "accept_event",
            "reject_event",
            "delete_label",
            "split_label",
            "merge_labels",
            "undo",
            "redo",
            "save_labels",
            "export_selected",
        )
        return [self.window.actions_by_name[name] for name in names]

    def _add_dock(self) -> QDockWidget:
        window = self.window
        dock = window._dock("Labels", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        window.splitDockWidget(window.events_dock, dock, Qt.Orientation.Vertical)
        window.view_menu.addAction(dock.toggleViewAction())
        return dock

    def fit_docks(self, height: int) -> None:
        """Heights of the right column for a window ``height`` px high: the labels get the most."""
        window = self.window
        docks = [window.side_dock, window.events_dock, self.dock]
        window.resizeDocks(
            docks, [int(height * 0.34), int(height * 0.2), int(height * 0.46)], Qt.Orientation.Vertical
        )

    def _build_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu("&Labels")
        window.menuBar().insertMenu(window.view_menu.menuAction(), menu)
        groups = (
            ("label_in", "label_out", "accept_event", "reject_event"),
            ("split_label", "merge_labels", "delete_label", "undo", "redo"),
            ("save_labels", "import_labels", "copy_truth", "export_labels"),
            ("export_selected", "export_incidents", "export_accepted"),
        )
        for index, group in enumerate(groups):
            if index:
                menu.addSeparator()
            for name in group:
                menu.addAction(window.actions_by_name[name])
        self.menu = menu

    def _connect(self) -> None:
        editor, band, panel = self.editor, self.band, self.panel
        editor.changed.connect(self._refresh)
        editor.stateChanged.connect(self._show_state)
        editor.message.connect(lambda text: self.window.notify(text, 10000))
        band.createRequested.connect(self.add_interval)
        band.changeRequested.connect(self.move_interval)
        band.selectionChanged.connect(self.set_selection)
        band.seekRequested.connect(self.window.seek)
        panel.selectionChanged.connect(self.set_selection)
        panel.tagEdited.connect(self.set_tag)
        panel.noteEdited.connect(self.set_note)
        panel.intervalActivated.connect(self._go_to_interval)

    # -- window hooks ----------------------------------------------------------------------------------
    def open_for_source(self) -> None:
        """The window opened a video: save the previous labels, open this one's."""
        from vad_core.labels.io import video_info

        session = self.window.session
        self.label_in = None
        self.band.set_mark(None)
        self.selection = []
        if session.source is None:
            self.editor.close_document()
            return
        self.band.set_length(session.frame_count)
        info = video_info(session.source)
        if not info.name:
            info = VideoInfo(session.source_name, info.path, info.frame_count, info.fps, info.sha256)
        path, seed = label_location(session.source_path, session.source_name)
        self.editor.open(path, info, seed)
        self._refresh()

    def scores_changed(self) -> None:
        """Scores, events or the threshold changed: event decisions and metrics follow."""
        self._show_decisions()
        self._update_metrics()
        self._update_enabled()

    def shutdown(self) -> None:
        """The window closes: write what is pending and stop the writer thread."""
        if self.export_dialog is not None:
            self.export_dialog.close()
        if not self.editor.shutdown(5.0):
            log.warning("label writes still pending at exit")

    # -- views -----------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        doc = self.editor.doc
        intervals = doc.intervals if doc is not None else ()
        ids = {i.id for i in intervals}
        self.selection = [i for i in self.selection if i in ids]
        self.band.set_intervals(intervals)
        self.band.set_selection(self.selection)
        self.panel.set_intervals(intervals, self.window.session.fps)
        self.panel.select_ids(self.selection)
        self._show_decisions()
        self._update_metrics()
        self._show_state()
        self._update_enabled()

    def _show_state(self) -> None:
        text, level = self.editor.state()
        self.panel.set_file_state(text, level, str(self.editor.path or ""))

    def _show_decisions(self) -> None:
        doc, events = self.editor.doc, self.window.session.events
        if doc is not None:
            self.window.events_table.set_decisions([event_decision(doc, e) for e in events])

    def _update_metrics(self) -> None:
        session = self.window.session
        score = session.scores.score if session.scores is not None else None
        model = session.checkpoint.display_name if session.checkpoint is not None else ""
        self.panel.update_metrics(score, self.editor.doc, session.scoring.threshold, model)

    def _update_enabled(self) -> None:
        has_doc = self.editor.doc is not None
        actions = self.window.actions_by_name
        for name in (
            "label_in",
            "label_out",
            "accept_event",
            "reject_event",
            "delete_label",
            "split_label",
            "merge_labels",
            "save_labels",
            "import_labels",
            "export_labels",
            "export_selected",
            "export_incidents",
            "export_accepted",
        ):
            actions[name].setEnabled(has_doc)
        actions["copy_truth"].setEnabled(has_doc and self.window.session.ground_truth is not None)

    def set_selection(self, ids: Sequence[str]) -> None:
        """Select intervals (from the band, the panel or an edit); both views follow."""
        doc = self.editor.doc
        known = {i.id for i in doc.intervals} if doc is not None else set()
        self.selection = [i for i in dict.fromkeys(ids) if i in known]
        self.band.set_selection(self.selection)
        self.panel.select_ids(self.selection)

    def _go_to_interval(self, interval_id: str) -> None:
        doc = self.editor.doc
        if doc is not None and doc.has_interval(interval_id):
            self.set_selection([interval_id])
            self.window.pause()
            self.window.seek(doc.interval(interval_id).start)

    # -- edits -----------------------------------------------------------------------------------------
    def add_interval(self, start: int, end: int, kind: str = "anomaly") -> str | None:
        """Add ``[start, end)`` and select it; returns its id (None when refused)."""
        command = self.editor.push(lambda doc: add_interval(doc, start, end, kind=kind))
        if isinstance(command, InsertInterval):
            self.set_selection([command.interval.id])
            self.window.notify(
                f"Labelled frames {command.interval.start}-{command.interval.last} as an anomaly "
                "(Ctrl+Z undoes; double-click its tag in the Labels panel to name it).",
                6000,
            )
            return command.interval.id
        self._refresh()
        return None

    def move_interval(self, interval_id: str, start: int, end: int) -> None:
        """Move / resize an interval (a finished drag on the band)."""
        if self.editor.push(lambda doc: move_interval(doc, interval_id, start, end)) is None:
            self._refresh()  # back where it was

    def _targets(self) -> list[LabelInterval]:
        """The selected intervals, else the one under the playhead (when there is exactly one)."""
        doc = self.editor.doc
        if doc is None:
            return []
        if self.selection:
            return [doc.interval(i) for i in self.selection if doc.has_interval(i)]
        here = doc.intervals_at(self.window.frame_index)
        return list(here) if len(here) == 1 else []

    def delete_selected(self) -> None:
        targets = self._targets()
        if not targets:
            self.window.notify("Select a label first (click it on the labels row or in the Labels panel).")
            return
        ids = [t.id for t in targets]
        if self.editor.push(lambda doc: remove_intervals(doc, ids)) is not None:
            self.window.notify(
                f"Deleted {len(ids)} label{'s' if len(ids) != 1 else ''} (Ctrl+Z undoes).", 5000
            )

    def split_at_playhead(self) -> None:
        frame = self.window.frame_index
        doc = self.editor.doc
        if doc is None:
            return
        candidates = [t for t in self._targets() if t.start < frame < t.end] or [
            i for i in doc.intervals_at(frame) if i.start < frame
        ]
        if not candidates:
            self.window.notify("Put the playhead inside a label (not on its first frame) to split it there.")
            return
        target = candidates[0]
        command = self.editor.push(lambda d: split_interval(d, target.id, frame))
        if isinstance(command, CompoundCommand):
            self.set_selection([target.id])

    def merge_selected(self) -> None:
        doc = self.editor.doc
        if doc is None:
            return
        ids = list(self.selection)
        if len(ids) == 1:  # one selected: merge it with the next label of the same kind
            first = doc.interval(ids[0])
            following = [
                i
                for i in doc.intervals
                if i.kind == first.kind and i.start >= first.start and i.id != first.id
            ]
            if following:
                ids.append(following[0].id)
        if len(ids) < 2:
            self.window.notify("Select two or more labels to merge (Ctrl+click on the labels row).")
            return
        if self.editor.push(lambda d: merge_intervals(d, ids)) is not None:
            self.set_selection(
                [
                    sorted((doc.interval(i) for i in ids if doc.has_interval(i)), key=LabelInterval.sort_key)[
                        0
                    ].id
                ]
            )

    def set_tag(self, interval_id: str, tag: str) -> None:
        doc = self.editor.doc
        if doc is None or not doc.has_interval(interval_id) or doc.interval(interval_id).tag == tag.strip():
            return
        if self.editor.push(lambda d: set_tag(d, interval_id, tag)) is None:
            self._refresh()

    def set_note(self, interval_id: str, note: str) -> None:
        doc = self.editor.doc
        if doc is None or not doc.has_interval(interval_id) or doc.interval(interval_id).note == note:
            return
        if self.editor.push(lambda d: set_note(d, interval_id, note)) is None:
            self._refresh()

    def mark_label_in(self) -> None:
        """B: the anomaly begins at the current frame."""
        if self.window.session.source is None:
            return
        self.label_in = self.window.frame_index
        self.band.set_mark(self.label_in)
        self.window.notify(f"Label from frame {self.label_in}: go to its last frame and press N.", 8000)

    def mark_label_out(self) -> None:
        """N: the anomaly ends at the current frame (inclusive); adds the interval."""
        if self.window.session.source is None:
            return
        if self.label_in is None:
            self.window.notify("Press B at the first frame of the anomaly first, then N at its last frame.")
            return
        first, last = sorted((self.label_in, self.window.frame_index))
        self.label_in = None
        self.band.set_mark(None)
        self.add_interval(first, last + 1)

    def selected_event(self) -> int | None:
        """The event under the playhead, else the one selected in the events table."""
        session = self.window.session
        index = session.event_at(self.window.frame_index)
        if index is None:
            index = self.window.events_table.selected_event()
        return index if index is not None and 0 <= index < len(session.events) else None

    def accept_event(self) -> None:
        """A: the selected event becomes an anomaly label (frames marked reviewed)."""
        self._decide(accept_event, "Accepted")

    def reject_event(self) -> None:
        """R: the selected event is a false alarm, kept as a reviewed negative."""
        self._decide(reject_event, "Rejected")

    def _decide(self, builder: Callable[..., Command], verb: str) -> None:
        index = self.selected_event()
        if index is None:
            self.window.notify("Go to a flagged event first (Shift+→ jumps to the next one).")
            return
        event = self.window.session.events[index]
        if self.editor.push(lambda doc: builder(doc, event)) is None:
            return
        doc = self.editor.doc
        made = [
            i for i in doc.intervals if i.origin == "event" and (i.start, i.end) == (event.start, event.end)
        ]
        self.set_selection([made[0].id] if made else [])
        self.window.notify(
            f"{verb} event {index + 1} (frames {event.start}-{event.end - 1}). Shift+→: next event.", 6000
        )

    # -- import / export of labels ---------------------------------------------------------------------
    def _insert_all(self, intervals: Sequence[tuple[int, int, str, str, str]], text: str) -> int:
        """Add ``(start, end, kind, tag, note)`` intervals not already there, as one undo step."""
        doc = self.editor.doc
        if doc is None:
            return 0
        existing = {(i.start, i.end, i.kind) for i in doc.intervals}
        taken = {i.id for i in doc.intervals}
        author = default_author()
        commands: list[Command] = []
        for start, end, kind, tag, note in intervals:
            if (start, end, kind) in existing:
                continue
            existing.add((start, end, kind))
            interval_id = new_interval_id(taken)
            taken.add(interval_id)
            commands.append(
                add_interval(
                    doc,
                    start,
                    end,
                    kind=kind,
                    tag=tag,
                    note=note,
                    author=author,
                    origin="import",
                    interval_id=interval_id,
                )
            )
        if commands:
            self.editor.push(lambda _doc: CompoundCommand(tuple(commands), text))
        return len(commands)

    def import_ground_truth(self, path: str | Path | None = None) -> int:
        """Add the intervals of a ground-truth file (UCSD .m, Avenue .mat, CSV, .npy, JSON)."""
        from vad_core.labels.io import import_labels, video_info

        session = self.window.session
        if session.source is None or self.editor.doc is None:
            return 0
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self.window,
                "Import ground truth",
                str(session.source_path.parent if session.source_path else Path.home()),
                "Ground truth (*.json *.csv *.m *.mat *.npy *.txt);;All files (*)",
            )
            if not chosen:
                return 0
            path = chosen
        clip = session.source_path.name if session.source_path is not None else None
        try:
            try:
                docs = import_labels(path, clip=clip, video=video_info(session.source))
            except LabelFileError:
                docs = import_labels(path, video=video_info(session.source))  # single-clip files
        except VadError as error:
            self.window.show_error("Cannot import ground truth", str(error))
            return 0
        if len(docs) != 1:
            self.window.show_error(
                "Cannot import ground truth",
                f"{path}: holds {len(docs)} clips; none is named like this video",
            )
            return 0
        imported = next(iter(docs.values()))
        added = self._insert_all(
            [(i.start, i.end, i.kind, i.tag, i.note) for i in imported.intervals], "Import ground truth"
        )
        self.window.notify(f"Imported {added} interval{'s' if added != 1 else ''} from {Path(path).name}.")
        return added

    def copy_dataset_truth(self) -> int:
        """Add the dataset's own ground truth (UCSD, Avenue, demo) as labels."""
        from app.session import mask_intervals

        truth = self.window.session.ground_truth
        if truth is None:
            self.window.notify("This video has no ground truth.")
            return 0
        added = self._insert_all(
            [(a, b, "anomaly", "", "") for a, b in mask_intervals(truth)], "Copy ground truth"
        )
        self.window.notify(
            f"Copied {added} ground-truth interval{'s' if added != 1 else ''} into the labels."
        )
        return added

    def export_labels(self) -> None:
        """Write the labels as JSON, CSV or a per-frame .npy (a copy; the label file is saved anyway)."""
        from vad_core.labels.io import export_labels

        doc = self.editor.doc
        if doc is None:
            return
        suggested = (self.editor.path or Path.home() / "labels.json").with_suffix("").with_suffix(".csv")
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export labels",
            str(suggested),
            "CSV (*.csv);;Label file (*.json);;Per-frame 0/1 (*.npy)",
        )
        if not path:
            return
        try:
            written = export_labels(doc, path, force=True, include_negatives=True)
        except VadError as error:
            self.window.show_error("Cannot export labels", str(error))
            return
        self.window.notify(f"Labels exported to {written}.")

    # -- incident export -------------------------------------------------------------------------------
    def incident_choices(self) -> dict[str, list[Incident]]:
        """The sets of incidents the export dialog offers, by name."""
        from vad_core.export import Incident, select_incidents

        session, doc = self.window.session, self.editor.doc
        score = session.scores.score if session.scores is not None else None
        choices: dict[str, list[Incident]] = {}
        selected = [doc.interval(i) for i in self.selection if doc is not None and doc.has_interval(i)]
        if selected:
            choices["selected label"] = [Incident.from_interval(i, score) for i in selected]
        else:
            index = self.selected_event()
            if index is not None:
                choices["selected event"] = [Incident.from_event(session.events[index], doc)]
        if doc is not None:
            choices["accepted labels"] = select_incidents("accepted", doc=doc, score=score)
        if session.events:
            choices["flagged events"] = [Incident.from_event(e, doc) for e in session.events]
        return choices

    def _export_inputs(self) -> Any:
        from vad_core.export import ExportInputs

        session = self.window.session
        meta: dict[str, Any] = {"source": session.source_name}
        if session.checkpoint is not None:
            meta.update(
                model=session.checkpoint.display_name,
                checkpoint=str(session.checkpoint.path or ""),
                checkpoint_sha256=session.checkpoint.sha256,
            )
        complete = session.scores is not None
        return ExportInputs(
            score=session.scores.score if complete else None,
            maps=session.maps if complete else None,
            labels=self.editor.doc,
            meta=meta,
            operator=default_author(),
        )

    def default_export_folder(self) -> Path:
        """Beside the video (``<name>_incidents``) when that folder is writable, else in the data folder."""
        from vad_core.paths import data_dir

        if self.export_folder is not None:
            return self.export_folder
        session = self.window.session
        path = session.source_path
        stem = _safe_stem(path.stem if path is not None else session.source_name)
        if path is not None and folder_writable(path.parent):
            return path.parent / f"{stem}_incidents"
        return data_dir() / "exports" / stem

    def export_selected(self) -> None:
        """Ctrl+E: export the selected label (or the event under the playhead)."""
        choices = self.incident_choices()
        initial = next((k for k in ("selected label", "selected event") if k in choices), "accepted labels")
        self.open_export_dialog(initial, choices)

    def open_export_dialog(
        self, initial: str | None, choices: dict[str, list[Incident]] | None = None
    ) -> Any:
        """Open the export dialog on ``initial`` (a key of ``incident_choices``); returns it."""
        from app.widgets.export_dialog import ExportDialog

        session = self.window.session
        if session.source is None:
            self.window.notify("Open a video first.")
            return None
        if self.export_dialog is not None and self.export_dialog.isVisible() and self.export_dialog.running:
            self.export_dialog.raise_()
            return self.export_dialog
        choices = choices if choices is not None else self.incident_choices()
        dialog = ExportDialog(
            self.window.pool,
            session.source,
            choices,
            self._export_inputs(),
            self.default_export_folder(),
            initial=initial,
            parent=self.window,
        )
        dialog.exported.connect(lambda written, d=dialog: self._exported(d, written))
        self.export_dialog = dialog
        dialog.show()  # not modal: reviewing goes on while clips are written
        return dialog

    def _exported(self, dialog: Any, written: list[Any]) -> None:
        self.export_folder = Path(dialog.folder.text())
        self.window.notify(
            f"Exported {len(written)} incident clip{'s' if len(written) != 1 else ''} to {self.export_folder}."
        )
