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
from vad_core.json_reading import Fields, decode_json
from vad_core.scoring import ScoringConfig, anomaly_scores

FORMAT_VERSION = 1
MAX_META_BYTES = 4 * 1024 * 1024  # our choice: meta is a few KB (settings, names, hashes)
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
    """Read a scores ``.npz`` written by ``write_scores``; ``ScoresFileError`` names any problem
    (not an archive, object or complex arrays, a ``meta`` that is not a valid JSON object, ...)."""
    npz_path, _ = scores_paths(path)
    if not npz_path.is_file():
        raise ScoresFileError(npz_path, "no such scores file")
    _check_archive(npz_path)
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            if "errors" not in data.files:
                raise ScoresFileError(npz_path, "not a scores file (no 'errors' array)")
            errors = _real_array(data, "errors", npz_path, ndim=1).astype(np.float32)
            meta = read_meta(str(data["meta"]), npz_path) if "meta" in data.files else {}
            present = set(data.files)

            def optional(name: str, ndim: int = 1) -> np.ndarray | None:
                return _real_array(data, name, npz_path, ndim) if name in present else None

            regularity, score = optional("regularity"), optional("score")
            labels = optional("labels")
            result = ScoresFile(
                errors=errors,
                regularity=anomaly_scores(errors).regularity if regularity is None else regularity,
                score=anomaly_scores(errors).score if score is None else score,
                maps=optional("maps", ndim=3) if load_maps else None,
                labels=None if labels is None else labels.astype(bool),
                categories=data["categories"] if "categories" in present else None,
                meta=meta,
                path=npz_path,
                side={
                    name: _real_array(data, name, npz_path, 1).astype(np.float32)
                    for name in SIDE_SERIES
                    if name in present
                },
            )
    except ScoresFileError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ScoresFileError(
                npz_path,
                "holds object arrays, which are refused (reading them would run code); "
                "expected the numeric arrays vad score writes",
            ) from None
        raise ScoresFileError(npz_path, f"cannot read scores ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ScoresFileError(npz_path, f"cannot read scores ({error})") from None
    _check_lengths(result, npz_path)
    return result


def _check_archive(npz_path: Path) -> None:
    """Refuse what is not a zip archive before numpy tries (and suggests unpickling it)."""
    try:
        with npz_path.open("rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise ScoresFileError(npz_path, f"cannot be read ({error.strerror or error})") from None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return
    try:
        head.decode("utf-8")
        found = "text" if head.strip() else "an empty file"
    except UnicodeDecodeError:
        found = "other binary data"
    raise ScoresFileError(
        npz_path, f"not a scores file: expected the .npz archive vad score writes, found {found}"
    )


def _real_array(data: Any, name: str, where: Path, ndim: int) -> np.ndarray:
    """Array ``name`` of ``ndim`` dimensions holding real numbers (bools and integers allowed)."""
    array = data[name]
    if array.dtype.kind not in "biuf":
        found = "complex numbers" if array.dtype.kind == "c" else f"{array.dtype} values"
        raise ScoresFileError(where, f"'{name}' holds {found}; expected real numbers")
    if array.ndim != ndim:
        raise ScoresFileError(where, f"'{name}' has {array.ndim} dimensions; expected {ndim}")
    return array


def read_meta(text: str, where: Path) -> dict[str, Any]:
    """A scores file's ``meta`` JSON: an object whose fields readers use have their types checked."""
    from vad_core.checkpoint_description import check_scoring_fields

    meta = decode_json(text, where, ScoresFileError, max_bytes=MAX_META_BYTES, what="the meta JSON object")
    fields = Fields(meta, where, ScoresFileError, "meta.")
    fields.number("fps", default=None, minimum=1e-3, maximum=1e4)
    fields.text("name", default=None)
    check_scoring_fields(fields.optional_section("scoring"))
    return meta


def _check_lengths(result: ScoresFile, npz_path: Path) -> None:
    n = len(result.errors)
    for name in ("regularity", "score", "labels", "categories", "maps"):
        value = getattr(result, name)
        if value is not None and len(value) != n:
            raise ScoresFileError(npz_path, f"'{name}' has {len(value)} entries for {n} frames")
    for name, values in result.side.items():
        if len(values) != n:
            raise ScoresFileError(npz_path, f"'{name}' has {len(values)} entries for {n} frames")
