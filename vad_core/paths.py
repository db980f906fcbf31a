"""Per-user folders (platformdirs): caches, demo data, logs. Never inside ../shared or the install."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vad-review"


def _base(kind: str) -> Path:
    override = os.environ.get("VAD_REVIEW_HOME")
    if override:
        return Path(override) / kind
    import platformdirs

    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    if kind == "logs":
        return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Scores cache and other re-computable files."""
    return _base("cache")


def data_dir() -> Path:
    """User data that is not a cache (autosave backups, trained models by default)."""
    return _base("data")


def log_dir() -> Path:
    return _base("logs")


def demo_data_dir() -> Path:
    """Where ``vad demo`` writes the synthetic benchmark by default."""
    return data_dir() / "demo"
