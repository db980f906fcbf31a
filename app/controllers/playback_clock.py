"""Playback clock: which frame to show now, at the source fps times the speed, forwards or backwards.

The position is computed from the wall clock since playback (re)started, so a slow repaint skips
frames instead of slowing the video down, and speed changes take effect immediately. A
``QTimer`` (precise, at most every 5 ms) asks ``PlaybackClock.frame_now`` on every tick.

Example::

    clock = PlaybackClock(fps=25.0)
    clock.start(frame=0, direction=1, speed=2.0)
    frame = clock.frame_now()          # 50 frames per second of wall time
"""

from __future__ import annotations

import time


class PlaybackClock:
    """Maps wall time to a frame index; no Qt, so it is tested without a display."""

    def __init__(self, fps: float = 25.0, clock=time.perf_counter) -> None:
        self.fps = fps if fps > 0 else 25.0
        self.speed = 1.0
        self.direction = 1
        self._clock = clock
        self._origin_time = 0.0
        self._origin_frame = 0

    def start(self, frame: int, direction: int = 1, speed: float | None = None) -> None:
        self.direction = 1 if direction >= 0 else -1
        if speed is not None:
            self.speed = speed
        self._origin_time = self._clock()
        self._origin_frame = int(frame)

    def frame_now(self) -> int:
        elapsed = self._clock() - self._origin_time
        return self._origin_frame + self.direction * int(elapsed * self.fps * self.speed)

    def tick_interval_ms(self) -> int:
        """Timer interval that visits every frame at this speed (never below 5 ms)."""
        return max(5, int(1000.0 / (self.fps * self.speed)))
