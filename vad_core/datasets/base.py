"""What dataset readers return: clips with frame labels and optional pixel masks, or image samples.

Example::

    dataset = read_ucsd("UCSDped2")
    for clip in dataset.test:
        print(clip.name, len(clip.source), clip.labels.mean())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vad_core.errors import ClipNotFoundError
from vad_core.sources.base import FrameSource

#: Returns the boolean pixel mask of frame ``i`` (True = anomalous), or ``None`` when it has none.
MaskReader = Callable[[int], "np.ndarray | None"]


@dataclass
class VideoClip:
    """One video of a dataset: its frames, per-frame labels (True = anomalous) and pixel masks."""

    name: str
    source: FrameSource
    labels: np.ndarray | None = None  # bool (len(source),) or None when unknown
    masks: MaskReader | None = None
    #: Optional per-frame category (e.g. "spatial", "temporal"; "" for normal frames).
    categories: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=bool)
            if len(self.labels) != len(self.source):
                from vad_core.errors import GroundTruthError

                raise GroundTruthError(
                    self.source.path or self.name,
                    f"{len(self.labels)} frame labels for {len(self.source)} frames",
                )


@dataclass
class VideoDataset:
    """A video anomaly dataset: normal training clips and labelled test clips."""

    name: str
    train: list[VideoClip]
    test: list[VideoClip]
    root: Path | None = None
    fps: float = 25.0

    def clip(self, name: str) -> VideoClip:
        """The train or test clip called ``name``."""
        for clip in [*self.test, *self.train]:
            if clip.name == name:
                return clip
        raise ClipNotFoundError(
            self.root or self.name,
            f"no clip named {name}; {self.clip_names_text()}",
        )

    def clip_names_text(self) -> str:
        """The valid clip names in one line: ``"test clips: 01, 02; training clips: 01, ..."``."""
        parts = [
            f"{what} clips: {', '.join(c.name for c in clips)}"
            for what, clips in (("test", self.test), ("training", self.train))
            if clips
        ]
        return "; ".join(parts) or "it has no clips"


@dataclass
class ImageSample:
    """One still image of an image dataset with its label, defect type and optional mask file."""

    path: Path
    anomalous: bool
    defect_type: str = "good"
    mask_path: Path | None = None

    def read_mask(self, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The ground-truth mask as bool ``(H, W)``; all False for good images; ``None`` if missing."""
        from vad_core.datasets.masks import read_mask

        return read_mask(self, size)


@dataclass
class ImageDataset:
    """An image anomaly dataset category (MVTec-style): good training images and test images."""

    name: str
    category: str
    train: list[ImageSample]
    test: list[ImageSample]
    root: Path | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "broken_large/003.png has no mask"

    @property
    def defect_types(self) -> list[str]:
        return sorted({s.defect_type for s in self.test if s.anomalous})
