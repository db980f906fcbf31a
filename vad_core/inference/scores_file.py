"""Scores files written by ``vad score``: ``NAME.npz`` (arrays) and ``NAME.csv`` (one row per frame).

The npz holds ``errors`` (T,), ``regularity`` (T,), ``score`` (T,) (1 - smoothed regularity), optional
``maps`` (T, h, w) float16, optional ``labels`` (T,) bool and ``categories`` (T,) str, optional side
series (``memory_distance`` (T,) float32 of memory models; also a CSV column), and ``meta``,
a JSON string (source, fps, model, checkpoint hash, inference and scoring settings).
Loading never unpickles: object arrays are refused.

Example::

    write_scores("out/test01", errors, maps=maps, labels=labels, meta={"fps": 10})
    scores = read_scores("out/test01.npz")
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.atomic_io import atomic_writer
from vad_core.errors import ScoresFileError
from vad_core.scoring import ScoringConfig, anomaly_scores

FORMAT_VERSION = 1
SIDE_SERIES = ("memory_distance",)  # optional per-frame arrays beside the errors (format 1 readers skip them)


@dataclass
class ScoresFile:
    """The contents of a scores file."""

    errors: np.ndarray
    regularity: np.ndarray
    score: np.ndarray
    maps: np.ndarray | None = None
    labels: np.ndarray | None = None
    categories: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    side: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. "memory_distance" (T,)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or (self.path.stem if self.path else "scores"))

    @property
    def fps(self) -> float:
        return float(self.meta.get("fps", 25.0))


def scores_paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".npz", ".csv") else path
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".csv")


def _atomic_write(target: Path, write) -> None:
    try:
        with atomic_writer(target) as handle:
            write(handle)
    except OSError as error:
        raise ScoresFileError(target, f"cannot write ({error.strerror or error})") from None


def write_scores(
    path: str | Path,
    errors: np.ndarray,
    maps: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    categories: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    scoring: ScoringConfig | None = None,
    csv_too: bool = True,
    side: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``path``.npz (and .csv); regularity and score are derived from ``errors`` (and the
    ``side`` series, e.g. the memory distance) with ``scoring``."""
    scoring = scoring or ScoringConfig()
    errors = np.asarray(errors, np.float32)
    side = {
        name: np.asarray(values, np.float32) for name, values in (side or {}).items() if name in SIDE_SERIES
    }
    derived = anomaly_scores(errors, scoring, side)
    meta = {**(meta or {}), "format_version": FORMAT_VERSION, "scoring": scoring.__dict__}
    arrays: dict[str, np.ndarray] = {
        "errors": errors,
        "regularity": derived.regularity.astype(np.float32),
        "score": derived.score.astype(np.float32),
        "meta": np.array(json.dumps(meta, default=str)),
    }
    if maps is not None:
        arrays["maps"] = np.asarray(maps, np.float16)
    if labels is not None:
        arrays["labels"] = np.asarray(labels, bool)
    if categories is not None:
        arrays["categories"] = np.asarray(categories).astype(str)
    arrays.update(side)
    npz_path, csv_path = scores_paths(path)

    def write_npz(handle) -> None:
        # Uncompressed: float16 error maps are sensor-noise-like, zlib shrank them by ~14 % at 1/25
        # of the speed (measured: ~450 vs ~12,000 frames/s at 128x128), which made writing the maps
        # the bottleneck of GPU archive scoring.
        np.savez(handle, **arrays)

    _atomic_write(npz_path, write_npz)
    if csv_too:
        fps = float(meta.get("fps", 25.0))

        def write_csv(handle) -> None:
            text = io.StringIO()
            writer = csv.writer(text)
            header = ["frame", "time_s", "error", "regularity", "anomaly_score", *side]
            if labels is not None:
                header.append("label")
            writer.writerow(header)
            for t in range(len(errors)):
                row = [
                    t,
                    f"{t / fps:.3f}",
                    f"{errors[t]:.6g}",
                    f"{arrays['regularity'][t]:.5f}",
                    f"{arrays['score'][t]:.5f}",
                    *(f"{values[t]:.6g}" for values in side.values()),
                ]
                if labels is not None:
                    row.append(int(bool(labels[t])))
                writer.writerow(row)
            handle.write(text.getvalue().encode())

        _atomic_write(csv_path, write_csv)
    return npz_path


def read_scores(path: str | Path, load_maps: bool = True) -> ScoresFile:
    """Read a scores ``.npz`` written by ``write_scores``; ``ScoresFileError`` names any problem."""
    npz_path, _ = scores_paths(path)
    if not npz_path.is_file():
        raise ScoresFileError(npz_path, "no such scores file")
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            if "errors" not in data.files:
                raise ScoresFileError(npz_path, "not a scores file (no 'errors' array)")
            errors = data["errors"].astype(np.float32)
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
            result = ScoresFile(
                errors=errors,
                regularity=data["regularity"]
                if "regularity" in data.files
                else anomaly_scores(errors).regularity,
                score=data["score"] if "score" in data.files else anomaly_scores(errors).score,
                maps=data["maps"] if (load_maps and "maps" in data.files) else None,
                labels=data["labels"].astype(bool) if "labels" in data.files else None,
                categories=data["categories"] if "categories" in data.files else None,
                meta=meta,
                path=npz_path,
                side={name: data[name].astype(np.float32) for name in SIDE_SERIES if name in data.files},
            )
    except ScoresFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as error:
        raise ScoresFileError(npz_path, f"cannot read scores ({error})") from None
    n = len(result.errors)
    for name in ("regularity", "score", "labels", "categories", "maps"):
        value = getattr(result, name)
        if value is not None and len(value) != n:
            raise ScoresFileError(npz_path, f"'{name}' has {len(value)} entries for {n} frames")
    for name, values in result.side.items():
        if len(values) != n:
            raise ScoresFileError(npz_path, f"'{name}' has {len(values)} entries for {n} frames")
    return result
