"""The values of a label document: :class:`LabelInterval`, :class:`VideoInfo`, their field limits,
and the helpers that make field values (ids, tags, time stamps, the author).

Frames are 0-based and intervals half-open, ``[start, end)``; see :mod:`vad_core.labels.document`.

Example::

    interval = LabelInterval(new_interval_id(), 60, 120, tag=clean_tag(" bike\n"), edited=now_iso())
    interval.last, interval.duration            # 119, 60
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

#: An interval's kinds: a labelled incident, or a reviewed negative (rejected false alarm).
KINDS = ("anomaly", "normal")
#: Where an interval came from: drawn by hand, accepted/rejected model event, imported ground truth.
ORIGINS = ("manual", "event", "import")
MAX_TAG_LENGTH = 64
MAX_NOTE_LENGTH = 10_000


def now_iso() -> str:
    """The current UTC time as ``2025-01-31T12:34:56Z``, the form every time stamp of a label file uses."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_author() -> str:
    """The operator's login name, or ``""`` where the system cannot tell."""
    try:
        return getpass.getuser()
    except Exception:  # no user name is not an error worth reporting
        return ""


def new_interval_id(taken: Iterable[str] = ()) -> str:
    """A fresh 8-hex-digit id not in ``taken``."""
    used = set(taken)
    while True:
        candidate = uuid.uuid4().hex[:8]
        if candidate not in used:
            return candidate


def clean_tag(tag: str) -> str:
    """``tag`` stripped, NFC-normalised, with control characters and line breaks removed."""
    text = unicodedata.normalize("NFC", str(tag))
    text = "".join(
        " " if ch.isspace() else ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace()
    )
    return " ".join(text.split())


@dataclass(frozen=True)
class LabelInterval:
    """One labelled interval ``[start, end)`` of a video.

    ``kind`` is ``"anomaly"`` or ``"normal"`` (a reviewed negative); ``origin`` says whether it was
    drawn by hand (``"manual"``), came from a model event (``"event"``) or from imported ground
    truth (``"import"``); ``edited`` is the UTC time of the last edit, ``author`` who made it.
    """

    id: str
    start: int
    end: int  # exclusive
    kind: str = "anomaly"
    tag: str = ""
    note: str = ""
    author: str = ""
    edited: str = ""
    origin: str = "manual"

    @property
    def last(self) -> int:
        """The last frame of the interval (inclusive), ``end - 1``."""
        return self.end - 1

    @property
    def duration(self) -> int:
        """Length in frames."""
        return self.end - self.start

    @property
    def is_anomaly(self) -> bool:
        return self.kind == "anomaly"

    def contains(self, frame: int) -> bool:
        """True when ``frame`` lies in ``[start, end)``."""
        return self.start <= frame < self.end

    def overlaps(self, start: int, end: int) -> bool:
        """True when the interval shares at least one frame with ``[start, end)``."""
        return self.start < end and start < self.end

    def seconds(self, fps: float) -> tuple[float, float]:
        """Start and (exclusive) end in seconds at ``fps``."""
        return self.start / fps, self.end / fps

    def replace(self, **changes: object) -> LabelInterval:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def sort_key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.id)


@dataclass(frozen=True)
class VideoInfo:
    """Which video a document labels. ``frame_count`` / ``fps`` / ``sha256`` are None when unknown."""

    name: str = ""
    path: str = ""
    frame_count: int | None = None
    fps: float | None = None
    sha256: str | None = None
