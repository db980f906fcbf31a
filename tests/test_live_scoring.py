"""Live scoring pieces without a network: queue, causal scorer, normaliser, event tracker, journal."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.checkpoint import load_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_demo_clip, make_train_clip
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.live import (
    CausalNormaliser,
    DroppingQueue,
    EventJournal,
    EventTracker,
    StreamScorer,
    read_journal,
)
from vad_core.resources import demo_model_path
from vad_core.scoring.events import find_events
from vad_core.sources.base import ArraySource
from vad_core.sources.live import LiveFrame

INFERENCE = InferenceConfig(batch_size=16, device="cpu", keep_maps=False)


def live_frames(images: np.ndarray, first: int = 0) -> list[LiveFrame]:
    now = time.monotonic()
    return [LiveFrame(first + i, image, now, time.time()) for i, image in enumerate(images)]


def stream_errors(scorer: StreamScorer, frames: list[LiveFrame], sizes: list[int]) -> dict[int, float]:
    """Errors by frame index, feeding ``frames`` in batches of the given sizes (cycled)."""
    out, position, turn = {}, 0, 0
    while position < len(frames):
        size = sizes[turn % len(sizes)]
        for scored in scorer.score(frames[position : position + size]):
            assert scored.frame.index not in out, "a frame was scored twice"
            out[scored.frame.index] = scored.error
        position, turn = position + size, turn + 1
    return out


@pytest.fixture(scope="module")
def demo_frames() -> np.ndarray:
    return make_demo_clip(length=120).frames


@pytest.mark.parametrize("kind", ["frame", "temporal"])
def test_causal_scores_never_change_when_later_frames_arrive(kind: str, demo_frames: np.ndarray) -> None:
    checkpoint = load_checkpoint(demo_model_path(kind))
    frames = live_frames(demo_frames[:60])
    early = StreamScorer(checkpoint.model, INFERENCE, checkpoint.preprocess)
    first_part = stream_errors(early, frames[:30], [7])
    stream_errors(early, frames[30:], [5])  # later frames arrive: nothing earlier is scored again
    one_by_one = stream_errors(StreamScorer(checkpoint.model, INFERENCE, checkpoint.preprocess), frames, [1])
    for index, error in first_part.items():
        if math.isnan(error):
            assert math.isnan(one_by_one[index])
        else:
            assert one_by_one[index] == pytest.approx(error, rel=1e-4)


def test_predictor_scores_each_frame_from_the_frames_before_it_like_review(demo_frames: np.ndarray) -> None:
    checkpoint = load_checkpoint(demo_model_path("temporal"))
    seeds = checkpoint.model.spec.input_frames
    live = stream_errors(
        StreamScorer(checkpoint.model, INFERENCE, checkpoint.preprocess), live_frames(demo_frames), [9]
    )
    review = score_all(checkpoint.model, ArraySource(demo_frames), INFERENCE, checkpoint.preprocess).errors
    assert all(math.isnan(live[i]) for i in range(seeds))  # nothing before it to predict from
    np.testing.assert_allclose([live[i] for i in range(seeds, len(demo_frames))], review[seeds:], rtol=1e-4)


def test_a_jump_in_frame_numbers_restarts_the_predictor_context(demo_frames: np.ndarray) -> None:
    checkpoint = load_checkpoint(demo_model_path("temporal"))
    seeds = checkpoint.model.spec.input_frames
    scorer = StreamScorer(checkpoint.model, INFERENCE, checkpoint.preprocess)
    frames = live_frames(demo_frames[:20]) + live_frames(demo_frames[30:40], first=30)  # 20..29 dropped
    errors = stream_errors(scorer, frames, [16])
    assert all(math.isnan(errors[30 + i]) for i in range(seeds))
    assert not math.isnan(errors[30 + seeds])


def test_full_queue_drops_the_oldest_frames_and_counts_them() -> None:
    queue = DroppingQueue(capacity=3, droppable=lambda item: isinstance(item, int))
    for item in [0, 1, "gap", 2, 3, 4]:
        queue.put(item)
    assert queue.dropped == 2
    assert queue.take(most=10, timeout=0) == ["gap", 2, 3, 4]
    assert queue.take(most=10, timeout=0.01) == []


def test_stream_calibration_period_gives_no_scores_then_ranks_against_its_frames() -> None:
    normaliser = CausalNormaliser(None, calibration_frames=50)
    rng = np.random.default_rng(0)
    calibration = [normaliser.score(float(e)) for e in rng.gamma(4.0, 0.001, 50)]
    assert all(math.isnan(s) for s in calibration) and normaliser.origin == "stream"
    assert not normaliser.calibrating
    assert normaliser.score(1.0) > 1.0  # far above every normal error
    assert 0.0 <= normaliser.score(0.004) <= 1.0


def test_checkpoint_calibration_is_used_when_it_matches_the_error_scored(tmp_path) -> None:
    from vad_core.scoring.causal import error_quantiles

    record = error_quantiles(np.linspace(0.001, 0.002, 100), "mse", "mean").to_dict()
    metadata = {"calibration": {"error": record}}
    matching = CausalNormaliser.for_checkpoint(metadata, InferenceConfig(error="mse"))
    other = CausalNormaliser.for_checkpoint(metadata, InferenceConfig(error="ssim"))
    assert matching.origin == "checkpoint" and matching.score(0.0015) == pytest.approx(0.5)
    assert other.origin == "stream" and math.isnan(other.score(0.0015))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0, 2), st.just(float("nan"))), min_size=1, max_size=120),
    st.integers(1, 6),
    st.integers(0, 6),
)
def test_live_events_are_the_events_review_finds(scores, min_duration, merge_gap) -> None:
    tracker = EventTracker(1.0, min_duration, merge_gap)
    closed, opened = [], []
    for index, score in enumerate(scores):
        for change in tracker.push(index, score):
            (closed if change.kind == "closed" else opened).append(change.event)
    closed += [change.event for change in tracker.flush()]
    assert closed == find_events(np.asarray(scores), 1.0, min_duration, merge_gap)
    assert [e.start for e in opened] == [e.start for e in closed]  # every event alerted once


def test_event_opens_as_soon_as_it_is_long_enough() -> None:
    tracker = EventTracker(1.0, min_duration=3, merge_gap=2)
    kinds = [[c.kind for c in tracker.push(i, s)] for i, s in enumerate([0, 2, 2, 2, 0, 0, 0])]
    assert kinds == [[], [], [], ["opened"], [], [], ["closed"]]


def test_journal_skips_a_torn_last_line(tmp_path) -> None:
    journal = EventJournal(tmp_path / "events.jsonl")
    journal.append({"kind": "event", "start_frame": 3})
    with open(tmp_path / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"kind": "ev')  # what a kill in the middle of a write would leave
    assert read_journal(tmp_path / "events.jsonl") == [{"kind": "event", "start_frame": 3}]


def test_calibrated_fixture_checkpoint_scores_normal_frames_inside_the_normal_range(tmp_path) -> None:
    from live_fixtures import calibrated_demo_checkpoint

    checkpoint = load_checkpoint(calibrated_demo_checkpoint("frame", tmp_path, clips=1))
    normaliser = CausalNormaliser.for_checkpoint(checkpoint.metadata, INFERENCE)
    assert normaliser.origin == "checkpoint"
    normal = make_train_clip(SyntheticConfig(seed=0), 12).frames[:20]
    errors = score_all(checkpoint.model, ArraySource(normal), INFERENCE, checkpoint.preprocess).errors
    assert np.median([normaliser.score(float(e)) for e in errors]) < 1.0
