"""Saving and loading label files without ever losing the operator's work.

* **Atomic writes.** Every write goes to a temporary file in the same folder, is flushed and
  fsync'ed, then renamed over the target (``os.replace``), and the folder is fsync'ed. A crash or a
  kill at any moment leaves either the old file or the new one, whole. Before the label file is
  replaced, its previous version is copied (atomically too) to ``<file>.bak``.
* **Conflicts.** A :class:`LabelStore` remembers the file's :class:`FileStamp` (mtime, size,
  SHA-256) when it loads or saves it. If the file's content changed on disk since (another window,
  another program), saving raises :class:`LabelConflictError` and writes nothing, unless
  ``force=True``. The GUI asks the operator: overwrite, reload, or save elsewhere.
* **Crash recovery.** While a document has unsaved edits the GUI writes a *journal*,
  ``<file>.<session>.autosave`` (the same JSON plus an ``autosave_of`` record: which file, the
  SHA-256 of the version it was based on, the writer's process id). A clean save removes it;
  :func:`find_recoveries` lists the journals a crashed session left, so the next start can offer
  to restore them, and tells apart journals of a window that is still open.
* **Background writes.** :class:`AutosaveWriter` writes on one thread, coalesces bursts (a newer
  request for the same file replaces a pending one, so the latest state wins) and reports
  ``(request_id, revision, error)`` through a callback. Requests carry text serialised on the
  caller's thread; the worker never touches the live document (nor Qt).

Example::

    store, doc = LabelStore.open("clip.labels.json")
    writer = AutosaveWriter(callback=lambda rid, rev, err: print(rid, rev, err))
    ...                                             # after each edit:
    writer.submit(store.journal_request(doc))       # crash safety, immediately
    writer.submit(store.save_request(doc))          # the label file itself
    writer.close()                                  # flushes
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vad_core.atomic_io import atomic_write_bytes as _atomic_write_bytes
from vad_core.atomic_io import file_sha256, open_temp, remove_stale_temporaries
from vad_core.errors import LabelFileError
from vad_core.labels.document import LabelDocument
from vad_core.labels.interval import now_iso
from vad_core.labels.schema import decode, dumps, parse_document

BACKUP_SUFFIX = ".bak"
JOURNAL_SUFFIX = ".autosave"

#: Test hook: called with the temporary file's path after it is fsync'ed and before the rename.
_before_rename: Callable[[Path], None] | None = None


class LabelConflictError(LabelFileError):
    """The label file changed on disk since it was loaded or saved; nothing was written."""

    def __init__(
        self, where: object, problem: str, found: FileStamp | None, expected: FileStamp | None
    ) -> None:
        super().__init__(str(where), problem)
        self.found = found
        self.expected = expected


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStamp:
    """What a file looked like: modification time (ns), size and SHA-256 of its content."""

    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStamp | None:
        """The stamp of ``path`` now, or None when there is no such file."""
        try:
            data, stat = _read_with_stat(Path(path))
        except FileNotFoundError:
            return None
        return cls(stat.st_mtime_ns, stat.st_size, hashlib.sha256(data).hexdigest())


def _read_with_stat(path: Path) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        return handle.read(), stat


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` via a temporary file, fsync and rename: all or nothing.

    Raises ``LabelFileError`` naming the target when the folder is missing, read-only or full.
    """
    try:
        _atomic_write_bytes(target, data, before_rename=_before_rename)
    except OSError as error:
        raise LabelFileError(target, f"cannot write ({error.strerror or error})") from None


def backup_path(path: str | os.PathLike[str]) -> Path:
    """``labels.json`` -> ``labels.json.bak``: the version before the last save."""
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def read_document(path: str | os.PathLike[str]) -> tuple[LabelDocument, FileStamp]:
    """Load and validate a label file; returns the document and the stamp of what was read.

    Never writes. Raises ``LabelFileError`` naming the file for a missing, unreadable or invalid
    file (``LabelVersionError`` for a newer format), with a hint when a ``.bak`` is there.
    """
    path = Path(path)
    try:
        data, stat = _read_with_stat(path)
    except FileNotFoundError:
        raise LabelFileError(path, "no such label file") from None
    except IsADirectoryError:
        raise LabelFileError(path, "is a folder, expected a label file (.json)") from None
    except OSError as error:
        raise LabelFileError(path, f"cannot read ({error.strerror or error})") from None
    try:
        doc = parse_document(decode(data, path), path)
    except LabelFileError as error:
        backup = backup_path(path)
        if backup.is_file() and type(error) is LabelFileError:
            raise LabelFileError(
                path, f"{error.problem} (the previous version is kept in {backup.name})"
            ) from None
        raise
    return doc, FileStamp(stat.st_mtime_ns, stat.st_size, hashlib.sha256(data).hexdigest())


