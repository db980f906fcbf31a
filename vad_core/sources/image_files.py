"""Sources backed by one image file per frame: frame folders (video) and still-image folders.

``FrameFolderSource`` treats the files as consecutive frames of one video (UCSD ``Test001/001.tif``,
``frames/01/000.jpg``); ``ImageFolderSource`` treats each file as an independent image
(MVTec ``train/good/000.png``). Files are ordered naturally: ``2.tif`` before ``10.tif``.

Example::

    clip = FrameFolderSource("UCSDped2/Test/Test001", fps=10)
    parts = ImageFolderSource("bottle/test/broken_large")
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import SourceError
from vad_core.sources.base import SequentialIterMixin, as_gray_or_rgb, check_index, check_range

IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``2.tif`` < ``10.tif``."""
    # Odd positions of the split are the digit runs; text such as "²" passes ``str.isdigit`` but
    # is no decimal number, so the position, not ``isdigit``, says which parts are numbers.
    return tuple(int(part) if i % 2 else part.lower() for i, part in enumerate(_DIGITS.split(name)))


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, naturally sorted; raise ``SourceError`` if none."""
    folder = Path(folder)
    if not folder.exists():
        raise SourceError(folder, "no such file or folder")
    if not folder.is_dir():
        raise SourceError(folder, "not a folder")
    # Hidden files are skipped: macOS archives carry "._001.tif" resource forks beside each frame.
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    if not files:
        raise SourceError(folder, f"no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: str | Path) -> np.ndarray:
    """Decode one image file as uint8 gray ``(H, W)`` or RGB ``(H, W, 3)``."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(path, "no such file")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII paths too
    except OSError as error:
        raise SourceError(path, f"cannot read file ({error.strerror or error})") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise SourceError(path, "cannot decode image (unreadable or corrupt file)")
    return as_gray_or_rgb(image, path)


def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Return ``image`` with ``channels`` (1 gray, 3 RGB) channels."""
    if channels == 1 and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if channels == 3 and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


class _ImageFilesSource(SequentialIterMixin):
    """Common part of frame folders and still-image folders: decoding, caching, channel mode."""

    is_sequence = True
    _cache_size = 64

    def __init__(self, files: Sequence[Path], fps: float, name: str, path: Path | None) -> None:
        if not files:
            raise SourceError(path or name, "no images")
        self.files = list(files)
        self.name = name
        self.path = path
        self._fps = float(fps)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        first = read_image(self.files[0])
        self._size = (int(first.shape[0]), int(first.shape[1]))
        self._channels = 1 if first.ndim == 2 else 3
        self._remember(0, first)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._size

    @property
    def channels(self) -> int:
        return self._channels

    def _remember(self, index: int, image: np.ndarray) -> None:
        with self._lock:
            self._cache[index] = image
            self._cache.move_to_end(index)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _decode(self, index: int) -> np.ndarray:
        return convert_channels(read_image(self.files[index]), self._channels)

    def frame(self, index: int) -> np.ndarray:
        index = check_index(self, index)
        with self._lock:
            cached = self._cache.get(index)
        if cached is not None:
            return cached
        image = self._decode(index)
        self._remember(index, image)
        return image


class FrameFolderSource(_ImageFilesSource):
    """A folder of image files that are consecutive frames of one video; all frames share one size."""

    is_sequence = True

    def __init__(self, folder: str | Path, fps: float = 25.0) -> None:
        folder = Path(folder)
        super().__init__(list_images(folder), fps=fps, name=folder.name, path=folder)

    def _decode(self, index: int) -> np.ndarray:
        image = super()._decode(index)
        if image.shape[:2] != self._size:
            raise SourceError(
                self.files[index],
                f"frame size {image.shape[1]}x{image.shape[0]} differs from the folder's "
                f"{self._size[1]}x{self._size[0]} (mixed frame sizes in one clip)",
            )
        return image

    def validate(self) -> None:
        """Decode every frame once; raise ``SourceError`` on the first unreadable or odd-sized one."""
        for index in range(len(self)):
            self._decode(index)

    def __repr__(self) -> str:
        return f"FrameFolderSource({str(self.path)!r}, frames={len(self)}, size={self._size})"


class ImageFolderSource(_ImageFilesSource):
    """Independent still images (MVTec-style). Images may differ in size; ``read`` resizes them
    to the first image's size so they stack, ``frame`` returns each at its own size."""

    is_sequence = False

    def __init__(self, folder_or_files: str | Path | Sequence[Path], name: str | None = None) -> None:
        if isinstance(folder_or_files, (str, Path)):
            folder = Path(folder_or_files)
            files = [folder] if folder.is_file() else list_images(folder)
            super().__init__(files, fps=1.0, name=name or folder.name, path=folder)
        else:
            files = [Path(f) for f in folder_or_files]
            super().__init__(files, fps=1.0, name=name or "images", path=None)

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, start, stop)
        height, width = self._size
        frames = []
        for i in range(start, stop):
            image = self.frame(i)
            if image.shape[:2] != self._size:
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(image)
        if not frames:
            return np.zeros((0, height, width) + (() if self._channels == 1 else (3,)), np.uint8)
        return np.stack(frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self.frame(index)

    def __repr__(self) -> str:
        return f"ImageFolderSource({self.name!r}, images={len(self)})"


__all__ = [
    "IMAGE_EXTENSIONS",
    "FrameFolderSource",
    "ImageFolderSource",
    "check_range",
    "convert_channels",
    "list_images",
    "natural_key",
    "read_image",
]
