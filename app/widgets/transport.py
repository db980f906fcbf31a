"""The transport bar: previous event, step back, play / pause, step forward, next event, speed, position.

The buttons show the main window's ``QAction``s (so a button, its menu entry and its keyboard
shortcut are one thing); the bar adds the speed selector and the frame counter / timestamp.

Example::

    bar = TransportBar({"play": play_action, "step_back": ..., ...})
    bar.speedChanged.connect(player.set_speed)
    bar.set_position(frame=12, total=400, fps=25.0)
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

#: Playback speeds offered (the issue asks for 0.25x to 4x).
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
BUTTONS = ("previous_event", "step_back", "play", "step_forward", "next_event")


def format_time(seconds: float) -> str:
    """``m:ss.ss`` (or ``h:mm:ss.ss`` past an hour)."""
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:05.2f}"
    return f"{minutes}:{secs:05.2f}"


class TransportBar(QWidget):
    """Playback buttons (from actions), a speed selector and the frame counter."""

    speedChanged = Signal(float)

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        for name in BUTTONS:
            button = QToolButton(self)
            button.setDefaultAction(actions[name])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            button.setAutoRaise(True)
            button.setIconSize(QSize(22, 22))
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            layout.addWidget(button)
            self.buttons[name] = button
        layout.addSpacing(12)
        layout.addWidget(QLabel("speed"))
        self.speed = QComboBox(self)
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}×", value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed ( [ slower, ] faster )")
        self.speed.currentIndexChanged.connect(lambda i: self.speedChanged.emit(float(SPEEDS[i])))
        layout.addWidget(self.speed)
        layout.addSpacing(12)
        self.position = QLabel("no video")
        font = QFont(self.position.font())
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFamily("monospace")
        self.position.setFont(font)
        self.position.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position.setToolTip(
            "Current frame / last frame (from 0), time / length, frame rate; score: the anomaly score of "
            "this frame (1 − smoothed s(t), high = anomalous)"
        )
        # Ignored: the text growing when scores arrive ("anomaly score 0.94") must not widen the centre
        # and squeeze the docks (the panels jumped when scoring ended)
        self.position.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.position, 1)

    def set_speed(self, speed: float) -> None:
        """Select the offered speed closest to ``speed`` (emits ``speedChanged`` if it changes)."""
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))
        self.speed.setCurrentIndex(index)

    def current_speed(self) -> float:
        return float(SPEEDS[self.speed.currentIndex()])

    def set_position(self, frame: int, total: int, fps: float, extra: str = "") -> None:
        """``frame 12/399  0:00.48/0:15.96  25 fps`` (frames counted from 0, as everywhere in the app)."""
        if total <= 0:
            self.position.setText("no video")
            return
        fps = fps if fps > 0 else 25.0
        width = len(str(total - 1))
        text = (
            f"frame {frame:>{width}d}/{total - 1}  "
            f"{format_time(frame / fps)}/{format_time((total - 1) / fps)}  {fps:g} fps"
        )
        self.position.setText(text + (f"  {extra}" if extra else ""))
