"""Label files on disk: schema validation and migration, atomic saves, conflicts, autosave, recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import vad_core.labels.store as store_module
from vad_core.errors import LabelFileError
from vad_core.labels import LabelDocument, LabelInterval, VideoInfo, add_interval
from vad_core.labels.schema import CURRENT_VERSION, LabelVersionError, dumps, loads
from vad_core.labels.store import (
    AutosaveWriter,
    LabelConflictError,
    LabelStore,
    find_recoveries,
    journal_paths,
    load_document,
    read_document,
    restore_recovery,
    save_document,
)


def sample_doc() -> LabelDocument:
    """The same document on every call."""
    interval = LabelInterval(
        "a1b2c3d4", 10, 20, tag="bike", note="rider\nfast", author="ana", edited="2025-01-01T00:00:00Z"
    )
    video = VideoInfo(name="clip", path="clip.avi", frame_count=100, fps=25.0)
    return LabelDocument(video, [interval], reviewed=[(0, 30)], created="2025-01-01T00:00:00Z")


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def valid_data() -> dict:
    return json.loads(dumps(sample_doc()))


# ------------------------------------------------------------------------------ schema
def test_saved_file_is_readable_json_with_inclusive_frames(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == "vad-review labels" and data["version"] == CURRENT_VERSION
    assert (data["intervals"][0]["start_frame"], data["intervals"][0]["end_frame"]) == (10, 19)
    assert data["reviewed"] == [[0, 29]]
    assert (
        text.count("\n") > 10 and '"tag": "bike"' in text
    )  # one field per line for video, one line per interval
    assert load_document(path) == sample_doc()


def test_version_0_file_is_migrated_in_memory_without_touching_it(tmp_path):
    v0 = {
        "version": 0,
        "video": "cams/gate.avi",
        "frames": 50,
        "fps": 10,
        "labels": [{"start": 5, "end": 15, "label": "cart", "note": "slow"}, {"start": 30, "end": 31}],
        "reviewed": [1] * 20 + [0] * 30,
    }
    path = write_json(tmp_path / "old.json", v0)
    before = path.read_bytes()
    doc = load_document(path)
    assert doc.migrated_from == 0
    assert (doc.video.name, doc.video.path, doc.video.frame_count, doc.video.fps) == (
        "gate",
        "cams/gate.avi",
        50,
        10.0,
    )
    assert [(i.id, i.start, i.end, i.tag, i.note) for i in doc.intervals] == [
        ("v0-1", 5, 15, "cart", "slow"),
        ("v0-2", 30, 31, "", ""),
    ]
    assert doc.reviewed == ((0, 20),)
    assert path.read_bytes() == before
    store, _ = LabelStore.open(path)
    store.save(doc)  # saving writes version 1 and keeps the version-0 file as .bak
    assert json.loads(path.read_text())["version"] == 1
    assert store.backup_path.read_bytes() == before


def test_newer_version_is_refused_and_the_file_left_untouched(tmp_path):
    data = valid_data()
    data["version"] = CURRENT_VERSION + 1
    data["new_field_of_the_future"] = {"x": 1}
    path = write_json(tmp_path / "future.json", data)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(
        LabelVersionError, match=r"future.json: written by a newer vad-review .*version 2.*not changed"
    ):
        LabelStore.open(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert not store_module.backup_path(path).exists() and journal_paths(path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b'{"format": "vad-review labels", "version": 1, ', r"not valid JSON: .* at line 1, column \d+"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2, 3]", "expected a JSON object at the top level, found list"),
        (b'{"hello": 1}', 'not a vad-review label file \\(no "format" field'),
        (b'{"format": "vad-review labels", "version": "one"}', "version: expected a whole number"),
        (
            b'{"format": "vad-review labels", "version": 1, "video": {}, "intervals": [], "x": NaN}',
            "NaN is not allowed",
        ),
    ],
)
def test_malformed_files_are_refused_with_a_message_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(LabelFileError, match=message) as info:
        load_document(path)
    assert str(info.value).startswith(str(path))


def test_validation_names_the_field_and_the_problem(tmp_path):
    data = valid_data()
    data["intervals"][0]["end_frame"] = 5  # before start_frame 10
    with pytest.raises(
        LabelFileError,
        match=r"intervals\[0\]\.end_frame: expected a whole number >= start_frame \(10\), found 5",
    ):
        loads(json.dumps(data), "labels.json")
    data = valid_data()
    data["intervals"][0]["start_frame"] = True
    data["intervals"][0]["colour"] = "red"
    data["intervals"].append(dict(data["intervals"][0], start_frame=1))
    data["video"]["frame_count"] = -3
    data["reviewed"] = [[5, 2]]
    with pytest.raises(LabelFileError) as info:
        loads(json.dumps(data), "labels.json")
    text = str(info.value)
    assert text.startswith("labels.json: invalid label file (")
    for expected in (
        "video.frame_count: expected a whole number >= 1",
        "intervals[0].start_frame: expected a whole number >= 0, found true",
        "intervals[0].colour: unknown field",
        "intervals[1].colour: unknown field",
        "reviewed[0]: expected [first, last]",
    ):
        assert expected in text


def test_labels_past_the_end_of_the_video_and_duplicate_ids_are_refused():
    data = valid_data()
    data["intervals"][0]["end_frame"] = 100  # frame_count 100: last frame is 99
    with pytest.raises(
        LabelFileError, match=r"intervals\[0\]\.end_frame: frame 100 is past the video's last frame 99"
    ):
        loads(json.dumps(data), "x.json")
    data = valid_data()
    data["intervals"].append(dict(data["intervals"][0]))
    with pytest.raises(LabelFileError, match=r"intervals\[1\]\.id: .* already used by intervals\[0\]"):
        loads(json.dumps(data), "x.json")


def test_invalid_file_mentions_the_backup_when_there_is_one(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store, doc = LabelStore.open(path)
    doc.apply(add_interval(doc, 50, 60))
    store.save(doc)
    path.write_text("{ broken")
    with pytest.raises(LabelFileError, match=r"previous version is kept in labels.json.bak"):
        load_document(path)
    assert load_document(store.backup_path) == sample_doc()


# ------------------------------------------------------------------------------ atomic saves and conflicts
def test_save_keeps_the_previous_version_as_backup(tmp_path):
    path = tmp_path / "labels.json"
    store = LabelStore.create(path)
    doc = sample_doc()
    store.save(doc)
    first = path.read_bytes()
    doc.apply(add_interval(doc, 40, 45, tag="cart"))
    store.save(doc)
    assert store.backup_path.read_bytes() == first
    assert load_document(path) == doc
    assert not list(tmp_path.glob(".*.tmp"))


def test_two_windows_on_one_file_do_not_silently_overwrite_each_other(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store_a, doc_a = LabelStore.open(path)
    store_b, doc_b = LabelStore.open(path)
    doc_a.apply(add_interval(doc_a, 40, 50, tag="from A"))
    store_a.save(doc_a)
    doc_b.apply(add_interval(doc_b, 60, 70, tag="from B"))
    assert store_b.changed_on_disk()
    with pytest.raises(LabelConflictError, match="changed on disk since it was opened") as info:
        store_b.save(doc_b)
    assert info.value.found is not None and info.value.expected == store_b.stamp
    assert load_document(path) == doc_a  # A's work is intact
    store_b.save(doc_b, force=True)  # the operator chose to overwrite
    assert load_document(path) == doc_b and load_document(store_b.backup_path) == doc_a
    reloaded = store_a.reload()  # window A takes B's version and goes on editing
    assert reloaded == doc_b
    reloaded.apply(add_interval(reloaded, 80, 85))
    assert loads(store_a.write_journal(reloaded).read_bytes()) == reloaded
    store_a.save(reloaded)
    assert not store_a.journal_path.exists()


def test_a_new_document_refuses_to_replace_a_file_that_appeared(tmp_path):
    path = tmp_path / "labels.json"
    store = LabelStore.create(path)
    save_document(sample_doc(), path)
    with pytest.raises(LabelConflictError, match="already exists"):
        store.save(LabelDocument(VideoInfo(name="other")))
    assert load_document(path) == sample_doc()


KILL_SCRIPT = r"""
import sys, time
import vad_core.labels.store as store
from vad_core.labels.edits import add_interval

