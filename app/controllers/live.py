"""File > Watch stream…: asks for a stream and opens the live view on it with the current checkpoint.

The checkpoint is the review window's (or, without one, the one the user picks); the run writes into
a new folder under the user data folder (``watch/YYYYmmdd-HHMMSS``). A recorded incident opens in
the review window on a double-click in the live view's event list.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog

if TYPE_CHECKING:
    from app.windows.live_window import LiveWindow
    from app.windows.review_window import ReviewWindow

CHECKPOINT_FILES = "Checkpoints (*.safetensors)"


class LiveController(QObject):
    """Opens live views from the review window (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.live_windows: list[LiveWindow] = []
        window.add_action("watch_stream", "&Watch stream…", self.choose_stream, ("Ctrl+Shift+W",))

    def choose_stream(self) -> None:
        source, ok = QInputDialog.getText(
            self.window, "Watch stream", "Camera index, rtsp:// or http(s):// URL, video file or folder:"
        )
        if ok and source.strip():
            self.watch(source.strip())

    def _checkpoint_path(self) -> str | None:
        checkpoint = self.window.session.checkpoint
        if checkpoint is not None and checkpoint.path is not None:
            return str(checkpoint.path)
        start = self.window.settings.last_checkpoint() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Checkpoint to watch with", str(Path(start).parent), CHECKPOINT_FILES
        )
        return path or None

    def watch(
        self, source: str, model: str | None = None, out: str | Path | None = None
    ) -> LiveWindow | None:
        """Open a live view on ``source`` and start it; None when no checkpoint was chosen."""
        from app.windows.live_window import LiveWindow
        from vad_core.paths import data_dir

        model = model or self._checkpoint_path()
        if model is None:
            return None
        out = out or data_dir() / "watch" / time.strftime("%Y%m%d-%H%M%S")
        live = LiveWindow(source, model, out, open_clip=self.window.opening.open_path)
        self.live_windows.append(live)
        live.show()
        live.start()
        return live
