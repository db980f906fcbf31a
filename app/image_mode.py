"""Image inspection mode: rank a category's test images (MVTec AD parts) by anomaly score and explain them.

A window of its own (File > Open image dataset… in the review window, or an MVTec folder opened
there): open a category folder (``train/good``, ``test/<defect>``, ``ground_truth/<defect>``; any
layout ``vad_core.datasets.open_dataset`` reads as an ``ImageDataset``), load a frame-model
checkpoint or train a BCAE1 on ``train/good`` (the review window's training dialog), and the test
images are scored in a worker (``vad_core.evaluation.images.inspect_iter``).

* left: the category and model, image-level and pixel-level AUROC (overall and per defect type),
  the heatmap controls, and the thumbnails sorted by score (frame colour = ground truth:
  red defective, green good);
* centre: the selected image with its error map as a colour overlay (one scale for the whole
  category: the 99th percentile of all map pixels) and the ground-truth mask outlined in green;
* right: the explainability panel (``app.widgets.explain_panel``) for the selected image,
  calibrated on the test split's errors and labels (thesis 3.8.5, G-mean threshold).

Jobs (plain generators on ``app.workers.Worker``): ``thumbnail_job`` reads and shrinks the test
images, ``inspect_job`` scores them (one batch at a time under ``app.jobs.model_lock``) and
computes the metrics.

Example::

    window = ImageModeWindow()
    window.show()
    window.open_dataset("../shared/datasets/mvtec_bottle_256/bottle")
    window.load_checkpoint("runs/xai/bottle_bcae1_128.safetensors")   # scores the test images
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.explain_jobs import ExplainTarget
from app.jobs import limit_torch_threads, lower_thread_priority, model_lock
from app.review_explainer import image_calibration
from app.session import robust_max
from app.settings import AppSettings
from app.widgets.explain_panel import ExplainPanel
from app.widgets.heatmap_controls import HeatmapControls
from app.widgets.map_tile import draw_contours
from app.widgets.thumbnail_list import ThumbnailList
from app.widgets.video_view import VideoView
from app.workers import Progress, Worker, WorkerPool
from vad_core.checkpoint import Checkpoint, load_checkpoint
from vad_core.datasets.base import ImageDataset, ImageSample
from vad_core.errors import VadError
from vad_core.evaluation.images import (
    ImageChunk,
    ImageInspection,
    ImageModeConfig,
    inspect_iter,
    mask_outline,
)
from vad_core.explain import Calibration
from vad_core.sources.image_files import read_image

THUMBNAIL_SIDE = 88
MASK_PEN = pg.mkPen("#69f0ae", width=2)


# ============================================================================ jobs (no Qt)
def thumbnail_job(samples: Sequence[ImageSample], side: int = THUMBNAIL_SIDE) -> Generator[Any, None, int]:
    """Read and shrink every image; yields ``(index, uint8 thumbnail)`` and ``Progress``."""
    import cv2

    lower_thread_priority()
    total = len(samples)
    for index, sample in enumerate(samples):
        image = read_image(sample.path)
        height, width = image.shape[:2]
        factor = side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        yield index, cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        yield Progress(index + 1, total)
    return total


def inspect_job(
    checkpoint: Checkpoint, dataset: ImageDataset, config: ImageModeConfig | None = None
) -> Generator[Any, None, ImageInspection]:
    """Score the test images batch by batch (``ImageChunk`` + ``Progress``), then compute the metrics."""
    lower_thread_priority()
    limit_torch_threads()
    total = len(dataset.test)
    yield Progress(0, total, f"scoring {total} test images of {dataset.category}")
    iterator = inspect_iter(checkpoint, dataset, config=config)
    lock = model_lock(checkpoint.model)
    while True:
        with lock:  # one batch at a time holds the model; the explain panel copies it in between
            try:
                chunk: ImageChunk = next(iterator)
            except StopIteration as stop:
                inspection: ImageInspection = stop.value
                break
        yield chunk
        yield Progress(chunk.stop, chunk.total)
    yield Progress(total, total, "computing image and pixel AUROC")
    _ = inspection.pixel_auroc, inspection.per_defect()  # reads every mask: here, not on the GUI thread
    return inspection


@functools.cache
def frame_model_names() -> tuple[str, ...]:
    """Registered architectures that score single images (image mode needs a frame model)."""
    from vad_core.models import ModelConfig, build_model, model_names

    names = []
    for name in model_names():
        try:
            if build_model(ModelConfig(name, 1, (64, 64))).spec.mode == "frame":
                names.append(name)
        except Exception:
            continue
    return tuple(names)


def percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f} %"


# ============================================================================ the window
class ImageModeWindow(QMainWindow):
    """Thumbnails by score, the selected image with its error map and mask, and its explanations."""

    def __init__(self, settings: AppSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.pool = WorkerPool(max_threads=3, parent=self)
        self.dataset: ImageDataset | None = None
        self.checkpoint: Checkpoint | None = None
        self.inspection: ImageInspection | None = None
        self.calibration: Calibration | None = None
        self.map_scale = 1.0
        self.current: int | None = None
        self.score_worker: Worker | None = None
        self.thumb_worker: Worker | None = None
        self.train_dialog: Any = None
        self.error_dialog: QMessageBox | None = None
        self._last_dir: Path | None = None
        self.setWindowTitle("vad-review: image inspection")
        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()

        # -- left column: category, model, metrics, heatmap controls, thumbnails --------------------
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.setSpacing(4)
        data_box = QGroupBox("Category and model")
        data_layout = QVBoxLayout(data_box)
        data_layout.setContentsMargins(6, 4, 6, 4)
        self.dataset_label = QLabel("No category open.")
        self.dataset_label.setWordWrap(True)
        self.model_label = QLabel("No model.")
        self.model_label.setWordWrap(True)
        data_layout.addWidget(self.dataset_label)
        data_layout.addWidget(self.model_label)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open an MVTec AD category folder (Ctrl+O)")
        self.open_button.clicked.connect(self.choose_dataset)
        self.load_button = QPushButton("Model…")
        self.load_button.setToolTip("Load a frame-model checkpoint (Ctrl+M)")
        self.load_button.clicked.connect(self.choose_checkpoint)
        self.train_button = QPushButton("Train…")
        self.train_button.setToolTip("Train a CAE on train/good of this category (Ctrl+T)")
        self.train_button.clicked.connect(self.open_train_dialog)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scoring (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        for button in (self.open_button, self.load_button, self.train_button, self.cancel_button):
            buttons.addWidget(button)
        data_layout.addLayout(buttons)
        left_layout.addWidget(data_box)
        metrics_box = QGroupBox("Metrics (test split)")
        metrics_layout = QVBoxLayout(metrics_box)
        metrics_layout.setContentsMargins(6, 4, 6, 4)
        row = QHBoxLayout()
        self.image_auroc_label = QLabel("Image AUROC: –")
        self.pixel_auroc_label = QLabel("Pixel AUROC: –")
        for label in (self.image_auroc_label, self.pixel_auroc_label):
            label.setStyleSheet("font-weight: bold;")
            row.addWidget(label)
        metrics_layout.addLayout(row)
        self.per_defect_label = QLabel("")
        self.per_defect_label.setWordWrap(True)
        self.per_defect_label.setStyleSheet("font-size: 8pt;")
        metrics_layout.addWidget(self.per_defect_label)
        left_layout.addWidget(metrics_box)
        self.heatmap_controls = HeatmapControls(self.settings.overlay_opacity(), self.settings.colormap())
        self.heatmap_controls.layout().setContentsMargins(6, 0, 6, 0)
        self.thumbnails = ThumbnailList(THUMBNAIL_SIDE)
        left_layout.addWidget(self.thumbnails, 1)

        # -- centre: the selected image ----------------------------------------------------------------
        self.view = VideoView()
        self.view.colorbar.setLabel("left", "error / category p99")
        self.outline = pg.PlotCurveItem(pen=MASK_PEN, connect="finite")
        self.outline.setZValue(15)
        self.view.view.addItem(self.outline)
        self.view.set_colormap(self.settings.colormap())
        self.view.set_opacity(self.settings.overlay_opacity())
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(2)
        centre_layout.addWidget(self.view, 1)
        self.image_label = QLabel("Open a category (Ctrl+O), then load or train a model.")
        self.image_label.setWordWrap(True)
        self.image_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_label.setContentsMargins(6, 2, 6, 4)
        centre_layout.addWidget(self.image_label)
        centre_layout.addWidget(self.heatmap_controls)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        # -- right: the explainability panel ------------------------------------------------------------
        self.explain_panel = ExplainPanel(self.pool, self.settings.colormap())
        self.explain_dock = QDockWidget("Explainability", self)
        self.explain_dock.setObjectName("image_explainability")
        self.explain_dock.setWidget(self.explain_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.explain_dock)
        self.view_menu.addAction(self.explain_dock.toggleViewAction())

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setMaximumHeight(16)
        self.progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.progress)

        self.thumbnails.imageSelected.connect(self.show_image)
        self.heatmap_controls.overlayToggled.connect(self._set_overlay_visible)
        self.heatmap_controls.opacityChanged.connect(self.view.set_opacity)
        self.heatmap_controls.colormapChanged.connect(self._set_colormap)
        self.explain_panel.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.resize(1280, 800)
        self.fit_layout()
        self._update_enabled()

    # ------------------------------------------------------------------------------ construction
    def _action(self, name: str, text: str, slot: Any, keys: tuple[str, ...] = ()) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _build_actions(self) -> None:
        a = self._action
        a("open", "&Open category…", self.choose_dataset, ("Ctrl+O",))
        a("checkpoint", "Load &checkpoint…", self.choose_checkpoint, ("Ctrl+M",))
        a("train", "&Train on train/good…", self.open_train_dialog, ("Ctrl+T",))
        a("score", "&Score the test images", self.start_scoring, ("F5",))
        a("cancel", "&Cancel", self.cancel_jobs, ("Esc",))
        a("explain", "E&xplain the selected image (all methods)", self.explain_selected, ("X",))
        a("close", "Close &window", self.close, ("Ctrl+W",))
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for name in ("open", "close"):
            file_menu.addAction(self.actions_by_name[name])
        model_menu = bar.addMenu("&Model")
        for name in ("checkpoint", "train", "score", "cancel", "explain"):
            model_menu.addAction(self.actions_by_name[name])
        self.view_menu = bar.addMenu("&View")

    def fit_layout(self) -> None:
        """Thumbnails ~23 % of the width, the image ~35 %, explanations the rest."""
        width = max(self.width(), 900)
        dock = int(width * 0.42)
        self.resizeDocks([self.explain_dock], [dock], Qt.Orientation.Horizontal)
        left = int(width * 0.23)
        self.splitter.setSizes([left, width - dock - left])

    # ------------------------------------------------------------------------------ messages
    def show_error(self, title: str, message: str) -> None:
        """A non-blocking warning; the window stays usable."""
        if self.error_dialog is not None:
            self.error_dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.error_dialog = box
        box.open()
        self.statusBar().showMessage(f"{title}: {message}", 15000)

    def notify(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    # ------------------------------------------------------------------------------ dataset
    def choose_dataset(self) -> bool:
        start = str(self._last_dir or Path.home())
        path = QFileDialog.getExistingDirectory(
            self, "Open an MVTec AD category (or a folder of them)", start
        )
        return self.open_dataset(path) if path else False

    def open_dataset(self, path: str | Path) -> bool:
        """Open an image category; reads its thumbnails and scores it when a model is loaded."""
        from vad_core.datasets import open_dataset

        try:
            dataset = open_dataset(path)
        except VadError as error:
            self.show_error("Cannot open image dataset", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot open image dataset", f"{path}: {error}")
            return False
        if not isinstance(dataset, ImageDataset):
            self.show_error(
                "Not an image dataset",
                f"{path}: {dataset.name} holds video; open it in the review window (File > Open dataset clip).",
            )
            return False
        if not dataset.test:
            self.show_error("No test images", f"{path}: {dataset.category} has no test images.")
            return False
        self._last_dir = Path(path).parent
        self.cancel_jobs(quiet=True)
        if self.thumb_worker is not None:
            self.thumb_worker.cancel()
        self.dataset = dataset
        self.inspection = None
        self.calibration = None
        self.current = None
        self.thumbnails.set_samples(dataset.test)
        self._show_metrics()
        self.view.set_frame(None)
        self.outline.setData([], [])
        self.explain_panel.set_target(None)
        good = sum(1 for s in dataset.test if not s.anomalous)
        defects = ", ".join(dataset.defect_types) or "none"
        self.dataset_label.setText(
            f"<b>{dataset.name} {dataset.category}</b>: {len(dataset.train)} training images, "
            f"{len(dataset.test)} test images ({good} good; defects: {defects})"
        )
        self.setWindowTitle(f"vad-review: image inspection — {dataset.category}")
        worker = Worker(lambda: thumbnail_job(dataset.test), name="thumbnails")
        worker.signals.chunk.connect(self._thumbnail)
        self.thumb_worker = worker
        self.pool.start(worker)
        for note in dataset.notes[:3]:
            self.notify(f"note: {note}", 10000)
        self.thumbnails.select_index(0)
        if self.checkpoint is not None:
            self.start_scoring()
        else:
            self.notify(
                f"Opened {dataset.category}: load a checkpoint (Ctrl+M) or train a model on its "
                f"{len(dataset.train)} good training images (Ctrl+T).",
                15000,
            )
        self._update_enabled()
        return True

    def _thumbnail(self, item: tuple[int, np.ndarray]) -> None:
        if self.thumb_worker is not None and self.thumb_worker.sent(self.sender()):
            self.thumbnails.set_thumbnail(*item)

    # ------------------------------------------------------------------------------ model
    def choose_checkpoint(self) -> bool:
        start = self.settings.last_checkpoint() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load a frame-model checkpoint",
            str(Path(start).parent),
            "Checkpoints (*.safetensors *.json)",
        )
        return self.load_checkpoint(path) if path else False

    def load_checkpoint(self, path: str | Path) -> bool:
        """Load a frame-model checkpoint (errors in a dialog) and score the test images with it."""
        try:
            checkpoint = load_checkpoint(path, device="cpu")
        except VadError as error:
            self.show_error("Cannot load checkpoint", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot load checkpoint", f"{path}: {error}")
            return False
        return self.set_checkpoint(checkpoint)

    def set_checkpoint(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.model.spec.mode != "frame":
            self.show_error(
                "Not an image model",
                f"{checkpoint.display_name} is a {checkpoint.model.spec.mode} model; image mode needs a frame "
                "model (bcae1, bcae2, ...).",
            )
            return False
        self.cancel_jobs(quiet=True)
        self.checkpoint = checkpoint
        self.inspection = None
        self.calibration = None
        config = checkpoint.config
        self.model_label.setText(
            f"Model <b>{checkpoint.display_name}</b> ({config.name}, {config.size[1]}×{config.size[0]}, "
            f"{config.channels} channel{'s' if config.channels != 1 else ''}), trained on {checkpoint.trained_on}"
        )
        self._show_metrics()
        if self.dataset is not None:
            self.start_scoring()
            if self.current is not None:
                self.show_image(self.current)
        self._update_enabled()
        return True

    def open_train_dialog(self) -> None:
        """Train a frame CAE (BCAE1 by default) on ``train/good`` with the review window's dialog."""
        from app.widgets.train_dialog import TrainDialog, TrainingChoice
        from vad_core.evaluation.images import training_source
        from vad_core.paths import data_dir

        if self.dataset is None:
            self.notify("Open a category first (Ctrl+O).")
            return
        if self.train_dialog is not None and self.train_dialog.isVisible():
            self.train_dialog.raise_()
            return
        try:
            source = training_source(self.dataset)
        except VadError as error:
            self.show_error("Cannot train", str(error))
            return
        what = f"{self.dataset.name} {self.dataset.category} (train/good)"
        choice = TrainingChoice(f"train/good of {self.dataset.category}", [source], None, what)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        output = data_dir() / "models" / f"{self.dataset.category}_bcae1_{stamp}"
        small = max(read_image(self.dataset.train[0].path).shape[:2]) < 128
        dialog = TrainDialog(
            self.pool,
            frame_model_names(),
            [choice],
            output,
            architecture="bcae1",
            size=(64, 64) if small else (128, 128),
            channels=source.channels,
            epochs=20,
            parent=self,
        )
        dialog.setWindowTitle(f"Train on the good images of {self.dataset.category}")
        dialog.modelReady.connect(self.load_checkpoint)
        self.train_dialog = dialog
        dialog.show()

    # ------------------------------------------------------------------------------ scoring
    def start_scoring(self) -> None:
        """Score every test image with the current model (in a worker)."""
        if self.dataset is None or self.checkpoint is None:
            self.notify("Open a category and a model first.")
            return
        self.cancel_jobs(quiet=True)
        checkpoint, dataset = self.checkpoint, self.dataset
        worker = Worker(lambda: inspect_job(checkpoint, dataset), name="image scoring")
        worker.signals.progress.connect(self._score_progress)
        worker.signals.message.connect(self._score_message)
        worker.signals.done.connect(self._score_done)
        worker.signals.failed.connect(self._score_failed)
        worker.signals.finished.connect(self._score_finished)
        self.score_worker = worker
        self.progress.setRange(0, len(dataset.test))
        self.progress.setValue(0)
        self.progress.setFormat("scoring %p%")
        self.progress.setVisible(True)
        self.pool.start(worker)
        self._update_enabled()

    def _is_scoring(self) -> bool:
        return self.score_worker is not None and self.score_worker.sent(self.sender())

    def _score_progress(self, done: int, total: int) -> None:
        if self._is_scoring():
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)

    def _score_message(self, text: str) -> None:
        if self._is_scoring():
            self.notify(text)

    def _score_done(self, inspection: ImageInspection) -> None:
        if not self._is_scoring():
            return
        self.inspection = inspection
        self.map_scale = robust_max(inspection.maps)
        self.calibration = image_calibration(inspection)
        self.thumbnails.set_scores(inspection.scores, inspection.threshold)
        self._show_metrics()
        first = self.thumbnails.displayed_order()[0]
        self.thumbnails.select_index(first, emit=False)
        self.show_image(first)
        self.notify(
            f"Scored {len(inspection)} test images in {inspection.seconds:.1f} s: image AUROC "
            f"{percent(inspection.image_auroc)}, pixel AUROC {percent(inspection.pixel_auroc)}.",
            15000,
        )

    def _score_failed(self, message: str) -> None:
        if self._is_scoring():
            self.show_error("Scoring failed", message)

    def _score_finished(self) -> None:
        if not self._is_scoring():
            return
        self.score_worker = None
        self.progress.setVisible(False)
        self._update_enabled()

    def cancel_jobs(self, quiet: bool = False) -> None:
        """Esc: stop scoring, the running explanation and a training run."""
        was = self.score_worker is not None
        if self.score_worker is not None:
            self.score_worker.cancel()
            self.score_worker = None
            self.progress.setVisible(False)
        if not quiet:
            self.explain_panel.cancel()
            if self.train_dialog is not None and self.train_dialog.running:
                self.train_dialog.stop()
            if was:
                self.notify("Scoring cancelled.")
        self._update_enabled()

    @property
    def busy(self) -> bool:
        return self.score_worker is not None

    # ------------------------------------------------------------------------------ the selected image
    def show_image(self, index: int) -> None:
        """Show test image ``index`` with its error overlay and mask outline; explain it in the panel."""
        if self.dataset is None or not 0 <= index < len(self.dataset.test):
            return
        sample = self.dataset.test[index]
        try:
            image = read_image(sample.path)
        except VadError as error:
            self.show_error("Cannot read image", str(error))
            return
        self.current = index
        size = image.shape[:2]
        self.view.set_frame(image)
        self.view.view.setRange(xRange=(0, size[1]), yRange=(0, size[0]), padding=0)
        inspection = self.inspection
        if inspection is not None:
            self.view.set_overlay(inspection.error_map(index, size) / self.map_scale)
        else:
            self.view.set_overlay(None)
        contours = self._contours(sample, size)
        draw_contours(self.outline, contours)
        self._caption(index, sample)
        self.view.set_caption(
            f"<span style='color:{'#ef5350' if sample.anomalous else '#81c784'}'>■ {sample.defect_type}</span>"
        )
        if self.checkpoint is not None:
            self.explain_panel.set_target(self._target(index, sample, contours))

    def _contours(self, sample: ImageSample, size: tuple[int, int]) -> list[np.ndarray]:
        if not sample.anomalous:
            return []
        try:
            mask = sample.read_mask(size)
        except VadError:
            return []
        return mask_outline(mask) if mask is not None else []

    def _caption(self, index: int, sample: ImageSample) -> None:
        parts = [f"<b>{sample.defect_type}/{sample.path.name}</b>"]
        parts.append(
            "ground truth: <span style='color:#ef5350'>defective</span>"
            if sample.anomalous
            else "ground truth: <span style='color:#81c784'>good</span>"
        )
        inspection = self.inspection
        if inspection is not None:
            rank = self.thumbnails.displayed_order().index(index) + 1
            score = float(inspection.scores[index])
            threshold = inspection.threshold
            verdict = ""
            if math.isfinite(threshold):
                flagged = score >= threshold
                verdict = (
                    f", <span style='color:{'#ef5350' if flagged else '#81c784'}'>"
                    f"{'flagged' if flagged else 'not flagged'}</span> at the G-mean threshold {threshold:.4g}"
                )
            parts.append(f"rank {rank} of {len(inspection)}, score {score:.4g}{verdict}")
        if sample.anomalous and sample.mask_path is None:
            parts.append("no mask")
        self.image_label.setText(" · ".join(parts))

    def _target(self, index: int, sample: ImageSample, contours: Sequence[np.ndarray]) -> ExplainTarget:
        assert self.checkpoint is not None
        checkpoint = self.checkpoint
        path = sample.path
        return ExplainTarget(
            model=checkpoint.model,
            model_key=checkpoint.sha256 or f"model-{id(checkpoint.model)}",
            source_key=str(path),
            frame=index,
            read=lambda: (read_image(path), None),
            calibration=self.calibration,
            title=f"{sample.defect_type}/{path.name} · {checkpoint.display_name}",
            mask_outline=tuple(contours),
            map_scale=self.map_scale if self.inspection is not None else None,
        )

    def explain_selected(self) -> None:
        """X: every explanation method for the selected image."""
        if self.explain_panel.target is None:
            self.notify("Select an image and load a model first.")
            return
        self.explain_dock.show()
        self.explain_panel.explain_all()

    # ------------------------------------------------------------------------------ view options
    def _set_overlay_visible(self, visible: bool) -> None:
        self.view.set_overlay_visible(visible)
        if visible and self.current is not None:
            self.show_image(self.current)

    def _set_colormap(self, name: str) -> None:
        self.view.set_colormap(name)
        self.explain_panel.set_colormap(name)

    def _show_metrics(self) -> None:
        inspection = self.inspection
        if inspection is None:
            self.image_auroc_label.setText("Image AUROC: –")
            self.pixel_auroc_label.setText("Pixel AUROC: –")
            self.per_defect_label.setText(
                "scoring…"
                if self.score_worker is not None
                else "Load or train a model to score the test images."
            )
            return
        self.image_auroc_label.setText(f"Image AUROC: {percent(inspection.image_auroc)}")
        self.pixel_auroc_label.setText(f"Pixel AUROC: {percent(inspection.pixel_auroc)}")
        rows = "".join(
            f"<tr><td>{d.defect_type}</td><td align='right'>{d.images}</td>"
            f"<td align='right'>{percent(d.image_auroc)}</td><td align='right'>{percent(d.pixel_auroc)}</td></tr>"
            for d in inspection.per_defect()
        )
        notes = "".join(f"<br><i>{note}</i>" for note in inspection.notes)
        self.per_defect_label.setText(
            "<table cellspacing='0' cellpadding='1'><tr><th align='left'>defect</th><th>n</th>"
            f"<th>image</th><th>pixel</th></tr>{rows}</table>"
            f"{len(inspection)} images, scored in {inspection.seconds:.1f} s; pixel AUROC at "
            f"{inspection.config.pixel_size or 'full'} px{notes}"
        )

    def _update_enabled(self) -> None:
        has_data = self.dataset is not None
        self.train_button.setEnabled(has_data)
        self.actions_by_name["train"].setEnabled(has_data)
        self.actions_by_name["score"].setEnabled(has_data and self.checkpoint is not None and not self.busy)
        self.cancel_button.setEnabled(self.busy)

    def closeEvent(self, event) -> None:
        """Closing cancels every job and waits for the worker threads."""
        if self.train_dialog is not None:
            self.train_dialog.close()
        self.cancel_jobs(quiet=True)
        self.explain_panel.shutdown()
        self.pool.shutdown(10_000)
        super().closeEvent(event)


