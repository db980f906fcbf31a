"""Typed errors of the engine.

Every error names the file (or object) it is about and the problem, so that the CLI can print
``str(error)`` on one line and the GUI can show it in a short dialog without a traceback.

Example::

    try:
        source = open_source("missing.avi")
    except SourceError as error:
        print(error)            # "missing.avi: no such file or folder"
"""

from __future__ import annotations

from os import PathLike


class VadError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, where: str | PathLike[str] | None, problem: str) -> None:
        self.where = None if where is None else str(where)
        self.problem = problem
        super().__init__(problem if self.where is None else f"{self.where}: {problem}")


class SourceError(VadError):
    """A video file, frame folder or image folder cannot be opened or read."""


class GroundTruthError(VadError):
    """A ground-truth file (.m ranges, .mat labels, masks, CSV intervals) is missing or malformed."""


class DatasetError(VadError):
    """A dataset folder does not have the layout its reader expects."""


class ClipNotFoundError(DatasetError, KeyError):
    """A dataset has no clip of the name asked for (a ``KeyError`` too, for ``dataset.clip`` callers)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


class CheckpointError(VadError):
    """A checkpoint is missing, truncated, or does not fit the architecture it is loaded into."""


class ConfigError(VadError):
    """A configuration value is out of range or inconsistent."""


class LabelFileError(VadError):
    """A label document cannot be read, validated or written."""


class LabelVersionError(LabelFileError):
    """A label file was written by a newer vad-review (a format version this one cannot read)."""


class LabelEditError(VadError):
    """A label edit does not fit the document (frame outside the video, unknown interval id, ...)."""


class ScoresFileError(VadError):
    """A scores file (.npz / .csv written by ``vad score``) is missing or malformed."""


class ExportError(VadError):
    """An incident clip or its sidecar cannot be written."""


class Cancelled(Exception):  # a signal, not an error condition
    """Raised inside long jobs when the caller asked them to stop."""
