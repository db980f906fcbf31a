"""The incident export dialog: what to export, padding, overlay, container, folder; runs in a worker.

The operator picks a set of incidents (the selected interval or event, every accepted label, every
flagged event), the padding before and after (seconds), whether the error heatmap is burned in,
whether frame number / time / score are written on the frames, whether a contact sheet is made,
the container (MPEG-4 with an AVI fallback, or Motion-JPEG AVI) and the folder. "Export" runs
``vad_core.export.export_incidents`` as an ``app.jobs.worker.Worker`` on the window's pool: the
progress bar follows its ``ExportProgress`` items, "Cancel" stops it at the next chunk of frames
(the engine removes the partial files), and the dialog lists what was written. The engine never
replaces an existing file: names get ``-2``, ``-3``, ... instead.

Example::

    dialog = ExportDialog(pool, source, {"accepted labels": incidents}, inputs, Path("exports"), parent=window)
    dialog.open()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs.worker import Worker, WorkerPool
from vad_core.errors import VadError
from vad_core.export import ExportConfig, ExportedIncident, ExportInputs, ExportProgress, Incident

MAX_LISTED = 6


def describe_incidents(incidents: Sequence[Incident], fps: float) -> str:
    """``2 incidents, 2.9 s in all: frames 40-79 (bike), 120-151`` for the dialog."""
    if not incidents:
        return "nothing to export"
    parts = [f"{i.start}-{i.last}" + (f" ({i.tag})" if i.tag else "") for i in incidents[:MAX_LISTED]]
    more = f", … (+{len(incidents) - MAX_LISTED})" if len(incidents) > MAX_LISTED else ""
    frames = sum(i.end - i.start for i in incidents)
    noun = "incident" if len(incidents) == 1 else "incidents"
    return f"{len(incidents)} {noun}, {frames / max(fps, 1e-6):.1f} s in all: frames {', '.join(parts)}{more}"


class ExportDialog(QDialog):
    """Export incidents of one video (see the module docstring); ``exported`` lists what was written."""

    exported = Signal(list)  # [ExportedIncident]

    def __init__(
        self,
        pool: WorkerPool,
        source: Any,
        choices: Mapping[str, Sequence[Incident]],
        inputs: ExportInputs,
        folder: Path,
        initial: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export incidents")
        self.pool = pool
        self.source = source
        self.choices = {name: list(items) for name, items in choices.items()}
        self.inputs = inputs
        self.fps = float(getattr(source, "fps", 25.0) or 25.0)
        self.worker: Worker | None = None
        self.written: list[ExportedIncident] = []
        self.error: str | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form(inputs, folder, initial))
        note = QLabel(
            "Each incident gets a clip, a JSON sidecar and a contact sheet; existing files are never replaced."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #9e9e9e; font-size: 8pt;")
        layout.addWidget(note)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addWidget(self._build_buttons())
        self.which.currentIndexChanged.connect(self._update_summary)
        self._update_summary()
        self.resize(560, self.sizeHint().height())

    def _build_form(self, inputs: ExportInputs, folder: Path, initial: str | None) -> QFormLayout:
        """What to export, padding, heatmap / annotation / contact sheet, container and folder."""
        form = QFormLayout()
        self.which = QComboBox()
        for name, items in self.choices.items():
            self.which.addItem(f"{name} ({len(items)})", name)
        if initial in self.choices:
            self.which.setCurrentIndex(list(self.choices).index(initial))
        form.addRow("Export", self.which)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: #b0b0b0;")
        form.addRow("", self.summary)
        self.pad_before = self._seconds_box(2.0, "Seconds of video before the incident")
        self.pad_after = self._seconds_box(2.0, "Seconds of video after the incident")
        pads = QHBoxLayout()
        pads.addWidget(QLabel("before"))
        pads.addWidget(self.pad_before)
        pads.addSpacing(12)
        pads.addWidget(QLabel("after"))
        pads.addWidget(self.pad_after)
        pads.addStretch(1)
        form.addRow("Padding", pads)
        self.overlay = QCheckBox("Burn in the error heatmap")
        has_maps = inputs.maps is not None
        self.overlay.setEnabled(has_maps)
        self.overlay.setToolTip(
            "Blend the per-pixel error map over the frames."
            if has_maps
            else "No error maps for this video (score it with a model that keeps maps)."
        )
        self.annotate = QCheckBox("Write frame number, time and score on the frames")
        self.annotate.setChecked(True)
        self.sheet = QCheckBox("Contact sheet (PNG of 8 key frames)")
        self.sheet.setChecked(True)
        for box in (self.overlay, self.annotate, self.sheet):
            form.addRow("", box)
        self.container = QComboBox()
        self.container.addItem("MP4 (mp4v; AVI if the codec is missing)", "mp4")
        self.container.addItem("AVI (Motion-JPEG)", "avi")
        form.addRow("Container", self.container)
        folder_row = QHBoxLayout()
        self.folder = QLineEdit(str(folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        form.addRow("Folder", folder_row)
        return form

    def _build_buttons(self) -> QDialogButtonBox:
        """Export, Open folder (after an export), Close (Cancel while exporting)."""
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button = self.buttons.addButton("Open folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setVisible(False)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.open_button.clicked.connect(self._open_folder)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        return self.buttons

    @staticmethod
    def _seconds_box(value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0.0, 120.0)
        box.setSingleStep(0.5)
        box.setDecimals(1)
        box.setSuffix(" s")
        box.setValue(value)
        box.setToolTip(tip)
        return box

    # -- state ---------------------------------------------------------------------------------------
    def incidents(self) -> list[Incident]:
        """The incidents of the current choice."""
        return self.choices.get(self.which.currentData(), [])

    def config(self) -> ExportConfig:
        """The export settings as the engine's frozen dataclass."""
        return ExportConfig(
            pad_before=float(self.pad_before.value()),
            pad_after=float(self.pad_after.value()),
            overlay=self.overlay.isChecked() and self.overlay.isEnabled(),
            annotate=self.annotate.isChecked(),
            container=str(self.container.currentData()),
            contact_sheet=self.sheet.isChecked(),
        )

    @property
    def running(self) -> bool:
        return self.worker is not None

    def _update_summary(self) -> None:
        incidents = self.incidents()
        self.summary.setText(describe_incidents(incidents, self.fps))
        self.export_button.setEnabled(bool(incidents) and not self.running)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if path:
            self.folder.setText(path)

    def _open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.folder.text()))

    # -- running -------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the export job; False (with the reason shown) when the settings are unusable."""
        from app.jobs.threads import independent_reader
        from vad_core.export import export_incidents

        if self.running:
            return False
        incidents = self.incidents()
        folder = Path(self.folder.text().strip()).expanduser()
        if not incidents or not self.folder.text().strip():
            self.status.setText("Choose what to export and a folder.")
            return False
        try:
            config = self.config()
        except VadError as error:
            self.status.setText(str(error))
            return False
        source, inputs = independent_reader(self.source), self.inputs
        worker = Worker(lambda: export_incidents(source, incidents, folder, inputs, config), name="export")
        worker.signals.chunk.connect(self._progress)
        worker.signals.done.connect(self._done)
        worker.signals.failed.connect(self._failed)
        worker.signals.finished.connect(self._finished)
        self.worker = worker
        self.written, self.error = [], None
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.open_button.setVisible(False)
        self.status.setText(f"Exporting {len(incidents)} incident{'s' if len(incidents) != 1 else ''}…")
        self.cancel_button.setText("Cancel")
        for widget in (self.which, self.export_button, self.folder):
            widget.setEnabled(False)
        self.pool.start(worker)
        return True

    def cancel(self) -> None:
        """Stop the running export (its partial files are removed)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self.status.setText("Cancelled; the clip being written was removed.")
            self._idle()

    def _mine(self) -> bool:
        return self.worker is not None and self.worker.sent(self.sender())

    def _progress(self, item: object) -> None:
        if self._mine() and isinstance(item, ExportProgress):
            self.progress.setValue(int(item.fraction * 1000))
            where = f": {item.path.name}" if item.path is not None else ""
            self.status.setText(f"Incident {item.incident} of {item.incidents}, {item.stage}{where}")

    def _done(self, written: list[ExportedIncident]) -> None:
        if not self._mine():
            return
        self.written = list(written)
        self.progress.setValue(1000)
        names = ", ".join(w.clip.name for w in self.written[:4]) + (" …" if len(self.written) > 4 else "")
        self.status.setText(
            f"Wrote {len(self.written)} clip{'s' if len(self.written) != 1 else ''} to {self.folder.text()}: {names}"
        )
        self.open_button.setVisible(True)
        self.exported.emit(self.written)

    def _failed(self, message: str) -> None:
        if self._mine():
            self.error = message
            self.status.setText(f"Export failed: {message}")

    def _finished(self) -> None:
        if self._mine():
            self.worker = None
            self._idle()

    def _idle(self) -> None:
        self.cancel_button.setText("Close")
        for widget in (self.which, self.folder):
            widget.setEnabled(True)
        self._update_summary()

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def done(self, result: int) -> None:
        """Closing the dialog cancels a running export."""
        self.cancel()
        super().done(result)