def load_document(path: str | os.PathLike[str]) -> LabelDocument:
    """Load and validate a label file (see :func:`read_document`)."""
    return read_document(path)[0]


def write_text(
    path: str | os.PathLike[str],
    text: str,
    expected: FileStamp | None,
    force: bool = False,
    backup: bool = True,
) -> FileStamp:
    """Write label-file ``text`` to ``path`` atomically, unless the file changed since ``expected``.

    ``expected`` is the stamp of the version this text was edited from, or None when the caller
    believes there is no file yet. A file whose content differs from ``expected`` (or that appeared
    although none was expected) raises :class:`LabelConflictError` and nothing is written, unless
    ``force``. With ``backup`` the previous version is copied to ``<file>.bak`` first.
    """
    path = Path(path)
    data = text.encode("utf-8")
    try:
        old, stat = _read_with_stat(path)
    except FileNotFoundError:
        old, stat = None, None
    except OSError as error:
        raise LabelFileError(path, f"cannot read before saving ({error.strerror or error})") from None
    if old is not None and stat is not None:
        found = FileStamp(stat.st_mtime_ns, stat.st_size, hashlib.sha256(old).hexdigest())
        if not force and (expected is None or found.sha256 != expected.sha256):
            problem = (
                "already exists; open it, or overwrite it on purpose"
                if expected is None
                else "changed on disk since it was opened (another window or program saved it); "
                "reload it, or overwrite it on purpose"
            )
            raise LabelConflictError(path, problem, found, expected)
        if backup and found.sha256 != hashlib.sha256(data).hexdigest():
            atomic_write_bytes(backup_path(path), old)
    atomic_write_bytes(path, data)
    try:
        stat = path.stat()
    except OSError:  # pragma: no cover - just written
        return FileStamp(0, len(data), hashlib.sha256(data).hexdigest())
    return FileStamp(stat.st_mtime_ns, stat.st_size, hashlib.sha256(data).hexdigest())


def save_document(
    doc: LabelDocument,
    path: str | os.PathLike[str],
    expected: FileStamp | None = None,
    force: bool = False,
    backup: bool = True,
) -> FileStamp:
    """Serialise ``doc`` and write it with :func:`write_text` (conflict check, ``.bak``, atomic)."""
    return write_text(path, dumps(doc, saved=now_iso()), expected, force, backup)


# ---------------------------------------------------------------------------------------------
# Crash-recovery journals
# ---------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    """True when process ``pid`` runs on this machine (best effort; never signals or kills it)."""
    if pid <= 0:
        return False
    if sys.platform.startswith("win"):
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)  # signal 0 only checks existence on POSIX
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Recovery:
    """An autosave journal found next to a label file.

    ``live`` is True when the session that writes it is still running on this machine (the file is
    open in another window): do not offer to restore it, warn instead. ``base_matches`` tells
    whether the label file still holds the version the journal's edits started from; when False
    the file changed since, and restoring means choosing between the two.
    """

    journal: Path
    label_file: Path
    written: str
    revision: int
    base_sha256: str | None
    base_matches: bool
    pid: int | None
    host: str
    live: bool

    def load(self) -> LabelDocument:
        """The journal's document (validated like a label file)."""
        return read_document(self.journal)[0]

    def discard(self) -> None:
        """Delete the journal."""
        self.journal.unlink(missing_ok=True)


