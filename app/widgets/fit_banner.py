"""The banner over the video that says a model does not fit the footage, with the way out.

One sentence (``vad_core.evaluation.fit.FitReport.sentence``) on an amber strip, a
"Train on this footage" button and a close button. Hidden until ``show_report`` gets a report of
a model that does not fit; the window decides what the button does (``trainRequested``).

Example::

    banner = FitBanner()
    banner.trainRequested.connect(window.training.open_dialog)
    banner.show_report(session.fit_report())
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

STYLE = (
    "QFrame#fitBanner { background: #5d4300; border: 1px solid #ffb300; border-radius: 3px; }"
    "QFrame#fitBanner QLabel { color: #ffe082; }"
)


class FitBanner(QFrame):
    """An amber strip: "MODEL does not seem to fit ...", [Train on this footage] [x]."""

    trainRequested = Signal()

    def __init__(self, action_text: str = "Train on this footage…", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fitBanner")
        self.setStyleSheet(STYLE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.train_button = QPushButton(action_text)
        self.train_button.clicked.connect(self.trainRequested)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide this warning")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_report(self, report, subject: str = "this footage") -> None:
        """Show the sentence of ``report`` (a ``FitReport``) when the model does not fit; hide otherwise."""
        if report is None or report.fits:
            self.clear()
            return
        self.show_sentence(report.sentence(subject))

    def show_sentence(self, sentence: str, action_text: str | None = None) -> None:
        """Show ``sentence`` (and rename the button when ``action_text`` is given)."""
        self.label.setText(f"⚠ {sentence}")
        if action_text is not None:
            self.train_button.setText(action_text)
        self.show()

    def clear(self) -> None:
        self.label.clear()
        self.hide()
