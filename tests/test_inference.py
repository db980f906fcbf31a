"""Window planning and chunked scoring of frame sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import plan_windows, reconstruct_frame, score_all, score_source
from vad_core.models.base import AnomalyModel, ModelConfig, TemporalSpec
from vad_core.sources import ArraySource


class ShiftPredictor(AnomalyModel):
    """Predicts each future frame as the last seed frame (a perfect model of a static scene)."""

    spec = TemporalSpec("predict", 2, 3)

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig("shift", 1, (32, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:].expand(-1, self.spec.output_frames, -1, -1, -1)


class Identity(AnomalyModel):
    def __init__(self, spec: TemporalSpec) -> None:
        super().__init__()
        self.spec = spec
        self.config = ModelConfig("identity", 1, (32, 32))
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5  # error grows with brightness: a frame's error identifies the frame


SPECS = [
    TemporalSpec("frame"),
    TemporalSpec("clip", 4, 4),
    TemporalSpec("clip", 8, 8),
    TemporalSpec("predict", 4, 4),
    TemporalSpec("predict", 2, 3),
]


@given(n=st.integers(1, 60), which=st.integers(0, len(SPECS) - 1))
def test_every_frame_is_scored_exactly_once(n: int, which: int) -> None:
    spec = SPECS[which]
    windows = plan_windows(n, spec)
    scored = [frame for window in windows for _, frame in window.targets]
    assert (
        sorted(scored)
        == list(
            range(
                spec.input_frames
                if spec.mode == "predict" and n > spec.input_frames
                else (n - 1 if spec.mode == "predict" else 0),
                n,
            )
        )
        or spec.mode == "predict"
    )
    if spec.mode != "predict":
        assert scored == list(range(n))
    else:
        expected = list(range(spec.input_frames, n)) if n > spec.input_frames else [n - 1]
        assert scored == expected
    for window in windows:
        assert len(window.frames) == spec.window
        assert all(0 <= f < n for f in window.frames)
        for position, frame in window.targets:
            offset = spec.input_frames if spec.mode == "predict" else 0
            if n >= spec.window:
                assert window.frames[offset + position] == frame


def _brightness_ramp(n: int) -> ArraySource:
    frames = np.stack([np.full((32, 32), 4 * i, np.uint8) for i in range(n)])
    return ArraySource(frames, fps=10, name="ramp")


@pytest.mark.parametrize("spec", SPECS[:3], ids=str)
def test_scores_belong_to_their_own_frames(spec: TemporalSpec) -> None:
    source = _brightness_ramp(23)
    result = score_all(Identity(spec), source, InferenceConfig(batch_size=3, device="cpu"))
    expected = ((np.arange(23) * 4 / 255.0) * 0.5) ** 2
    np.testing.assert_allclose(result.errors, expected, rtol=1e-4, atol=1e-7)
    assert result.maps is not None and result.maps.shape == (23, 32, 32)


def test_predictor_copies_the_first_score_to_unpredictable_seed_frames() -> None:
    frames = np.zeros((12, 32, 32), np.uint8)
    frames[7] = 200  # a flash: predicted badly at frame 7 and from it at frames 8-9
    result = score_all(ShiftPredictor(), ArraySource(frames), InferenceConfig(batch_size=2, device="cpu"))
    assert result.errors[0] == result.errors[1] == result.errors[2]
    assert result.errors[7] > 0.1 and result.errors[8] > 0.1
    assert result.errors[3] == pytest.approx(0.0)


def test_chunks_arrive_in_order_and_can_be_abandoned() -> None:
    source = _brightness_ramp(40)
    chunks = score_source(
        Identity(TemporalSpec("frame")), source, InferenceConfig(batch_size=8, device="cpu")
    )
    first = next(chunks)
    second = next(chunks)
    assert (first.start, first.stop, second.start) == (0, 8, 8)
    chunks.close()  # the consumer stops: no error, no further work


def test_reconstruct_frame_matches_the_scored_map() -> None:
    source = _brightness_ramp(10)
    model = Identity(TemporalSpec("clip", 4, 4))
    result = score_all(model, source, InferenceConfig(batch_size=2, device="cpu"))
    view = reconstruct_frame(model, source, 9, InferenceConfig(device="cpu"))
    np.testing.assert_allclose(view.error, result.maps[9].astype(np.float32), rtol=1e-2, atol=1e-6)
    np.testing.assert_allclose(view.output, view.input * 0.5, atol=1e-6)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_device_side_scoring_and_read_ahead_give_the_cpu_path_scores(spec, monkeypatch) -> None:
    """The accelerator path (reduction on the device, next batch read in a thread) run on the CPU."""
    import vad_core.inference.scoring_loop as inference

    frames = np.random.default_rng(3).integers(0, 256, (37, 40, 48), dtype=np.uint8)
    source = ArraySource(frames, fps=10, name="noise")
    model = ShiftPredictor() if spec == TemporalSpec("predict", 2, 3) else Identity(spec)
    config = InferenceConfig(batch_size=5, device="cpu", reduction="patch_max", patch=7)
    plain = score_all(model, source, config)
    monkeypatch.setattr(inference, "_scores_on_device", lambda device: True)
    device_side = score_all(model, source, config)
    np.testing.assert_allclose(device_side.errors, plain.errors, rtol=1e-6)
    np.testing.assert_array_equal(device_side.maps, plain.maps)


class SmallMemoryPredictor(ShiftPredictor):
    """Runs out of memory on batches of more than two windows, like a model on a small GPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(x)