def journal_paths(path: str | os.PathLike[str]) -> list[Path]:
    """The autosave journals next to label file ``path``, any session."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    prefix = path.name + "."
    return sorted(
        p
        for p in path.parent.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(JOURNAL_SUFFIX) and p.is_file()
    )


def find_recoveries(path: str | os.PathLike[str], own_session: str | None = None) -> list[Recovery]:
    """Journals left next to label file ``path`` (newest first), except ``own_session``'s.

    Unreadable journals are skipped (a journal is written atomically, so one is unreadable only
    if something else damaged it).
    """
    path = Path(path)
    current = FileStamp.of(path)
    host = socket.gethostname()
    found: list[Recovery] = []
    for journal in journal_paths(path):
        session = journal.name[len(path.name) + 1 : -len(JOURNAL_SUFFIX)]
        if own_session is not None and session == own_session:
            continue
        try:
            data = decode(journal.read_bytes(), journal)
        except (OSError, LabelFileError):
            continue
        info = data.get("autosave_of") if isinstance(data.get("autosave_of"), dict) else {}
        pid = info.get("pid") if isinstance(info.get("pid"), int) else None
        journal_host = str(info.get("host", ""))
        base = info.get("base_sha256") if isinstance(info.get("base_sha256"), str) else None
        base_matches = (current is None and base is None) or (current is not None and current.sha256 == base)
        # A journal of this very process belongs to another open window of it: live too.
        live = pid is not None and journal_host == host and (pid == os.getpid() or _pid_alive(pid))
        found.append(
            Recovery(
                journal=journal,
                label_file=path,
                written=str(info.get("written", "")),
                revision=int(info.get("revision", 0)) if isinstance(info.get("revision"), int) else 0,
                base_sha256=base,
                base_matches=base_matches,
                pid=pid,
                host=journal_host,
                live=live,
            )
        )
    found.sort(key=lambda r: r.written, reverse=True)
    return found


# ---------------------------------------------------------------------------------------------
# The store: one label file as seen by one window
# ---------------------------------------------------------------------------------------------


class LabelStore:
    """One label file as one window sees it: its last known stamp, its journal, its saves.

    Thread-safe for one background writer plus the GUI thread: writes take an internal lock, and
    each write checks the file against the stamp of *this store's* last load or save.

    Attributes:
        path: the label file.
        stamp: the file as last loaded or saved by this store (None: no file yet).
        saved_revision: the document revision last written to ``path`` (-1 when none).
        session: this store's journal name part (``labels.json.<session>.autosave``).
    """

    def __init__(self, path: str | os.PathLike[str], stamp: FileStamp | None = None) -> None:
        self.path = Path(path)
        self._remove_stale_temporaries()
        self.stamp = stamp
        self.saved_revision = -1
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._journal_revision: int | None = None
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> tuple[LabelStore, LabelDocument]:
        """Load ``path``; the store remembers the stamp of what it read."""
        doc, stamp = read_document(path)
        store = cls(path, stamp)
        store.saved_revision = doc.revision
        return store, doc

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> LabelStore:
        """A store for a label file that does not exist yet (saving refuses to replace one that appears)."""
        return cls(path, None)

    @property
    def backup_path(self) -> Path:
        return backup_path(self.path)

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.{self.session}{JOURNAL_SUFFIX}")

    def changed_on_disk(self) -> bool:
        """True when the file's content is no longer what this store last loaded or saved."""
        current = FileStamp.of(self.path)
        if current is None or self.stamp is None:
            return (current is None) != (self.stamp is None)
        return current.sha256 != self.stamp.sha256

    def reload(self) -> LabelDocument:
        """Load the file again (after a conflict, to take the other version); updates the stamp.

        The reloaded document starts again at revision 0; this store's journal (if any) stays on
        disk until the next journal write or save replaces or removes it.
        """
        with self._lock:
            doc, stamp = read_document(self.path)
            self.stamp = stamp
            self.saved_revision = doc.revision
            self._journal_revision = None
            return doc

    def other_sessions(self) -> list[Recovery]:
        """Journals of other windows that have this file open now (``live``): warn at open."""
        return [r for r in find_recoveries(self.path, self.session) if r.live]

    def recoveries(self) -> list[Recovery]:
        """Journals a crashed or killed session left (not live, not this store's own)."""
        return [r for r in find_recoveries(self.path, self.session) if not r.live]

    # ---------------------------------------------------------------- saving
    def save(self, doc: LabelDocument, force: bool = False) -> FileStamp:
        """Save ``doc`` now (conflict check, ``.bak``, atomic); removes this store's journal."""
        return self._write_file(dumps(doc, saved=now_iso()), doc.revision, force)

    def save_as(self, doc: LabelDocument, path: str | os.PathLike[str], force: bool = False) -> FileStamp:
        """Save to another file (refuses to replace an existing one unless ``force``); the store moves there."""
        with self._lock:
            old_journal = self.journal_path
            stamp = write_text(path, dumps(doc, saved=now_iso()), None, force, backup=True)
            self.path, self.stamp, self.saved_revision = Path(path), stamp, doc.revision
            old_journal.unlink(missing_ok=True)
            self._journal_revision = None
            return stamp

    def save_request(self, doc: LabelDocument, force: bool = False) -> SaveRequest:
        """A snapshot of ``doc`` for :class:`AutosaveWriter` that saves the label file."""
        return SaveRequest(self, "file", dumps(doc, saved=now_iso()), doc.revision, force)

    def journal_request(self, doc: LabelDocument) -> SaveRequest:
        """A snapshot of ``doc`` for :class:`AutosaveWriter` that writes this session's journal."""
        return SaveRequest(self, "journal", self._journal_text(doc), doc.revision, False)

    def write_journal(self, doc: LabelDocument) -> Path:
        """Write the crash-recovery journal now."""
        self._write_journal(self._journal_text(doc), doc.revision)
        return self.journal_path

    def discard_journal(self) -> None:
        """Remove this store's journal (on a clean close, or when the operator discards the edits)."""
        with self._lock:
            self.journal_path.unlink(missing_ok=True)
            self._journal_revision = None

    def _journal_text(self, doc: LabelDocument) -> str:
        extra = {
            "autosave_of": {
                "file": self.path.name,
                "base_sha256": self.stamp.sha256 if self.stamp else None,
                "revision": doc.revision,
                "written": now_iso(),
                "pid": os.getpid(),
                "host": socket.gethostname(),
            }
        }
        return dumps(doc, saved=None, extra=extra)

    def _remove_stale_temporaries(self) -> None:
        """Temporaries of the file and its backup that a save killed before its rename left."""
        for target in (self.path, backup_path(self.path)):
            remove_stale_temporaries(target)

    def _write_file(self, text: str, revision: int, force: bool) -> FileStamp:
        with self._lock:
            self._remove_stale_temporaries()
            stamp = write_text(self.path, text, self.stamp, force, backup=True)
            self.stamp = stamp
            self.saved_revision = revision
            if self._journal_revision is None or self._journal_revision <= revision:
                self.journal_path.unlink(missing_ok=True)
                self._journal_revision = None
            return stamp

    def _write_journal(self, text: str, revision: int) -> bool:
        with self._lock:
            stale = self._journal_revision is not None and revision < self._journal_revision
            if revision <= self.saved_revision or stale:
                return False  # already in the label file, or a newer journal is on disk
            atomic_write_bytes(self.journal_path, text.encode("utf-8"))
            self._journal_revision = revision
            return True

    def __repr__(self) -> str:
        return f"LabelStore({str(self.path)!r}, saved_revision={self.saved_revision})"


