"""Image inspection: rank a category's test images (MVTec AD parts) by anomaly score and explain them.

A window of its own (File > Open image dataset… in the review window, or an MVTec folder opened
there): open a category folder (``train/good``, ``test/<defect>``, ``ground_truth/<defect>``; any
layout ``vad_core.datasets.open_dataset`` reads as an ``ImageDataset``), load a frame-model
checkpoint or train a BCAE1 on ``train/good`` (the review window's training dialog), and the test
images are scored in a worker (``vad_core.evaluation.images.inspect_iter``).

* left: the category and model, image-level and pixel-level AUROC and AUPRO (per-region overlap up
  to 30 % FPR; overall and per defect type; computed in the scoring worker), how image scores are
  made (a DRAEM checkpoint: its segmentation map, smoothed maximum), and the thumbnails sorted by score (frame colour = ground truth: red defective, green good);
* centre: the selected image with its error map as a colour overlay (one scale for the whole
  category: the 99th percentile of all map pixels), the ground-truth mask outlined in green, and
  the heatmap controls;
* right: the explainability panel (``app.widgets.explain_panel``) for the selected image,
  calibrated on the test split's errors and labels (thesis 3.8.5, G-mean threshold).

Jobs (plain generators in ``app.jobs.images``): ``thumbnail_job`` reads and shrinks the test
images, ``inspect_job`` scores them and computes the metrics. Actions, messages, the scoring
job's lifecycle, loading a checkpoint in a worker and closing are shared with the review window
(``app.windows.base.AppWindow``).

Example::

    window = ImageWindow()
    window.show()
    window.open_dataset("../shared/datasets/mvtec_bottle_256/bottle")
    window.load_checkpoint("runs/xai/bottle_bcae1_128.safetensors")   # loads, then scores the test images
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.jobs.calibration import image_calibration
from app.jobs.current_job import CurrentJob
from app.jobs.explain import ExplainTarget
from app.jobs.images import THUMBNAIL_SIDE, frame_model_names, inspect_job, thumbnail_job
from app.review_session import robust_max
from app.settings import AppSettings
from app.widgets.explain_panel import ExplainPanel
from app.widgets.fit_banner import FitBanner
from app.widgets.heatmap_controls import HeatmapControls
from app.widgets.map_tile import draw_contours
from app.widgets.thumbnail_list import ThumbnailList
from app.widgets.video_view import VideoView
from app.windows.base import AppWindow
from vad_core.checkpoint import Checkpoint
from vad_core.datasets.base import ImageDataset, ImageSample
from vad_core.errors import VadError
from vad_core.evaluation.images import ImageInspection, mask_outline
from vad_core.explain import Calibration
from vad_core.sources.image_files import read_image

MASK_PEN = pg.mkPen("#69f0ae", width=2)


def inspection_inference(checkpoint: Checkpoint) -> dict[str, Any]:
    """The error, reduction and patch image scores are made with (the checkpoint's recommendation)."""
    scoring = checkpoint.scoring
    return {
        "error": str(scoring.get("error", "mse")),
        "reduction": str(scoring.get("reduction", "mean")),
        "patch": int(scoring.get("patch", 16)),
    }


def percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f} %"


