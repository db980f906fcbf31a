"""Disk cache of per-frame errors and error maps, per (source, checkpoint, inference settings).

Reopening a video that was already scored with the same model is instant: the review window asks
the cache before it starts inference. An entry is one uncompressed ``.npz`` under
``cache_dir()/scores`` holding ``errors`` (T,) float32, optional ``maps`` (T, h, w) float16 and
``meta`` (a JSON string). Entries are written atomically (temporary file, fsync, rename), read
without unpickling, and the cache is kept under ``max_bytes`` by removing the least recently used
entries. A damaged entry is deleted and reported as a miss, never as an error.

The key combines

* the source identity: path + size + modification time for a video file; path, frame count,
  folder modification time and a hash of three frames for a frame folder; a hash of a few frames
  plus shape and fps for in-memory sources (``source_identity``);
* the checkpoint: weights SHA-256, architecture config as built (name, channels, input size,
  options), its description's preprocessing and recommended scoring (``model_identity``): two
  checkpoints with the same weights but another input size or option never share scores;
* the inference settings that change the numbers (error type, frame reduction, patch size, how
  predictors are scored, whether maps are kept, whether bfloat16 autocast ran).

Example::

    cache = ScoreCache()
    key = cache_key(source, checkpoint, InferenceConfig(), device="cpu")
    hit = cache.load(key)                     # CachedScores or None
    if hit is None:
        result = score_all(checkpoint.model, source)
        cache.store(key, result.errors, result.maps, {"source": source.name})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.atomic_io import atomic_writer
from vad_core.errors import ScoresFileError, VadError
from vad_core.json_reading import Fields, decode_json
from vad_core.sources.base import FrameSource

CACHE_VERSION = 2  # 2: the key covers the whole model config, preprocessing and scoring
DEFAULT_MAX_BYTES = 2 * 1024**3  # our choice: 2 GiB of cached scores (about 150 videos of 400 frames)
_SAMPLE_FRAMES = 3
_SIDE = "side_"  # npz names of the side series: side_memory_distance


@dataclass
class CachedScores:
    """One cache entry: per-frame errors, optional float16 maps and the metadata stored with them."""

    errors: np.ndarray
    maps: np.ndarray | None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    side: dict[str, np.ndarray] = field(default_factory=dict)  # ScoreResult.side, e.g. "memory_distance"


def _hash_frames(source: FrameSource, count: int) -> str:
    """SHA-256 of ``count`` evenly spaced frames (first and last included)."""
    digest = hashlib.sha256()
    length = len(source)
    indices = sorted({round(i * (length - 1) / max(count - 1, 1)) for i in range(count)}) if length else []
    for index in indices:
        frame = np.ascontiguousarray(source.frame(int(index)))
        digest.update(str(frame.shape).encode())
        digest.update(frame.tobytes())
    return digest.hexdigest()


def source_identity(source: FrameSource) -> dict[str, Any]:
    """What identifies a source's frames (see the module docstring); JSON-serialisable."""
    base: dict[str, Any] = {
        "frames": len(source),
        "size": list(source.frame_size),
        "channels": source.channels,
    }
    path = getattr(source, "path", None)
    if path is None:
        return {
            **base,
            "kind": "memory",
            "fps": round(float(source.fps), 6),
            "content": _hash_frames(source, 8),
        }
    path = Path(path).resolve()
    stat = path.stat()
    identity = {
        **base,
        "kind": "file",
        "path": str(path),
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    if path.is_dir():
        identity["kind"] = "folder"
        identity["content"] = _hash_frames(source, _SAMPLE_FRAMES)
    return identity


def model_identity(checkpoint: Any) -> dict[str, Any]:
    """What of a checkpoint can change its scores, JSON-serialisable: the weights' SHA-256, the
    architecture as built (name, channels, input size, every option, defaults included), the
    preprocessing of its description (size, channels, value range) and its recommended scoring
    (error, reduction, patch, score kind, MNAD weight)."""
    model = getattr(checkpoint, "model", None)
    config = getattr(model, "config", None) or checkpoint.config
    metadata = dict(getattr(checkpoint, "metadata", None) or {})
    return {
        "weights": checkpoint.sha256 or "unsaved",
        "model": config.to_dict(),
        "preprocess": metadata.get("preprocess"),
        "scoring": metadata.get("scoring"),
    }


def inference_identity(inference: Any, device: str = "cpu") -> dict[str, Any]:
    """The settings of an ``InferenceConfig`` that change the numbers (not batch size nor device:
    a GPU resizes bit-equal to the CPU, see ``device_resize``): error, reduction, patch (read by
    ``patch_max`` and ``smoothed_max``), how predictors are scored, whether maps are kept, and
    whether bfloat16 autocast runs (only on CUDA)."""
    return {
        "error": inference.error,
        "reduction": inference.reduction,
        "patch": int(inference.patch),
        "prediction": inference.prediction,
        "keep_maps": bool(inference.keep_maps),
        "precision": "bf16" if (inference.amp and device.startswith("cuda")) else "fp32",
    }


def cache_key(source: FrameSource, checkpoint: Any, inference: Any, device: str = "cpu") -> str:
    """Hex key of (source identity x checkpoint x settings that change the scores).

    ``checkpoint`` is a :class:`~vad_core.checkpoint.Checkpoint` (read by :func:`model_identity`);
    ``inference`` an ``InferenceConfig`` (:func:`inference_identity`); ``device`` the device type
    that will run ("cpu" or "cuda").
    """
    payload = {
        "version": CACHE_VERSION,
        "source": source_identity(source),
        "checkpoint": model_identity(checkpoint),
        "settings": inference_identity(inference, device),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _read_meta(text: str, path: Path) -> dict[str, Any]:
    """An entry's ``meta``: a JSON object (through :mod:`vad_core.json_reading`) or ``ScoresFileError``."""
    meta = decode_json(text, path, ScoresFileError, max_bytes=1024 * 1024, what="the meta JSON object")
    Fields(meta, path, ScoresFileError, "meta.")
    return meta


class ScoreCache:
    """The folder of cached scores; safe to share between processes (atomic renames)."""

    def __init__(self, root: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if root is None:
            from vad_core.paths import cache_dir

            root = cache_dir() / "scores"
        self.root = Path(root)
        self.max_bytes = int(max_bytes)

    def path_of(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> CachedScores | None:
        """The entry for ``key``, or ``None`` (missing or damaged: a damaged file is removed)."""
        path = self.path_of(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                errors = np.asarray(data["errors"], np.float32)
                maps = np.asarray(data["maps"]) if "maps" in data.files else None
                meta = _read_meta(str(data["meta"]), path) if "meta" in data.files else {}
                side = {
                    name.removeprefix(_SIDE): np.asarray(data[name], np.float32)
                    for name in data.files
                    if name.startswith(_SIDE)
                }
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, VadError):
            path.unlink(missing_ok=True)
            return None
        bad_side = any(values.shape != errors.shape for values in side.values())
        if (
            errors.ndim != 1
            or bad_side
            or (maps is not None and (maps.ndim != 3 or len(maps) != len(errors)))
        ):
            path.unlink(missing_ok=True)
            return None
        if meta.get("cache_version") != CACHE_VERSION:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently *used*: reading counts as a use
        return CachedScores(errors=errors, maps=maps, meta=meta, path=path, side=side)

    def store(
        self,
        key: str,
        errors: np.ndarray,
        maps: np.ndarray | None,
        meta: dict[str, Any] | None = None,
        side: dict[str, np.ndarray] | None = None,
    ) -> Path:
        """Write an entry (errors, maps, side series such as the memory distance) atomically
        (temporary file, fsync, rename); then trim the cache to size."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path_of(key)
        arrays: dict[str, np.ndarray] = {"errors": np.asarray(errors, np.float32)}
        arrays.update({_SIDE + name: np.asarray(values, np.float32) for name, values in (side or {}).items()})
        if maps is not None:
            arrays["maps"] = np.asarray(maps, np.float16)
        stored_meta = {**(meta or {}), "cache_version": CACHE_VERSION, "stored": time.time()}
        arrays["meta"] = np.array(json.dumps(stored_meta, default=str))
        with atomic_writer(target) as handle:
            np.savez(handle, **arrays)
        self.trim(keep=target)
        return target

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("*.npz")) if self.root.is_dir() else []

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.entries() if p.is_file())

    def trim(self, keep: Path | None = None) -> int:
        """Remove least recently used entries until the cache fits ``max_bytes``; return how many."""
        files = []
        for path in self.entries():
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if keep is not None and path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def clear(self) -> None:
        for path in self.entries():
            path.unlink(missing_ok=True)
