"""Persistent preferences of the review window (QSettings): recent files, last model, view options.

``AppSettings`` is a thin typed layer over ``QSettings``: recent files, the last checkpoint, the
compute device and batch size, overlay opacity and colour map, and the window's geometry and dock
layout (``reset_layout`` forgets the last two). With ``VAD_REVIEW_NO_USER_SETTINGS=1``
(tests, screenshots, benchmarks) it keeps everything in memory, so no run reads or changes the
user's real preferences.

Example::

    settings = AppSettings()
    settings.add_recent("/data/ped2/testing/frames/01")
    settings.recent_files()          # newest first
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

MAX_RECENT = 10


class _MemoryStore:
    """The part of the QSettings interface AppSettings uses, in a dict."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def value(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self._values[key] = value

    def remove(self, key: str) -> None:
        self._values.pop(key, None)

    def sync(self) -> None:
        pass


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class AppSettings:
    """Typed access to the preferences; ``store`` defaults to the user's QSettings."""

    def __init__(self, store: QSettings | _MemoryStore | None = None) -> None:
        if store is None:
            if os.environ.get("VAD_REVIEW_NO_USER_SETTINGS") == "1":
                store = _MemoryStore()
            else:
                store = QSettings("vad-review", "vad-review")
        self.store = store

    # -- recent files ------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.store.value("recent/files", [])
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list | tuple):
            return []  # a settings file edited by hand, or by another program
        return [str(v) for v in value if isinstance(v, str | Path) and str(v)]

    def add_recent(self, path: str | Path) -> list[str]:
        text = str(Path(path))
        files = [text] + [p for p in self.recent_files() if p != text]
        self.store.setValue("recent/files", files[:MAX_RECENT])
        return self.recent_files()

    def remove_recent(self, path: str | Path) -> None:
        text = str(Path(path))
        self.store.setValue("recent/files", [p for p in self.recent_files() if p != text])

    def clear_recent(self) -> None:
        self.store.setValue("recent/files", [])

    # -- model and device --------------------------------------------------------------------
    def last_checkpoint(self) -> str | None:
        value = self.store.value("model/checkpoint")
        return str(value) if value else None

    def set_last_checkpoint(self, path: str | Path | None) -> None:
        if path is None:
            self.store.remove("model/checkpoint")
        else:
            self.store.setValue("model/checkpoint", str(path))

    def device(self) -> str:
        return str(self.store.value("model/device", "auto"))

    def set_device(self, device: str) -> None:
        self.store.setValue("model/device", device)

    def batch_size(self) -> int:
        try:
            return min(4096, max(1, int(self.store.value("model/batch_size", 32))))
        except (TypeError, ValueError, OverflowError):
            return 32

    def set_batch_size(self, value: int) -> None:
        self.store.setValue("model/batch_size", int(value))

    # -- first start ---------------------------------------------------------------------------
    def demo_offered(self) -> bool:
        return _as_bool(self.store.value("start/demo_offered"), False)

    def set_demo_offered(self, offered: bool = True) -> None:
        self.store.setValue("start/demo_offered", bool(offered))

    # -- view ------------------------------------------------------------------------------------
    def overlay_opacity(self) -> float:
        try:
            value = float(self.store.value("view/overlay_opacity", 0.6))
        except (TypeError, ValueError, OverflowError):
            return 0.6
        return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.6

    def set_overlay_opacity(self, value: float) -> None:
        self.store.setValue("view/overlay_opacity", float(value))

    def colormap(self) -> str:
        return str(self.store.value("view/colormap", "inferno"))

    def set_colormap(self, name: str) -> None:
        self.store.setValue("view/colormap", name)

    def window_state(self) -> tuple[Any, Any]:
        """``(geometry, dock state)`` as saved by ``set_window_state`` (``(None, None)`` after a reset)."""
        return self.store.value("window/geometry"), self.store.value("window/state")

    def set_window_state(self, geometry: Any, state: Any) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def reset_layout(self) -> None:
        """Forget the saved window geometry and dock layout (View > Reset layout)."""
        self.store.remove("window/geometry")
        self.store.remove("window/state")

    def location(self) -> str:
        """Where the preferences are kept: the QSettings file (or registry key), or ``in memory``."""
        if isinstance(self.store, _MemoryStore):
            return "in memory (not saved)"
        return str(self.store.fileName())

    def sync(self) -> None:
        self.store.sync()
