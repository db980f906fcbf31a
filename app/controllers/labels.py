"""Labels in the review window: one label document per video, edited undoably, never lost.

``LabelsController`` is the window side of the labels. It adds the label band under the timeline
(``app.widgets.label_band``: draw, move, resize, select), the "Labels" dock
(``app.widgets.labels_panel``: intervals, tag / note editing, live AUROC / EER / F1), the label
actions and their keys, and the "Labels" menu, through the window's ``add_action`` /
``add_dock``. The document side - undo stack, autosave, recovery, conflicts - is the
``LabelEditor`` (``app.controllers.label_editor``); importing ground truth and exporting labels
and incident clips is the ``LabelExchange`` (``app.controllers.label_exchange``).

The window calls ``open_for_source()`` after opening a video, ``scores_changed()`` when scores or
events change, and ``shutdown()`` when it closes. Where a video's label file lives (beside it, or
in the user data folder when its folder is read-only) is the engine's rule,
``vad_core.labels.locations.label_location``, so ``vad labels`` finds the same file.

Example::

    controller = LabelsController(window)    # done by ReviewWindow
    controller.open_for_source()              # after window.session.open_source(...)
    controller.add_interval(60, 120)          # what a drag on the band does
    controller.editor.undo_stack.undo()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from app.controllers.label_editor import LabelEditor
from app.controllers.label_exchange import LabelExchange
from app.widgets.label_band import ROW_HEIGHT, LabelBand
from app.widgets.labels_panel import LabelsPanel
from vad_core.labels import (
    Command,
    CompoundCommand,
    InsertInterval,
    LabelInterval,
    VideoInfo,
    accept_event,
    add_interval,
    event_decision,
    merge_intervals,
    move_interval,
    reject_event,
    remove_intervals,
    set_note,
    set_tag,
    split_interval,
)
from vad_core.labels.locations import label_location

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

log = logging.getLogger(__name__)


class LabelsController(QObject):
    """Label band, Labels dock, label actions, Labels menu and export for the review window."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.editor = LabelEditor(window)
        self.band = LabelBand(window.timeline, self)
        window.timeline.setMinimumHeight(window.timeline.minimumHeight() + ROW_HEIGHT + 30)
        self.selection: list[str] = []
        self.label_in: int | None = None
        self._build_actions()
        self.exchange = LabelExchange(self)  # import / export of labels, incident clips
        self.panel = LabelsPanel(window.actions_by_name)
        self.dock = self._add_dock()
        self._build_menu()
        self._connect()
        self._refresh()

    # -- construction --------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        a = self.window.add_action
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
        dock = window.add_dock("Labels", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
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
        band.seekRequested.connect(self.window.playback.seek)
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
        self.exchange.shutdown()
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
        self.panel.update_metrics(
            score, self.editor.doc, session.scoring.threshold, model, session.ground_truth
        )

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
            self.window.playback.pause()
            self.window.playback.seek(doc.interval(interval_id).start)

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
        here = doc.intervals_at(self.window.playback.frame_index)
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
        frame = self.window.playback.frame_index
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
        self.label_in = self.window.playback.frame_index
        self.band.set_mark(self.label_in)
        self.window.notify(f"Label from frame {self.label_in}: go to its last frame and press N.", 8000)

    def mark_label_out(self) -> None:
        """N: the anomaly ends at the current frame (inclusive); adds the interval."""
        if self.window.session.source is None:
            return
        if self.label_in is None:
            self.window.notify("Press B at the first frame of the anomaly first, then N at its last frame.")
            return
        first, last = sorted((self.label_in, self.window.playback.frame_index))
        self.label_in = None
        self.band.set_mark(None)
        self.add_interval(first, last + 1)

    def selected_event(self) -> int | None:
        """The event under the playhead, else the one selected in the events table."""
        session = self.window.session
        index = session.event_at(self.window.playback.frame_index)
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
