"""What a watch run leaves in its folder as it goes: ``events.jsonl`` and the rolling ``scores.csv``.

* ``events.jsonl``: one JSON object per line (closed events, gaps, start and end of each stream).
  Each line is written by one ``write`` on a file opened for appending, then fsynced, so a kill
  leaves every earlier line whole; :func:`read_journal` skips a torn last line if there ever is one.
* ``scores.csv``: ``time, stream, frame, error, score, latency_ms`` per scored frame, flushed
  after each batch; when it passes ``max_bytes`` it is renamed to ``scores.1.csv`` (the previous
  one dropped) and a new one begins, so it never grows without bound.

Example::

    journal = EventJournal(out / "events.jsonl")
    journal.append({"kind": "event", "stream": "cam0", "start_frame": 120})
    lines = read_journal(out / "events.jsonl")
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from vad_core.errors import ExportError

SCORES_HEADER = "time,stream,frame,error,score,latency_ms\n"


def iso_utc(wall: float) -> str:
    """``time.time()`` as ISO 8601 UTC with milliseconds."""
    moment = _dt.datetime.fromtimestamp(wall, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventJournal:
    """Appends JSON lines to one file, one ``write`` + ``fsync`` each, from any thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ExportError(
                self.path.parent, f"cannot create the folder ({error.strerror or error})"
            ) from None

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, default=_plain) + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as error:
                raise ExportError(self.path, f"cannot append ({error.strerror or error})") from None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """The records of an ``events.jsonl``; a torn (unterminated, unparsable) last line is skipped."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
    records = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) - 1:  # the last line, cut by a kill: not a record yet
                break
            raise ExportError(path, f"line {number + 1} is not JSON") from None
    return records


class ScoresLog:
    """The rolling ``scores.csv`` (see the module docstring); thread-safe."""

    def __init__(self, path: str | Path, max_bytes: int = 64 << 20) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._handle = None
        self._open()

    def _open(self) -> None:
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self._handle = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115 (held open)
        if fresh:
            self._handle.write(SCORES_HEADER)

    def write(self, rows: list[tuple[float, str, int, float, float, float]]) -> None:
        """Rows of ``(wall time, stream, frame, error, score, latency in seconds)``."""
        if not rows:
            return
        text = "".join(
            f"{iso_utc(wall)},{stream},{frame},{_num(error)},{_num(score)},{latency * 1000:.1f}\n"
            for wall, stream, frame, error, score, latency in rows
        )
        with self._lock:
            if self._handle is None:
                return
            self._handle.write(text)
            self._handle.flush()
            if self._handle.tell() > self.max_bytes:
                self._roll()

    def _roll(self) -> None:
        self._handle.close()
        os.replace(self.path, self.path.with_name(self.path.stem + ".1" + self.path.suffix))
        self._open()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _num(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"
