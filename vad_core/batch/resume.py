"""What makes a batch run resumable: one run per results folder, no half-written files, and the
rule deciding which clips an earlier run has already scored (``is_up_to_date``).

A clip is skipped when the index holds it with the same content hash, checkpoint SHA-256 and
settings hash, and either ``done`` with its scores file in place, or ``failed`` because its file
cannot be read (``error_kind="source"``, unless ``retry_failed``). Everything else is scored again:
clips never seen, changed, scored with another model or settings, done but missing their scores
file, or failed for any other reason (a worker died, a write failed).

Example::

    with results_lock(results), ResultsIndex.open(results) as index:
        remove_stale_temporaries(results / SCORES_DIR)
        skip = is_up_to_date(index.get(name), digest, sha256, settings, results, retry_failed=False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vad_core.batch.discover import ClipRef, content_hash
from vad_core.batch.index import ClipRow
from vad_core.errors import SourceError, VadError


def is_up_to_date(
    old: ClipRow | None,
    digest: str,
    checkpoint_sha256: str,
    settings: str,
    results: Path,
    retry_failed: bool,
) -> bool:
    """True when ``old``, the index's row of a clip now hashing to ``digest``, lets this run skip it."""
    same = (
        old is not None
        and old.content_hash == digest
        and old.checkpoint_sha256 == checkpoint_sha256
        and old.settings_hash == settings
    )
    if not same:
        return False
    if old.status == "done":
        return bool(old.scores_path) and (results / old.scores_path).is_file()
    return old.status == "failed" and old.error_kind == "source" and not retry_failed


def hash_all(clips: list[ClipRef], full: bool) -> dict[str, str | SourceError]:
    """Content hash of every clip (threads: the work is reading files), or the error reading it."""

    def one(clip: ClipRef) -> str | SourceError:
        try:
            return content_hash(clip, full)
        except SourceError as error:
            return error

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip((c.name for c in clips), pool.map(one, clips), strict=True))


@contextlib.contextmanager
def results_lock(results: Path) -> Iterator[None]:
    """Hold ``results/.lock`` for the run: two runs never write one index (released even on SIGKILL)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; SQLite still keeps the index whole
        yield
        return
    results.mkdir(parents=True, exist_ok=True)
    with open(results / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise VadError(results, "another `vad batch score` is writing these results") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def remove_stale_temporaries(scores_dir: Path) -> None:
    """Temporary files left by a run killed in the middle of writing a scores file."""
    if scores_dir.is_dir():
        for stale in scores_dir.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