class ImageWindow(AppWindow):
    """Thumbnails by score, the selected image with its error map and mask, and its explanations."""

    def __init__(self, settings: AppSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(settings, "Load a frame-model checkpoint", remember_checkpoint=False, parent=parent)
        self.dataset: ImageDataset | None = None
        self.checkpoint: Checkpoint | None = None
        self.inspection: ImageInspection | None = None
        self.calibration: Calibration | None = None
        self.map_scale = 1.0
        self.current: int | None = None
        self.thumb_job = CurrentJob(self.pool, self)
        self._last_dir: Path | None = None
        self.setWindowTitle("vad-review: image inspection")
        self._build_actions()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._build_left())
        self.splitter.addWidget(self._build_centre())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self._build_explain_dock()
        self._connect()
        self.resize(1280, 800)
        self.fit_layout()
        self.update_enabled()

    # ------------------------------------------------------------------------------ construction
    def _build_actions(self) -> None:
        a = self.add_action
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

    def _build_left(self) -> QWidget:
        """Category and model with their buttons, the metrics, the thumbnails."""
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self._build_data_box())
        metrics_box = QGroupBox("Metrics (test split)")
        metrics_layout = QVBoxLayout(metrics_box)
        metrics_layout.setContentsMargins(6, 4, 6, 4)
        row = QHBoxLayout()
        self.image_auroc_label = QLabel("Image AUROC: –")
        self.pixel_auroc_label = QLabel("Pixel AUROC: –")
        self.aupro_label = QLabel("AUPRO: –")
        self.aupro_label.setToolTip(
            "Per-region overlap up to 30 % false-positive rate, normalised (MVTec AD)"
        )
        for label in (self.image_auroc_label, self.pixel_auroc_label, self.aupro_label):
            label.setStyleSheet("font-weight: bold;")
            row.addWidget(label)
        metrics_layout.addLayout(row)
        self.per_defect_label = QLabel("")
        self.per_defect_label.setWordWrap(True)
        self.per_defect_label.setStyleSheet("font-size: 8pt;")
        metrics_layout.addWidget(self.per_defect_label)
        layout.addWidget(metrics_box)
        self.thumbnails = ThumbnailList(THUMBNAIL_SIDE)
        layout.addWidget(self.thumbnails, 1)
        return left

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox("Category and model")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 4, 6, 4)
        self.dataset_label = QLabel("No category open.")
        self.dataset_label.setWordWrap(True)
        self.model_label = QLabel("No model.")
        self.model_label.setWordWrap(True)
        layout.addWidget(self.dataset_label)
        layout.addWidget(self.model_label)
        buttons = QHBoxLayout()
        for attribute, text, tip, slot in (
            ("open_button", "Open…", "Open an MVTec AD category folder (Ctrl+O)", self.choose_dataset),
            ("load_button", "Model…", "Load a frame-model checkpoint (Ctrl+M)", self.choose_checkpoint),
            (
                "train_button",
                "Train…",
                "Train a CAE on train/good of this category (Ctrl+T)",
                self.open_train_dialog,
            ),
            ("cancel_button", "Cancel", "Stop scoring (Esc)", self.cancel_jobs),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
            setattr(self, attribute, button)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        return box

    def _build_centre(self) -> QWidget:
        """The selected image with its overlay and mask outline, its caption, the heatmap controls."""
        self.view = VideoView()
        self.view.colorbar.setLabel("left", "error / category p99")
        self.outline = pg.PlotCurveItem(pen=MASK_PEN, connect="finite")
        self.outline.setZValue(15)
        self.view.view.addItem(self.outline)
        self.view.set_colormap(self.settings.colormap())
        self.view.set_opacity(self.settings.overlay_opacity())
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.fit_banner = FitBanner("Train on train/good…")
        self.fit_banner.trainRequested.connect(self.open_train_dialog)
        layout.addWidget(self.fit_banner)
        layout.addWidget(self.view, 1)
        self.image_label = QLabel("Open a category (Ctrl+O), then load or train a model.")
        self.image_label.setWordWrap(True)
        self.image_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_label.setContentsMargins(6, 2, 6, 4)
        layout.addWidget(self.image_label)
        self.heatmap_controls = HeatmapControls(self.settings.overlay_opacity(), self.settings.colormap())
        self.heatmap_controls.layout().setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.heatmap_controls)
        return centre

    def _build_explain_dock(self) -> None:
        self.explain_panel = ExplainPanel(self.pool, self.settings.colormap())
        self.explain_dock = QDockWidget("Explainability", self)
        self.explain_dock.setObjectName("image_explainability")
        self.explain_dock.setWidget(self.explain_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.explain_dock)
        self.view_menu.addAction(self.explain_dock.toggleViewAction())

    def _connect(self) -> None:
        self.thumbnails.imageSelected.connect(self.show_image)
        self.heatmap_controls.overlayToggled.connect(self._set_overlay_visible)
        self.heatmap_controls.opacityChanged.connect(self.view.set_opacity)
        self.heatmap_controls.colormapChanged.connect(self._set_colormap)
        self.explain_panel.statusMessage.connect(lambda text: self.notify(text, 10_000))

    def fit_layout(self) -> None:
        """Thumbnails ~23 % of the width, the image ~35 %, explanations the rest."""
        width = max(self.width(), 900)
        dock = int(width * 0.42)
        self.resizeDocks([self.explain_dock], [dock], Qt.Orientation.Horizontal)
        left = int(width * 0.23)
        self.splitter.setSizes([left, width - dock - left])

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
        except Exception as error:  # the window stays usable whatever the folder holds
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
        self.cancel_scoring()
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
        self.thumb_job.start(
            lambda: thumbnail_job(dataset.test),
            "thumbnails",
            chunk=lambda item: self.thumbnails.set_thumbnail(*item),
        )
        for note in dataset.notes[:3]:
            self.notify(f"note: {note}", 10000)
        self.thumbnails.select_index(0)
        if self.checkpoint is not None:
            self.fit_banner.clear()
            self.start_scoring()
        else:
            self.fit_banner.show_sentence(
                f"No model for {dataset.category} yet: train one on its {len(dataset.train)} good training "
                "images (a few minutes, with a live loss curve) or load a checkpoint (Ctrl+M).",
                "Train a model now…",
            )
            self.notify(
                f"Opened {dataset.category}: load a checkpoint (Ctrl+M) or train a model on its "
                f"{len(dataset.train)} good training images (Ctrl+T).",
                15000,
            )
        self.update_enabled()
        return True

    # ------------------------------------------------------------------------------ model
    def choose_checkpoint(self) -> None:
        self.checkpoints.choose()

    def set_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Use ``checkpoint`` (a frame model) and score the open category with it."""
        if not isinstance(checkpoint, Checkpoint):  # a fused model (vad fuse) scores videos only
            self.show_error(
                "Not an image model",
                f"{checkpoint.display_name} is a fused model; it scores videos (open it in the review window).",
            )
            return False
        if checkpoint.model.spec.mode != "frame":
            self.show_error(
                "Not an image model",
                f"{checkpoint.display_name} is a {checkpoint.model.spec.mode} model; image mode needs a frame "
                "model (bcae1, bcae2, ...).",
            )
            return False
        self.cancel_scoring()
        self.checkpoint = checkpoint
        self.fit_banner.clear()
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
        self.update_enabled()
        return True

    def open_train_dialog(self) -> None:
        """Train a frame model (BCAE1 by default, DRAEM with its recipe, ...) on ``train/good`` with the
        review window's dialog; the file is named for the category and the chosen architecture."""
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
        category = self.dataset.category

        def output_for(architecture: str) -> Path:
            return data_dir() / "models" / f"{category}_{architecture}_{stamp}"

        small = max(read_image(self.dataset.train[0].path).shape[:2]) < 128
        dialog = TrainDialog(
            self.pool,
            frame_model_names(),
            [choice],
            output_for("bcae1"),
            architecture="bcae1",
            size=(64, 64) if small else (128, 128),
            channels=source.channels,
            epochs=20,  # for architectures without a registered recipe (DRAEM brings its own)
            output_for=output_for,
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
        checkpoint, dataset = self.checkpoint, self.dataset
        self.start_score_job(
            lambda: inspect_job(checkpoint, dataset),
            len(dataset.test),
            "image scoring",
            done=self._score_done,
        )

    def _score_done(self, inspection: ImageInspection) -> None:
        self.inspection = inspection
        self.map_scale = robust_max(inspection.maps)
        segments = getattr(self.checkpoint.model, "segments", False) if self.checkpoint else False
        self.calibration = image_calibration(inspection, "segmentation" if segments else "mse")
        self.thumbnails.set_scores(inspection.scores, inspection.threshold)
        self._show_metrics()
        first = self.thumbnails.displayed_order()[0]
        self.thumbnails.select_index(first, emit=False)
        self.show_image(first)
        self._show_fit(inspection)
        self.notify(
            f"Scored {len(inspection)} test images in {inspection.seconds:.1f} s: image AUROC "
            f"{percent(inspection.image_auroc)}, pixel AUROC {percent(inspection.pixel_auroc)}, "
            f"AUPRO {percent(inspection.aupro)}.",
            15000,
        )

    def _show_fit(self, inspection: ImageInspection) -> None:
        """The banner says when the model does not fit the category: image AUROC near or under
        chance, or most test images far outside the normal range it recorded at training time."""
        from vad_core.evaluation.fit import check_fit

        checkpoint = self.checkpoint
        if checkpoint is None:
            return
        inference = inspection_inference(checkpoint)
        errors = inspection.scores if inspection.config.image_score != "top_k" else None
        report = check_fit(
            checkpoint.metadata,
            checkpoint.display_name,
            errors,
            error=inference["error"],
            reduction=inference["reduction"],
            patch=inference["patch"],
            auroc=inspection.image_auroc,
            auroc_kind="image",
        )
        if report.fits:
            self.fit_banner.clear()
        else:
            self.fit_banner.show_sentence(
                report.sentence(f"{inspection.dataset.category}"), "Train on train/good…"
            )

    def cancel_other_jobs(self) -> None:
        """Esc also stops the running explanation."""
        self.explain_panel.cancel()

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
            verdict=self._verdict(index),
        )

    def _verdict(self, index: int) -> str:
        """This window's flagging of image ``index`` (the panel shows it rather than its own), or ""."""
        inspection = self.inspection
        if inspection is None or not math.isfinite(inspection.threshold) or index >= len(inspection):
            return ""
        score, threshold = float(inspection.scores[index]), inspection.threshold
        if score >= threshold:
            return f"flagged: image score {score:.4g} >= G-mean threshold {threshold:.4g}"
        return f"not flagged: image score {score:.4g} < G-mean threshold {threshold:.4g}"

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
            self.aupro_label.setText("AUPRO: –")
            self.per_defect_label.setText(
                "scoring…" if self.busy else "Load or train a model to score the test images."
            )
            return
        self.image_auroc_label.setText(f"Image AUROC: {percent(inspection.image_auroc)}")
        self.pixel_auroc_label.setText(f"Pixel AUROC: {percent(inspection.pixel_auroc)}")
        self.aupro_label.setText(f"AUPRO: {percent(inspection.aupro)}")
        cell = "<td align='right' style='padding-left:8px'>"  # numbers apart ("20 91.2 %", not "2091.2 %")
        rows = "".join(
            f"<tr><td>{d.defect_type}</td>{cell}{d.images}</td>{cell}{percent(d.image_auroc)}</td>"
            f"{cell}{percent(d.pixel_auroc)}</td>{cell}{percent(d.aupro)}</td></tr>"
            for d in inspection.per_defect()
        )
        notes = "".join(f"<br><i>{note}</i>" for note in inspection.notes)
        self.per_defect_label.setText(
            "<table cellspacing='0' cellpadding='1'><tr><th align='left'>defect</th><th>n</th>"
            f"<th>image</th><th>pixel</th><th>AUPRO</th></tr>{rows}</table>"
            f"{len(inspection)} images, scored in {inspection.seconds:.1f} s; image score: "
            f"{inspection.scoring}; pixel AUROC and AUPRO at {inspection.config.pixel_size or 'full'} px{notes}"
        )

    def update_enabled(self) -> None:
        has_data = self.dataset is not None
        self.train_button.setEnabled(has_data)
        self.actions_by_name["train"].setEnabled(has_data)
        self.actions_by_name["score"].setEnabled(has_data and self.checkpoint is not None and not self.busy)
        self.cancel_button.setEnabled(self.busy)

    def shut_down_parts(self) -> None:
        """Closing: the explain panel stops its jobs."""
        self.explain_panel.shutdown()


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


