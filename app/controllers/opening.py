"""Opening what the review window shows: videos, frame folders, dataset clips, recent files, drops.

``open_path`` takes whatever the operator points at (a video file, a frame folder, a dataset
folder - a clip is then chosen -, ``DATASET::CLIP`` from the recent files, or a checkpoint) and
``open_source`` makes a frame source the current video: the previous video's scoring is
cancelled, the views are reset, its labels are opened, and it is scored when a model is loaded.
An MVTec-style image dataset opens in the image inspection window instead. Errors are shown as
one line naming the file; nothing is half-opened. Its File-menu actions are added here.

Example::

    window.opening.open_path("Avenue/testing_videos/01.avi")
    window.opening.open_path("../shared/datasets/ucsd_ped2::Test001")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QStyle

from vad_core.errors import ClipNotFoundError, VadError
from vad_core.sources import VIDEO_EXTENSIONS, open_source
from vad_core.sources.base import FrameSource

if TYPE_CHECKING:
    from PySide6.QtCore import QMimeData
    from PySide6.QtWidgets import QMenu

    from app.windows.review_window import ReviewWindow

DATASET_SEPARATOR = "::"  # recent-file entries "DATASET_ROOT::CLIP" reopen a dataset clip


class OpeningController(QObject):
    """What the review window opens and how (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.image_window: QMainWindow | None = None  # File > Open image dataset
        sp = QStyle.StandardPixmap
        a = window.add_action
        a("open_video", "&Open video…", self.choose_video, ("Ctrl+O",), sp.SP_DialogOpenButton)
        a("open_folder", "Open frame &folder…", self.choose_folder, ("Ctrl+Shift+O",), sp.SP_DirOpenIcon)
        a("open_dataset", "Open &dataset clip…", self.choose_dataset, ("Ctrl+D",))
        a("open_images", "Open &image dataset (MVTec)…", self.open_image_dataset, ("Ctrl+I",))
        a("open_checkpoint", "Open &checkpoint…", self.choose_checkpoint, ("Ctrl+M",))

    # ================================================================================ dialogs
    def choose_video(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open a video", self.last_dir(), f"Videos ({patterns});;All files (*)"
        )
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open a folder of frames", self.last_dir())
        if path:
            self.open_path(path)

    def choose_dataset(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.window, "Open a dataset folder (UCSD, Avenue, synthetic)", self.last_dir()
        )
        if path:
            self.open_dataset_path(path)

    def choose_checkpoint(self) -> None:
        self.window.checkpoints.choose(self.last_dir())

    def last_dir(self) -> str:
        """The folder of the most recent file (where the file dialogs start)."""
        recent = self.window.settings.recent_files()
        if recent:
            first = Path(recent[0].split(DATASET_SEPARATOR)[0])
            return str(first if first.is_dir() else first.parent)
        return str(Path.home())

    # ================================================================================ opening
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
            self.window.load_checkpoint(path)
            return True
        if path.is_dir() and not self._has_frames(path):
            return self.open_dataset_path(path)
        from vad_core.datasets.frame_rate import (
            folder_frame_rate,
        )  # lazy: the readers load after the first paint

        try:
            source = open_source(path, fps=folder_frame_rate(path))
        except VadError as error:
            self.window.show_error("Cannot open video", str(error))
            return False
        except Exception as error:  # the app stays usable whatever the file holds
            self.window.show_error("Cannot open video", f"{path}: {error}")
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
            self.window.show_error("Cannot open dataset", str(error))
            return False
        except Exception as error:
            self.window.show_error("Cannot open dataset", f"{root}: {error}")
            return False
        if not isinstance(dataset, VideoDataset):  # MVTec-style parts: the image inspection window
            return self.open_image_dataset(root)
        clip = self._pick_clip(dataset, clip_name)
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

    def _pick_clip(self, dataset, clip_name: str | None):
        """The clip named ``clip_name`` (an error dialog when there is none), else the operator's choice."""
        if clip_name is None:
            from app.widgets.clip_dialog import ClipDialog

            dialog = ClipDialog(dataset, self.window)
            return dialog.selected_clip() if dialog.exec() else None
        try:
            return dataset.clip(clip_name)
        except ClipNotFoundError as error:
            self.window.show_error("Cannot open dataset clip", str(error))
            return None

    def open_image_dataset(self, path: str | Path | None = None) -> bool:
        """File > Open image dataset: the image inspection window on an MVTec-style category."""
        from app.windows.image_window import ImageWindow

        if self.image_window is None:
            self.image_window = ImageWindow(self.window.settings)
        image_window = self.image_window
        image_window.show()
        image_window.raise_()
        image_window.activateWindow()
        return image_window.open_dataset(path) if path is not None else image_window.choose_dataset()

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

        With ``score=False`` nothing is scored (the caller brings finished scores, see ``BatchResults``).
        """
        window, session = self.window, self.window.session
        window.playback.pause()
        window.cancel_scoring()
        window.demo.active = demo
        session.open_source(source, name, ground_truth, categories)
        window.playback.source_opened()
        window.timeline.set_length(len(source), session.fps)
        window.timeline.band("truth").set_intervals(session.ground_truth_intervals())
        window.events_table.set_events([], session.fps, session.ground_truth)
        window.labels.open_for_source()
        window.side_by_side.clear_images()
        window.video_view.set_frame(None)
        if recent:
            window.settings.add_recent(recent)
        window.update_title()
        window.playback.show_frame(0)
        gt = " with ground truth" if session.ground_truth is not None else ""
        height, width = source.frame_size[:2]
        window.notify(f"Opened {name}: {len(source)} frames, {width}×{height}, {source.fps:g} fps{gt}.")
        if score:
            self._score_when_possible()
        window.update_enabled()

    def _score_when_possible(self) -> None:
        window = self.window
        if window.session.checkpoint is not None or window.session.fused is not None:
            window.scoring.start()
        elif window.checkpoints.loading:
            window.notify("The model is still loading: scoring starts when it is ready.", 15000)
        else:
            window.notify(
                "No model loaded: open a checkpoint (Ctrl+M) or train one on this footage (Ctrl+T).", 15000
            )

    # ================================================================================ recent files, drops
    def fill_recent_menu(self, menu: QMenu) -> None:
        """File > Open recent, filled when it is about to show."""
        settings = self.window.settings
        menu.clear()
        recent = settings.recent_files()
        for entry in recent:
            action = menu.addAction(entry)
            action.triggered.connect(lambda _c=False, e=entry: self.open_path(e))
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", settings.clear_recent)

    @staticmethod
    def accepts_drop(mime: QMimeData) -> bool:
        return mime.hasUrls() and any(url.isLocalFile() for url in mime.urls())

    def drop(self, mime: QMimeData) -> bool:
        """Open the first local file dropped on the window (after the drop has finished)."""
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if paths:
            QTimer.singleShot(0, lambda: self.open_path(paths[0]))
        return bool(paths)
