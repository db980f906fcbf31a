"""The built-in demo in the review window: the synthetic clip, the bundled model, the first-start offer.

``open_demo`` opens the synthetic demo clip (in memory, three anomalies with ground truth) and,
when no model is loaded, the bundled demo model; without one it offers to train a small BCAE1 on
the demo's normal training clips. ``offer_demo`` asks once, on the first start without arguments.

Example::

    window.demo.open_demo()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from app.widgets.train_dialog import TrainingChoice
from vad_core.sources.base import ArraySource, FrameSource

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

DEMO_NAME = "demo (synthetic)"


def bundled_demo_models() -> list[Path]:
    """The demo checkpoints shipped with the program (frame model first), those that are installed."""
    from vad_core.resources import DEMO_MODELS, demo_model_path

    paths = [demo_model_path(kind) for kind in ("frame", "temporal") if kind in DEMO_MODELS]
    return [p for p in paths if p.is_file()]


def demo_training_choice() -> TrainingChoice:
    """The demo's normal training clips, for the training dialog."""
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


class DemoController(QObject):
    """The demo clip and model of the review window (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.active = False  # the demo clip is the current video
        self.info_dialog: QMessageBox | None = None
        window.add_action("open_demo", "Open the built-in d&emo", self.open_demo, ("Ctrl+Shift+D",))

    def offer_demo(self) -> None:
        """First start without arguments: offer the built-in synthetic demo (non-blocking)."""
        self.window.settings.set_demo_offered(True)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Welcome to vad-review",
            "Open the built-in demo?\n\nA synthetic clip of moving circles with three anomalies (a square, a "
            "fast circle, a fast square) and its ground truth, scored by a model trained on normal clips.",
            QMessageBox.StandardButton.NoButton,
            self.window,
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

        window = self.window
        clip = make_demo_clip()
        source = ArraySource(clip.frames, fps=25.0, name=DEMO_NAME)
        window.opening.open_source(source, DEMO_NAME, clip.labels, clip.categories, demo=True)
        if window.session.checkpoint is not None or window.checkpoints.loading:
            return
        bundled = bundled_demo_models()
        if bundled:
            window.load_checkpoint(bundled[0])
            return
        self._offer_training()

    def _offer_training(self) -> None:
        """No bundled model: train one on the demo's normal clips, or open a checkpoint."""
        window = self.window
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "No demo model",
            "The bundled demo model is not installed.\n\nTrain a small BCAE1 on the demo's normal training "
            "clips now (a few minutes on a CPU, seconds on a GPU), or open a checkpoint.",
            QMessageBox.StandardButton.NoButton,
            window,
        )
        train = box.addButton("Train a demo model…", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Open checkpoint…", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)

        def clicked(button) -> None:
            if button is train:
                QTimer.singleShot(0, lambda: window.training.open_dialog(demo=True))
            elif button is choose:
                QTimer.singleShot(0, window.opening.choose_checkpoint)

        box.buttonClicked.connect(clicked)
        self.info_dialog = box
        box.open()
