"""The readers behind a live source: one connection to a camera, a stream, a file or a folder.

A reader opens once (``SourceError`` when it cannot), then hands out frames one by one with
``read(stop)`` until the connection breaks or the input ends (``None``); :class:`LiveSource`
(:mod:`vad_core.sources.live`) reopens it with back-off. Frames are uint8 gray ``(H, W)`` or RGB
``(H, W, 3)``, as every other source gives them.

* :class:`CaptureReader`: a camera index (``"0"``), ``rtsp://``, ``http(s)://`` (MJPEG or anything
  OpenCV's FFmpeg backend reads);
* :class:`PacedFileReader`: a video file played at its own frame rate, for rehearsal;
* :class:`ArrivingFolderReader`: a folder that image files keep arriving in (natural order).

Example::

    reader = CaptureReader("http://127.0.0.1:8080/stream.mjpg")
    reader.open()
    frame = reader.read(threading.Event())
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import SourceError
from vad_core.sources.base import as_gray_or_rgb
from vad_core.sources.image_files import IMAGE_EXTENSIONS, natural_key, read_image
from vad_core.sources.video_file import reported_fps

#: How long OpenCV waits to connect and for each frame before it calls the stream broken.
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000


class CaptureReader:
    """A camera index or a stream URL read through OpenCV (FFmpeg backend for URLs)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.fps = 25.0
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            OPEN_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            READ_TIMEOUT_MS,
        ]
        if self.spec.isdigit():
            capture = cv2.VideoCapture(int(self.spec), cv2.CAP_ANY, params)
        else:
            capture = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise SourceError(self.spec, "cannot connect (camera or stream not available)")
        self.fps = reported_fps(capture, limit=500.0)
        self._capture = capture

    def read(self, stop: threading.Event) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        return as_gray_or_rgb(image, self.spec)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PacedFileReader:
    """A video file handed out at its own frame rate, as if a camera filmed it now."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fps = 25.0
        self._capture: cv2.VideoCapture | None = None
        self._next_due = 0.0

    def open(self) -> None:
        self.close()
        if not self.path.is_file():
            raise SourceError(self.path, "no such video file")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise SourceError(self.path, "cannot open video (unknown format, missing codec or corrupt file)")
        self.fps = reported_fps(capture)
        self._capture = capture
        self._next_due = time.monotonic()

    def read(self, stop: threading.Event) -> np.ndarray | None:
        if self._capture is None:
            return None
        delay = self._next_due - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return None
        self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        return as_gray_or_rgb(image, self.path)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    @property
    def finite(self) -> bool:
        """A file ends: the live source stops at its end instead of reconnecting."""
        return True


class ArrivingFolderReader:
    """Image files of a folder in natural order, waiting for new ones as they arrive.

    A file is read once it is at least ``settle`` seconds old (so a half-written file is not read).
    """

    def __init__(
        self, folder: str | Path, fps: float = 25.0, poll: float = 0.05, settle: float = 0.1
    ) -> None:
        self.folder = Path(folder)
        self.fps = float(fps)
        self.poll = poll
        self.settle = settle
        self._seen: set[str] = set()
        self._pending: list[Path] = []

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(self.folder, "no such folder")

    def _refill(self) -> None:
        now = time.time()
        try:
            entries = list(self.folder.iterdir())
        except OSError as error:
            raise SourceError(self.folder, f"cannot list the folder ({error.strerror or error})") from None
        fresh = []
        for path in entries:
            if path.name in self._seen or path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            try:
                if now - path.stat().st_mtime < self.settle:
                    continue
            except OSError:
                continue
            fresh.append(path)
        self._pending = sorted(fresh, key=lambda p: natural_key(p.name))

    def read(self, stop: threading.Event) -> np.ndarray | None:
        while not stop.is_set():
            if not self._pending:
                self._refill()
            if self._pending:
                path = self._pending.pop(0)
                self._seen.add(path.name)
                try:
                    return read_image(path)
                except SourceError:
                    continue  # an unreadable file is skipped, the folder goes on
            stop.wait(self.poll)
        return None

    def close(self) -> None:
        return None


def open_reader(spec: str, fps: float | None = None):
    """The reader for ``spec``: a camera index, a URL, a video file or a folder."""
    if spec.isdigit() or "://" in spec:
        return CaptureReader(spec)
    path = Path(spec)
    if path.is_dir():
        return ArrivingFolderReader(path, fps=fps or 25.0)
    if path.is_file():
        return PacedFileReader(path)
    raise SourceError(spec, "not a camera index, a stream URL, a video file or a folder")
