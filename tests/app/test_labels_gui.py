"""Labels in the review window, driven like an operator: draw, move, resize, delete, undo, accept,
autosave, recover, resolve a conflict, export a clip.

Scores come from ``ReviewSession.load_scores`` with made-up per-frame errors (two clear events),
so no model runs and every test stays fast on two cores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.controllers import label_dialogs
from vad_core.labels import LabelDocument, LabelInterval, VideoInfo
from vad_core.labels.locations import label_location
from vad_core.labels.store import LabelStore, load_document, save_document

pytestmark = pytest.mark.gui

EVENTS = [(40, 60), (151, 169)]  # what anomaly_scores finds in ``made_up_errors`` (default scoring)


def made_up_errors(length: int = 240) -> np.ndarray:
    errors = np.ones(length, np.float32)
    errors[40:60] = 5.0
    errors[150:170] = 4.0
    return errors


@pytest.fixture
def opened(window, demo_clip, demo_source):
    """The window with the small demo clip open and scored by ``made_up_errors`` (no model)."""
    window.opening.open_source(demo_source, "demo-small", demo_clip.labels, demo_clip.categories)
    window.session.load_scores(made_up_errors(len(demo_source)))
    window.scoring.dirty = True
    window.scoring.flush()
    window.scoring.refresh_events()
    assert [(e.start, e.end) for e in window.session.events] == EVENTS
    return window


def label_path(window) -> Path:
    path = window.labels.editor.path
    assert path is not None
    return path


def intervals(window) -> list[tuple[int, int]]:
    return [(i.start, i.end) for i in window.labels.editor.doc.intervals]


def band_point(window, frame: float, y: float = 0.5) -> QPoint:
    """Widget pixel of (frame, y) on the label band."""
    band = window.labels.band
    return window.timeline.graphics.mapFromScene(band.view.mapViewToScene(QPointF(frame, y)))


def settle(qtbot, window) -> None:
    """Wait until the window's layout stops moving the label band (docks and buttons resize it)."""
    last = None
    for _ in range(20):
        qtbot.wait(25)
        now = (band_point(window, 0), band_point(window, 100))
        if now == last:
            return
        last = now


def drag(qtbot, window, first: float, last: float, y: float = 0.5, steps: int = 6) -> None:
    """Press at frame ``first`` of the label band, move in steps, release at frame ``last``."""
    settle(qtbot, window)
    viewport = window.timeline.graphics.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=band_point(window, first, y))
    for i in range(1, steps + 1):
        qtbot.wait(20)  # pyqtgraph's scene drops moves that come faster than ~60 per second
        qtbot.mouseMove(viewport, band_point(window, first + (last - first) * i / steps, y))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=band_point(window, last, y))


def close_to(actual: tuple[int, int], expected: tuple[int, int], tolerance: int = 1) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


def ctrl(qtbot, window, key: Qt.Key, shift: bool = False) -> None:
    modifiers = Qt.KeyboardModifier.ControlModifier
    if shift:
        modifiers |= Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, key, modifiers)


