"""Video files read through OpenCV (avi, mp4, mkv, ...), with random access.

OpenCV's reported frame count is a header value; it is checked at open by decoding the last
frame, and a file whose frames stop early is reported as truncated instead of failing later.

Example::

    video = VideoFileSource("Avenue/testing_videos/01.avi")
    print(len(video), video.fps, video.frame_size)
    frame = video.frame(100)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import SourceError
from vad_core.sources.base import as_gray_or_rgb, check_index, check_range
from vad_core.sources.image_files import convert_channels

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm")


def reported_fps(capture: cv2.VideoCapture, limit: float = 1000.0) -> float:
    """The frame rate the container or stream reports, or 25 when it is missing or outside (0.5, limit)."""
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0.5 < fps < limit else 25.0


class VideoFileSource:
    """Random-access frames of a video file; decoding is serialised by a lock (thread-safe)."""

    is_sequence = True
    _cache_size = 48

    def __init__(self, path: str | Path, allow_truncated: bool = False) -> None:
        path = Path(path)
        if not path.exists():
            raise SourceError(path, "no such file or folder")
        if not path.is_file():
            raise SourceError(path, "not a file")
        if path.stat().st_size == 0:
            raise SourceError(path, "empty file")
        self.path = path
        self.name = path.name
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise SourceError(path, "cannot open video (unknown format, missing codec or corrupt file)")
        self._position = 0
        self._decoded: np.ndarray | None = None  # the decoder's reused buffer (bulk reads)
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(path, "cannot decode any frame (corrupt or truncated video)")
        self._position = 1
        first = as_gray_or_rgb(first, path)
        self._size = (int(first.shape[0]), int(first.shape[1]))
        self._channels = 1 if first.ndim == 2 else 3
        self._cache[0] = first
        self._fps = reported_fps(self._capture)
        reported = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._length = self._verified_length(reported, allow_truncated)

    def _verified_length(self, reported: int, allow_truncated: bool) -> int:
        """Check that the last reported frame decodes; count frames by decoding when it does not."""
        if reported > 1 and self._decode_at(reported - 1) is not None:
            return reported
        decodable = self._count_by_decoding()
        if reported > 1 and decodable < reported and not allow_truncated:
            self._capture.release()
            raise SourceError(
                self.path, f"truncated video: header says {reported} frames, only {decodable} can be decoded"
            )
        return decodable

    def _count_by_decoding(self) -> int:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        count = 0
        while self._capture.grab():
            count += 1
        self._position = count
        return max(count, 1)

    def _decode_at(self, index: int, into: np.ndarray | None = None) -> np.ndarray | None:
        """Decode frame ``index`` (lock held by caller or during construction), into ``into``
        when given (a frame-shaped uint8 array), else into a new array."""
        if index != self._position:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._position = index
        # bulk reads decode into one reused buffer: a fresh 3-channel frame per read is an mmap,
        # page faults and an munmap, which cost more than the copy on many-core machines
        ok, image = self._capture.read(self._decoded) if into is not None else self._capture.read()
        if not ok or image is None:
            self._position = -1  # unknown: force a seek next time
            return None
        self._position = index + 1
        if into is not None:
            self._decoded = image
        return self._in_clip_channels(image, into)

    def _in_clip_channels(self, image: np.ndarray, into: np.ndarray | None = None) -> np.ndarray:
        """A decoded frame in the channels the clip was opened with (gray or RGB), written to
        ``into`` when given."""
        if self._channels == 1 and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            # what the general path below gives for a gray clip (BGR -> RGB -> gray converts the
            # same values with the same weights), without testing each frame for colour
            if into is not None and into.shape == image.shape[:2]:
                return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=into)
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        converted = convert_channels(as_gray_or_rgb(image, self.path), self._channels)
        if into is not None:
            into[...] = converted
            return into
        return converted

    def __len__(self) -> int:
        return self._length

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._size

    @property
    def channels(self) -> int:
        return self._channels

    def frame(self, index: int) -> np.ndarray:
        index = check_index(self, index)
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                return cached
            image = self._decode_at(index)
            if image is None:
                raise SourceError(self.path, f"frame {index} cannot be decoded (truncated or corrupt video)")
            self._cache[index] = image
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return image

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, start, stop)
        height, width = self._size
        out = np.empty((stop - start, height, width) + (() if self._channels == 1 else (3,)), np.uint8)
        with self._lock:  # decoded straight into the result; random access (frame) keeps the cache
            for row, index in enumerate(range(start, stop)):
                cached = self._cache.get(index)
                if cached is not None:
                    out[row] = cached
                elif self._decode_at(index, into=out[row]) is None:
                    raise SourceError(
                        self.path, f"frame {index} cannot be decoded (truncated or corrupt video)"
                    )
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self.frame(index)

    def close(self) -> None:
        """Release the decoder; the source cannot be read afterwards."""
        with self._lock:
            self._capture.release()

    def __del__(self) -> None:
        capture = getattr(self, "_capture", None)
        if capture is not None:
            capture.release()

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r}, frames={self._length}, fps={self._fps:g}, size={self._size})"