def restore_recovery(recovery: Recovery, store: LabelStore) -> LabelDocument:
    """The journal's document, to continue editing in ``store``'s window; the old journal is removed.

    The store is pointed at the version the journal's edits started from, so the caller's next save
    (``store.save``) raises :class:`LabelConflictError` when the label file changed since then
    (``recovery.base_matches`` is False), and the operator chooses.
    """
    doc = recovery.load()
    if not recovery.base_matches:
        base = recovery.base_sha256
        store.stamp = None if base is None else FileStamp(0, 0, base)
    doc.revision = max(store.saved_revision, recovery.revision) + 1  # unsaved: newer than the file
    store.write_journal(doc)
    recovery.discard()
    return doc


# ---------------------------------------------------------------------------------------------
# The background writer
# ---------------------------------------------------------------------------------------------


_request_ids = itertools.count(1)


@dataclass(frozen=True, eq=False)
class SaveRequest:
    """Text to write for one store: the label file (``kind="file"``) or its journal (``"journal"``)."""

    store: LabelStore
    kind: str
    text: str
    revision: int
    force: bool = False

    def execute(self) -> None:
        """Write now, on the calling thread."""
        if self.kind == "file":
            self.store._write_file(self.text, self.revision, self.force)
        elif self.kind == "journal":
            self.store._write_journal(self.text, self.revision)
        else:  # pragma: no cover - built by LabelStore only
            raise ValueError(f"unknown save request kind {self.kind!r}")

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.store.path), self.kind)


