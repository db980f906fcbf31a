"""Choosing one clip of a dataset folder (UCSD, Avenue, the synthetic benchmark).

Test clips come first and carry their ground truth (shown on the timeline as the "truth" band);
training clips are normal footage without labels.

Example::

    dialog = ClipDialog(dataset, parent=window)
    if dialog.exec():
        clip = dialog.selected_clip()
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vad_core.datasets.base import VideoClip, VideoDataset


def clip_summary(clip: VideoClip, split: str) -> str:
    frames = len(clip.source)
    text = f"{split}/{clip.name}  ({frames} frames"
    if clip.labels is not None:
        text += f", {int(clip.labels.sum())} anomalous"
    return text + ")"


class ClipDialog(QDialog):
    """A list of the dataset's clips; double-click or OK picks one."""

    def __init__(self, dataset: VideoDataset, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Open a clip of {dataset.name}")
        self.dataset = dataset
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"<b>{dataset.name}</b>: {len(dataset.test)} test clips, {len(dataset.train)} training clips"
            )
        )
        self.list = QListWidget()
        self.clips: list[VideoClip] = []
        for split, clips in (("test", dataset.test), ("train", dataset.train)):
            for clip in clips:
                item = QListWidgetItem(clip_summary(clip, split))
                item.setData(Qt.ItemDataRole.UserRole, len(self.clips))
                self.list.addItem(item)
                self.clips.append(clip)
        if self.clips:
            self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(460, 420)

    def selected_clip(self) -> VideoClip | None:
        item = self.list.currentItem()
        return None if item is None else self.clips[int(item.data(Qt.ItemDataRole.UserRole))]
