"""Train on this footage: train a model on frames marked as normal, in the background.

The dialog fills a ``vad_core.training.TrainConfig`` (architecture, input size, epochs, batch
size, time budget) with ``TrainConfig.for_model``, so an architecture's registered recipe (DRAEM:
Adam 1e-4, batch 8, 700 epochs, lr steps, last epoch kept, no validation) is what trains it: choosing
an architecture sets epochs and batch size to its recipe and names the recipe; the file name follows
the architecture (``output_for``) until the operator edits it. It lets the operator pick which frames to learn from (``TrainingChoice``: frames marked
normal, all frames outside flagged events, the whole clip, or - for the demo - the synthetic
benchmark's normal training clips) and where to save the checkpoint, then runs
``app.jobs.review.train_job`` on the worker pool. A progress bar and a live loss curve (training loss per
batch, validation loss per epoch) follow the run; Stop or closing the dialog cancels it. When it
ends, "Use this model" hands the checkpoint to the review window (``modelReady``).

Example::

    dialog = TrainDialog(pool, model_names(), [TrainingChoice("whole clip", [source], None)], "runs/m")
    dialog.modelReady.connect(window.load_checkpoint)
    dialog.show()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.jobs.review import train_job
from app.jobs.worker import Worker, WorkerPool
from app.theme import PLOT_BACKGROUND
from vad_core.sources.base import FrameSource

SIZES = ((64, 64), (128, 128), (128, 192), (192, 256), (256, 256))
DEFAULT_BATCH = 32  # thesis 4.9.1 (TrainConfig's default)


def registered_recipe(architecture: str) -> dict[str, Any]:
    """The ``TrainConfig`` fields ``architecture`` trains with beside the thesis recipe ({} if unknown)."""
    from vad_core.errors import VadError
    from vad_core.models.registry import model_entry

    try:
        return dict(model_entry(architecture).training)
    except VadError:
        return {}


def describe_recipe(recipe: dict[str, Any]) -> str:
    """The parts of a registered recipe an operator should know, in words ("" for the thesis recipe)."""
    parts = []
    if "learning_rate" in recipe:
        parts.append(f"Adam lr {recipe['learning_rate']:g}")
    milestones = recipe.get("lr_milestones") or ()
    if milestones:
        steps = " and ".join(f"{100 * m:.0f} %" for m in milestones)
        parts.append(f"lr × {recipe.get('lr_factor', 0.75):g} after {steps} of the run")
    if recipe.get("keep") == "last":
        parts.append("last epoch kept (no early stopping)")
    if recipe.get("validation_fraction") == 0.0:
        parts.append("no validation split")
    return ", ".join(parts)


@dataclass
class TrainingChoice:
    """One way to pick training frames: sources and, per source, the frame intervals (None = all)."""

    label: str
    sources: list[FrameSource]
    ranges: list[list[tuple[int, int]]] | None = None
    dataset: str = ""  # what "trained on" will say

    @property
    def frames(self) -> int:
        if self.ranges is None:
            return sum(len(s) for s in self.sources)
        return sum(max(0, b - a) for ranges in self.ranges for a, b in ranges)


class TrainDialog(QDialog):
    """Training settings, frame selection, progress bar, live loss curve, Start / Stop / Use."""

    modelReady = Signal(str)

    def __init__(
        self,
        pool: WorkerPool,
        architectures: Sequence[str],
        choices: Sequence[TrainingChoice],
        output: str | Path,
        architecture: str = "bcae1",
        size: tuple[int, int] = (128, 128),
        channels: int = 1,
        epochs: int = 10,
        device: str = "auto",
        model_options: dict[str, dict[str, Any]] | None = None,
        output_for: Callable[[str], str | Path] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``epochs`` is the default for architectures whose recipe names none; ``output_for(arch)``
        the file to save a model of ``arch`` to (None: ``output`` whatever the architecture)."""
        super().__init__(parent)
        self.setWindowTitle("Train on this footage")
        self.pool = pool
        self.choices = list(choices)
        self.channels = channels
        self.device = device
        self.default_epochs = epochs
        self.output_for = output_for
        self.worker: Worker | None = None
        self.checkpoint: Path | None = None
        self._train_x: list[float] = []
        self._train_y: list[float] = []
        self._val_x: list[float] = []
        self._val_y: list[float] = []
        self._dirty = False
        # options of a loaded model of the chosen architecture (e.g. base_filters=16) are kept
        self.model_options = dict(model_options or {})

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form(architectures, architecture, size, output))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("not started")
        layout.addWidget(self.progress)
        layout.addWidget(self._build_plot(), 1)
        self.status = QLabel("Choose the settings and press Start.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addLayout(self._build_buttons())
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._flush)
        self._auto_output = self.output.text()  # the file name follows the architecture until edited
        self.architecture.currentTextChanged.connect(self._architecture_changed)
        self._architecture_changed(self.architecture.currentText())
        self.resize(560, 620)

    def _build_form(
        self,
        architectures: Sequence[str],
        architecture: str,
        size: tuple[int, int],
        output: str | Path,
    ) -> QFormLayout:
        """The settings: architecture and its options, input size, epochs, batch, budget, frames, file."""
        form = QFormLayout()
        self.architecture = QComboBox()
        self.architecture.addItems(list(architectures))
        if architecture in architectures:
            self.architecture.setCurrentText(architecture)
        form.addRow("Architecture", self.architecture)
        self.options_label = QLabel()
        self.options_label.setWordWrap(True)
        form.addRow("Options", self.options_label)
        self.size = QComboBox()
        for height, width in SIZES:
            self.size.addItem(f"{width}×{height}")
        wanted = tuple(size)
        self.size.setCurrentIndex(SIZES.index(wanted) if wanted in SIZES else 1)
        self.size.setToolTip("Model input size (frames are resized); smaller trains faster")
        form.addRow("Input size", self.size)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 2000)
        form.addRow("Epochs", self.epochs)
        self.batch = QSpinBox()
        self.batch.setRange(2, 512)
        form.addRow("Batch size", self.batch)
        self.budget = QSpinBox()
        self.budget.setRange(0, 100_000)
        self.budget.setSuffix(" min")
        self.budget.setSpecialValueText("none")
        self.budget.setToolTip(
            "Stop after the epoch that passes this wall-clock time; learning-rate steps scale with it"
        )
        form.addRow("Time budget", self.budget)
        frames_box = QWidget()
        frames_layout = QVBoxLayout(frames_box)
        frames_layout.setContentsMargins(0, 0, 0, 0)
        self.frame_buttons = QButtonGroup(self)
        first_enabled = None
        for i, choice in enumerate(self.choices):
            button = QRadioButton(f"{choice.label} ({choice.frames} frames)")
            button.setEnabled(choice.frames > 0)
            if choice.frames > 0 and first_enabled is None:
                first_enabled = button
            self.frame_buttons.addButton(button, i)
            frames_layout.addWidget(button)
        if first_enabled is not None:
            first_enabled.setChecked(True)
        form.addRow("Normal frames", frames_box)
        out_row = QHBoxLayout()
        self.output = QLineEdit(str(output))
        browse = QPushButton("…")
        browse.setFixedWidth(32)
        browse.clicked.connect(self._browse)
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form.addRow("Save as", out_row)
        return form

    def _build_plot(self) -> pg.PlotWidget:
        """The live loss curve: training per batch, validation per epoch, log scale."""
        self.plot = pg.PlotWidget()
        self.plot.setBackground(PLOT_BACKGROUND)
        self.plot.setLabel("left", "loss")
        self.plot.setLabel("bottom", "epoch")
        self.plot.getAxis("bottom").enableAutoSIPrefix(
            False
        )  # fractions of the first epoch read "epoch (x0.001)"
        self.plot.setLogMode(y=True)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("left").setStyle(maxTextLevel=0)  # label the decades only
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setMinimumHeight(180)
        self.train_curve = self.plot.plot(
            [], [], pen=pg.mkPen("#4fc3f7", width=1.5), name="training (per batch)"
        )
        self.val_curve = self.plot.plot(
            [],
            [],
            pen=pg.mkPen("#ffb74d", width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush="#ffb74d",
            name="validation (per epoch)",
        )
        return self.plot

    def _build_buttons(self) -> QHBoxLayout:
        """Start, Stop, Use this model, Close."""
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)
        return buttons

    # -- run ---------------------------------------------------------------------------------------
    def selected_choice(self) -> TrainingChoice | None:
        index = self.frame_buttons.checkedId()
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def _architecture_changed(self, architecture: str) -> None:
        """Options, recipe, epochs, batch size and file name follow the chosen architecture."""
        options = self.model_options.get(architecture)
        if options:
            text = ", ".join(f"{key}={value}" for key, value in sorted(options.items()))
            text = f"{text} (as the loaded model)"
        else:
            text = "the architecture's defaults"
        recipe = registered_recipe(architecture)
        described = describe_recipe(recipe)
        self.options_label.setText(f"{text}; its recipe: {described}" if described else text)
        self.epochs.setValue(int(recipe.get("max_epochs", self.default_epochs)))
        self.batch.setValue(int(recipe.get("batch_size", DEFAULT_BATCH)))
        self.epochs.setToolTip(
            "Epochs to run; the last one is kept"
            if recipe.get("keep") == "last"
            else "Maximum epochs; training stops early when validation loss stops improving"
        )
        if self.output_for is not None and self.output.text() == self._auto_output:
            self._auto_output = str(self.output_for(architecture))
            self.output.setText(self._auto_output)

    def input_size(self) -> tuple[int, int]:
        """The chosen model input ``(height, width)``."""
        return SIZES[max(0, self.size.currentIndex())]

    def train_config(self):
        from vad_core.models.base import ModelConfig
        from vad_core.training import TrainConfig

        choice = self.selected_choice()
        frames = choice.frames if choice else 0
        return TrainConfig.for_model(
            ModelConfig(
                self.architecture.currentText(),
                self.channels,
                self.input_size(),
                options=dict(self.model_options.get(self.architecture.currentText(), {})),
            ),
            max_epochs=self.epochs.value(),
            batch_size=self.batch.value(),
            max_seconds=60.0 * self.budget.value() if self.budget.value() else None,
            device=self.device,
            max_windows_per_epoch=2000 if frames > 2000 else None,
        )

    def start(self) -> None:
        choice = self.selected_choice()
        if self.worker is not None or choice is None or choice.frames == 0:
            return
        try:
            config = self.train_config()
        except Exception as error:
            self.status.setText(f"<span style='color:#ef9a9a'>{error}</span>")
            return
        output = Path(self.output.text()).expanduser()
        name = config.model.name.upper()
        metadata = {
            "display_name": f"{name} ({choice.dataset or choice.label})",
            "training": {"dataset": choice.dataset or choice.label},
        }
        self._train_x, self._train_y, self._val_x, self._val_y = [], [], [], []
        self.train_curve.setData([], [])
        self.val_curve.setData([], [])
        sources, ranges = list(choice.sources), choice.ranges
        worker = Worker(lambda: train_job(config, sources, ranges, output, metadata), name="training")
        worker.signals.chunk.connect(self._event)
        worker.signals.message.connect(self.status.setText)
        worker.signals.done.connect(self._done)
        worker.signals.failed.connect(self._failed)
        worker.signals.finished.connect(self._finished)
        self.worker = worker
        self.progress.setRange(0, config.max_epochs)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.use_button.setEnabled(False)
        self.status.setText("Preparing frames…")
        self._timer.start()
        self.pool.start(worker)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Stopping after the current batch…")

    @property
    def running(self) -> bool:
        return self.worker is not None

    # -- worker slots ------------------------------------------------------------------------------
    def _is_current(self) -> bool:
        return self.worker is not None and self.worker.sent(self.sender())

    def _event(self, event) -> None:
        if not self._is_current():
            return
        if event.kind == "batch" and event.batches:
            x = event.epoch - 1 + event.batch / event.batches
            if math.isfinite(event.loss) and event.loss > 0:
                self._train_x.append(x)
                self._train_y.append(event.loss)
            scale = 1000
            self.progress.setRange(0, self.epochs.value() * scale)
            self.progress.setValue(int(x * scale))
            self.progress.setFormat(
                f"epoch {event.epoch} / {self.epochs.value()}, batch {event.batch} / {event.batches}"
            )
            self._dirty = True
        elif event.kind == "epoch":
            if math.isfinite(event.val_loss) and event.val_loss > 0:
                self._val_x.append(float(event.epoch))
                self._val_y.append(event.val_loss)
            validation = f", validation loss {event.val_loss:.5f}" if math.isfinite(event.val_loss) else ""
            self.status.setText(
                f"epoch {event.epoch}: training loss {event.loss:.5f}{validation}, "
                f"learning rate {event.learning_rate:.2g}"
            )
            self._dirty = True
        elif event.message:
            self.status.setText(event.message)

    def _flush(self) -> None:
        if self._dirty:
            self._dirty = False
            self.train_curve.setData(self._train_x, self._train_y)
            self.val_curve.setData(self._val_x, self._val_y)

    def _done(self, result) -> None:
        if not self._is_current():
            return
        self.checkpoint = Path(result.checkpoint) if result.checkpoint else None
        stop = " (early stopping)" if result.stopped_early else ""
        kept = (
            f"best validation loss {result.best_val_loss:.5f} at epoch {result.best_epoch}"
            if math.isfinite(result.best_val_loss)
            else f"{result.epochs_run} epochs, the last one kept"
        )
        self.status.setText(f"Done{stop}: {kept}, {result.seconds:.0f} s. Saved to {self.checkpoint}.")
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("done")
        self.use_button.setEnabled(self.checkpoint is not None)

    def _failed(self, message: str) -> None:
        if not self._is_current():
            return
        self.status.setText(f"<span style='color:#ef9a9a'>Training failed: {message}</span>")

    def _finished(self) -> None:
        if not self._is_current():
            return
        if self.worker is not None and self.worker.is_cancelled:
            self.status.setText("Training stopped.")
            self.progress.setFormat("stopped")
        self.worker = None
        self._flush()
        self._timer.stop()
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _use(self) -> None:
        if self.checkpoint is not None:
            self.modelReady.emit(str(self.checkpoint))
            self.accept()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the trained model as", self.output.text(), "Checkpoints (*.safetensors)"
        )
        if path:
            self.output.setText(path)

    def done(self, result: int) -> None:
        if self.worker is not None:
            self.worker.cancel()
        super().done(result)

    def closeEvent(self, event) -> None:
        if self.worker is not None:
            self.worker.cancel()
        super().closeEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.worker is not None:
            self.stop()
            return
        super().keyPressEvent(event)
