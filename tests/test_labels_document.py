"""The label document: interval algebra, edit commands, undo / redo, and save-load round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vad_core.errors import LabelFileError
from vad_core.labels import (
    Command,
    CompoundCommand,
    InsertInterval,
    LabelDocument,
    LabelEditError,
    LabelInterval,
    UndoStack,
    VideoInfo,
    accept_event,
    add_interval,
    clean_tag,
    event_decision,
    intersect_ranges,
    mark_reviewed,
    mask_to_ranges,
    merge_intervals,
    move_interval,
    normalize_ranges,
    ranges_to_mask,
    reject_event,
    remove_interval,
    set_note,
    set_tag,
    shift_interval,
    split_interval,
    subtract_ranges,
    union_ranges,
)
from vad_core.labels.schema import dumps, loads
from vad_core.labels.store import load_document, save_document
from vad_core.scoring import Event

FRAMES = 120


def new_doc(frames: int | None = FRAMES) -> LabelDocument:
    return LabelDocument(VideoInfo(name="clip", path="clip.avi", frame_count=frames, fps=10.0))


# ------------------------------------------------------------------------------ interval algebra
ranges_strategy = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda p: (min(p), max(p))), max_size=8
)


@given(ranges_strategy, ranges_strategy)
def test_range_algebra_agrees_with_frame_masks(a, b):
    ma, mb = ranges_to_mask(a, 64), ranges_to_mask(b, 64)
    assert np.array_equal(ranges_to_mask(union_ranges(a, b), 64), ma | mb)
    assert np.array_equal(ranges_to_mask(intersect_ranges(a, b), 64), ma & mb)
    assert np.array_equal(ranges_to_mask(subtract_ranges(a, b), 64), ma & ~mb)
    assert normalize_ranges(a) == mask_to_ranges(ma)


def test_normalize_merges_overlapping_and_adjacent_ranges():
    assert normalize_ranges([(5, 8), (0, 2), (2, 3), (7, 9), (4, 4)]) == ((0, 3), (5, 9))


# ------------------------------------------------------------------------------ edits and undo
def test_add_interval_then_undo_removes_it():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 10, 20, tag="bike", author="ana"))
    assert [(i.start, i.end, i.tag, i.author) for i in doc.intervals] == [(10, 20, "bike", "ana")]
    stack.undo()
    assert doc.intervals == ()
    stack.redo()
    assert doc.intervals[0].tag == "bike"


def test_undo_restores_moved_interval():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 10, 20, author="ana"))
    before = doc.intervals[0]
    stack.push(move_interval(doc, before.id, 30, 40, author="bo"))
    assert (doc.intervals[0].start, doc.intervals[0].end, doc.intervals[0].id) == (30, 40, before.id)
    assert stack.undo_text() == "Move interval"
    stack.undo()
    assert doc.intervals[0] == before


def test_resize_edges_and_shift_stay_inside_the_video():
    doc = new_doc()
    doc.apply(add_interval(doc, 10, 20))
    interval_id = doc.intervals[0].id
    assert move_interval(doc, interval_id, 5, 20).text == "Resize interval"
    doc.apply(shift_interval(doc, interval_id, 500))
    assert (doc.intervals[0].start, doc.intervals[0].end) == (FRAMES - 10, FRAMES)
    with pytest.raises(LabelEditError, match="past the video"):
        move_interval(doc, interval_id, 100, FRAMES + 1)
    with pytest.raises(LabelEditError, match="start < end"):
        move_interval(doc, interval_id, 30, 30)


def test_split_keeps_the_id_on_the_left_part_and_undo_joins_again():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 10, 30, tag="cart", note="n"))
    original = doc.intervals[0]
    stack.push(split_interval(doc, original.id, 18))
    left, right = doc.intervals
    assert (left.id, left.start, left.end) == (original.id, 10, 18)
    assert (right.start, right.end, right.tag, right.note) == (18, 30, "cart", "n") and right.id != left.id
    with pytest.raises(LabelEditError, match="cannot split"):
        split_interval(doc, left.id, 10)
    stack.undo()
    assert doc.intervals == (original,)


def test_merge_spans_the_gap_joins_tags_and_undoes():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 10, 20, tag="bike"))
    stack.push(add_interval(doc, 40, 50, tag="cart"))
    before = doc.intervals
    stack.push(merge_intervals(doc, [i.id for i in before]))
    (merged,) = doc.intervals
    assert (merged.id, merged.start, merged.end, merged.tag) == (before[0].id, 10, 50, "bike; cart")
    stack.undo()
    assert doc.intervals == before


def test_merge_refuses_an_anomaly_with_a_reviewed_negative():
    doc = new_doc()
    doc.apply(add_interval(doc, 10, 20))
    doc.apply(reject_event(doc, Event(30, 40, 35, 0.9)))
    with pytest.raises(LabelEditError, match="reviewed negative"):
        merge_intervals(doc, [i.id for i in doc.intervals])
    with pytest.raises(LabelEditError, match="at least two"):
        merge_intervals(doc, [doc.intervals[0].id])


def test_delete_and_tag_and_note_are_undoable():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 1, 5))
    interval_id = doc.intervals[0].id
    stack.push(set_tag(doc, interval_id, "  bike\n rider\x07 "))
    stack.push(set_note(doc, interval_id, "line one\nline two"))
    assert (doc.intervals[0].tag, doc.intervals[0].note) == ("bike rider", "line one\nline two")
    stack.push(remove_interval(doc, interval_id))
    assert doc.intervals == ()
    stack.undo()
    stack.undo()
    assert doc.intervals[0].note == "" and doc.intervals[0].tag == "bike rider"
    with pytest.raises(LabelEditError, match="no interval"):
        remove_interval(doc, "nope")


def test_accept_event_adds_a_reviewed_anomaly_label():
    doc = new_doc()
    stack = UndoStack(doc)
    event = Event(20, 35, 25, 0.9)
    stack.push(accept_event(doc, event, tag="bike"))
    (label,) = doc.intervals
    assert (label.start, label.end, label.kind, label.origin) == (20, 35, "anomaly", "event")
    assert doc.reviewed == ((20, 35),) and event_decision(doc, event) == "accepted"
    assert doc.to_frame_mask()[20:35].all() and doc.to_frame_mask().sum() == 15
    stack.undo()
    assert doc.intervals == () and doc.reviewed == () and event_decision(doc, event) is None


def test_reject_event_is_kept_as_a_reviewed_negative_and_can_be_reversed():
    doc = new_doc()
    event = Event(50, 60, 55, 0.8)
    doc.apply(reject_event(doc, event, note="shadow"))
    (negative,) = doc.intervals
    assert negative.kind == "normal" and doc.negatives == (negative,) and doc.anomalies == ()
    assert not doc.to_frame_mask().any() and doc.is_reviewed(55)
    doc.apply(accept_event(doc, event))  # changing one's mind turns the same interval into a label
    (label,) = doc.intervals
    assert label.id == negative.id and label.kind == "anomaly" and label.note == "shadow"


def test_mark_reviewed_and_unmark_with_undo():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(mark_reviewed(doc, 0, 50))
    stack.push(mark_reviewed(doc, 10, 20, reviewed=False))
    assert doc.reviewed == ((0, 10), (20, 50))
    assert doc.reviewed_mask().sum() == 40
    stack.undo()
    assert doc.reviewed == ((0, 50),)


def test_compound_command_is_all_or_nothing():
    doc = new_doc()
    doc.apply(add_interval(doc, 1, 5, interval_id="aaaa0000"))
    before = doc.intervals
    good = InsertInterval(LabelInterval("bbbb0000", 10, 20))
    clash = InsertInterval(LabelInterval("aaaa0000", 30, 40))
    with pytest.raises(LabelEditError, match="already exists"):
        doc.apply(CompoundCommand((good, clash)))
    assert doc.intervals == before


def test_undo_stack_tracks_the_saved_state():
    doc = new_doc()
    stack = UndoStack(doc)
    stack.push(add_interval(doc, 1, 5))
    stack.set_clean()
    stack.push(add_interval(doc, 10, 15))
    assert not stack.is_clean
    stack.undo()
    assert stack.is_clean
    stack.undo()
    stack.push(add_interval(doc, 20, 25))  # the saved state is now unreachable
    assert not stack.is_clean and not stack.can_redo


def test_check_frame_count_refuses_another_video_and_names_the_file():
    doc = new_doc()
    with pytest.raises(
        LabelFileError,
        match=r"labels.json: labels are for a video 'clip' of 120 frames, but this video has 90",
    ):
        doc.check_frame_count(90, "labels.json")
    unknown = new_doc(frames=None)
    unknown.apply(add_interval(unknown, 100, 150))
    with pytest.raises(LabelFileError, match="beyond the video's 120 frames"):
        unknown.check_frame_count(120, "x.json")
    assert unknown.with_video(VideoInfo(name="v", frame_count=200)).frame_count == 200


def test_frame_mask_length_defaults_to_the_video_or_the_last_label():
    doc = new_doc()
    doc.apply(add_interval(doc, 5, 10))
    assert doc.to_frame_mask().shape == (FRAMES,)
    unknown = new_doc(frames=None)
    unknown.apply(add_interval(unknown, 5, 10))
    assert unknown.to_frame_mask().shape == (10,) and unknown.to_frame_mask(30).shape == (30,)


def test_clean_tag_removes_control_characters():
    assert clean_tag(" a\tb\x00c \n") == "a bc"


# ------------------------------------------------------------------------------ property: edits -> save -> load
frame = st.integers(0, FRAMES)
operation = st.one_of(
    st.tuples(st.just("add"), frame, frame, st.sampled_from(["", "bike", "cart", "ünïcødé ☂"])),
    st.tuples(st.just("remove"), st.integers(0, 9)),
    st.tuples(st.just("move"), st.integers(0, 9), frame, frame),
    st.tuples(st.just("split"), st.integers(0, 9), frame),
    st.tuples(st.just("merge"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("tag"), st.integers(0, 9), st.text(max_size=10)),
    st.tuples(st.just("note"), st.integers(0, 9), st.text(max_size=30)),
    st.tuples(st.just("accept"), frame, frame),
    st.tuples(st.just("reject"), frame, frame),
    st.tuples(st.just("review"), frame, frame, st.booleans()),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)


def _pick(doc: LabelDocument, n: int) -> str | None:
    return doc.intervals[n % len(doc.intervals)].id if doc.intervals else None


def _perform(doc: LabelDocument, stack: UndoStack, op: tuple) -> None:
    if op[0] == "undo":
        stack.undo()
        return
    if op[0] == "redo":
        stack.redo()
        return
    try:
        command = _command_for(doc, op)
    except (LabelEditError, ValueError):
        return  # an edit the GUI would refuse; the document is unchanged
    if command is not None:
        stack.push(command)


def _command_for(doc: LabelDocument, op: tuple) -> Command | None:
    name = op[0]
    if name == "add":
        return add_interval(doc, min(op[1], op[2]), max(op[1], op[2]), tag=op[3], author="hyp")
    if name in ("accept", "reject"):
        event = Event(min(op[1], op[2]), max(op[1], op[2]) + 1, min(op[1], op[2]), 0.5)
        return (accept_event if name == "accept" else reject_event)(doc, event, author="hyp")
    if name == "review":
        return mark_reviewed(doc, min(op[1], op[2]), max(op[1], op[2]), op[3])
    target = _pick(doc, op[1])
    return None if target is None else _interval_command(doc, name, target, op)


def _interval_command(doc: LabelDocument, name: str, target: str, op: tuple) -> Command:
    if name == "remove":
        return remove_interval(doc, target)
    if name == "move":
        return move_interval(doc, target, min(op[2], op[3]), max(op[2], op[3]), author="hyp")
    if name == "split":
        return split_interval(doc, target, op[2], author="hyp")
    if name == "merge":
        return merge_intervals(doc, [target, _pick(doc, op[2])], author="hyp")
    if name == "tag":
        return set_tag(doc, target, op[2][:64], author="hyp")
    return set_note(doc, target, op[2], author="hyp")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hypothesis")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=25))
def test_any_edit_sequence_survives_save_and_load(folder, ops):
    doc = new_doc()
    initial = doc.copy()
    stack = UndoStack(doc)
    for op in ops:
        _perform(doc, stack, op)
    assert loads(dumps(doc), "memory") == doc
    path = folder / "labels.json"
    save_document(doc, path, force=True)
    assert load_document(path) == doc
    while stack.can_undo:  # every inverse is exact: undoing everything gives the empty document
        stack.undo()
    assert doc == initial
