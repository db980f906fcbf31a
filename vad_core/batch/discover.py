"""Finding the clips of a footage archive: video files and frame folders under a root, with content hashes.

A *clip* is either a video file (by extension, ``VIDEO_EXTENSIONS``) or a *frame folder*: a folder
that directly holds at least ``min_images`` image files (``IMAGE_EXTENSIONS``). The walk is
recursive and sorted, skips hidden files and folders (names starting with ``.``) and any path that
matches an ``exclude`` pattern (``fnmatch`` on the relative path, e.g. ``"*_gt"`` for UCSD's
ground-truth masks). Each clip gets a stable name: its path relative to the root, with ``/``
separators, the same on every machine and every run.

The *content hash* decides whether a clip scored before can be skipped (``vad batch score`` is
resumable). It must change whenever the frames change, and it must be fast on weeks of footage,
so by default it samples instead of reading every byte:

* video file: SHA-256 of the file size, the first and the last MiB, and 16 blocks of 64 KiB at
  evenly spaced offsets. A re-encode, a cut, an append or a rewritten header changes it. Not
  included: the modification time, so copying or moving an archive keeps its hashes. Blind spot:
  an edit inside the file that keeps its size and misses every sampled block (compressed video
  practically never does that); ``full=True`` (CLI ``--full-hash``) hashes every byte instead.
* frame folder: SHA-256 of every image's name, size and modification time (nanoseconds), in
  natural order, plus the bytes of the first and the last image. Uncompressed frames (UCSD's
  ``.tif``) keep their size when rewritten, so the modification time is what catches an edited
  frame; the price is that a copy which does not keep modification times (``cp`` without ``-p``;
  ``rsync -a`` and ``cp -p`` keep them) is scored again. ``full=True`` hashes every image's bytes.

Example::

    clips = discover_clips("/archive/site7", exclude=["*_gt"])
    for clip in clips:
        print(clip.name, clip.kind, content_hash(clip))
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vad_core.errors import SourceError
from vad_core.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, natural_key

MIN_IMAGES = 2  # our choice: a folder with one image is a still, not a clip
_EDGE_BYTES = 1 << 20  # first and last MiB of a video
_SAMPLES = 16  # evenly spaced blocks inside a video
_SAMPLE_BYTES = 64 << 10
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class ClipRef:
    """One clip found under the root: stable relative name, absolute path, ``video`` or ``frames``."""

    name: str  # relative to the root, "/"-separated: "cam03/2024-05-01/0800.avi"
    path: Path  # absolute
    kind: str  # "video" | "frames"

    @property
    def folder(self) -> str:
        """Relative folder holding the clip (``""`` at the root): what the triage table groups by."""
        parent = str(PurePosixPath(self.name).parent)
        return "" if parent == "." else parent

    @property
    def camera(self) -> str:
        """First component of the relative name (one folder per camera is the usual archive layout)."""
        parts = PurePosixPath(self.name).parts
        return parts[0] if len(parts) > 1 else ""


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _excluded(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)


def discover_clips(
    root: str | Path,
    min_images: int = MIN_IMAGES,
    exclude: Iterable[str] = (),
    skip: Iterable[str | Path] = (),
) -> list[ClipRef]:
    """Every video file and frame folder under ``root``, sorted by name (see the module docstring).

    Args:
        root: the archive folder (or one video file or frame folder, which is then the only clip).
        min_images: a folder is a frame folder when it directly holds at least this many images.
        exclude: ``fnmatch`` patterns matched against relative paths and plain names.
        skip: folders never entered (the results folder, when it lies inside the archive).

    Raises:
        SourceError: ``root`` does not exist.
    """
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise SourceError(root, "no such file or folder")
    if min_images < 1:
        raise SourceError(root, f"min_images must be >= 1, found {min_images}")
    patterns = list(exclude)
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTENSIONS:
            raise SourceError(root, f"not a video file (expected one of {', '.join(VIDEO_EXTENSIONS)})")
        return [ClipRef(root.name, root, "video")]
    skipped = {Path(p).expanduser().resolve() for p in skip}
    clips: list[ClipRef] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        relative_here = here.relative_to(root).as_posix()
        prefix = "" if relative_here == "." else relative_here + "/"
        dirs[:] = sorted(
            (
                d
                for d in dirs
                if not _hidden(d)
                and (here / d).resolve() not in skipped
                and not _excluded(prefix + d, patterns)
            ),
            key=natural_key,
        )
        images = 0
        for name in sorted(files, key=natural_key):
            if _hidden(name):
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_EXTENSIONS:
                images += 1
            elif suffix in VIDEO_EXTENSIONS and not _excluded(prefix + name, patterns):
                clips.append(ClipRef(prefix + name, here / name, "video"))
        if images >= min_images and prefix:  # the root itself holding frames: name it after itself
            clips.append(ClipRef(relative_here, here, "frames"))
        elif images >= min_images:
            clips.append(ClipRef(root.name, root, "frames"))
    return sorted(clips, key=lambda c: natural_key(c.name))


def _update_block(digest, handle, offset: int, length: int) -> None:
    handle.seek(offset)
    digest.update(handle.read(length))


def _hash_video(path: Path, full: bool) -> str:
    digest = hashlib.sha256(b"vad-review video v1\0")
    size = path.stat().st_size
    digest.update(str(size).encode() + b"\0")
    with open(path, "rb") as handle:
        if full or size <= 2 * _EDGE_BYTES + _SAMPLES * _SAMPLE_BYTES:
            while block := handle.read(_READ_BLOCK):
                digest.update(block)
            return digest.hexdigest()
        _update_block(digest, handle, 0, _EDGE_BYTES)
        middle = size - 2 * _EDGE_BYTES - _SAMPLE_BYTES
        for i in range(_SAMPLES):
            _update_block(digest, handle, _EDGE_BYTES + middle * i // (_SAMPLES - 1), _SAMPLE_BYTES)
        _update_block(digest, handle, size - _EDGE_BYTES, _EDGE_BYTES)
    return digest.hexdigest()


def _hash_frames(folder: Path, full: bool) -> str:
    digest = hashlib.sha256(b"vad-review frames v1\0")
    images = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not _hidden(p.name)
        ),
        key=lambda p: natural_key(p.name),
    )
    for image in images:
        stat = image.stat()
        digest.update(f"{image.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for image in images if full else images[:1] + images[-1:]:
        digest.update(image.read_bytes())
    return digest.hexdigest()


def content_hash(clip: ClipRef, full: bool = False) -> str:
    """Hex SHA-256 identifying the clip's content (see the module docstring for what it reads).

    Raises:
        SourceError: the file or folder cannot be read.
    """
    try:
        return _hash_frames(clip.path, full) if clip.kind == "frames" else _hash_video(clip.path, full)
    except OSError as error:
        raise SourceError(clip.path, f"cannot read for hashing ({error.strerror or error})") from None


__all__ = ["MIN_IMAGES", "ClipRef", "content_hash", "discover_clips"]
