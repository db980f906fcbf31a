"""Where a video's label file lives, so the review window and the ``vad`` commands find the same file.

The rule: beside the video (``clip.avi`` -> ``clip.labels.json``, frame folder ``frames/01`` ->
``frames/01.labels.json``) when that folder may be written; otherwise (a read-only shared dataset)
in the user data folder, ``data_dir()/labels/<stem>-<hash>.labels.json``, where the hash is taken
from the video's full path so two ``01`` folders of different datasets do not collide. A label
file beside a read-only video is then the starting point (``seed``) and is never written. Videos
without a file (the built-in demo) get ``data_dir()/labels/<name>.labels.json``.

``label_location`` is what the window saves to; ``find_label_file`` is what a reader should open
(the window's copy when it exists, else the read-only file beside the video);
``resolve_label_argument`` lets a command take a video where it asks for a label file.

Example::

    path, seed = label_location(Path("/data/ped2/testing/frames/01"), "01")
    find_label_file("/data/ped2/testing/frames/01")   # what `vad labels show` opens for that clip
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from vad_core.errors import LabelFileError
from vad_core.labels.io import LABEL_SUFFIX, default_label_path

#: File types ``vad eval --labels`` and ``vad labels`` read as labels themselves (not as a video).
LABEL_FILE_SUFFIXES = (".json", ".csv", ".npy", ".txt", ".m", ".mat")


def folder_writable(folder: Path) -> bool:
    """True when we may create files in ``folder``.

    A folder without any write permission bit counts as read-only even for a superuser, who could
    write there anyway: a shared dataset marked read-only stays untouched.
    """
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(stat.S_IMODE(mode) & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def file_writable(path: Path) -> bool:
    """True when ``path`` does not exist yet or has a write permission bit."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o222)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def safe_stem(text: str) -> str:
    """``demo (synthetic)`` -> ``demo_synthetic``: a file-name part without separators."""
    cleaned = re.sub(r"[^\w.-]+", "_", text, flags=re.ASCII).strip("._-")
    return cleaned[:60] or "video"


def labels_folder() -> Path:
    """The user data folder's label files (read-only datasets, videos without a file)."""
    from vad_core.paths import data_dir

    return data_dir() / "labels"


def label_location(source_path: str | os.PathLike[str] | None, name: str = "") -> tuple[Path, Path | None]:
    """``(label file to save to, existing read-only label file to start from or None)``.

    ``source_path`` is the video file or frame folder (None for a video without a file, which is
    then known by ``name``). See the module docstring for the rule.
    """
    store = labels_folder()
    if source_path is None:
        return store / f"{safe_stem(name)}{LABEL_SUFFIX}", None
    source_path = Path(source_path)
    beside = default_label_path(source_path)
    if folder_writable(beside.parent) and file_writable(beside):
        return beside, None
    digest = hashlib.sha1(str(source_path.resolve()).encode("utf-8")).hexdigest()[:10]
    stem = beside.name[: -len(LABEL_SUFFIX)]
    return store / f"{safe_stem(stem)}-{digest}{LABEL_SUFFIX}", (beside if beside.is_file() else None)


def find_label_file(source_path: str | os.PathLike[str]) -> Path | None:
    """The label file the review window reads for this video, or None when it has none.

    The file the window saves to when it exists, else the read-only file beside the video that
    the window would start from.
    """
    path, seed = label_location(source_path)
    if path.is_file():
        return path
    return seed if seed is not None and seed.is_file() else None


def is_video_path(path: Path) -> bool:
    """A video file (by its extension) or a folder of frames (images, and no label files)."""
    from vad_core.sources.video_file import VIDEO_EXTENSIONS

    if path.is_file():
        return path.suffix.lower() in VIDEO_EXTENSIONS
    if not path.is_dir():
        return False
    from vad_core.errors import SourceError
    from vad_core.sources.image_files import list_images

    if any(p.suffix.lower() == ".json" for p in path.iterdir()):
        return False  # a folder of label files
    try:
        list_images(path)
    except SourceError:
        return False
    return True


def resolve_label_argument(path: str | os.PathLike[str]) -> Path:
    """``path`` itself when it is a label file (or anything but a video); for a video file or a frame
    folder, the label file the review window keeps for it (``find_label_file``).

    Raises ``LabelFileError`` naming the video and the places looked at when it has no label file.
    """
    path = Path(path)
    if path.suffix.lower() in LABEL_FILE_SUFFIXES or not is_video_path(path):
        return path
    found = find_label_file(path)
    if found is not None:
        return found
    saved, _seed = label_location(path)
    places = sorted({str(default_label_path(path)), str(saved)})
    raise LabelFileError(path, f"no label file for this video (looked for {' and '.join(places)})")


__all__ = [
    "LABEL_FILE_SUFFIXES",
    "file_writable",
    "find_label_file",
    "folder_writable",
    "is_video_path",
    "label_location",
    "labels_folder",
    "resolve_label_argument",
    "safe_stem",
]
