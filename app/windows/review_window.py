"""The review window: wires the widgets of ``app.widgets`` to a ``ReviewSession`` and the controllers.

Layout: the video view (frame + error overlay), the transport bar and the s(t) timeline in the
middle; a dock with the model panel and the scoring / heatmap controls on the left; the
input / reconstruction / error view, the events table and the labels on the right (more panels
plug in there: ``add_right_dock``).

What happens lives in the controllers (``app.controllers``), each with its own actions:
``playback`` (the frame on screen, play / step / speed / events / training marks), ``scoring``
(the scoring job, the live curve, events, threshold, device, batch size, cache), ``opening``
(videos, folders, dataset clips, recent files, drops), ``batch`` (a batch run's triage table),
``demo``, ``training``, ``recon`` (the side-by-side reconstruction), ``labels``, ``explainer``
and ``help``. What both windows share (actions, docks, messages, the scoring job's lifecycle,
loading a checkpoint in a worker, closing) is ``app.windows.base.AppWindow``.

Threads: the GUI thread only reads frames, copies results and paints. Scoring, training, loading
a model, reading a batch clip and single-frame reconstruction run as generators (``app.jobs``)
in ``app.jobs.worker.Worker``s on one ``WorkerPool``; each kind is a ``CurrentJob``, so switching
video or model mid-run cancels the old job and its late chunks are dropped. Closing the window
cancels every job and waits for the threads.

Example::

    window = ReviewWindow()
    window.show()
    window.opening.open_path("Avenue/testing_videos/01.avi")
    window.load_checkpoint("bcae1.safetensors")       # loads in a worker, then scores (or reads the cache)
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QGroupBox,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.controllers.batch_results import BatchResults
from app.controllers.demo import DemoController, bundled_demo_models
from app.controllers.explain_dock import ReviewExplainer
from app.controllers.help import HELP_ACTIONS, HelpController
from app.controllers.labels import LabelsController
from app.controllers.live import LiveController
from app.controllers.opening import OpeningController
from app.controllers.playback import MARK_ACTIONS, PLAYBACK_ACTIONS, SOURCE_ACTIONS, PlaybackController
from app.controllers.reconstruction import ReconstructionController
from app.controllers.scoring import ScoringController
from app.controllers.training import TrainingController
from app.jobs.fused import OpenFused
from app.review_session import ReviewSession
from app.settings import AppSettings
from app.widgets.events_table import EventsTable
from app.widgets.fit_banner import FitBanner
from app.widgets.heatmap_controls import HeatmapControls
from app.widgets.model_panel import ModelPanel
from app.widgets.scoring_controls import ScoringControls
from app.widgets.side_by_side import SideBySideView
from app.widgets.timeline import TimelineWidget
from app.widgets.transport import TransportBar
from app.widgets.video_view import VideoView
from app.windows.base import AppWindow
from vad_core.checkpoint import Checkpoint
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache

log = logging.getLogger(__name__)

#: The menus: (title, action names); "" is a separator, "recent" the Open recent submenu.
FILE_MENU = (
    "open_video",
    "open_folder",
    "open_dataset",
    "open_demo",
    "open_batch",
    "open_images",
    "watch_stream",
    "recent",
    "",
    "quit",
)
MODEL_MENU = ("open_checkpoint", "score", "cancel", "train", "", "explain_frame")
PLAYBACK_MENU = (*PLAYBACK_ACTIONS, "", *MARK_ACTIONS)
VIEW_MENU = ("overlay", "zoom_all", "reset_layout", "explain_panel", "")
#: The help dialog's list, after the playback actions (the labels' actions follow).
SHORTCUT_ACTIONS = (
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


class ReviewWindow(AppWindow):
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
        super().__init__(settings, "Open a checkpoint", remember_checkpoint=True, parent=parent)
        self.session = ReviewSession(
            inference=InferenceConfig(batch_size=self.settings.batch_size(), device=self.settings.device())
        )
        self._default_layout: QByteArray | None = None
        self.setWindowTitle("vad-review")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._add_controllers(cache)
        self._add_window_actions()
        self._build_centre()
        self._build_docks()
        self.device_label = QLabel("")
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_menus()
        self._connect()
        self.labels = LabelsController(self)  # label band, Labels dock and menu, label keys, export
        self.explainer = ReviewExplainer(self)  # View > Explainability panel (a dock made when first shown)
        self._show_settings()
        self.device_label.setText("device: loading the engine…")
        if load_engine:
            self.engine_ready()
        self.resize(1280, 800)
        self.fit_docks()
        self._restore_window_state()
        self.scoring.repaint_timer.start()
        self.notify("Open a video, a frame folder or a dataset clip (File menu, or drop it here).", 0)

    # ================================================================================ construction
    def _add_controllers(self, cache: ScoreCache | None) -> None:
        """The controllers, each adding its actions (the widgets are built after them)."""
        self.playback = PlaybackController(self)
        self.scoring = ScoringController(self, cache)
        self.opening = OpeningController(self)
        self.live = LiveController(self)  # File > Watch stream…
        self.batch = BatchResults(self)
        self.demo = DemoController(self)
        self.training = TrainingController(self)
        self.recon = ReconstructionController(self)
        self.help = HelpController(self)

    def _add_window_actions(self) -> None:
        a = self.add_action
        a("cancel", "&Cancel running job", self.cancel_jobs, ("Esc",), QStyle.StandardPixmap.SP_BrowserStop)
        a("quit", "&Quit", self.close, ("Ctrl+Q",))
        a("overlay", "Error &overlay", self.set_overlay_visible, ("H",), checkable=True)
        a("reset_layout", "&Reset layout", self.reset_layout)
        a("explain_panel", "E&xplainability panel", lambda: self.explainer.show_panel(), ("Ctrl+Shift+X",))
        a("explain_frame", "E&xplain this frame", lambda: self.explainer.explain_frame(), ("X",))

    def _build_centre(self) -> None:
        """Video, transport and timeline, the timeline under a splitter."""
        self.video_view = VideoView()
        self.transport = TransportBar(self.actions_by_name)
        self.timeline = TimelineWidget()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        self.fit_banner = FitBanner()
        top_layout.addWidget(self.fit_banner)
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

    def _build_docks(self) -> None:
        """Model, scoring and heatmap on the left; reconstruction and events on the right."""
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
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.model_dock = self.add_dock(
            "Model, scoring and heatmap", scroll, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.side_dock = self.add_dock("Input · reconstruction · error", self.side_by_side, right)
        self.events_dock = self.add_dock("Events", self.events_table, right)

    def _fill_menu(self, title: str, names: tuple[str, ...]):
        menu = self.menuBar().addMenu(title)
        for name in names:
            if not name:
                menu.addSeparator()
            elif name == "recent":
                self.recent_menu = menu.addMenu("Open &recent")
                self.recent_menu.aboutToShow.connect(lambda: self.opening.fill_recent_menu(self.recent_menu))
            else:
                menu.addAction(self.actions_by_name[name])
        return menu

    def _build_menus(self) -> None:
        self._fill_menu("&File", FILE_MENU)
        self._fill_menu("&Model", MODEL_MENU)
        self._fill_menu("&Playback", PLAYBACK_MENU)
        self.view_menu = self._fill_menu("&View", VIEW_MENU)
        for dock in (self.model_dock, self.side_dock, self.events_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self._fill_menu("&Help", HELP_ACTIONS)

    def _connect(self) -> None:
        playback, scoring = self.playback, self.scoring
        self.timeline.seekRequested.connect(playback.seek)
        self.timeline.thresholdChanged.connect(scoring.set_threshold)
        self.transport.speedChanged.connect(playback.set_speed)
        self.events_table.eventActivated.connect(playback.go_to_event)
        self.scoring_controls.configChanged.connect(scoring.set_scoring)
        self.heatmap_controls.overlayToggled.connect(self.actions_by_name["overlay"].setChecked)
        self.heatmap_controls.opacityChanged.connect(self._set_opacity)
        self.heatmap_controls.colormapChanged.connect(self._set_colormap)
        panel = self.model_panel
        panel.checkpointChosen.connect(self.load_checkpoint)
        panel.openCheckpointRequested.connect(self.opening.choose_checkpoint)
        panel.scoreRequested.connect(scoring.start)
        panel.cancelRequested.connect(self.cancel_jobs)
        panel.trainRequested.connect(self.training.open_dialog)
        self.fit_banner.trainRequested.connect(self.training.open_dialog)
        panel.deviceChanged.connect(scoring.set_device)
        panel.batchSizeChanged.connect(scoring.set_batch_size)
        self.side_dock.visibilityChanged.connect(
            lambda visible: visible and self.recon.request(playback.frame_index)
        )

    def _show_settings(self) -> None:
        """The saved device, batch size, opacity and colour map, and the checkpoints on offer."""
        self.model_panel.set_device(self.session.inference.device)
        self.model_panel.set_batch_size(self.session.inference.batch_size)
        self.video_view.set_opacity(self.settings.overlay_opacity())
        self.video_view.set_colormap(self.settings.colormap())
        self.side_by_side.set_colormap(self.settings.colormap())
        self.refresh_checkpoint_choices()
        self.update_enabled()

    def shortcut_actions(self) -> list[QAction]:
        """Actions listed in the help dialog, playback first."""
        names = (*PLAYBACK_ACTIONS, *SHORTCUT_ACTIONS)
        return [self.actions_by_name[name] for name in names] + self.labels.shortcut_actions()

    # ================================================================================ docks and layout
    def add_right_dock(
        self, title: str, widget: QWidget, tabify_with_reconstruction: bool = True
    ) -> QDockWidget:
        """Hook for later panels (e.g. explainability): a dock on the right, tabbed with the reconstruction view."""
        dock = self.add_dock(title, widget, Qt.DockWidgetArea.RightDockWidgetArea)
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

    def _restore_window_state(self) -> None:
        self._default_layout = self.saveState()  # what View > Reset layout returns to
        geometry, state = self.settings.window_state()
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(state)

    # ================================================================================ heatmap
    def set_overlay_visible(self, visible: bool) -> None:
        self.video_view.set_overlay_visible(visible)
        self.heatmap_controls.set_overlay_checked(visible)
        if visible:
            self.playback.update_overlay()

    def _set_opacity(self, value: float) -> None:
        self.video_view.set_opacity(value)
        self.settings.set_overlay_opacity(value)

    def _set_colormap(self, name: str) -> None:
        self.video_view.set_colormap(name)
        self.side_by_side.set_colormap(name)
        self.explainer.set_colormap(name)
        self.settings.set_colormap(name)

    # ================================================================================ the model
    def engine_ready(self) -> None:
        """Fill what needs torch and the model zoo (architectures, device); called once they load."""
        from vad_core.models import model_names

        self.model_panel.set_architectures(model_names())
        self.model_panel.check_cuda()
        self.scoring.update_device_label()

    def refresh_checkpoint_choices(self) -> None:
        """The model panel offers the bundled demo models and the last checkpoint."""
        choices = [(f"bundled: {path.stem}", str(path)) for path in bundled_demo_models()]
        last = self.settings.last_checkpoint()
        if last and Path(last).is_file() and all(p != last for _, p in choices):
            choices.append((Path(last).stem, last))
        checkpoint = self.session.checkpoint
        current = str(checkpoint.path) if checkpoint and checkpoint.path else None
        self.model_panel.set_checkpoint_choices(choices, current)

    def set_checkpoint(self, checkpoint: Checkpoint | OpenFused) -> bool:
        """Use ``checkpoint`` (or a fused model): cancels scoring with the old one; scores the open video."""
        self.cancel_scoring()
        if isinstance(checkpoint, OpenFused):
            self.session.set_fused(checkpoint)
            self.model_panel.set_fused(checkpoint)
            message = f"Fused model: {checkpoint.describe_members()}."
        else:
            self.session.set_checkpoint(checkpoint)
            self.model_panel.set_checkpoint(checkpoint)
            message = (
                f"Model {checkpoint.display_name} ({checkpoint.config.name}), trained on "
                f"{checkpoint.trained_on}."
            )
        self.scoring.show_scoring_in_use()
        self.scoring.clear_views()
        self.update_title()
        self.notify(message)
        if self.session.source is not None:
            self.scoring.start()
        self.update_enabled()
        self.explainer.refresh()
        return True

    def scoring_cancelled(self) -> None:
        self.scoring.drop_partial()

    # ================================================================================ state shown
    def update_title(self) -> None:
        parts = ["vad-review"]
        if self.session.source is not None:
            parts.append(self.session.source_name)
        if self.session.checkpoint is not None:
            parts.append(self.session.checkpoint.display_name)
        elif self.session.fused is not None:
            parts.append(self.session.fused.display_name)
        self.setWindowTitle(" — ".join(parts))

    def update_enabled(self) -> None:
        has_source = self.session.source is not None
        act = self.actions_by_name
        for name in SOURCE_ACTIONS:
            act[name].setEnabled(has_source)
        act["score"].setEnabled(self.session.can_score and not self.busy)
        act["train"].setEnabled(has_source)
        self.model_panel.set_busy(self.busy, self.session.can_score)
        self.model_panel.train_button.setEnabled(has_source)

    # ================================================================================ drops and closing
    def dragEnterEvent(self, event) -> None:  # Qt naming
        if self.opening.accepts_drop(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # Qt naming
        if self.opening.drop(event.mimeData()):
            event.acceptProposedAction()

    def shut_down_parts(self) -> None:
        """Closing: playback and repaints stop, labels are written, panels and the image window close."""
        self.playback.pause()
        self.scoring.repaint_timer.stop()
        self.labels.shutdown()  # writes pending label edits
        self.explainer.shutdown()
        if self.opening.image_window is not None:
            self.opening.image_window.close()
        try:
            self.settings.set_window_state(self.saveGeometry(), self.saveState())
            self.settings.sync()
        except Exception:  # preferences never block closing
            log.exception("could not save window state")
