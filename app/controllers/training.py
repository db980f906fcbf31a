"""The review window's "Train on this footage": the training dialog and what it may train on.

The choices are the frames marked normal (I / O keys), the frames outside flagged events, the
whole clip, and, with the demo, the demo's normal training clips. The architecture (and the
options of a loaded model of that architecture, e.g. its width) is preset from the model panel;
the trained model is loaded when the operator takes it (``modelReady``). The dialog is the
window's ``train_dialog`` (Esc stops a run; closing the window closes it).

Example::

    window.training.open_dialog()
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.controllers.demo import demo_training_choice
from app.widgets.train_dialog import TrainDialog, TrainingChoice

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow


class TrainingController(QObject):
    """Opens the training dialog of the review window (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        window.add_action("train", "&Train on this footage…", self.open_dialog, ("Ctrl+T",))

    def choices(self, demo: bool) -> list[TrainingChoice]:
        """What the dialog offers to train on (empty: nothing is open)."""
        session = self.window.session
        choices: list[TrainingChoice] = [demo_training_choice()] if demo else []
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
        return choices

    def open_dialog(self, demo: bool = False) -> None:
        """Train on this footage: frames marked normal, outside events, the whole clip (or the demo's training clips)."""
        from vad_core.models import model_names
        from vad_core.paths import data_dir

        window, session = self.window, self.window.session
        if window.train_dialog is not None and window.train_dialog.isVisible():
            window.train_dialog.raise_()
            return
        demo_setup = demo or window.demo.active
        choices = self.choices(demo_setup)
        if not choices:
            window.notify("Open a video first.")
            return
        architecture = window.model_panel.architecture_choice() or "bcae1"
        stem = "".join(c if c.isalnum() else "_" for c in (session.source_name or "footage"))[:40].strip("_")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")

        def output_for(name: str):
            return data_dir() / "models" / f"{stem}_{name}_{stamp}"

        dialog = TrainDialog(
            window.pool,
            model_names(),
            choices,
            output_for(architecture),
            architecture=architecture,
            size=(64, 64) if demo_setup else (128, 128),
            channels=1 if session.source is None or session.source.channels == 1 else 3,
            epochs=8 if demo_setup else 20,
            device=session.inference.device,
            model_options=self.loaded_model_options(),
            output_for=output_for,
            parent=window,
        )
        dialog.modelReady.connect(window.load_checkpoint)
        window.train_dialog = dialog
        dialog.show()

    def loaded_model_options(self) -> dict[str, dict]:
        """``{architecture: options}`` of the loaded model: retraining it keeps e.g. its width."""
        checkpoint = self.window.session.checkpoint
        if checkpoint is None or not checkpoint.config.options:
            return {}
        return {checkpoint.config.name: dict(checkpoint.config.options)}
