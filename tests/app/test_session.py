"""ReviewSession, jobs, workers and the playback clock: the GUI's state and threads without widgets."""

from __future__ import annotations

import numpy as np
import pytest

from app.controllers.playback_clock import PlaybackClock
from app.jobs.review import ScoreBuffers, ScoreUpdate, score_job
from app.jobs.worker import Notice, Progress, Worker
from app.review_session import ReviewSession, mask_intervals, robust_max
from vad_core.checkpoint import load_checkpoint
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache
from vad_core.inference.scoring_loop import score_all
from vad_core.scoring import ScoringConfig, anomaly_scores, regularity
from vad_core.sources.base import ArraySource

pytestmark = pytest.mark.gui


def session_with_errors(errors: np.ndarray) -> ReviewSession:
    session = ReviewSession()
    session.open_source(ArraySource(np.zeros((len(errors), 8, 8), np.uint8)), "zeros")
    buffers = ScoreBuffers(np.full(len(errors), np.nan, np.float32))
    buffers.errors[:] = errors
    session.begin_scoring()
    return session, buffers


def test_live_curve_is_normalised_by_the_frames_so_far_and_final_by_the_whole_video():
    errors = np.array([1, 2, 3, 4, 10, 2, 1, 1], np.float32)
    session, buffers = session_with_errors(errors)
    session.add_update(ScoreUpdate(0, 4, 8, buffers))

    np.testing.assert_allclose(session.live_regularity(), regularity(errors[:4]))
    assert not session.complete and session.events == []

    session.add_update(ScoreUpdate(4, 8, 8, buffers))
    session.finish()
    expected = anomaly_scores(errors, session.scoring)
    x, raw, shown = session.curve()
    np.testing.assert_allclose(raw, expected.regularity)
    np.testing.assert_allclose(shown, expected.smoothed_regularity)
    assert session.regularity_threshold == pytest.approx(1 - session.scoring.threshold)


def test_changing_the_threshold_recomputes_events_from_the_same_errors():
    errors = np.r_[np.zeros(30), np.ones(20), np.zeros(30)].astype(np.float32)
    session, buffers = session_with_errors(errors)
    session.add_update(ScoreUpdate(0, 80, 80, buffers))
    session.finish()
    session.set_scoring(ScoringConfig(smooth_window=1, threshold=0.5))
    assert [(e.start, e.end) for e in session.events] == [(30, 50)]
    session.set_threshold(1.5)
    assert session.scoring.threshold == 1.0


def test_normal_marks_merge_and_training_ranges_follow_the_selection():
    session = ReviewSession()
    session.open_source(ArraySource(np.zeros((100, 8, 8), np.uint8)), "zeros")
    session.mark_normal(10, 20)
    session.mark_normal(15, 30)
    session.mark_normal(50, 40)
    assert session.normal_ranges == [(10, 30), (40, 50)]
    assert session.training_ranges("all") == [(0, 100)]
    assert session.training_ranges("unflagged") == [(0, 100)]