@pytest.mark.parametrize("device_side", [False, True], ids=["host", "device-side"])
def test_batches_halved_after_running_out_of_memory_score_every_frame_as_small_batches_do(
    device_side, monkeypatch
) -> None:
    import vad_core.inference.scoring_loop as inference

    monkeypatch.setattr(inference, "_scores_on_device", lambda device: device_side)
    frames = np.random.default_rng(6).integers(0, 256, (29, 40, 48), dtype=np.uint8)
    notices: list[str] = []
    chunks = list(
        score_source(
            SmallMemoryPredictor(),
            ArraySource(frames),
            InferenceConfig(batch_size=8, device="cpu"),
            on_notice=notices.append,
        )
    )
    expected = score_all(ShiftPredictor(), ArraySource(frames), InferenceConfig(batch_size=2, device="cpu"))
    assert notices == [
        "out of CPU memory: batch size halved to 4",
        "out of CPU memory: batch size halved to 2",
    ]
    assert [c.start for c in chunks] == [0, *(c.stop for c in chunks[:-1])]
    np.testing.assert_array_equal(np.concatenate([c.errors for c in chunks]), expected.errors)
    np.testing.assert_array_equal(np.concatenate([c.maps for c in chunks]), expected.maps)


@pytest.mark.parametrize(
    ("frame_shape", "channels"),
    [
        ((64, 64), 1),  # whole 2x2 cells
        ((45, 70, 3), 1),  # colour footage, gray model: channels converted on the host
        ((45, 70), 3),  # gray footage, colour model
        ((45, 70, 3), 3),
        ((24, 40), 1),  # grows in one direction: resized on the host
        ((32, 32), 1),  # already at model size
    ],
    ids=str,
)
def test_frames_resized_on_the_device_score_as_frames_resized_on_the_host(
    frame_shape, channels, monkeypatch
) -> None:
    import vad_core.inference.scoring_loop as inference

    frames = np.random.default_rng(5).integers(0, 256, (23, *frame_shape), dtype=np.uint8)
    source = ArraySource(frames, fps=10, name="noise")
    model = Identity(TemporalSpec("clip", 4, 4))
    model.config = ModelConfig("identity", channels, (32, 32))
    config = InferenceConfig(batch_size=3, device="cpu")
    plain = score_all(model, source, config)
    monkeypatch.setattr(inference, "_scores_on_device", lambda device: True)
    device_side = score_all(model, source, config)
    np.testing.assert_allclose(device_side.errors, plain.errors, rtol=1e-6)
    np.testing.assert_array_equal(device_side.maps, plain.maps)


def test_read_ahead_serves_batches_in_order_and_rereads_after_a_batch_size_change() -> None:
    from vad_core.inference.scoring_loop import _FrameReader, _Prefetcher, _read_batch
    from vad_core.sources import Preprocess

    frames = np.random.default_rng(4).integers(0, 256, (30, 24, 24), dtype=np.uint8)
    windows = plan_windows(30, TemporalSpec("predict", 4, 1))
    preprocess = Preprocess((16, 16), 1)
    prefetcher = _Prefetcher(_FrameReader(ArraySource(frames), preprocess), windows, enabled=True)
    direct = _FrameReader(ArraySource(frames), preprocess)
    try:
        for position, size in [(0, 8), (8, 8), (16, 4), (20, 4), (24, 4)]:  # 8 -> 4: "out of memory"
            batch = prefetcher.get(position, size)
            prefetcher.ask(position + len(batch.windows), 8)
            expected = _read_batch(direct, windows, position, size)
            np.testing.assert_array_equal(batch.frames, expected.frames)
            np.testing.assert_array_equal(batch.clip_index, expected.clip_index)
            assert [w.frames for w in batch.windows] == [w.frames for w in expected.windows]
    finally:
        prefetcher.close()
