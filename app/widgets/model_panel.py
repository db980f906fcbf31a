"""The model panel: which checkpoint scores the video, on which device, with which batch size.

Shows the loaded model's name, architecture, input size and the data it was trained on; offers
the bundled demo models and recently used checkpoints, an "Open checkpoint…" button, the
architecture a new model is trained with ("Train on this footage…"), the device (auto / CUDA /
CPU) and the batch size, and the Score / Cancel buttons.

Example::

    panel = ModelPanel()
    panel.set_checkpoint(checkpoint)                 # fills the info box
    panel.checkpointChosen.connect(window.load_checkpoint)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vad_core.checkpoint import Checkpoint

if TYPE_CHECKING:
    from app.jobs.fused import OpenFused

DEVICES = (("auto", "Auto (CUDA if present)"), ("cuda", "CUDA"), ("cpu", "CPU"))


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def describe_checkpoint(checkpoint: Checkpoint) -> dict[str, str]:
    """The rows of the info box: name, architecture, input, trained on, file."""
    config = checkpoint.config
    spec = checkpoint.model.spec
    if spec.mode == "frame":
        temporal = "one frame"
    elif spec.mode == "clip":
        temporal = f"clips of {spec.input_frames} frames"
    else:
        temporal = f"{spec.input_frames} frames → next {spec.output_frames}"
    channels = "gray" if config.channels == 1 else "RGB"
    return {
        "Model": checkpoint.display_name,
        "Architecture": f"{config.name} ({temporal})",
        "Input": f"{config.size[1]}×{config.size[0]} {channels}",
        "Trained on": checkpoint.trained_on,
        "File": breakable(checkpoint.path.name) if checkpoint.path else "(not saved)",
    }


def breakable(name: str) -> str:
    """A file name that word wrap may break after ``_`` and ``.`` (zero-width spaces), so a narrow
    panel shows all of it instead of cutting it off ("demo_bcae1.safetens")."""
    return name.replace("_", "_\u200b").replace(".", "\u200b.")


def describe_scoring(score: str, mnad_weight: float, error: str, reduction: str, patch: int) -> str:
    """The scoring in use, in words: the score kind first (``error`` / ``psnr`` / ``mnad``)."""
    if score == "psnr":
        return "psnr: PSNR of the predicted frame (Liu et al. 2018)"
    if score == "mnad":
        return f"mnad: PSNR and memory distance, λ {mnad_weight:g} (Park et al. 2020)"
    window = f" {patch}×{patch}" if reduction in ("patch_max", "smoothed_max") else ""
    return f"error: {reduction}{window} of the {error} map"


class ModelPanel(QWidget):
    """Checkpoint choice and info, architecture for training, device, batch size, Score / Cancel."""

    checkpointChosen = Signal(str)  # a path from the list
    openCheckpointRequested = Signal()
    scoreRequested = Signal()
    cancelRequested = Signal()
    trainRequested = Signal()
    deviceChanged = Signal(str)
    batchSizeChanged = Signal(int)

    def __init__(self, architectures: Sequence[str] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        choose = QHBoxLayout()
        self.checkpoints = QComboBox()
        self.checkpoints.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.checkpoints.setMinimumContentsLength(10)
        self.checkpoints.setPlaceholderText("no model loaded")
        self.checkpoints.setToolTip("Bundled and recently used checkpoints")
        self.checkpoints.activated.connect(self._checkpoint_activated)
        choose.addWidget(self.checkpoints, 1)
        self.open_button = QToolButton()  # compact: the model's name gets the width ("demo_bca…")
        self.open_button.setText("Open…")
        self.open_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton))
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.open_button.setToolTip("Open a checkpoint (.safetensors) (Ctrl+M)")
        self.open_button.clicked.connect(self.openCheckpointRequested)
        choose.addWidget(self.open_button)
        layout.addLayout(choose)

        self.info_box = QGroupBox("Loaded model")
        self.info = QFormLayout(self.info_box)
        self.info.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.info.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.info_labels: dict[str, QLabel] = {}
        for key in ("Model", "Architecture", "Input", "Trained on", "File", "Scoring"):
            label = QLabel("–")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.info.addRow(key, label)
            self.info_labels[key] = label
        layout.addWidget(self.info_box)

        settings = QFormLayout()
        self.device = QComboBox()
        for value, text in DEVICES:
            self.device.addItem(text, value)
        self.device.setToolTip("CUDA (with bfloat16 autocast) when available, CPU otherwise")
        self.device.currentIndexChanged.connect(lambda _i: self.deviceChanged.emit(self.device_choice()))
        settings.addRow("Device", self.device)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(32)
        self.batch.setToolTip("Frames (or windows) per model call; halved automatically when memory runs out")
        self.batch.valueChanged.connect(self.batchSizeChanged)
        settings.addRow("Batch size", self.batch)
        self.architecture = QComboBox()
        self._loaded_architecture: str | None = None
        self.set_architectures(architectures)
        self.architecture.setToolTip("Registered architecture used by “Train on this footage…”")
        settings.addRow("Train as", self.architecture)
        layout.addLayout(settings)

        buttons = QHBoxLayout()
        self.score_button = QPushButton("Score")
        self.score_button.setToolTip("Score the video with the loaded model (F5)")
        self.score_button.clicked.connect(self.scoreRequested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.score_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.train_button = QPushButton("Train on this footage…")
        self.train_button.setToolTip("Train a new model on frames of this video marked as normal (Ctrl+T)")
        self.train_button.clicked.connect(self.trainRequested)
        layout.addWidget(self.train_button)

    # -- state -------------------------------------------------------------------------------------

    def check_cuda(self) -> None:
        """Disable the CUDA choice when there is no GPU (needs torch: called once the engine loaded)."""
        if not _cuda_available():
            item = self.device.model().item(1)  # type: ignore[attr-defined]
            item.setEnabled(False)
            item.setToolTip("no CUDA GPU found")

    def set_architectures(self, architectures: Sequence[str]) -> None:
        """Fill "Train as" (the main window does this once the model zoo has been imported)."""
        current = self.architecture.currentText()
        self.architecture.clear()
        self.architecture.addItems(list(architectures))
        self._select_architecture(current)

    def _select_architecture(self, current: str) -> None:
        """Select the loaded model's architecture, else ``current``, else BCAE1, whichever is listed first."""
        for preferred in (self._loaded_architecture, current, "bcae1"):
            if preferred and self.architecture.findText(preferred) >= 0:
                self.architecture.setCurrentText(preferred)
                return

    def set_checkpoint_choices(self, choices: Sequence[tuple[str, str]], current: str | None = None) -> None:
        """``(label, path)`` pairs for the combo box; ``current`` (a path) is selected if listed."""
        with QSignalBlocker(self.checkpoints):
            self.checkpoints.clear()
            for label, path in choices:
                self.checkpoints.addItem(label, path)
                self.checkpoints.setItemData(self.checkpoints.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            index = self.checkpoints.findData(current) if current else -1
            self.checkpoints.setCurrentIndex(index)

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        rows = describe_checkpoint(checkpoint) if checkpoint is not None else {}
        for key, label in self.info_labels.items():
            label.setText(rows.get(key, "–"))
        if checkpoint is not None:  # "Train as" follows the loaded model (the operator may change it)
            self._loaded_architecture = checkpoint.config.name
            self._select_architecture(self.architecture.currentText())
        if checkpoint is not None and checkpoint.path is not None:
            index = self.checkpoints.findData(str(checkpoint.path))
            if index < 0:
                self.checkpoints.addItem(checkpoint.display_name, str(checkpoint.path))
                index = self.checkpoints.count() - 1
            with QSignalBlocker(self.checkpoints):
                self.checkpoints.setCurrentIndex(index)

    def set_fused(self, opened: OpenFused) -> None:
        """Show a fused model (``vad fuse``): its members and weights instead of one architecture."""
        rows = {
            "Model": opened.display_name,
            "Architecture": f"fused, {len(opened.members)} members (no error maps)",
            "Input": "each member's own",
            "Trained on": opened.describe_members(),
            "File": breakable(opened.path.name) if opened.path else "(not saved)",
        }
        for key, label in self.info_labels.items():
            label.setText(rows.get(key, "–"))
        if opened.path is not None:
            index = self.checkpoints.findData(str(opened.path))
            if index < 0:
                self.checkpoints.addItem(opened.display_name, str(opened.path))
                index = self.checkpoints.count() - 1
            with QSignalBlocker(self.checkpoints):
                self.checkpoints.setCurrentIndex(index)

    def set_scoring(self, text: str) -> None:
        """The scoring in use (``describe_scoring``), shown under the model's rows."""
        self.info_labels["Scoring"].setText(text or "–")

    def set_busy(self, scoring: bool, can_score: bool) -> None:
        self.score_button.setEnabled(can_score and not scoring)
        self.cancel_button.setEnabled(scoring)

    def device_choice(self) -> str:
        return str(self.device.currentData())

    def set_device(self, device: str) -> None:
        index = self.device.findData(device)
        if index >= 0 and self.device.model().item(index).isEnabled():  # type: ignore[attr-defined]
            self.device.setCurrentIndex(index)

    def set_batch_size(self, value: int) -> None:
        self.batch.setValue(int(value))

    def architecture_choice(self) -> str:
        return self.architecture.currentText()

    def _checkpoint_activated(self, index: int) -> None:
        path = self.checkpoints.itemData(index)
        if path and Path(str(path)).name:
            self.checkpointChosen.emit(str(path))
