"""The review window: wires the small widgets of ``app.widgets`` to a ``ReviewSession`` and the workers.

Layout: the video view (frame + error overlay), the transport bar and the s(t) timeline in the
middle; a dock with the model panel and the scoring / heatmap controls on the left; the
input / reconstruction / error view and the events table on the right (the right dock area is
where the explainability panel of a later issue goes: ``add_right_dock``).

Threads: the GUI thread only reads frames, copies results and paints. Scoring, training and
single-frame reconstruction run as generators (``app.jobs``) in ``app.workers.Worker``s on one
``WorkerPool``. Results of a job are accepted only while it is the current job of its kind
(``self.score_worker.sent(self.sender())``), so switching video or model mid-run cancels the
old job and its late chunks are dropped. Score chunks are buffered and the curve is repainted by a
10 Hz timer. Closing the window cancels every job and waits for the threads.

Example::

    window = MainWindow()
    window.show()
    window.open_path("Avenue/testing_videos/01.avi")
    window.load_checkpoint("bcae1.safetensors")       # starts scoring (or reads the cache)
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.jobs import ScoreSummary, independent_reader, reconstruct_job, score_job
from app.player import PlaybackClock
from app.session import ReviewSession, robust_max
from app.settings import AppSettings
from app.widgets.events_table import EventsTable
from app.widgets.heatmap_controls import HeatmapControls
from app.widgets.help_dialog import HelpDialog
from app.widgets.icons import media_icon
from app.widgets.model_panel import ModelPanel
from app.widgets.scoring_controls import ScoringControls
from app.widgets.side_by_side import SideBySideView
from app.widgets.timeline import TimelineWidget
from app.widgets.train_dialog import TrainDialog, TrainingChoice
from app.widgets.transport import SPEEDS, TransportBar
from app.widgets.video_view import VideoView
from app.workers import Worker, WorkerPool
from vad_core.checkpoint import Checkpoint, load_checkpoint
from vad_core.errors import VadError
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache, cache_key
from vad_core.sources import VIDEO_EXTENSIONS, open_source
from vad_core.sources.base import ArraySource, FrameSource

log = logging.getLogger(__name__)

DEMO_NAME = "demo (synthetic)"
DATASET_SEPARATOR = "::"  # recent-file entries "DATASET_ROOT::CLIP" reopen a dataset clip
REPAINT_MS = 100  # the live curve is redrawn at most 10 times a second
RECONSTRUCT_WHILE_PLAYING_MS = 250


def _bundled_demo_models() -> list[Path]:
    from vad_core.resources import DEMO_MODELS, demo_model_path

    paths = [demo_model_path(kind) for kind in ("frame", "temporal") if kind in DEMO_MODELS]
    return [p for p in paths if p.is_file()]


#: Playback actions, in the order of the Playback menu and of the help dialog.
PLAYBACK_ACTIONS = (
    "play",
    "reverse",
    "pause",
    "forward",
    "step_back",
    "step_forward",
    "previous_event",
    "next_event",
    "first_frame",
    "last_frame",
    "slower",
    "faster",
)


class MainWindow(QMainWindow):
    """The review window (see the module docstring)."""

    def __init__(
        self,
        settings: AppSettings | None = None,
        cache: ScoreCache | None = None,
        parent: QWidget | None = None,
        load_engine: bool = True,
    ) -> None:
        """``load_engine=False`` builds the window without importing torch and the model zoo (fast
        start-up); the caller then calls ``engine_ready()`` once they are imported."""
        super().__init__(parent)

        self.settings = settings or AppSettings()
        self.cache = cache if cache is not None else ScoreCache()
        self.session = ReviewSession(
            inference=InferenceConfig(batch_size=self.settings.batch_size(), device=self.settings.device())
        )
        self.pool = WorkerPool(max_threads=3, parent=self)
        self.score_worker: Worker | None = None
        self.last_score_summary: ScoreSummary | None = None
        self.recon_worker: Worker | None = None
        self._recon_pending: int | None = None
        self._recon_last_request = 0.0
        self._recon_generation = -1
        self.train_dialog: TrainDialog | None = None
        self.error_dialog: QMessageBox | None = None
        self.info_dialog: QMessageBox | None = None
        self.help_dialog: HelpDialog | None = None
        self.guide_dialog: QDialog | None = None
        self.about_dialog: QDialog | None = None
        self._default_layout: QByteArray | None = None
        self.demo_active = False
        self.frame_index = 0
        self.frames_shown = 0  # playback benchmark counter
        self.playing = False
        self.clock = PlaybackClock()
        self._mark_in: int | None = None
        self._scores_dirty = False
        self._closing = False

        self.setWindowTitle("vad-review")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()

        # -- centre: video, transport, timeline ----------------------------------------------------
        self.video_view = VideoView()
        self.transport = TransportBar(self.actions_by_name)
        self.timeline = TimelineWidget()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        top_layout.addWidget(self.video_view, 1)
        top_layout.addWidget(self.transport)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.timeline)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.timeline.setMinimumHeight(170)
        self.setCentralWidget(self.splitter)

        # -- docks ---------------------------------------------------------------------------------
        self.model_panel = ModelPanel(())
        self.scoring_controls = ScoringControls(self.session.scoring)
        self.heatmap_controls = HeatmapControls(self.settings.overlay_opacity(), self.settings.colormap())
        self.side_by_side = SideBySideView()
        self.events_table = EventsTable()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.model_panel)
        for title, widget in (("Scoring", self.scoring_controls), ("Heatmap", self.heatmap_controls)):
            group = QGroupBox(title)
            group_layout = QVBoxLayout(group)
            group_layout.setContentsMargins(2, 2, 2, 2)
            group_layout.addWidget(widget)
            left_layout.addWidget(group)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_dock = self._dock(
            "Model, scoring and heatmap", scroll, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.side_dock = self._dock(
            "Input · reconstruction · error", self.side_by_side, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.events_dock = self._dock("Events", self.events_table, Qt.DockWidgetArea.RightDockWidgetArea)

        # -- status bar ----------------------------------------------------------------------------
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setMaximumHeight(16)
        self.progress.setVisible(False)
        self.device_label = QLabel("")
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.device_label)

        self._build_menus()
        self._connect()
        from app.labels_controller import LabelsController

        self.labels = LabelsController(self)  # label band, Labels dock and menu, label keys, export
        self.triage_dock: QDockWidget | None = None
        from app.review_explainer import ReviewExplainer

        self.explainer = ReviewExplainer(self)  # View > Explainability panel (a dock made when first shown)
        self.image_window: QMainWindow | None = None  # File > Open image dataset
        self.play_timer = QTimer(self)
        self.play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.play_timer.timeout.connect(self._tick)
        self.repaint_timer = QTimer(self)
        self.repaint_timer.setInterval(REPAINT_MS)
        self.repaint_timer.timeout.connect(self._flush_scores)
        self.repaint_timer.start()
        self.model_panel.set_device(self.session.inference.device)
        self.model_panel.set_batch_size(self.session.inference.batch_size)
        self.video_view.set_opacity(self.settings.overlay_opacity())
        self.video_view.set_colormap(self.settings.colormap())
        self.side_by_side.set_colormap(self.settings.colormap())
        self._refresh_checkpoint_choices()
        self._update_enabled()
        self.device_label.setText("device: loading the engine…")
        if load_engine:
            self.engine_ready()
        self.resize(1280, 800)
        self.fit_docks()
        self._restore_window_state()
        self.statusBar().showMessage(
            "Open a video, a frame folder or a dataset clip (File menu, or drop it here)."
        )

    # ================================================================================ construction
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def add_right_dock(
        self, title: str, widget: QWidget, tabify_with_reconstruction: bool = True
    ) -> QDockWidget:
        """Hook for later panels (e.g. explainability): a dock on the right, tabbed with the reconstruction view."""
        dock = self._dock(title, widget, Qt.DockWidgetArea.RightDockWidgetArea)
        if tabify_with_reconstruction:
            self.tabifyDockWidget(self.side_dock, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def fit_docks(self) -> None:
        """Dock sizes for the current window size: about 20 % left, 25 % right, the timeline 38 % of the height."""
        width = max(self.width(), 800)
        left, right = int(width * 0.20), int(width * 0.25)
        self.resizeDocks([self.model_dock, self.side_dock], [left, right], Qt.Orientation.Horizontal)
        height = max(self.height(), 600)
        self.splitter.setSizes([int(height * 0.62), int(height * 0.38)])
        if hasattr(self, "labels"):
            self.labels.fit_docks(height)

    def _action(
        self,
        name: str,
        text: str,
        slot: Callable,
        shortcuts: tuple[str, ...] = (),
        icon: QStyle.StandardPixmap | QIcon | None = None,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if isinstance(icon, QIcon):
            action.setIcon(icon)
        elif icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        action.setChecked(checkable)  # checkable actions start on (connected below, so no slot runs now)
        keys = ", ".join(shortcuts)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({keys})" if keys else ""))
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        self.actions_by_name[name] = action
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        a = self._action
        a("open_video", "&Open video…", self.choose_video, ("Ctrl+O",), sp.SP_DialogOpenButton)
        a("open_folder", "Open frame &folder…", self.choose_folder, ("Ctrl+Shift+O",), sp.SP_DirOpenIcon)
        a("open_dataset", "Open &dataset clip…", self.choose_dataset, ("Ctrl+D",))
        a("open_demo", "Open the built-in d&emo", self.open_demo, ("Ctrl+Shift+D",))
        a("open_batch", "Open &batch results…", self.choose_batch_results, ("Ctrl+B",))
        a("open_images", "Open &image dataset (MVTec)…", self.open_image_dataset, ("Ctrl+I",))
        a("open_checkpoint", "Open &checkpoint…", self.choose_checkpoint, ("Ctrl+M",))
        a("score", "&Score video", self.start_scoring, ("F5",), sp.SP_BrowserReload)
        a("cancel", "&Cancel running job", self.cancel_jobs, ("Esc",), sp.SP_BrowserStop)
        a("train", "&Train on this footage…", self.open_train_dialog, ("Ctrl+T",))
        a("quit", "&Quit", self.close, ("Ctrl+Q",))
        a("play", "Play / pause", self.toggle_play, ("Space",), media_icon("play"))
        a("reverse", "Play backwards (again: faster)", self.play_reverse, ("J",))
        a("pause", "Pause", self.pause, ("K",))
        a("forward", "Play forwards (again: faster)", self.play_forward, ("L",))
        a("step_back", "Step one frame back", self.step_back, ("Left", ","), media_icon("step_back"))
        a(
            "step_forward",
            "Step one frame forward",
            self.step_forward,
            ("Right", "."),
            media_icon("step_forward"),
        )
        a(
            "previous_event",
            "Previous event",
            self.previous_event,
            ("Shift+Left",),
            media_icon("previous_event"),
        )
        a("next_event", "Next event", self.next_event, ("Shift+Right",), media_icon("next_event"))
        a("first_frame", "First frame", lambda: self.seek(0), ("Home",))
        a("last_frame", "Last frame", lambda: self.seek(self.session.frame_count - 1), ("End",))
        a("slower", "Slower", lambda: self.change_speed(-1), ("[",))
        a("faster", "Faster", lambda: self.change_speed(+1), ("]",))
        a("mark_in", "Mark normal frames from here", self.mark_in, ("I",))
        a("mark_out", "Mark normal frames up to here", self.mark_out, ("O",))
        a("clear_marks", "Clear normal marks", self.clear_marks)
        a("overlay", "Error &overlay", self.set_overlay_visible, ("H",), checkable=True)
        a("zoom_all", "Show the whole timeline", self.zoom_timeline_all, ("0",))
        a("help", "&Keyboard shortcuts", self.show_help, ("F1",), sp.SP_DialogHelpButton)
        a("guide", "Getting &started", self.show_guide)
        a("about", "&About vad-review", self.show_about)
        a("open_logs", "Open &log folder", self.open_log_folder)
        a("reset_layout", "&Reset layout", self.reset_layout)
        a("explain_panel", "E&xplainability panel", lambda: self.explainer.show_panel(), ("Ctrl+Shift+X",))
        a("explain_frame", "E&xplain this frame", lambda: self.explainer.explain_frame(), ("X",))

    def shortcut_actions(self) -> list[QAction]:
        """Actions listed in the help dialog, playback first."""
        order = (
            *PLAYBACK_ACTIONS,
            "overlay",
            "zoom_all",
            "mark_in",
            "mark_out",
            "open_video",
            "open_folder",
            "open_dataset",
            "open_demo",
            "open_images",
            "open_checkpoint",
            "score",
            "cancel",
            "train",
            "explain_frame",
            "explain_panel",
            "help",
            "quit",
        )
        return [self.actions_by_name[name] for name in order] + self.labels.shortcut_actions()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        act = self.actions_by_name
        file_menu = bar.addMenu("&File")
        for name in ("open_video", "open_folder", "open_dataset", "open_demo"):
            file_menu.addAction(act[name])
        file_menu.addAction(act["open_batch"])
        file_menu.addAction(act["open_images"])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(act["quit"])
        model_menu = bar.addMenu("&Model")
        for name in ("open_checkpoint", "score", "cancel", "train"):
            model_menu.addAction(act[name])
        model_menu.addSeparator()
        model_menu.addAction(act["explain_frame"])
        play_menu = bar.addMenu("&Playback")
        for name in PLAYBACK_ACTIONS:
            play_menu.addAction(act[name])
        play_menu.addSeparator()
        for name in ("mark_in", "mark_out", "clear_marks"):
            play_menu.addAction(act[name])
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(act["overlay"])
        self.view_menu.addAction(act["zoom_all"])
        self.view_menu.addAction(act["reset_layout"])
        self.view_menu.addAction(act["explain_panel"])
        self.view_menu.addSeparator()
        for dock in (self.model_dock, self.side_dock, self.events_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(act["help"])
        help_menu.addAction(act["guide"])
        help_menu.addSeparator()
        help_menu.addAction(act["open_logs"])
        help_menu.addAction(act["about"])

    def _connect(self) -> None:
        self.timeline.seekRequested.connect(self.seek)
        self.timeline.thresholdChanged.connect(self.set_threshold)
        self.transport.speedChanged.connect(self.set_speed)
        self.events_table.eventActivated.connect(self.go_to_event)
        self.scoring_controls.configChanged.connect(self.set_scoring)
        self.heatmap_controls.overlayToggled.connect(self.actions_by_name["overlay"].setChecked)
        self.heatmap_controls.opacityChanged.connect(self._set_opacity)
        self.heatmap_controls.colormapChanged.connect(self._set_colormap)
        panel = self.model_panel
        panel.checkpointChosen.connect(self.load_checkpoint)
        panel.openCheckpointRequested.connect(self.choose_checkpoint)
        panel.scoreRequested.connect(self.start_scoring)
        panel.cancelRequested.connect(self.cancel_jobs)
        panel.trainRequested.connect(self.open_train_dialog)
        panel.deviceChanged.connect(self._set_device)
        panel.batchSizeChanged.connect(self._set_batch_size)
        self.side_dock.visibilityChanged.connect(
            lambda visible: visible and self._request_reconstruction(self.frame_index)
        )

    # ================================================================================ messages
    def show_error(self, title: str, message: str) -> QMessageBox:
        """A short, non-blocking warning naming the file and the problem; the window stays usable."""
        if self.error_dialog is not None:
            self.error_dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_dialog = box
        box.open()
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        return box

    def notify(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    # ================================================================================ opening
    def choose_video(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video", self._last_dir(), f"Videos ({patterns});;All files (*)"
        )
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of frames", self._last_dir())
        if path:
            self.open_path(path)

    def choose_dataset(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a dataset folder (UCSD, Avenue, synthetic)", self._last_dir()
        )
        if path:
            self.open_dataset_path(path)

    def choose_checkpoint(self) -> None:
        start = self.settings.last_checkpoint() or self._last_dir()
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a checkpoint",
            str(Path(start).parent if start else ""),
            "Checkpoints (*.safetensors *.json)",
        )
        if path:
            self.load_checkpoint(path)

    def _last_dir(self) -> str:
        recent = self.settings.recent_files()
        if recent:
            first = Path(recent[0].split(DATASET_SEPARATOR)[0])
            return str(first if first.is_dir() else first.parent)
        return str(Path.home())

    def open_path(self, path: str | Path) -> bool:
        """Open a video file, a frame folder, a dataset folder (asks for a clip) or a checkpoint."""
        text = str(path)
        if DATASET_SEPARATOR in text:
            root, clip = text.split(DATASET_SEPARATOR, 1)
            return self.open_dataset_path(root, clip)
        path = Path(text).expanduser()
        if path.suffix.lower() in (".safetensors",) or (
            path.suffix == ".json" and path.with_suffix(".safetensors").is_file()
        ):
            return self.load_checkpoint(path)
        if path.is_dir() and not self._has_frames(path):
            return self.open_dataset_path(path)
        try:
            source = open_source(path)
        except VadError as error:
            self.show_error("Cannot open video", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot open video", f"{path}: {error}")
            return False
        self.open_source(source, path.name, recent=str(path))
        return True

    @staticmethod
    def _has_frames(folder: Path) -> bool:
        from vad_core.sources import list_images

        try:
            list_images(folder)
            return True
        except VadError:
            return False

    def open_dataset_path(self, root: str | Path, clip_name: str | None = None) -> bool:
        """Open one clip of a dataset folder: ``clip_name``, or the one the operator picks."""
        from vad_core.datasets import open_dataset
        from vad_core.datasets.base import VideoDataset

        try:
            dataset = open_dataset(root)
        except VadError as error:
            self.show_error("Cannot open dataset", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot open dataset", f"{root}: {error}")
            return False
        if not isinstance(dataset, VideoDataset):  # MVTec-style parts: the image inspection window
            return self.open_image_dataset(root)
        if clip_name is None:
            from app.widgets.clip_dialog import ClipDialog

            dialog = ClipDialog(dataset, self)
            if not dialog.exec():
                return False
            clip = dialog.selected_clip()
        else:
            try:
                clip = dataset.clip(clip_name)
            except KeyError as error:
                self.show_error("Cannot open dataset clip", str(error).strip("'\""))
                return False
        if clip is None:
            return False
        self.open_source(
            clip.source,
            f"{dataset.name} / {clip.name}",
            clip.labels,
            clip.categories,
            recent=f"{Path(root)}{DATASET_SEPARATOR}{clip.name}",
        )
        return True

    # -- image datasets (MVTec parts) ----------------------------------------------------------------
    def open_image_dataset(self, path: str | Path | None = None) -> bool:
        """File > Open image dataset: the image inspection window on an MVTec-style category."""
        from app.image_mode import ImageModeWindow

        if self.image_window is None:
            self.image_window = ImageModeWindow(self.settings)
        window = self.image_window
        window.show()
        window.raise_()
        window.activateWindow()
        return window.open_dataset(path) if path is not None else window.choose_dataset()

    # -- batch results (triage) ----------------------------------------------------------------------
    def choose_batch_results(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open batch results (the --out folder of vad batch score)", self._last_dir()
        )
        if path:
            self.open_batch_results(path)

    def open_batch_results(self, path: str | Path) -> bool:
        """Show the results index of a batch run as the triage table (a dock under the video)."""
        from app.widgets.triage_table import TriagePanel

        if self.triage_dock is None:
            panel = TriagePanel()
            panel.clipActivated.connect(self.open_batch_clip)
            self.triage_dock = self._dock("Batch results", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
            self.view_menu.addAction(self.triage_dock.toggleViewAction())
            height = max(self.height(), 600)
            self.resizeDocks([self.triage_dock], [int(height * 0.3)], Qt.Orientation.Vertical)
            self.splitter.setSizes([int(height * 0.32), int(height * 0.4)])  # keep the curve readable
        try:
            self.triage_dock.widget().load(path)
        except VadError as error:
            self.show_error("Cannot open batch results", str(error))
            return False
        self.triage_dock.show()
        self.triage_dock.raise_()
        return True

    def open_batch_clip(self, row, scores_path: str | Path) -> bool:
        """Open a clip of the triage table with its stored scores; the model is not run."""
        from vad_core.inference.scores_file import read_scores

        try:
            scores = read_scores(scores_path)
            source = open_source(row.path, fps=row.fps)
        except VadError as error:
            self.show_error("Cannot open clip", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot open clip", f"{row.path}: {error}")
            return False
        self.open_source(source, row.clip, scores.labels, scores.categories, recent=row.path, score=False)
        try:
            self.session.load_scores(scores.errors, scores.maps)
        except VadError as error:
            self.show_error("Scores do not fit the clip", str(error))
            return False
        self._scores_dirty = True
        self._flush_scores()
        self._refresh_events()
        self.show_frame(self.frame_index)
        n = len(self.session.events)
        self.notify(
            f"Opened {row.clip} with the scores of the batch run ({row.model or 'model'}; "
            f"{n} event{'s' if n != 1 else ''}); nothing was recomputed.",
            12000,
        )
        return True

    def open_source(
        self,
        source: FrameSource,
        name: str,
        ground_truth: np.ndarray | None = None,
        categories: np.ndarray | None = None,
        recent: str | None = None,
        demo: bool = False,
        score: bool = True,
    ) -> None:
        """Make ``source`` the current video; cancels scoring of the previous one; scores it if a model is loaded.

        With ``score=False`` nothing is scored (the caller brings finished scores, see ``open_batch_clip``).
        """
        self.pause()
        self._cancel_scoring()
        self.demo_active = demo
        self.session.open_source(source, name, ground_truth, categories)
        self._mark_in = None
        self.clock.fps = self.session.fps
        self.timeline.set_length(len(source), self.session.fps)
        self.timeline.band("truth").set_intervals(self.session.ground_truth_intervals())
        self.events_table.set_events([], self.session.fps, self.session.ground_truth)
        self.labels.open_for_source()
        self.side_by_side.clear_images()
        self.video_view.set_frame(None)
        if recent:
            self.settings.add_recent(recent)
        self._update_title()
        self.show_frame(0)
        gt = " with ground truth" if self.session.ground_truth is not None else ""
        self.notify(
            f"Opened {name}: {len(source)} frames, {source.frame_size[1]}×{source.frame_size[0]}, {source.fps:g} fps{gt}."
        )
        if not score:
            pass  # finished scores come from the caller
        elif self.session.checkpoint is not None:
            self.start_scoring()
        else:
            self.notify(
                "No model loaded: open a checkpoint (Ctrl+M) or train one on this footage (Ctrl+T).", 15000
            )
        self._update_enabled()

    # -- demo ------------------------------------------------------------------------------------
    def offer_demo(self) -> None:
        """First start without arguments: offer the built-in synthetic demo (non-blocking)."""
        self.settings.set_demo_offered(True)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Welcome to vad-review",
            "Open the built-in demo?\n\nA synthetic clip of moving circles with three anomalies (a square, a "
            "fast circle, a fast square) and its ground truth, scored by a model trained on normal clips.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        open_button = box.addButton("Open demo", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(
            lambda button: button is open_button and QTimer.singleShot(0, self.open_demo)
        )
        self.info_dialog = box
        box.open()

    def open_demo(self) -> None:
        """The synthetic demo clip (in memory, with ground truth) and the bundled demo model."""
        from vad_core.datasets.synthetic import make_demo_clip

        clip = make_demo_clip()
        source = ArraySource(clip.frames, fps=25.0, name=DEMO_NAME)
        self.open_source(source, DEMO_NAME, clip.labels, clip.categories, demo=True)
        if self.session.checkpoint is not None:
            return
        bundled = _bundled_demo_models()
        if bundled:
            self.load_checkpoint(bundled[0])
            return
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "No demo model",
            "The bundled demo model is not installed.\n\nTrain a small BCAE1 on the demo's normal training "
            "clips now (a few minutes on a CPU, seconds on a GPU), or open a checkpoint.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        train = box.addButton("Train a demo model…", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Open checkpoint…", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)

        def clicked(button) -> None:
            if button is train:
                QTimer.singleShot(0, lambda: self.open_train_dialog(demo=True))
            elif button is choose:
                QTimer.singleShot(0, self.choose_checkpoint)

        box.buttonClicked.connect(clicked)
        self.info_dialog = box
        box.open()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for entry in recent:
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _c=False, e=entry: self.open_path(e))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent)

    # -- drag and drop -------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(paths[0]))

    # ================================================================================ model
    def _refresh_checkpoint_choices(self) -> None:
        choices: list[tuple[str, str]] = []
        for path in _bundled_demo_models():
            choices.append((f"bundled: {path.stem}", str(path)))
        last = self.settings.last_checkpoint()
        if last and Path(last).is_file() and all(p != last for _, p in choices):
            choices.append((Path(last).stem, last))
        current = (
            str(self.session.checkpoint.path)
            if self.session.checkpoint and self.session.checkpoint.path
            else None
        )
        self.model_panel.set_checkpoint_choices(choices, current)

    def load_checkpoint(self, path: str | Path) -> bool:
        """Load a checkpoint (errors shown in a dialog); cancels scoring with the old one; scores the video."""
        try:
            checkpoint = load_checkpoint(path, device="cpu")
        except VadError as error:
            self.show_error("Cannot load checkpoint", str(error))
            return False
        except Exception as error:
            self.show_error("Cannot load checkpoint", f"{path}: {error}")
            return False
        self.set_checkpoint(checkpoint)
        if checkpoint.path is not None:
            self.settings.set_last_checkpoint(checkpoint.path)
        return True

    def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._cancel_scoring()
        self.session.set_checkpoint(checkpoint)
        self.model_panel.set_checkpoint(checkpoint)
        self._clear_score_views()
        self._update_title()
        self.notify(
            f"Model {checkpoint.display_name} ({checkpoint.config.name}), trained on {checkpoint.trained_on}."
        )
        if self.session.source is not None:
            self.start_scoring()
        self._update_enabled()
        self.explainer.refresh()

    def _set_device(self, device: str) -> None:
        self.settings.set_device(device)
        self.session.set_inference(replace(self.session.inference, device=device))
        self._update_device_label()

    def _set_batch_size(self, value: int) -> None:
        self.settings.set_batch_size(value)
        self.session.set_inference(replace(self.session.inference, batch_size=int(value)))

    def engine_ready(self) -> None:
        """Fill what needs torch and the model zoo (architectures, device); called once they load."""
        from vad_core.models import model_names

        self.model_panel.set_architectures(model_names())
        self.model_panel.check_cuda()
        self._update_device_label()

    def _update_device_label(self) -> None:
        from vad_core.inference.device import resolve_device

        try:
            device = resolve_device(self.session.inference.device)
        except VadError:
            self.device_label.setText("device: CUDA unavailable")
            return
        if device.type == "cuda":
            import torch

            self.device_label.setText(f"device: {torch.cuda.get_device_name(device)} (AMP)")
        else:
            self.device_label.setText("device: CPU")

    # ================================================================================ scoring
    def start_scoring(self) -> None:
        """Score the current video with the current model (or read the cached scores)."""
        session = self.session
        if session.source is None or session.checkpoint is None:
            self.notify("Open a video and a model first.")
            return
        from vad_core.inference.device import resolve_device

        self._cancel_scoring()
        try:
            device = resolve_device(session.inference.device)
        except VadError as error:
            self.show_error("Cannot score", str(error))
            return
        session.begin_scoring()
        self._clear_score_views()
        checkpoint, source, inference = session.checkpoint, session.source, session.inference
        key = None
        if checkpoint.sha256:
            try:
                key = cache_key(source, checkpoint.sha256, inference, device.type)
            except (OSError, VadError) as error:
                log.info("no cache key for %s: %s", session.source_name, error)
        meta = {
            "source": session.source_name,
            "model": checkpoint.display_name,
            "checkpoint_sha256": checkpoint.sha256,
        }
        cache = self.cache if key else None
        worker = Worker(
            lambda: score_job(checkpoint.model, independent_reader(source), inference, cache, key, meta),
            name="scoring",
        )
        worker.signals.chunk.connect(self._score_chunk)
        worker.signals.progress.connect(self._score_progress)
        worker.signals.message.connect(self._score_message)
        worker.signals.done.connect(self._score_done)
        worker.signals.failed.connect(self._score_failed)
        worker.signals.finished.connect(self._score_finished)
        self.score_worker = worker
        self.progress.setRange(0, len(source))
        self.progress.setValue(0)
        self.progress.setFormat("scoring %p%")
        self.progress.setVisible(True)
        self.pool.start(worker)
        self._update_enabled()

    def _is_current_score_job(self) -> bool:
        return self.score_worker is not None and self.score_worker.sent(self.sender())

    def _score_chunk(self, update) -> None:
        if not self._is_current_score_job():
            return
        self.session.add_update(update)
        self._scores_dirty = True
        if update.cached:
            self._flush_scores()

    def _score_progress(self, done: int, total: int) -> None:
        if self._is_current_score_job():
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)

    def _score_message(self, text: str) -> None:
        if self._is_current_score_job():
            self.notify(text, 15000)

    def _score_done(self, summary: ScoreSummary) -> None:
        if not self._is_current_score_job():
            return
        self.last_score_summary = summary
        self.session.finish()
        self._scores_dirty = True
        self._flush_scores()
        self._refresh_events()
        self.show_frame(self.frame_index)
        if self.session.problem:
            self.show_error("Scores are unusable", self.session.problem)
            return
        n = len(self.session.events)
        found = f"{n} event{'s' if n != 1 else ''} flagged"
        if summary.cached:
            self.notify(f"Scores loaded from the cache: {found}.", 12000)
        else:
            notices = f" ({'; '.join(summary.notices)})" if summary.notices else ""
            self.notify(
                f"Scored {summary.frames} frames in {summary.seconds:.1f} s ({summary.frames_per_second:.0f} frames/s "
                f"on {summary.device.upper()}, batch {summary.batch_size}){notices}: {found}.",
                15000,
            )

    def _score_failed(self, message: str) -> None:
        if self._is_current_score_job():
            self.show_error("Scoring failed", message)

    def _score_finished(self) -> None:
        if not self._is_current_score_job():
            return
        self.score_worker = None
        self.progress.setVisible(False)
        self._update_enabled()

    def _cancel_scoring(self) -> None:
        if self.score_worker is not None:
            self.score_worker.cancel()
            self.score_worker = None
            self.progress.setVisible(False)
            if not self.session.complete:
                self.session.clear_scores()
                self._clear_score_views()
            self._update_enabled()

    def cancel_jobs(self) -> None:
        """Esc / Cancel: stop scoring (and a training run, if its dialog is open)."""
        was_scoring = self.score_worker is not None
        self._cancel_scoring()
        if self.train_dialog is not None and self.train_dialog.running:
            self.train_dialog.stop()
        if was_scoring:
            self.notify("Scoring cancelled.")

    @property
    def busy(self) -> bool:
        return self.score_worker is not None

    def _flush_scores(self) -> None:
        """Repaint what arrived since the last flush (10 Hz at most; see REPAINT_MS)."""
        if not self._scores_dirty:
            return
        self._scores_dirty = False
        x, raw, shown = self.session.curve()
        self.timeline.set_curve(x, raw, shown)
        if self.frame_index < self.session.scored:
            self._update_overlay()

    def _clear_score_views(self) -> None:
        self.timeline.set_curve(np.zeros(0), np.zeros(0), np.zeros(0))
        self.timeline.set_events([])
        self.events_table.set_events([], self.session.fps, self.session.ground_truth)
        self.video_view.set_overlay(None)
        self.side_by_side.set_error(None)
        self._update_caption()
        self.labels.scores_changed()

    def _refresh_events(self) -> None:
        session = self.session
        selected = session.event_at(self.frame_index)
        self.timeline.set_events(session.events, selected)
        self.events_table.set_events(session.events, session.fps, session.ground_truth)
        self.events_table.select_event(selected)
        self.timeline.set_threshold(session.scoring.threshold)
        self._update_caption()
        self.labels.scores_changed()
        self.explainer.refresh()  # the calibration follows the flagged events

    def set_threshold(self, threshold: float) -> None:
        """The threshold line was dragged: events follow, the spin box too."""
        self.session.set_threshold(threshold)
        self.scoring_controls.set_config(self.session.scoring)
        self._refresh_events()

    def set_scoring(self, config) -> None:
        self.session.set_scoring(config)
        self.timeline.set_threshold(config.threshold)
        self._scores_dirty = True
        self._flush_scores()
        self._refresh_events()

    # ================================================================================ playback
    def show_frame(self, index: int) -> None:
        """Display frame ``index`` (clamped) with its overlay; move the playhead; sync the event selection."""
        session = self.session
        if session.source is None:
            return
        index = int(min(max(0, index), session.frame_count - 1))
        self.frame_index = index
        try:
            frame = session.source.frame(index)
        except VadError as error:
            self.pause()
            self.show_error("Cannot read frame", str(error))
            return
        self.video_view.set_frame(frame)
        self._update_overlay()
        self.timeline.set_playhead(index)
        if self.playing:
            self.timeline.keep_visible(index)
        score = session.frame_score(index)
        extra = f"anomaly {score:.2f}" if score is not None else ""
        self.transport.set_position(index, session.frame_count, session.fps, extra)
        selected = session.event_at(index)
        if selected != self.timeline.events.selected:
            self.timeline.select_event(selected)
            self.events_table.select_event(selected)
        self._update_caption()
        self.frames_shown += 1
        if self.side_dock.isVisible():
            self._request_reconstruction(index)
        self.explainer.refresh()  # the explainability panel follows the frame (when shown)

    def _update_overlay(self) -> None:
        if self.video_view.overlay_visible:
            self.video_view.set_overlay(self.session.overlay(self.frame_index))
        if self.side_dock.isVisible():
            error = self.session.error_map(self.frame_index)
            if error is not None:
                self.side_by_side.set_error(error)

    def _update_caption(self) -> None:
        session = self.session
        parts = []
        index = session.event_at(self.frame_index)
        if index is not None:
            parts.append(f"<span style='color:#ef5350'>■ event {index + 1}</span>")
        if session.ground_truth is not None and session.ground_truth[self.frame_index]:
            kind = ""
            if session.categories is not None and session.categories[self.frame_index]:
                kind = f": {session.categories[self.frame_index]}"
            parts.append(f"<span style='color:#ffb74d'>■ ground truth{kind}</span>")
        self.video_view.set_caption("&nbsp;&nbsp;".join(parts))

    def seek(self, index: int) -> None:
        if self.session.source is None:
            return
        self.show_frame(index)
        if self.playing:
            self.clock.start(self.frame_index, self.clock.direction)

    def step_back(self) -> None:
        self.pause()
        self.seek(self.frame_index - 1)

    def step_forward(self) -> None:
        self.pause()
        self.seek(self.frame_index + 1)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play(1)

    def play(self, direction: int = 1) -> None:
        if self.session.source is None:
            return
        last = self.session.frame_count - 1
        if direction > 0 and self.frame_index >= last:
            self.show_frame(0)
        elif direction < 0 and self.frame_index <= 0:
            self.show_frame(last)
        self.playing = True
        self.clock.start(self.frame_index, direction, self.transport.current_speed())
        self.play_timer.start(self.clock.tick_interval_ms())
        self.actions_by_name["play"].setIcon(media_icon("pause"))

    def pause(self) -> None:
        was_playing = self.playing
        self.playing = False
        self.play_timer.stop()
        self.actions_by_name["play"].setIcon(media_icon("play"))
        if was_playing and self.side_dock.isVisible() and self.session.source is not None:
            self._request_reconstruction(self.frame_index)  # the throttled one may have been skipped

    def play_forward(self) -> None:
        """L: play forwards; pressed again while playing forwards, faster."""
        if self.playing and self.clock.direction > 0:
            self.change_speed(+1)
        else:
            self.play(1)

    def play_reverse(self) -> None:
        """J: play backwards; pressed again while playing backwards, faster."""
        if self.playing and self.clock.direction < 0:
            self.change_speed(+1)
        else:
            self.play(-1)

    def change_speed(self, step: int) -> None:
        current = SPEEDS.index(self.transport.current_speed())
        self.transport.set_speed(SPEEDS[min(len(SPEEDS) - 1, max(0, current + step))])

    def set_speed(self, speed: float) -> None:
        self.clock.start(self.frame_index, self.clock.direction, speed)
        if self.playing:
            self.play_timer.start(self.clock.tick_interval_ms())
        self.notify(f"Speed {speed:g}×", 2000)

    def _tick(self) -> None:
        target = self.clock.frame_now()
        last = self.session.frame_count - 1
        if target != self.frame_index:
            self.show_frame(min(max(0, target), last))
        if (self.clock.direction > 0 and target >= last) or (self.clock.direction < 0 and target <= 0):
            self.pause()

    def next_event(self) -> None:
        event = self.session.next_event(self.frame_index)
        if event is None:
            self.notify(
                "No later event." if self.session.complete else "No events yet (the video is not scored).",
                3000,
            )
            return
        self.seek(event.start)

    def previous_event(self) -> None:
        event = self.session.previous_event(self.frame_index)
        if event is None:
            self.notify(
                "No earlier event." if self.session.complete else "No events yet (the video is not scored).",
                3000,
            )
            return
        self.seek(event.start)

    def go_to_event(self, index: int) -> None:
        if 0 <= index < len(self.session.events):
            self.pause()
            self.seek(self.session.events[index].start)

    def zoom_timeline_all(self) -> None:
        self.timeline.plot.setXRange(0, max(1, self.session.frame_count - 1), padding=0.01)

    # -- normal marks (training selection) -----------------------------------------------------------
    def mark_in(self) -> None:
        self._mark_in = self.frame_index
        self.notify(f"Normal frames from {self.frame_index}: go to the last normal frame and press O.", 8000)

    def mark_out(self) -> None:
        if self.session.source is None:
            return
        start = self._mark_in if self._mark_in is not None else 0
        self.session.mark_normal(start, self.frame_index + 1)
        self._mark_in = None
        self.timeline.band("normal").set_intervals(self.session.normal_ranges)
        frames = sum(b - a for a, b in self.session.normal_ranges)
        self.notify(f"{frames} frames marked normal ({len(self.session.normal_ranges)} ranges) for training.")

    def clear_marks(self) -> None:
        self.session.clear_normal()
        self.timeline.band("normal").set_intervals([])

    # ================================================================================ heatmap / side-by-side
    def set_overlay_visible(self, visible: bool) -> None:
        self.video_view.set_overlay_visible(visible)
        self.heatmap_controls.set_overlay_checked(visible)
        if visible:
            self._update_overlay()

    def _set_opacity(self, value: float) -> None:
        self.video_view.set_opacity(value)
        self.settings.set_overlay_opacity(value)

    def _set_colormap(self, name: str) -> None:
        self.video_view.set_colormap(name)
        self.side_by_side.set_colormap(name)
        self.explainer.set_colormap(name)
        self.settings.set_colormap(name)

    def _request_reconstruction(self, index: int) -> None:
        """Coalescing: one reconstruction at a time, the latest request wins; throttled while playing."""
        session = self.session
        if session.source is None or session.checkpoint is None:
            if session.source is not None:
                self.side_by_side.set_input(session.source.frame(index))
                self.side_by_side.set_reconstruction(None, "no model")
            return
        now = time.perf_counter()
        if self.playing and now - self._recon_last_request < RECONSTRUCT_WHILE_PLAYING_MS / 1000:
            return
        self._recon_last_request = now
        self._recon_pending = index
        if self.recon_worker is None:
            self._start_reconstruction()

    def _start_reconstruction(self) -> None:
        index, self._recon_pending = self._recon_pending, None
        session = self.session
        if index is None or session.source is None or session.checkpoint is None:
            return
        model, source, inference = session.checkpoint.model, session.source, session.inference
        generation = session.generation
        worker = Worker(lambda: reconstruct_job(model, source, index, inference), name="reconstruction")
        self._recon_generation = generation
        worker.signals.done.connect(self._reconstruction_done)
        worker.signals.failed.connect(self._reconstruction_failed)
        worker.signals.finished.connect(self._reconstruction_finished)
        self.recon_worker = worker
        self.pool.start(worker)

    def _reconstruction_done(self, result) -> None:
        worker = self.recon_worker
        if (
            worker is None
            or not worker.sent(self.sender())
            or self._recon_generation != self.session.generation
        ):
            return
        _index, rec = result
        scale = self.session.map_scale if self.session.maps is not None else robust_max(rec.error)
        self.side_by_side.set_images(rec.input, rec.output, rec.error / scale)

    def _reconstruction_failed(self, message: str) -> None:
        if self.recon_worker is not None and self.recon_worker.sent(self.sender()):
            self.side_by_side.set_reconstruction(None, "reconstruction failed")
            self.notify(f"Reconstruction failed: {message}")

    def _reconstruction_finished(self) -> None:
        if self.recon_worker is None or not self.recon_worker.sent(self.sender()):
            return
        self.recon_worker = None
        if self._recon_pending is not None and not self._closing:
            self._start_reconstruction()

    # ================================================================================ training
    def open_train_dialog(self, demo: bool = False) -> None:
        """Train on this footage: frames marked normal, outside events, the whole clip (or the demo's training clips)."""
        from vad_core.models import model_names
        from vad_core.paths import data_dir

        if self.train_dialog is not None and self.train_dialog.isVisible():
            self.train_dialog.raise_()
            return
        session = self.session
        choices: list[TrainingChoice] = []
        if demo or self.demo_active:
            choices.append(self._demo_training_choice())
        if session.source is not None:
            source, name = session.source, session.source_name
            choices += [
                TrainingChoice(
                    "frames marked normal (I / O keys)", [source], [session.training_ranges("marked")], name
                ),
                TrainingChoice(
                    "frames outside flagged events", [source], [session.training_ranges("unflagged")], name
                ),
                TrainingChoice("the whole clip", [source], [session.training_ranges("all")], name),
            ]
        if not choices:
            self.notify("Open a video first.")
            return
        architecture = self.model_panel.architecture_choice() or "bcae1"
        stem = "".join(c if c.isalnum() else "_" for c in (session.source_name or "footage"))[:40].strip("_")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        output = data_dir() / "models" / f"{stem}_{architecture}_{stamp}"
        demo_setup = demo or self.demo_active
        dialog = TrainDialog(
            self.pool,
            model_names(),
            choices,
            output,
            architecture=architecture,
            size=(64, 64) if demo_setup else (128, 128),
            channels=1 if session.source is None or session.source.channels == 1 else 3,
            epochs=8 if demo_setup else 20,
            device=self.session.inference.device,
            model_options=self._loaded_model_options(),
            parent=self,
        )
        dialog.modelReady.connect(self.load_checkpoint)
        self.train_dialog = dialog
        dialog.show()

    def _loaded_model_options(self) -> dict[str, dict]:
        """``{architecture: options}`` of the loaded model: retraining it keeps e.g. its width."""
        checkpoint = self.session.checkpoint
        if checkpoint is None or not checkpoint.config.options:
            return {}
        return {checkpoint.config.name: dict(checkpoint.config.options)}

    @staticmethod
    def _demo_training_choice() -> TrainingChoice:
        from vad_core.datasets.synthetic import SyntheticConfig, make_train_clip

        config = SyntheticConfig()
        sources: list[FrameSource] = [
            ArraySource(clip.frames, fps=config.fps, name=clip.name)
            for clip in (make_train_clip(config, i) for i in range(config.train_clips))
        ]
        return TrainingChoice(
            "the demo's normal training clips (synthetic benchmark)",
            sources,
            None,
            "synthetic demo (normal clips)",
        )

    # ================================================================================ misc
    def show_help(self) -> None:
        if self.help_dialog is None:
            self.help_dialog = HelpDialog(self.shortcut_actions(), self)
        self.help_dialog.show()
        self.help_dialog.raise_()

    def show_guide(self) -> None:
        """Help > Getting started: the shipped guide (resources/help/guide.html)."""
        from app.about import GuideDialog

        if self.guide_dialog is None:
            self.guide_dialog = GuideDialog(self)
        self.guide_dialog.show()
        self.guide_dialog.raise_()

    def show_about(self) -> None:
        """Help > About: versions of the app, Qt and torch, the compute device, where the log is."""
        from app.about import AboutDialog

        if self.about_dialog is not None:
            self.about_dialog.close()
        self.about_dialog = AboutDialog(self.settings, self)
        self.about_dialog.open()

    def open_log_folder(self) -> None:
        from app.about import open_log_folder

        if not open_log_folder():
            from app.logging_setup import current_log_file

            self.notify(f"Could not open a file manager; the log is {current_log_file()}", 15000)

    def reset_layout(self) -> None:
        """View > Reset layout: docks back where they started, the default window size, saved layout forgotten."""
        if self._default_layout is not None:
            self.restoreState(self._default_layout)
        for dock in (self.model_dock, self.side_dock, self.events_dock):
            dock.setFloating(False)
            dock.show()
        self.showNormal()
        self.resize(1280, 800)
        self.fit_docks()
        self.settings.reset_layout()
        self.notify("Layout reset.", 3000)

    def _update_title(self) -> None:
        parts = ["vad-review"]
        if self.session.source is not None:
            parts.append(self.session.source_name)
        if self.session.checkpoint is not None:
            parts.append(self.session.checkpoint.display_name)
        self.setWindowTitle(" — ".join(parts))

    def _update_enabled(self) -> None:
        has_source = self.session.source is not None
        act = self.actions_by_name
        for name in (
            "play",
            "reverse",
            "pause",
            "forward",
            "step_back",
            "step_forward",
            "previous_event",
            "next_event",
            "first_frame",
            "last_frame",
            "mark_in",
            "mark_out",
            "clear_marks",
        ):
            act[name].setEnabled(has_source)
        act["score"].setEnabled(self.session.can_score and not self.busy)
        act["train"].setEnabled(has_source)
        self.model_panel.set_busy(self.busy, self.session.can_score)
        self.model_panel.train_button.setEnabled(has_source)

    def _restore_window_state(self) -> None:
        self._default_layout = self.saveState()  # what View > Reset layout returns to
        geometry, state = self.settings.window_state()
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(state)

    def closeEvent(self, event) -> None:
        """Closing cancels every job and waits for the worker threads (a few seconds at most)."""
        self._closing = True
        self.pause()
        self.repaint_timer.stop()
        if self.train_dialog is not None:
            self.train_dialog.close()
        self.score_worker = None
        self.labels.shutdown()  # writes pending label edits
        self.explainer.shutdown()
        if self.image_window is not None:
            self.image_window.close()
        if not self.pool.shutdown(10_000):
            log.warning("worker threads still running at exit")
        try:
            self.settings.set_window_state(self.saveGeometry(), self.saveState())
            self.settings.sync()
        except Exception:
            log.exception("could not save window state")
        super().closeEvent(event)
