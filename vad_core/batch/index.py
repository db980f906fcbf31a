"""The results index of a batch run: one SQLite file, one row per clip, written transactionally.

``RESULTS/index.sqlite`` sits beside the scores files (``RESULTS/scores/<clip>.npz`` and ``.csv``,
the same files ``vad score`` writes). The driver of ``vad batch score`` is its only writer; the
review window, ``vad batch report`` or a spreadsheet can read it at any time, also while a run is
going (write-ahead log: readers see the last committed state, never a half-written row).

Every clip result is one ``INSERT ... ON CONFLICT DO UPDATE`` in its own transaction, committed
only after the clip's scores file has been renamed into place, so killing a run at any moment
leaves an index whose ``done`` rows all point at whole scores files; the clips in flight are
simply missing and are scored by the next run.

Schema (``PRAGMA user_version`` = ``SCHEMA_VERSION``):

* ``clips``: one row per clip, keyed by ``clip`` (the path relative to the archive root); see
  ``ClipRow`` for the columns. ``top_events`` is a JSON list of the strongest events.
* ``runs``: one row per invocation: root, checkpoint, settings, start and end times, status
  (``running`` / ``finished`` / ``interrupted`` / ``failed`` / ``killed``) and the summary counts.

Example::

    index = ResultsIndex.open("results/site7", readonly=True)
    for row in index.rows(order_by="max_error"):
        print(row.clip, row.status, row.max_error, row.n_events, row.error)
        scores = read_scores(index.scores_file(row))      # what the review window opens
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vad_core.errors import VadError
from vad_core.json_reading import Fields, decode_json, describe

SCHEMA_VERSION = 1
INDEX_NAME = "index.sqlite"
SCORES_DIR = "scores"
STATUSES = ("done", "failed")
#: ``error_kind`` of a failed clip: its file cannot be read (skipped on a re-run of the same
#: content), a worker process died (retried), or anything else went wrong (retried).
ERROR_KINDS = ("source", "worker", "error")
#: Columns that differ between two runs that computed the same results.
TIMING_COLUMNS = ("run_id", "started_at", "finished_at", "compute_s", "wall_s")


class ResultsIndexError(VadError):
    """The results index cannot be opened, is of a newer schema, or is not an index at all."""


@dataclass(frozen=True)
class ClipRow:
    """One clip of the index: what the triage table shows and what opening the clip needs."""

    clip: str  # path relative to the archive root, "/"-separated
    path: str  # absolute path of the video file or frame folder when it was scored
    kind: str  # "video" | "frames"
    camera: str  # first folder of ``clip`` ("" at the root)
    folder: str  # folder of ``clip`` relative to the root ("" at the root)
    content_hash: str
    status: str  # "done" | "failed"
    error: str | None  # the reason a clip failed, one line (``str(error)``)
    error_kind: str | None  # see ERROR_KINDS
    frames: int | None
    fps: float | None
    width: int | None
    height: int | None
    model: str  # display name, e.g. "BCAE1"
    model_name: str  # registered architecture, e.g. "bcae1"
    checkpoint: str  # checkpoint path
    checkpoint_sha256: str
    settings_hash: str  # inference + scoring settings that change the numbers
    max_score: float | None  # anomaly score (per-clip normalised, in [0, 1])
    mean_score: float | None
    max_error: float | None  # raw per-frame error e(t): comparable across clips of one model
    mean_error: float | None
    n_events: int | None
    top_events: str | None  # JSON list of {start, end, peak_frame, peak_score, peak_error, start_s, end_s}
    scores_path: str | None  # relative to the results folder, e.g. "scores/cam1/a.avi.npz"
    chunks: int | None
    run_id: int | None
    started_at: float | None  # unix time the clip's first task was sent
    finished_at: float | None  # unix time its row was committed
    compute_s: float | None  # seconds workers spent on it (sum over chunks)
    wall_s: float | None  # finished_at - started_at

    @property
    def events(self) -> list[dict[str, Any]]:
        """``top_events`` decoded (strongest first)."""
        return json.loads(self.top_events) if self.top_events else []

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ClipRow))
_TYPES = {
    "frames": "INTEGER",
    "width": "INTEGER",
    "height": "INTEGER",
    "n_events": "INTEGER",
    "chunks": "INTEGER",
    "run_id": "INTEGER",
    "fps": "REAL",
    "max_score": "REAL",
    "mean_score": "REAL",
    "max_error": "REAL",
    "mean_error": "REAL",
    "started_at": "REAL",
    "finished_at": "REAL",
    "compute_s": "REAL",
    "wall_s": "REAL",
}
#: ``rows(order_by=...)`` keys: sorting by a score puts the worst clips first by default.
ORDER_KEYS = (
    "max_error",
    "mean_error",
    "max_score",
    "mean_score",
    "n_events",
    "frames",
    "clip",
    "camera",
    "folder",
    "status",
    "finished_at",
)
_DESCENDING_BY_DEFAULT = {
    "max_error",
    "mean_error",
    "max_score",
    "mean_score",
    "n_events",
    "frames",
    "finished_at",
}


RUN_COLUMNS = (
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "root",
    "checkpoint",
    "checkpoint_sha256",
    "settings",
    "summary",
)


def _schema() -> list[str]:
    columns = ",\n  ".join(
        f"{name} {_TYPES.get(name, 'TEXT')}"
        + (" PRIMARY KEY" if name == "clip" else "")
        + (" NOT NULL CHECK (status IN ('done', 'failed'))" if name == "status" else "")
        for name in COLUMNS
    )
    return [
        f"CREATE TABLE IF NOT EXISTS clips (\n  {columns}\n)",
        "CREATE INDEX IF NOT EXISTS clips_status ON clips (status)",
        "CREATE INDEX IF NOT EXISTS clips_max_error ON clips (max_error)",
        """CREATE TABLE IF NOT EXISTS runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at REAL NOT NULL,
  finished_at REAL,
  status TEXT NOT NULL,
  root TEXT NOT NULL,
  checkpoint TEXT,
  checkpoint_sha256 TEXT,
  settings TEXT,
  summary TEXT
)""",
    ]


def index_path(results: str | Path) -> Path:
    """``results/index.sqlite`` for a results folder; an ``.sqlite`` path is returned as is."""
    results = Path(results)
    return results if results.suffix in (".sqlite", ".db") else results / INDEX_NAME


class ResultsIndex:
    """A results index (see the module docstring); open it with ``ResultsIndex.open``."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly

    @property
    def results_dir(self) -> Path:
        """The folder holding the index and the scores files."""
        return self.path.parent

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, results: str | Path, readonly: bool = False) -> ResultsIndex:
        """Open (or, when writable, create) the index of a results folder.

        Raises:
            ResultsIndexError: the file is missing (read-only), not SQLite, or of a newer schema.
        """
        path = index_path(results)
        if readonly and not path.is_file():
            raise ResultsIndexError(path, "no results index here (run `vad batch score` first)")
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = None
        try:
            connection = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            connection.row_factory = sqlite3.Row
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                connection.close()
                raise ResultsIndexError(
                    path, f"written by a newer vad-review (schema {version}, this reads {SCHEMA_VERSION})"
                )
            _check_schema(connection, path)
            if not readonly:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process kills
                with _transaction(connection):
                    for statement in _schema():
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            else:
                connection.execute("PRAGMA query_only=ON")
                tables = {
                    r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if "clips" not in tables:
                    connection.close()
                    raise ResultsIndexError(path, "not a vad-review results index (no clips table)")
        except (sqlite3.DatabaseError, ResultsIndexError) as error:
            if connection is not None:
                connection.close()
            if isinstance(error, ResultsIndexError):
                raise
            raise ResultsIndexError(path, f"cannot open results index ({error})") from None
        return cls(connection, path, readonly)

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of one query; a database that breaks under it is a ``ResultsIndexError``."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            raise ResultsIndexError(self.path, f"cannot read the results index ({error})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading (GUI, report)
    def rows(
        self,
        order_by: str = "max_error",
        descending: bool | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[ClipRow]:
        """Clips sorted by ``order_by`` (one of ``ORDER_KEYS``; scores descending by default).

        Clips without a value (failed ones, for scores) come last; ties are broken by ``clip``.
        """
        if order_by not in ORDER_KEYS:
            raise ResultsIndexError(
                self.path, f"order_by must be one of {', '.join(ORDER_KEYS)}, found {order_by!r}"
            )
        if status is not None and status not in STATUSES:
            raise ResultsIndexError(self.path, f"status must be one of {STATUSES}, found {status!r}")
        if descending is None:
            descending = order_by in _DESCENDING_BY_DEFAULT
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT {', '.join(COLUMNS)} FROM clips"
        parameters: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            parameters.append(status)
        sql += f" ORDER BY {order_by} IS NULL, {order_by} {direction}, clip ASC"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(int(limit))
        return [_clip_row(r, self.path) for r in self._query(sql, parameters)]

    def get(self, clip: str) -> ClipRow | None:
        """The row of one clip, or None."""
        found = self._query(f"SELECT {', '.join(COLUMNS)} FROM clips WHERE clip = ?", (clip,))
        return _clip_row(found[0], self.path) if found else None

    def all_rows(self) -> dict[str, ClipRow]:
        """Every row by clip name (for the resume check)."""
        return {r.clip: r for r in self.rows(order_by="clip")}

    def counts(self) -> dict[str, int]:
        """``{"done": n, "failed": m}``."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self._query("SELECT status, COUNT(*) FROM clips GROUP BY status"):
            if status in counts:
                counts[status] = count
        return counts

    def scores_file(self, row: ClipRow) -> Path | None:
        """Absolute path of a done clip's scores ``.npz`` (open it with ``read_scores``)."""
        return self.results_dir / row.scores_path if row.scores_path else None

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, with ``settings`` and ``summary`` decoded."""
        out = []
        for r in self._query("SELECT * FROM runs ORDER BY run_id"):
            item = dict(r)
            for key in ("settings", "summary"):
                item[key] = _json_column(item[key], self.path, f"runs {item.get('run_id')}: {key}", dict)
            out.append(item)
        return out

    # ------------------------------------------------------------------ writing (the driver only)
    def put(self, row: ClipRow | Mapping[str, Any]) -> None:
        """Insert or replace one clip's row in its own transaction."""
        values = row.as_dict() if isinstance(row, ClipRow) else {name: row.get(name) for name in COLUMNS}
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS if name != "clip")
        with _transaction(self._db):
            self._db.execute(
                f"INSERT INTO clips ({names}) VALUES ({marks}) ON CONFLICT(clip) DO UPDATE SET {updates}",
                [values[name] for name in COLUMNS],
            )

    def start_run(
        self, root: str, checkpoint: str, checkpoint_sha256: str, settings: Mapping[str, Any]
    ) -> int:
        """Record a new run as ``running``; return its id.

        Runs still ``running`` are marked ``killed``: the caller holds the results lock, so they
        cannot be alive (their driver was killed before it could close them).
        """
        with _transaction(self._db):
            self._db.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
            cursor = self._db.execute(
                "INSERT INTO runs (started_at, status, root, checkpoint, checkpoint_sha256, settings) "
                "VALUES (?, 'running', ?, ?, ?, ?)",
                (time.time(), root, checkpoint, checkpoint_sha256, json.dumps(dict(settings), default=str)),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None:
        """Close a run with ``finished``, ``interrupted`` or ``failed`` and its summary."""
        with _transaction(self._db):
            self._db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
                (time.time(), status, json.dumps(dict(summary), default=str), run_id),
            )


def _check_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse an index whose ``clips`` or ``runs`` table lacks a column this version reads."""
    for table, needed in (("clips", COLUMNS), ("runs", RUN_COLUMNS)):
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        missing = [name for name in needed if name not in present]
        if present and missing:
            raise ResultsIndexError(
                path,
                f"not a vad-review results index: its {table} table has another schema "
                f"(no column {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})",
            )


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"INTEGER": (int,), "REAL": (int, float), "TEXT": (str,)}
_REQUIRED = {"clip", "status"}


def _clip_row(record: sqlite3.Row, path: Path) -> ClipRow:
    """A ``ClipRow`` from a database row, each column of its declared type (SQLite does not
    enforce them), its ``top_events`` a JSON list of events."""
    values = dict(record)
    clip = values.get("clip")
    for name in COLUMNS:
        value = values[name]
        expected = _TYPES.get(name, "TEXT")
        if value is None and name not in _REQUIRED:
            continue
        if isinstance(value, bool) or not isinstance(value, _PYTHON_TYPES[expected]):
            raise ResultsIndexError(
                path, f"clip {clip!r}: column {name}: expected {expected.lower()}, found {describe(value)}"
            )
    events = _json_column(values["top_events"], path, f"clip {clip!r}: top_events", list)
    for number, event in enumerate(events or []):
        item = Fields(event, path, ResultsIndexError, f"clip {clip!r}: top_events[{number}].")
        for name in ("start", "end", "peak_frame"):
            item.integer(name, minimum=0)
        for name in ("peak_score", "start_s", "end_s"):
            item.number(name)
    return ClipRow(**values)


def _json_column(text: Any, path: Path, where: str, kind: type) -> Any:
    """A JSON column (None when empty) through :mod:`vad_core.json_reading`, of type ``kind``."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ResultsIndexError(path, f"{where}: expected JSON text, found {describe(text)}")
    value = decode_json(text, f"{path} ({where})", ResultsIndexError, max_bytes=16 * 1024 * 1024)
    if not isinstance(value, kind):
        raise ResultsIndexError(path, f"{where}: expected a JSON {'list' if kind is list else 'object'}")
    return value


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on any exception."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def comparable(rows: Sequence[ClipRow]) -> list[dict[str, Any]]:
    """Rows without the timing and run columns, sorted by clip: equal for two runs with equal results."""
    return [
        {k: v for k, v in row.as_dict().items() if k not in TIMING_COLUMNS}
        for row in sorted(rows, key=lambda r: r.clip)
    ]


__all__ = [
    "COLUMNS",
    "ERROR_KINDS",
    "INDEX_NAME",
    "ORDER_KEYS",
    "SCHEMA_VERSION",
    "SCORES_DIR",
    "TIMING_COLUMNS",
    "ClipRow",
    "ResultsIndexError",
    "ResultsIndex",
    "comparable",
    "index_path",
]