labels, doc = store.LabelStore.open(sys.argv[1])
doc.apply(add_interval(doc, 50, 60, tag="unsaved work", author="t"))
labels.write_journal(doc)

def pause(tmp):
    print("READY", tmp, flush=True)
    time.sleep(60)

store._before_rename = pause
labels.save(doc)
print("SAVED", flush=True)
"""


@pytest.mark.skipif(sys.platform.startswith("win"), reason="SIGKILL is POSIX")
def test_writer_killed_between_write_and_rename_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    before = path.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), child.stderr.read()
        temporary = Path(line.split(maxsplit=1)[1].strip())
        assert (
            temporary.is_file() and temporary.parent == tmp_path
        )  # new version written, fsync'ed, not renamed
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert load_document(path) == sample_doc()
    # The next start finds the journal of the killed session and offers to restore it.
    store, _ = LabelStore.open(path)
    (recovery,) = store.recoveries()
    assert recovery.base_matches and not recovery.live and recovery.revision == 1
    restored = restore_recovery(recovery, store)
    assert [i.tag for i in restored.intervals] == ["bike", "unsaved work"]
    store.save(restored)
    assert load_document(path) == restored
    assert journal_paths(path) == []


# ------------------------------------------------------------------------------ journals
def test_clean_save_removes_the_journal(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store, doc = LabelStore.open(path)
    doc.apply(add_interval(doc, 40, 45))
    journal = store.write_journal(doc)
    assert (
        journal.is_file() and journal.name.startswith("labels.json.") and journal.name.endswith(".autosave")
    )
    assert loads(journal.read_bytes(), journal) == doc
    store.save(doc)
    assert not journal.exists()
    store.write_journal(doc)  # nothing unsaved: no journal
    assert not journal.exists()


def test_journal_of_another_open_window_is_live_not_offered_for_restore(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store_a, doc_a = LabelStore.open(path)
    doc_a.apply(add_interval(doc_a, 40, 45))
    store_a.write_journal(doc_a)
    store_b, _ = LabelStore.open(path)
    assert [r.journal for r in store_b.other_sessions()] == [store_a.journal_path]
    assert store_b.recoveries() == []
    assert find_recoveries(path, own_session=store_a.session) == []


def test_restoring_a_journal_whose_base_changed_asks_before_overwriting(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store_a, doc_a = LabelStore.open(path)
    doc_a.apply(add_interval(doc_a, 40, 45, tag="journal"))
    store_a.write_journal(doc_a)
    other = sample_doc()
    other.apply(add_interval(other, 80, 90, tag="someone else"))
    save_document(other, path, force=True)
    # Pretend store_a's session died: its journal names a process that no longer exists.
    data = json.loads(store_a.journal_path.read_text())
    data["autosave_of"]["pid"] = 2**22 + 12345
    store_a.journal_path.write_text(json.dumps(data))
    store_b, _ = LabelStore.open(path)
    (recovery,) = store_b.recoveries()
    assert not recovery.base_matches
    restored = restore_recovery(recovery, store_b)
    with pytest.raises(LabelConflictError):
        store_b.save(restored)
    assert load_document(path) == other


# ------------------------------------------------------------------------------ background writer
def test_autosave_writer_coalesces_a_burst_and_the_latest_state_wins(tmp_path, monkeypatch):
    path = tmp_path / "labels.json"
    entered, release = threading.Event(), threading.Event()

    def hold_first_write(_tmp: Path) -> None:
        if not entered.is_set():
            entered.set()
            release.wait(5)

    monkeypatch.setattr(store_module, "_before_rename", hold_first_write)
    reports: list[tuple[int, int, BaseException | None]] = []
    writer = AutosaveWriter(callback=lambda rid, rev, err: reports.append((rid, rev, err)))
    store = LabelStore.create(path)
    doc = sample_doc()
    first = writer.submit(store.save_request(doc))
    assert entered.wait(5)
    burst = []
    for start in range(30, 80, 10):
        doc.apply(add_interval(doc, start, start + 5))
        burst.append(writer.submit(store.save_request(doc)))
    assert writer.busy
    release.set()
    assert writer.close(timeout=10)
    assert [(rid, rev) for rid, rev, _ in reports] == [(first, 0), (burst[-1], 5)]
    assert all(err is None for _, _, err in reports)
    assert load_document(path) == doc and store.saved_revision == doc.revision


def test_autosave_writer_reports_a_conflict_and_writes_nothing(tmp_path):
    path = tmp_path / "labels.json"
    save_document(sample_doc(), path)
    store, doc = LabelStore.open(path)
    other = sample_doc()
    other.apply(add_interval(other, 90, 95))
    save_document(other, path, force=True)
    reports = []
    done = threading.Event()

    def callback(rid, rev, err):
        reports.append(err)
        done.set()

    writer = AutosaveWriter(callback=callback)
    doc.apply(add_interval(doc, 40, 45))
    writer.submit(store.journal_request(doc))
    writer.submit(store.save_request(doc))
    assert writer.close(timeout=10) and done.is_set()
    assert isinstance(reports[-1], LabelConflictError)
    assert load_document(path) == other
    assert loads(store.journal_path.read_bytes()) == doc  # the edits are safe in the journal meanwhile


def test_read_document_returns_the_stamp_of_what_was_read(tmp_path):
    path = tmp_path / "labels.json"
    stamp = save_document(sample_doc(), path)
    doc, read_stamp = read_document(path)
    assert read_stamp == stamp and doc.saved_at is not None


def test_temporaries_of_a_save_killed_before_its_rename_are_removed_at_the_next_open_and_save(tmp_path):
    path = tmp_path / "clip.labels.json"
    save_document(sample_doc(), path)
    stale = [tmp_path / ".clip.labels.json.0badc0de.tmp", tmp_path / ".clip.labels.json.bak.1badc0de.tmp"]
    fresh = tmp_path / ".clip.labels.json.2badc0de.tmp"  # a write in progress in another window
    other = tmp_path / ".other.json.3badc0de.tmp"
    for leftover in [*stale, fresh, other]:
        leftover.write_text("{half a file")
    for leftover in [*stale, other]:
        os.utime(leftover, (1, 1))

    store, doc = LabelStore.open(path)
    assert not any(p.exists() for p in stale) and fresh.exists() and other.exists()

    os.utime(fresh, (1, 1))
    store.save(doc)
    assert not fresh.exists() and other.exists()
    assert load_document(path).intervals == doc.intervals
