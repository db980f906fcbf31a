"""Writing files so that a crash, a kill or a full disk never leaves a half-written file.

Every file the engine writes for the user (label documents, checkpoints, scores, cache entries,
exports) goes through ``atomic_writer``: a temporary file beside the target, flushed and fsynced,
then renamed over the target (atomic on POSIX and Windows), then the folder fsynced.

Example::

    with atomic_writer("labels.json") as handle:
        handle.write(text.encode())
    atomic_write_bytes("model.json", data)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be fsynced)."""
    if sys.platform.startswith("win"):
        return  # folders cannot be opened for fsync on Windows; NTFS journals the rename
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


STALE_TEMP_S = 60.0  # our choice: a write holds its temporary for milliseconds, never a minute


def remove_stale_temporaries(target: str | os.PathLike[str], older_than: float = STALE_TEMP_S) -> int:
    """Remove the temporaries of ``target`` (``.<name>.<8 hex>.tmp``, see :func:`open_temp`) older than
    ``older_than`` seconds: what a writer killed between writing and renaming left. Returns how many."""
    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{8}}\.tmp$")
    removed = 0
    try:
        candidates = [p for p in target.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return 0
    now = time.time()
    for path in candidates:
        try:
            if now - path.stat().st_mtime > older_than:
                path.unlink()
                removed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


def open_temp(target: str | os.PathLike[str]) -> tuple[int, Path]:
    """A new temporary file ``.<name>.<random>.tmp`` beside ``target``, opened for writing.

    Unlike ``tempfile.mkstemp`` it gets the usual permissions (0666 less the umask), so a file
    written through it is as readable as any other file the user saves.
    """
    target = Path(target)
    for _ in range(100):
        path = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{target}: no free temporary name")  # pragma: no cover


@contextlib.contextmanager
def atomic_writer(
    target: str | os.PathLike[str], before_rename: Callable[[Path], None] | None = None
) -> Iterator[BinaryIO]:
    """Yield a binary handle; on a clean exit its content replaces ``target`` all at once.

    On any exception the temporary file is removed and ``target`` is left as it was. OSErrors
    propagate: callers turn them into their own typed error naming the file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = open_temp(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # keep the user's permissions on the new version
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        if before_rename is not None:
            before_rename(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def atomic_write_bytes(
    target: str | os.PathLike[str], data: bytes, before_rename: Callable[[Path], None] | None = None
) -> None:
    """Replace ``target`` with ``data`` atomically (see ``atomic_writer``)."""
    with atomic_writer(target, before_rename) as handle:
        handle.write(data)
