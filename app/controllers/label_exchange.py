"""Labels in and out of the review window: ground truth imported, labels exported, incident clips.

``LabelExchange`` belongs to the ``LabelsController``: it imports a ground-truth file (UCSD
``.m``, Avenue ``.mat``, CSV, ``.npy``, label JSON) or copies the dataset's own ground truth into
the labels as one undo step; exports the labels as JSON, CSV or a per-frame ``.npy``; and opens
the incident export dialog (``app.widgets.export_dialog``) on the selected label or event, the
accepted labels or every flagged event. Clips go beside the video (``<name>_incidents``) when
that folder is writable, else to the user data folder. Its actions are added to the window here.

Example::

    window.labels.exchange.import_ground_truth("UCSDped2.m")
    window.labels.exchange.open_export_dialog("accepted labels")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from vad_core.errors import LabelFileError, VadError
from vad_core.labels import Command, CompoundCommand, add_interval, default_author, new_interval_id
from vad_core.labels.locations import folder_writable, safe_stem

if TYPE_CHECKING:
    from app.controllers.labels import LabelsController
    from vad_core.export import Incident


class LabelExchange(QObject):
    """Import and export of the labels and incident clips (see the module docstring)."""

    def __init__(self, labels: LabelsController) -> None:
        super().__init__(labels)
        self.labels = labels
        self.window = labels.window
        self.export_dialog: QWidget | None = None
        self.export_folder: Path | None = None
        a = self.window.add_action
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

    def shutdown(self) -> None:
        """The window closes: so does the export dialog."""
        if self.export_dialog is not None:
            self.export_dialog.close()

    def _insert_all(self, intervals: Sequence[tuple[int, int, str, str, str]], text: str) -> int:
        """Add ``(start, end, kind, tag, note)`` intervals not already there, as one undo step."""
        doc = self.labels.editor.doc
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
            self.labels.editor.push(lambda _doc: CompoundCommand(tuple(commands), text))
        return len(commands)

    def import_ground_truth(self, path: str | Path | None = None) -> int:
        """Add the intervals of a ground-truth file (UCSD .m, Avenue .mat, CSV, .npy, JSON)."""
        from vad_core.labels.io import import_labels, video_info

        session = self.window.session
        if session.source is None or self.labels.editor.doc is None:
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
        from app.review_session import mask_intervals

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

        doc = self.labels.editor.doc
        if doc is None:
            return
        suggested = (
            (self.labels.editor.path or Path.home() / "labels.json").with_suffix("").with_suffix(".csv")
        )
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

        session, doc = self.window.session, self.labels.editor.doc
        score = session.scores.score if session.scores is not None else None
        choices: dict[str, list[Incident]] = {}
        selected = [doc.interval(i) for i in self.labels.selection if doc is not None and doc.has_interval(i)]
        if selected:
            choices["selected label"] = [Incident.from_interval(i, score) for i in selected]
        else:
            index = self.labels.selected_event()
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
        meta: dict[str, Any] = {"source": session.source_name, "scoring": dict(vars(session.scoring))}
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
            labels=self.labels.editor.doc,
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
        stem = safe_stem(path.stem if path is not None else session.source_name)
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
