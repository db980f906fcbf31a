"""Incident captures of a live stream: pre-roll from the ring buffer, post-roll, bounded length."""

from __future__ import annotations

import time

import numpy as np

from vad_core.live.event_tracker import EventTracker
from vad_core.live.recorder import IncidentRecorder
from vad_core.sources.live import LiveFrame


def record(scores: list[float], pre: float, post: float, max_event: float = 120.0, fps: float = 10.0):
    jobs = []
    tracker = EventTracker(1.0, min_duration=3, merge_gap=2)
    recorder = IncidentRecorder("cam", fps, pre, post, jobs.append, max_event)
    for index, score in enumerate(scores):
        frame = LiveFrame(index, np.zeros((4, 4), np.uint8), time.monotonic(), time.time())
        changes = tracker.push(index, score)
        recorder.add(frame, score, tracker.candidate_start, changes)
    recorder.finish(tracker.flush())
    return jobs


def test_clip_holds_pre_roll_event_and_post_roll_frames() -> None:
    scores = [0.0] * 30 + [2.0] * 6 + [0.0] * 30
    (job,) = record(scores, pre=1.0, post=0.5)
    indices = [f.index for f in job.capture.frames]
    assert indices == list(range(20, 41))  # 10 frames before, the event 30..35, 5 frames after
    assert (job.capture.event.start, job.capture.event.end) == (30, 36)
    assert job.capture.scores[10:16] == [2.0] * 6


def test_flicker_shorter_than_the_minimum_duration_records_nothing() -> None:
    assert record([0.0] * 10 + [2.0, 2.0] + [0.0] * 10, pre=1.0, post=1.0) == []


def test_event_at_the_start_of_the_stream_has_the_pre_roll_there_is() -> None:
    (job,) = record([2.0] * 5 + [0.0] * 20, pre=2.0, post=0.5)
    assert job.capture.frames[0].index == 0 and job.capture.frames[-1].index == 9


def test_stream_ending_during_an_event_hands_over_the_clip_it_has() -> None:
    (job,) = record([0.0] * 5 + [2.0] * 8, pre=0.3, post=3.0)
    assert job.capture.event.end == 13 and job.capture.frames[-1].index == 12


def test_long_event_is_cut_at_max_event_seconds_to_bound_memory() -> None:
    (job,) = record([0.0] * 5 + [2.0] * 200 + [0.0] * 10, pre=0.5, post=0.5, max_event=3.0)
    assert job.capture.truncated
    assert len(job.capture.frames) <= 5 + 30 + 5
    assert job.capture.event.end == 205  # the event itself is reported in full
