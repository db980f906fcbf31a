"""The one interface every frame source implements, plus an in-memory source.

A frame source is a finite, random-access sequence of uint8 frames: ``(H, W)`` for gray,
``(H, W, 3)`` RGB for colour. Video files, frame folders, folders of still images and
arrays in memory all look the same to training, scoring and the GUI.

Example::

    source = ArraySource(np.zeros((10, 64, 64), np.uint8), fps=25.0, name="blank")
    first = source.frame(0)            # (64, 64) uint8
    chunk = source.read(2, 6)          # (4, 64, 64) uint8
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vad_core.errors import SourceError


@runtime_checkable
class FrameSource(Protocol):
    """A finite, random-access sequence of uint8 frames (gray ``(H, W)`` or RGB ``(H, W, 3)``)."""

    #: Human-readable name (file or folder name).
    name: str
    #: Where the frames come from on disk, or ``None`` for in-memory sources.
    path: Path | None
    #: ``True`` when consecutive frames are consecutive in time; ``False`` for independent stills.
    is_sequence: bool

    def __len__(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(height, width)`` of every frame."""
        ...

    @property
    def channels(self) -> int:
        """1 for gray sources, 3 for colour (RGB) sources."""
        ...

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative indices count from the end)."""
        ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop-1`` stacked as ``(N, H, W)`` or ``(N, H, W, 3)``."""
        ...

    def __iter__(self) -> Iterator[np.ndarray]: ...


def check_index(source: FrameSource, index: int) -> int:
    """Return ``index`` as a non-negative index into ``source`` or raise ``IndexError``."""
    length = len(source)
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"{source.name}: frame {index} out of range 0..{length - 1}")
    return index


def check_range(source: FrameSource, start: int, stop: int) -> tuple[int, int]:
    """Clip ``start, stop`` to the source like a slice and return them."""
    start, stop, _ = slice(start, stop).indices(len(source))
    return start, max(start, stop)


def as_gray_or_rgb(image: np.ndarray, where: str | Path) -> np.ndarray:
    """Return ``image`` as uint8 ``(H, W)`` when its colour channels are equal, else ``(H, W, 3)``.

    ``image`` is what OpenCV decoded (BGR or gray). Gray scenes stored as 3-channel files
    (e.g. UCSD as JPEG) come back single-channel.
    """
    import cv2

    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            raise SourceError(where, f"unsupported pixel type {image.dtype}, expected 8-bit images")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise SourceError(where, f"unsupported image shape {image.shape}")
    if is_gray_bgr(image):
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


#: Largest channel difference still read as gray: lossy codecs (MJPG, H.264 with chroma subsampling)
#: decode a gray scene with channels that differ by a few levels.
GRAY_TOLERANCE = 4


def is_gray_bgr(image: np.ndarray) -> bool:
    """True when the three channels of ``image`` agree within ``GRAY_TOLERANCE`` (sampled for speed)."""
    import cv2

    # every 4th pixel of every 4th row, as image[::4, ::4]; picked from whole rows, which numpy
    # gathers several times faster than a strided (n, m, 3) block
    rows = image[::4].reshape(-(-image.shape[0] // 4), image.shape[1] * 3)
    blue, green, red = (np.ascontiguousarray(rows[:, channel::12]) for channel in range(3))
    spread = max(cv2.absdiff(blue, green).max(initial=0), cv2.absdiff(green, red).max(initial=0))
    return int(spread) <= GRAY_TOLERANCE


class SequentialIterMixin:
    """``__iter__`` and ``read`` built from ``frame`` for sources without a faster path."""

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):  # type: ignore[arg-type]
            yield self.frame(index)  # type: ignore[attr-defined]

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, start, stop)  # type: ignore[arg-type]
        frames = [self.frame(i) for i in range(start, stop)]  # type: ignore[attr-defined]
        if not frames:
            height, width = self.frame_size  # type: ignore[attr-defined]
            shape = (0, height, width) if self.channels == 1 else (0, height, width, 3)  # type: ignore[attr-defined]
            return np.zeros(shape, np.uint8)
        return np.stack(frames)


class ArraySource(SequentialIterMixin):
    """Frames held in memory as one uint8 array ``(N, H, W)`` or ``(N, H, W, 3)``."""

    path: Path | None = None

    def __init__(
        self, frames: np.ndarray, fps: float = 25.0, name: str = "in-memory", is_sequence: bool = True
    ) -> None:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            raise SourceError(name, f"frames must be uint8, found {frames.dtype}")
        if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
            raise SourceError(name, f"frames must be (N, H, W) or (N, H, W, 3), found {frames.shape}")
        if len(frames) == 0:
            raise SourceError(name, "no frames")
        self._frames = frames
        self._fps = float(fps)
        self.name = name
        self.is_sequence = is_sequence

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self._frames.shape[1]), int(self._frames.shape[2])

    @property
    def channels(self) -> int:
        return 1 if self._frames.ndim == 3 else 3

    def frame(self, index: int) -> np.ndarray:
        return self._frames[check_index(self, index)]

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, start, stop)
        return self._frames[start:stop]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._frames)

    def __repr__(self) -> str:
        return f"ArraySource({self.name!r}, frames={len(self)}, size={self.frame_size}, channels={self.channels})"