#: ``callback(request_id, revision, error)``; ``error`` is None after a successful write.
SaveCallback = Callable[[int, int, "BaseException | None"], None]


class AutosaveWriter:
    """Writes save requests on one background thread, latest state first.

    ``submit`` returns at once. A request replaces a pending (not yet started) one for the same
    file and kind, so a burst of edits becomes one write of the newest state; a replaced request is
    never reported (the one that replaced it has a higher revision). After each write the callback
    runs *on the writer thread* with ``(request_id, revision, error)``: a Qt wrapper re-emits it as
    a signal so slots run on the GUI thread. ``delay`` (seconds) waits after a submit before
    writing, to gather a burst.
    """

    def __init__(self, callback: SaveCallback | None = None, delay: float = 0.0) -> None:
        self._callback = callback
        self._delay = float(delay)
        self._pending: dict[tuple[str, str], tuple[int, SaveRequest, float]] = {}
        self._busy = False
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="label-autosave", daemon=True)
        self._thread.start()

    def submit(self, request: SaveRequest) -> int:
        """Queue ``request`` (replacing a pending one for the same target); returns its id."""
        request_id = next(_request_ids)
        with self._cond:
            if self._closing:
                raise LabelFileError(request.store.path, "the autosave writer is closed")
            self._pending[request.key] = (request_id, request, time.monotonic() + self._delay)
            self._cond.notify_all()
        return request_id

    @property
    def busy(self) -> bool:
        """True while a write runs or requests wait."""
        with self._cond:
            return self._busy or bool(self._pending)

    def discard_pending(self) -> None:
        """Drop requests that have not started."""
        with self._cond:
            self._pending.clear()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            for key in self._pending:  # flushing means no more waiting for bursts
                request_id, request, _ = self._pending[key]
                self._pending[key] = (request_id, request, 0.0)
            self._cond.notify_all()
            while self._busy or self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Write what is pending, then stop the thread; False if it did not finish within ``timeout``."""
        done = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return done and not self._thread.is_alive()

    def _next(self) -> tuple[int, SaveRequest] | None:
        with self._cond:
            while True:
                if not self._pending:
                    if self._closing:
                        return None
                    self._cond.wait()
                    continue
                key, (request_id, request, due) = min(self._pending.items(), key=lambda item: item[1][2])
                wait = due - time.monotonic()
                if wait > 0 and not self._closing:
                    self._cond.wait(wait)
                    continue
                del self._pending[key]
                self._busy = True
                return request_id, request

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            request_id, request = item
            error: BaseException | None = None
            try:
                request.execute()
            except Exception as caught:  # reported to the caller, never lost
                error = caught
            if self._callback is not None:
                try:
                    self._callback(request_id, request.revision, error)
                except Exception:  # a failing callback must not stop autosave
                    import traceback

                    traceback.print_exc()
            with self._cond:
                self._busy = False
                self._cond.notify_all()


def load_or_create(
    path: str | os.PathLike[str], video: object | None = None
) -> tuple[LabelStore, LabelDocument]:
    """Open ``path`` if it exists, else a new empty document (for ``video``, a ``VideoInfo``) in a new store."""
    from vad_core.labels.interval import VideoInfo

    path = Path(path)
    if path.exists():
        return LabelStore.open(path)
    info = video if isinstance(video, VideoInfo) else VideoInfo()
    return LabelStore.create(path), LabelDocument(info)


__all__ = [
    "BACKUP_SUFFIX",
    "JOURNAL_SUFFIX",
    "AutosaveWriter",
    "FileStamp",
    "LabelConflictError",
    "LabelStore",
    "Recovery",
    "SaveRequest",
    "atomic_write_bytes",
    "backup_path",
    "file_sha256",
    "open_temp",
    "find_recoveries",
    "journal_paths",
    "load_document",
    "load_or_create",
    "read_document",
    "restore_recovery",
    "save_document",
    "write_text",
]
