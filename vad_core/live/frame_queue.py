"""A bounded queue between a live source and its scorer: when full, the oldest waiting item goes.

When scoring falls behind, memory must not grow and the picture must stay current, so ``put``
never blocks: it drops the oldest waiting frame and counts it. ``take`` hands out everything
waiting (up to ``most``) as one batch, waiting at most ``timeout`` seconds for the first item.
Items other than frames (gaps, the end marker) are never dropped.

Example::

    queue = DroppingQueue(capacity=64)
    queue.put(frame)                   # producer thread
    batch = queue.take(most=16, timeout=0.5)   # scoring thread
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from vad_core.errors import ConfigError


class DroppingQueue:
    """Thread-safe FIFO of at most ``capacity`` frames; ``dropped`` counts the frames it threw away.

    ``droppable(item)`` says which items may be dropped (default: all).
    """

    def __init__(self, capacity: int = 64, droppable=None) -> None:
        if capacity < 1:
            raise ConfigError("queue", f"capacity must be >= 1, found {capacity}")
        self.capacity = capacity
        self.dropped = 0
        self.peak = 0
        self._droppable = droppable or (lambda _item: True)
        self._items: deque[Any] = deque()
        self._frames = 0
        self._ready = threading.Condition()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def put(self, item: Any) -> None:
        """Append ``item``; when ``capacity`` frames wait already, the oldest frame is dropped."""
        with self._ready:
            if self._droppable(item):
                if self._frames >= self.capacity:
                    self._drop_oldest_frame()
                self._frames += 1
            self._items.append(item)
            self.peak = max(self.peak, len(self._items))
            self._ready.notify()

    def _drop_oldest_frame(self) -> None:
        for position, waiting in enumerate(self._items):
            if self._droppable(waiting):
                del self._items[position]
                self._frames -= 1
                self.dropped += 1
                return

    def take(self, most: int, timeout: float | None = None) -> list[Any]:
        """Up to ``most`` items in arrival order; ``[]`` when none arrived within ``timeout``."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            batch = []
            while self._items and len(batch) < most:
                item = self._items.popleft()
                if self._droppable(item):
                    self._frames -= 1
                batch.append(item)
            return batch