# ============================================================================ command line (and screenshots)
def _wait(app: Any, condition: Any, timeout: float) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.image_mode [CATEGORY] [--checkpoint CKPT]``: the image inspection window alone.

    With ``--screenshot PNG`` it waits for scoring, selects ``--select`` (``defect/NNN.png``, or the
    most anomalous image), runs ``--explain`` methods, saves the window (and with
    ``--panel-screenshot PNG`` the explain panel floated at ``--size``), then quits.
    """
    import argparse
    import os

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0] if main.__doc__ else None)
    parser.add_argument("category", nargs="?", help="MVTec AD category folder")
    parser.add_argument("--checkpoint", help="frame-model checkpoint (.safetensors)")
    parser.add_argument("--select", help="test image to show, e.g. broken_large/013.png")
    parser.add_argument("--explain", default="", help="comma-separated methods to run (screenshots)")
    parser.add_argument("--screenshot", help="save the window as this PNG and quit")
    parser.add_argument("--panel-screenshot", help="also save the explain panel floated at --size")
    parser.add_argument("--size", default="1280x800", help="window size WxH [1280x800]")
    args = parser.parse_args(argv)
    if args.screenshot:
        os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"
    from app.main import create_application

    app = create_application()
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = ImageModeWindow()
    window.resize(width, height)
    window.show()
    window.fit_layout()
    if args.category and not window.open_dataset(args.category):
        return 1
    if args.checkpoint and not window.load_checkpoint(args.checkpoint):
        return 1
    if not args.screenshot:
        return app.exec()
    if not _wait(app, lambda: window.inspection is not None and window.score_worker is None, 600):
        print("scoring did not finish", file=sys.stderr)
        return 1
    if args.select and window.dataset is not None:
        wanted = args.select.replace("\\", "/")
        for index, sample in enumerate(window.dataset.test):
            if f"{sample.defect_type}/{sample.path.name}" == wanted:
                window.thumbnails.select_index(index)
    panel = window.explain_panel
    for method in [m for m in args.explain.split(",") if m]:
        panel.explain(method)
    _wait(app, lambda: panel.base is not None and not panel.busy, 600)
    _wait(app, lambda: window.thumb_worker is None or window.thumb_worker.is_finished, 60)
    _wait(app, lambda: False, 0.8)
    window.grab().save(args.screenshot)
    print(f"{args.screenshot}: {window.width()}x{window.height()}, image {window.current}")
    if args.panel_screenshot:
        window.explain_dock.setFloating(True)
        window.explain_dock.resize(width, height)
        _wait(app, lambda: False, 0.8)
        window.explain_dock.grab().save(args.panel_screenshot)
        print(f"{args.panel_screenshot}: {window.explain_dock.width()}x{window.explain_dock.height()}")
    window.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
