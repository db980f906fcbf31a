"""Live frame sources: frames as they arrive from a camera, a stream, a file played in time or a folder.

Unlike the random-access :class:`vad_core.sources.base.FrameSource`, a live source is an endless
iterator: :meth:`LiveSource.stream` yields each :class:`LiveFrame` with its arrival time (monotonic
clock, for latency) and wall-clock time, numbered 0, 1, 2, ... in arrival order. When the connection
breaks it does not fail: it reconnects with exponential back-off (:class:`Backoff`) and yields a
:class:`Gap` (start, end, frames lost at the nominal rate) once frames flow again. A video file ends
the stream at its end; ``stop`` ends any stream at the next frame.

Example::

    source = LiveSource("rtsp://camera/stream")
    for item in source.stream(stop_event):
        if isinstance(item, Gap):
            print("lost", item.frames_lost, "frames")
        else:
            handle(item.index, item.image, item.arrival)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from vad_core.errors import ConfigError, SourceError
from vad_core.sources.live_readers import open_reader


@dataclass(frozen=True)
class LiveFrame:
    """One frame as it arrived: stream index, picture, monotonic arrival time, wall-clock time."""

    index: int
    image: np.ndarray  # uint8 (H, W) or (H, W, 3)
    arrival: float  # time.monotonic() when the frame was read
    wall: float  # time.time() when the frame was read


@dataclass(frozen=True)
class Gap:
    """A stretch without frames: from the last frame before it to the first after it (wall clock)."""

    start: float  # time.time() of the last frame before the break (or the first attempt)
    end: float  # time.time() when frames flowed again
    frames_lost: int  # frames the nominal rate would have delivered in between
    next_index: int  # stream index of the first frame after the gap
    reason: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "seconds": round(self.seconds, 3),
            "frames_lost": self.frames_lost,
            "next_frame": self.next_index,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``first``, then doubled after each failure up to ``longest`` (seconds)."""

    first: float = 0.2  # our choice: a camera that blinks comes back within a fraction of a second
    longest: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest or self.factor < 1:
            raise ConfigError("back-off", f"need 0 < first <= longest and factor >= 1, found {self}")

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(self.longest, delay * self.factor)


class LiveSource:
    """Frames of ``spec`` (camera index, URL, video file or folder) as they arrive, reconnecting.

    ``state`` is ``"connecting"``, ``"connected"``, ``"reconnecting"`` or ``"ended"``; ``gaps`` lists
    every recorded :class:`Gap`. ``on_state`` (optional) hears each state change.
    """

    def __init__(
        self,
        spec: str,
        name: str | None = None,
        fps: float | None = None,
        backoff: Backoff | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = str(spec)
        self.name = name or _name_of(self.spec)
        self.reader = open_reader(self.spec, fps)
        self.backoff = backoff or Backoff()
        self.on_state = on_state
        self.state = "connecting"
        self.gaps: list[Gap] = []
        self.frames = 0
        self.first_arrival: float | None = None  # time.monotonic() of frame 0
        self.frame_size: tuple[int, int] | None = None

    @property
    def fps(self) -> float:
        return float(self.reader.fps)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _connect(self, stop: threading.Event, first: bool) -> tuple[bool, str]:
        """Open the reader, retrying with back-off until it opens or ``stop`` is set."""
        reason = ""
        for delay in self.backoff.delays():
            if stop.is_set():
                return False, reason
            try:
                self.reader.open()
                return True, reason
            except SourceError as error:
                reason = str(error)
                if first and getattr(self.reader, "finite", False):
                    raise  # a file that cannot be opened will not open later
                self._set_state("connecting" if first else "reconnecting")
                if stop.wait(delay):
                    return False, reason
        return False, reason  # pragma: no cover

    def stream(self, stop: threading.Event) -> Iterator[LiveFrame | Gap]:
        """Frames as they arrive (and a :class:`Gap` after each reconnection) until ``stop`` or the end."""
        first = True
        broke_at: float | None = None
        last_wall = 0.0
        reason = ""
        try:
            while not stop.is_set():
                opened, why = self._connect(stop, first)
                reason = why or reason
                if not opened:
                    break
                self._set_state("connected")
                while (image := self.reader.read(stop)) is not None:
                    now, wall = time.monotonic(), time.time()
                    if broke_at is not None:
                        yield self._gap(broke_at, wall, reason)
                        broke_at, reason = None, ""
                    if self.first_arrival is None:
                        self.first_arrival = now
                    yield LiveFrame(self.frames, self._same_size(image), now, wall)
                    self.frames += 1
                    last_wall = wall
                    if stop.is_set():
                        break
                self.reader.close()
                if stop.is_set() or getattr(self.reader, "finite", False):
                    break
                if broke_at is None:
                    broke_at, reason = last_wall or time.time(), "stream broke"
                first = False
                self._set_state("reconnecting")
        finally:
            self.reader.close()
            self._set_state("ended")

    def _gap(self, start: float, end: float, reason: str) -> Gap:
        lost = max(0, int(round((end - start) * self.fps)) - 1)
        gap = Gap(start, end, lost, self.frames, reason)
        self.gaps.append(gap)
        return gap

    def _same_size(self, image: np.ndarray) -> np.ndarray:
        """Frames keep the size of the first frame (a camera that changes resolution is resized)."""
        import cv2

        if self.frame_size is None:
            self.frame_size = (int(image.shape[0]), int(image.shape[1]))
            return image
        if image.shape[:2] != self.frame_size:
            height, width = self.frame_size
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image


def _name_of(spec: str) -> str:
    """A short readable name: ``camera 0``, the URL's host and path, or the file or folder name."""
    if spec.isdigit():
        return f"camera{spec}"
    if "://" in spec:
        rest = spec.split("://", 1)[1].split("@")[-1]
        return rest.replace("/", "_").replace(":", "_").strip("_") or "stream"
    return spec.rstrip("/").split("/")[-1] or "source"