# -- drawing and editing with the mouse -------------------------------------------------------------------
def test_dragging_on_the_label_band_creates_an_interval_and_undo_removes_it(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")

    drag(qtbot, window, 50.2, 89.8)

    assert len(intervals(window)) == 1 and close_to(intervals(window)[0], (50, 90))
    created = window.labels.editor.doc.intervals[0]
    assert window.labels.selection == [created.id]
    assert window.labels.panel.table.rowCount() == 1
    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert intervals(window) == []
    ctrl(qtbot, window, Qt.Key.Key_Z, shift=True)
    assert window.labels.editor.doc.intervals == (created,)


def test_dragging_an_edge_resizes_and_dragging_the_body_moves_one_undo_step_each(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    interval_id = window.labels.add_interval(60, 120)
    stack = window.labels.editor.undo_stack

    drag(qtbot, window, 120, 150)
    assert close_to(intervals(window)[0], (60, 150))
    assert stack.count() == 2 and stack.undoText().startswith("Resize")

    drag(qtbot, window, 90, 100, y=0.3)
    start, end = intervals(window)[0]
    assert close_to((start, end), (70, 160)) and end - start == 90  # moved, same length
    assert stack.count() == 3 and stack.undoText().startswith("Move")
    assert window.labels.editor.doc.intervals[0].id == interval_id

    ctrl(qtbot, window, Qt.Key.Key_Z)
    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert intervals(window) == [(60, 120)]
    region = window.labels.band.region_of(interval_id)
    assert region is not None and region.getRegion() == (60, 120)


def test_delete_key_removes_the_selected_interval_and_undo_restores_it(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    keep = window.labels.add_interval(10, 30)
    doomed = window.labels.add_interval(100, 140)
    window.labels.set_selection([])

    settle(qtbot, window)
    qtbot.mouseClick(
        window.timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=band_point(window, 120)
    )
    assert window.labels.selection == [doomed]
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert [i.id for i in window.labels.editor.doc.intervals] == [keep]
    assert window.labels.band.region_of(doomed) is None

    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert [i.id for i in window.labels.editor.doc.intervals] == [keep, doomed]
    assert window.labels.band.region_of(doomed) is not None


def test_b_and_n_keys_label_from_the_first_to_the_last_frame(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.playback.seek(30)
    qtbot.keyClick(window, Qt.Key.Key_B)
    window.playback.seek(49)
    qtbot.keyClick(window, Qt.Key.Key_N)
    assert intervals(window) == [(30, 50)]  # frame 49 included


def test_split_and_merge_keys(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    first = window.labels.add_interval(20, 80)
    window.playback.seek(50)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert intervals(window) == [(20, 50), (50, 80)]

    window.labels.set_selection([i.id for i in window.labels.editor.doc.intervals])
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert intervals(window) == [(20, 80)]
    assert window.labels.editor.doc.intervals[0].id == first


def test_a_accepts_and_r_rejects_the_event_under_the_playhead(qtbot, opened):
    window = opened
    window.playback.go_to_event(0)
    qtbot.keyClick(window, Qt.Key.Key_A)
    window.playback.go_to_event(1)
    qtbot.keyClick(window, Qt.Key.Key_R)

    doc = window.labels.editor.doc
    assert [(i.start, i.end, i.kind, i.origin) for i in doc.intervals] == [
        (40, 60, "anomaly", "event"),
        (151, 169, "normal", "event"),
    ]
    assert doc.reviewed == ((40, 60), (151, 169))
    table = window.events_table
    column = table.columnCount() - 1
    assert table.horizontalHeaderItem(column).text() == "label"
    assert [table.item(r, column).data(Qt.ItemDataRole.UserRole) for r in range(2)] == [
        "accepted",
        "rejected",
    ]
    assert [table.item(r, column).text() for r in range(2)] == ["✓", "✗"]
    region = window.labels.band.region_of(doc.intervals[1].id)
    assert region.brush.style() == Qt.BrushStyle.BDiagPattern  # negatives are hatched

    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert len(window.labels.editor.doc.intervals) == 1


def test_tag_edited_in_the_panel_is_saved_and_undoable(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.labels.add_interval(10, 30)
    panel = window.labels.panel

    panel.table.item(0, 4).setText("bike")  # what finishing an edit of the tag cell does
    assert window.labels.editor.doc.intervals[0].tag == "bike"
    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert window.labels.editor.doc.intervals[0].tag == ""
    assert panel.table.item(0, 4).text() == ""


def test_live_metrics_use_the_ground_truth_until_labelled_then_the_labels(qtbot, opened):
    window = opened
    panel = window.labels.panel
    assert panel.metrics is not None  # no labels yet: measured against the dataset's ground truth
    assert "vs the dataset's ground truth" in panel.metrics_label.text()

    for start, end in EVENTS:
        window.labels.add_interval(start, end)
    assert panel.metrics is not None and panel.metrics.auroc > 0.95
    text = panel.metrics_label.text()
    assert "AUROC" in text and f"{100 * panel.metrics.auroc:.1f} %" in text  # percent, as the CLI prints
    assert "vs your labels (2 intervals)" in text

    window.labels.add_interval(200, 230)  # an anomaly the model missed
    assert panel.metrics.auroc < 0.95
    ctrl(qtbot, window, Qt.Key.Key_Z)
    assert panel.metrics.auroc > 0.95


# -- saving ---------------------------------------------------------------------------------------------
def test_autosave_writes_the_label_file_within_a_few_seconds(qtbot, window, demo_source, home):
    window.opening.open_source(demo_source, "demo-small")
    path = label_path(window)
    assert path.parent == home / "data" / "labels" and not path.exists()  # nothing written before an edit

    window.labels.add_interval(60, 120)
    qtbot.waitUntil(lambda: path.is_file() and not window.labels.editor.dirty, timeout=4000)
    assert [(i.start, i.end) for i in load_document(path).intervals] == [(60, 120)]
    assert "saved" in window.labels.panel.file_label.text()

    window.labels.add_interval(150, 160)
    qtbot.waitUntil(lambda: len(load_document(path).intervals) == 2, timeout=4000)
    assert len(load_document(path.with_name(path.name + ".bak")).intervals) == 1  # the previous version
    qtbot.waitUntil(lambda: not list(path.parent.glob("*.autosave")), timeout=4000)  # journal removed


def test_closing_the_window_writes_pending_edits(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.labels.editor.save_timer.setInterval(60_000)  # no autosave before the close
    window.labels.add_interval(5, 15)
    path = label_path(window)
    window.close()
    assert [(i.start, i.end) for i in load_document(path).intervals] == [(5, 15)]


def test_a_crashed_sessions_journal_is_offered_and_restored(qtbot, window, demo_source, home, monkeypatch):
    path, _ = label_location(None, "demo-small")
    path.parent.mkdir(parents=True)
    doc = LabelDocument(VideoInfo("demo-small", frame_count=len(demo_source), fps=25.0))
    doc.apply(doc_insert(doc, 70, 90))
    journal = LabelStore.create(path).write_journal(doc)
    data = json.loads(journal.read_text())
    data["autosave_of"]["pid"] = 2**22 + 12345  # a process that is not running: the session crashed
    journal.write_text(json.dumps(data))
    asked = []
    monkeypatch.setattr(label_dialogs, "ask_recovery", lambda parent, rec: asked.append(rec) or "restore")

    window.opening.open_source(demo_source, "demo-small")

    assert len(asked) == 1 and asked[0].journal == journal
    assert intervals(window) == [(70, 90)]
    qtbot.waitUntil(lambda: path.is_file(), timeout=4000)  # the restored edits are saved
    assert [(i.start, i.end) for i in load_document(path).intervals] == [(70, 90)]
    assert not journal.exists()


def doc_insert(doc: LabelDocument, start: int, end: int):
    from vad_core.labels.edits import add_interval

    return add_interval(doc, start, end, author="test")


def change_on_disk(path: Path, start: int, end: int) -> None:
    """Another program rewrites the label file."""
    other = load_document(path)
    other.apply(doc_insert(other, start, end))
    save_document(other, path, force=True)


def test_conflict_dialog_appears_when_the_file_changed_on_disk_and_reload_takes_theirs(
    qtbot, window, demo_source, monkeypatch
):
    window.opening.open_source(demo_source, "demo-small")
    window.labels.add_interval(10, 20)
    path = label_path(window)
    qtbot.waitUntil(lambda: path.is_file() and not window.labels.editor.dirty, timeout=4000)
    change_on_disk(path, 200, 210)
    asked = []
    monkeypatch.setattr(label_dialogs, "ask_conflict", lambda parent, p: asked.append(p) or "reload")

    window.labels.add_interval(100, 110)  # our edit; its save finds the file changed

    qtbot.waitUntil(lambda: bool(asked), timeout=4000)
    assert asked == [path]
    assert intervals(window) == [(10, 20), (200, 210)]  # theirs, reloaded
    assert [(i.start, i.end) for i in load_document(path).intervals] == [(10, 20), (200, 210)]
    assert not window.labels.editor.conflicted


def test_conflict_overwrite_keeps_their_version_as_backup(qtbot, window, demo_source, monkeypatch):
    window.opening.open_source(demo_source, "demo-small")
    window.labels.add_interval(10, 20)
    path = label_path(window)
    qtbot.waitUntil(lambda: path.is_file() and not window.labels.editor.dirty, timeout=4000)
    change_on_disk(path, 200, 210)
    monkeypatch.setattr(label_dialogs, "ask_conflict", lambda parent, p: "overwrite")

    window.labels.add_interval(100, 110)

    qtbot.waitUntil(
        lambda: len(load_document(path).intervals) == 2 and not window.labels.editor.dirty, timeout=4000
    )
    assert [(i.start, i.end) for i in load_document(path).intervals] == [(10, 20), (100, 110)]
    backup = load_document(path.with_name(path.name + ".bak"))
    assert (200, 210) in [(i.start, i.end) for i in backup.intervals]


def test_conflict_decided_later_leaves_the_file_alone_until_saved_on_purpose(
    qtbot, window, demo_source, monkeypatch
):
    window.opening.open_source(demo_source, "demo-small")
    window.labels.add_interval(10, 20)
    path = label_path(window)
    qtbot.waitUntil(lambda: path.is_file() and not window.labels.editor.dirty, timeout=4000)
    change_on_disk(path, 200, 210)
    answers = ["later", "save_as"]
    monkeypatch.setattr(label_dialogs, "ask_conflict", lambda parent, p: answers.pop(0))
    mine = path.with_name("mine.labels.json")
    monkeypatch.setattr(label_dialogs, "ask_save_path", lambda parent, suggested: mine)

    window.labels.add_interval(100, 110)
    qtbot.waitUntil(lambda: window.labels.editor.conflicted, timeout=4000)
    assert "NOT saved" in window.labels.panel.file_label.text()
    window.labels.add_interval(150, 160)  # editing goes on; no new question until asked to save
    qtbot.wait(1500)
    assert answers == ["save_as"]
    assert list(path.parent.glob("*.autosave"))  # our edits are in the journal meanwhile

    ctrl(qtbot, window, Qt.Key.Key_S)  # Save labels now: asks again; this time "Save as…"
    assert [(i.start, i.end) for i in load_document(mine).intervals] == [(10, 20), (100, 110), (150, 160)]
    assert (200, 210) in [(i.start, i.end) for i in load_document(path).intervals]  # theirs untouched
    assert window.labels.editor.path == mine and not window.labels.editor.conflicted


def test_labels_of_a_read_only_video_folder_go_to_the_data_folder(tmp_path, home):
    videos = tmp_path / "dataset"
    videos.mkdir()
    video = videos / "clip.avi"
    video.write_bytes(b"")
    beside = videos / "clip.labels.json"
    save_document(LabelDocument(VideoInfo("clip.avi", frame_count=10), [LabelInterval("a1", 2, 5)]), beside)
    os.chmod(videos, 0o555)
    try:
        path, seed = label_location(video, "clip.avi")
    finally:
        os.chmod(videos, 0o755)
    assert path.parent == home / "data" / "labels" and path.name.startswith("clip-")
    assert seed == beside
    assert label_location(video, "clip.avi") == (beside, None)  # writable again: beside the video


# -- export -----------------------------------------------------------------------------------------------
def test_exported_clip_has_the_requested_frame_count(qtbot, opened, tmp_path):
    window = opened
    window.labels.add_interval(40, 60)  # selected after drawing
    ctrl(qtbot, window, Qt.Key.Key_E)
    dialog = window.labels.exchange.export_dialog
    assert dialog is not None and dialog.which.currentData() == "selected label"
    dialog.pad_before.setValue(0.2)  # 5 frames at 25 fps
    dialog.pad_after.setValue(0.2)
    dialog.container.setCurrentIndex(1)  # Motion-JPEG AVI: always available
    dialog.folder.setText(str(tmp_path / "out"))

    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20_000)
    assert dialog.error is None and len(dialog.written) == 1
    written = dialog.written[0]
    capture = cv2.VideoCapture(str(written.clip))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 20 + 5 + 5
    assert written.sidecar.is_file() and written.sheet is not None and written.sheet.is_file()
    sidecar = json.loads(written.sidecar.read_text())
    assert sidecar["incident"]["start_frame"] == 40 and sidecar["clip_range"]["frames"] == 30

    assert dialog.start()  # again: a new name, the first clip is kept
    qtbot.waitUntil(lambda: not dialog.running, timeout=20_000)
    assert dialog.written[0].clip != written.clip and written.clip.is_file()
    dialog.close()


def test_an_invalid_label_file_is_left_alone(qtbot, window, demo_source):
    path, _ = label_location(None, "demo-small")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "vad-review labels", "version": 1, "intervals": [oops')

    window.opening.open_source(demo_source, "demo-small")

    assert window.labels.editor.doc is None
    assert (
        "Labels unavailable" in window.labels.panel.file_label.text()
        and path.name in window.labels.panel.file_label.text()
    )
    assert not window.actions_by_name["accept_event"].isEnabled()
    assert window.labels.add_interval(10, 20) is None
    qtbot.wait(300)
    assert path.read_text().endswith("[oops")  # the operator's file is untouched


def test_a_deeply_nested_label_file_is_a_sentence_not_a_recursion_error(qtbot, window, demo_source):
    path, _ = label_location(None, "demo-small")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "vad-review labels", "version": 1, "x": ' + "[" * 1000 + "]" * 1000 + "}")

    window.opening.open_source(demo_source, "demo-small")

    text = window.labels.panel.file_label.text()
    assert window.labels.editor.doc is None
    assert "Labels unavailable" in text and "nested 1001 levels deep" in text and "recursion" not in text