def test_helpers():
    assert mask_intervals(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert mask_intervals(None) == []
    assert robust_max(np.zeros((2, 4, 4), np.float16)) == 1.0
    assert robust_max(np.arange(100, dtype=np.float32).reshape(1, 10, 10)) == pytest.approx(98.01)


def test_score_job_matches_score_all_and_then_reads_the_cache(tmp_path, tiny_checkpoint, demo_source):
    checkpoint = load_checkpoint(tiny_checkpoint)
    cache = ScoreCache(tmp_path)
    items = list(score_job(checkpoint.model, demo_source, InferenceConfig(batch_size=64), cache, "key"))
    updates = [i for i in items if isinstance(i, ScoreUpdate)]
    assert [u.stop for u in updates] == [64, 128, 192, 240]
    assert any(isinstance(i, Progress) for i in items)
    expected = score_all(checkpoint.model, demo_source, InferenceConfig(batch_size=64))
    np.testing.assert_allclose(updates[-1].buffers.errors, expected.errors, rtol=1e-5)

    again = list(score_job(checkpoint.model, demo_source, InferenceConfig(), cache, "key"))
    cached = [i for i in again if isinstance(i, ScoreUpdate)]
    assert len(cached) == 1 and cached[0].cached and cached[0].stop == 240


def _generator(n, fail=False):
    for i in range(n):
        yield Progress(i + 1, n)
        yield Notice(f"step {i}")
        yield i
    if fail:
        raise ValueError("boom")
    return "result"


def test_worker_emits_chunks_progress_and_done(qtbot):
    worker = Worker(lambda: _generator(3))
    chunks, progress = [], []
    worker.signals.chunk.connect(chunks.append)
    worker.signals.progress.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(worker.signals.done) as done:
        worker.run()
    assert chunks == [0, 1, 2] and progress[-1] == (3, 3) and done.args == ["result"]


def test_worker_reports_failures_as_one_line(qtbot):
    worker = Worker(lambda: _generator(1, fail=True))
    with qtbot.waitSignal(worker.signals.failed) as failed:
        worker.run()
    assert failed.args == ["ValueError: boom"]


def test_a_cancelled_worker_stops_at_the_next_yield_and_sends_no_result(qtbot):
    worker = Worker(lambda: _generator(1000))
    chunks = []
    worker.signals.chunk.connect(lambda item: (chunks.append(item), worker.cancel()))
    done = []
    worker.signals.done.connect(done.append)
    worker.run()
    assert chunks == [0] and done == [] and worker.is_finished


def test_playback_clock_follows_wall_time_and_speed():
    now = [0.0]
    clock = PlaybackClock(fps=25.0, clock=lambda: now[0])
    clock.start(frame=10, direction=1, speed=2.0)
    now[0] = 1.0
    assert clock.frame_now() == 60
    clock.start(frame=60, direction=-1, speed=0.25)
    now[0] = 2.0
    assert clock.frame_now() == 60 - 6
    assert clock.tick_interval_ms() == 160


def test_non_finite_errors_leave_gaps_live_and_a_problem_when_final():
    errors = np.array([1, np.nan, 3, 4], np.float32)
    session, buffers = session_with_errors(errors)
    session.add_update(ScoreUpdate(0, 4, 4, buffers))
    live = session.live_regularity()
    assert np.isnan(live[1]) and np.allclose(live[[0, 2, 3]], regularity(errors[[0, 2, 3]]))
    session.finish()
    assert session.complete and session.scores is None and session.events == []
    assert "non-finite" in session.problem


def test_workers_read_video_files_through_their_own_decoder(tmp_path, demo_clip):
    import cv2

    from app.jobs.threads import independent_reader
    from vad_core.sources import open_source

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 64), isColor=True)
    for frame in demo_clip.frames[:10]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    video = open_source(path)
    reader = independent_reader(video)
    assert reader is not video and len(reader) == len(video) == 10
    memory = ArraySource(demo_clip.frames[:5])
    assert independent_reader(memory) is memory


def test_stored_scores_keep_the_score_kind_they_were_written_with_and_its_side_series():
    errors = np.linspace(1e-3, 4e-3, 40).astype(np.float32)
    distance = np.linspace(0.5, 0.1, 40).astype(np.float32)
    session = ReviewSession()
    session.open_source(ArraySource(np.zeros((40, 8, 8), np.uint8)), "zeros")

    session.load_scores(errors, None, {"memory_distance": distance}, {"score": "mnad", "mnad_weight": 0.4})

    config = ScoringConfig(score="mnad", mnad_weight=0.4)
    expected = anomaly_scores(errors, config, {"memory_distance": distance}).score
    assert session.scoring.score == "mnad" and session.problem is None
    np.testing.assert_allclose(session.scores.score, expected)


def test_the_live_curve_of_a_psnr_session_is_the_psnr_series_of_the_frames_so_far():
    errors = np.array([1e-4, 1e-3, 1e-2, 1e-1], np.float32)
    session, buffers = session_with_errors(errors)
    session.scoring = ScoringConfig(score="psnr")
    session.add_update(ScoreUpdate(0, 3, 4, buffers))

    live = session.live_regularity()

    np.testing.assert_allclose(live, [1.0, 0.5, 0.0], atol=1e-6)  # log error, min-max: evenly spaced