def _parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0] if main.__doc__ else None)
    parser.add_argument("category", nargs="?", help="MVTec AD category folder")
    parser.add_argument("--checkpoint", help="frame-model checkpoint (.safetensors)")
    parser.add_argument("--select", help="test image to show, e.g. broken_large/013.png")
    parser.add_argument("--explain", default="", help="comma-separated methods to run (screenshots)")
    parser.add_argument("--screenshot", help="save the window as this PNG and quit")
    parser.add_argument("--panel-screenshot", help="also save the explain panel floated at --size")
    parser.add_argument("--size", default="1280x800", help="window size WxH [1280x800]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.windows.image_window [CATEGORY] [--checkpoint CKPT]``: the image inspection window alone.

    With ``--screenshot PNG`` it waits for scoring (without ``--checkpoint``: shows the offer to train
    one), selects ``--select`` (``defect/NNN.png``, or the
    most anomalous image), runs ``--explain`` methods, saves the window (and with
    ``--panel-screenshot PNG`` the explain panel floated at ``--size``), then quits.
    """
    import os

    args = _parser().parse_args(argv)
    if args.screenshot:
        os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"
    from app.main import create_application

    app = create_application()
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = ImageWindow()
    window.resize(width, height)
    window.show()
    window.fit_layout()
    if args.category and not window.open_dataset(args.category):
        return 1
    if args.checkpoint:
        window.load_checkpoint(args.checkpoint)
    if not args.screenshot:
        return app.exec()
    if args.checkpoint and (
        not _wait(app, lambda: not window.checkpoints.loading, 300) or window.checkpoint is None
    ):
        print(f"cannot load {args.checkpoint}", file=sys.stderr)
        return 1
    if args.checkpoint and not _wait(app, lambda: window.inspection is not None and not window.busy, 600):
        print("scoring did not finish", file=sys.stderr)
        return 1
    return _screenshots(app, window, args, (width, height))


def _screenshots(app: Any, window: ImageWindow, args: Any, size: tuple[int, int]) -> int:
    """Select the image, run the explanations, save the window (and the floated panel), quit."""
    if args.select and window.dataset is not None:
        wanted = args.select.replace("\\", "/")
        for index, sample in enumerate(window.dataset.test):
            if f"{sample.defect_type}/{sample.path.name}" == wanted:
                window.thumbnails.select_index(index)
    panel = window.explain_panel
    for method in [m for m in args.explain.split(",") if m]:
        panel.explain(method)
    if window.checkpoint is not None:  # without a model (the offer to train one) nothing is explained
        _wait(app, lambda: panel.base is not None and not panel.busy, 600)
    _wait(app, lambda: not window.thumb_job.running, 60)
    _wait(app, lambda: False, 0.8)
    window.grab().save(args.screenshot)
    print(f"{args.screenshot}: {window.width()}x{window.height()}, image {window.current}")
    if args.panel_screenshot:
        window.explain_dock.setFloating(True)
        window.explain_dock.resize(*size)
        _wait(app, lambda: False, 0.8)
        window.explain_dock.grab().save(args.panel_screenshot)
        print(f"{args.panel_screenshot}: {window.explain_dock.width()}x{window.explain_dock.height()}")
    window.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
