"""Memory stays bounded: sizes and options range-checked, batches fitted to free memory, large
frames resized as they are decoded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vad_core.inference.memory_budget as memory_budget
import vad_core.inference.scoring_loop as scoring_loop
from vad_core.errors import ConfigError
from vad_core.inference.config import InferenceConfig
from vad_core.inference.memory_budget import fit_batch_size, window_bytes
from vad_core.inference.scoring_loop import score_source
from vad_core.model_config import ModelConfig
from vad_core.models.registry import build_model
from vad_core.sources.base import ArraySource

CPU = torch.device("cpu")


def test_an_input_size_beyond_what_architectures_support_is_refused():
    with pytest.raises(ConfigError, match="at most 1024 per side, found 40000x40000"):
        ModelConfig("bcae1", size=(40000, 40000))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_filters": "wide"}, "option base_filters: expected a whole number"),
        ({"base_filters": 10**7}, "option base_filters: expected a whole number 0..65536"),
        ({"base_filters": 4096}, "M parameters \\(limit 500 M\\)"),
        ({"levels": True}, "option levels: expected a whole number"),
        ({"colour": 1}, "unknown option 'colour'"),
    ],
)
def test_model_options_are_range_checked_against_the_architecture(options, message):
    with pytest.raises(ConfigError, match=message):
        build_model(ModelConfig("unet_predictor", size=(64, 64), options=options))


def test_the_window_estimate_grows_with_the_input_size():
    small = window_bytes(build_model(ModelConfig("bcae1", size=(64, 64))))
    large = window_bytes(build_model(ModelConfig("bcae1", size=(256, 256))))
    assert 14 < large / small < 18  # 16x the pixels


def test_a_batch_that_does_not_fit_is_reduced_and_the_reduction_is_said():
    model = build_model(ModelConfig("bcae1", size=(64, 64)))
    per_window = window_bytes(model)
    notices: list[str] = []
    fitted = fit_batch_size(model, 32, CPU, free_bytes=per_window * 10, on_notice=notices.append)
    assert fitted == 6  # 60 % of ten windows
    assert notices and "batch size reduced from 32 to 6" in notices[0] and "per window" in notices[0]
    assert fit_batch_size(model, 4, CPU, free_bytes=per_window * 10, on_notice=notices.append) == 4
    assert len(notices) == 1


def test_a_window_that_cannot_fit_is_refused_with_its_size():
    model = build_model(ModelConfig("bcae1", size=(64, 64)))
    with pytest.raises(ConfigError, match=r"one window of bcae1 at 64x64 needs about .* only .* is free"):
        fit_batch_size(model, 8, CPU, free_bytes=window_bytes(model))


def test_a_model_reading_thousands_of_frames_per_window_is_refused_before_allocating():
    model = build_model(ModelConfig("crnn_ae", size=(1024, 1024), options={"time_steps": 4000}))
    source = ArraySource(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ConfigError, match="one window of crnn_ae at 1024x1024 needs about"):
        next(score_source(model, source, InferenceConfig(device="cpu")))


def test_scoring_with_a_reduced_batch_gives_the_same_scores(monkeypatch):
    model = build_model(ModelConfig("bcae1", size=(32, 32)))
    frames = np.random.default_rng(0).integers(0, 255, (20, 40, 40), dtype=np.uint8)
    config = InferenceConfig(device="cpu", batch_size=16)
    full = np.concatenate([chunk.errors for chunk in score_source(model, ArraySource(frames), config)])
    monkeypatch.setattr(memory_budget, "free_memory_bytes", lambda device: window_bytes(model) * 5)
    notices: list[str] = []
    chunks = list(score_source(model, ArraySource(frames), config, on_notice=notices.append))
    assert max(len(chunk.errors) for chunk in chunks) == 3
    assert notices and "reduced from 16 to 3" in notices[0]
    np.testing.assert_allclose(np.concatenate([chunk.errors for chunk in chunks]), full, rtol=1e-5)


class CountingSource(ArraySource):
    """An array source that records how many frames each read asked for."""

    def __init__(self, frames: np.ndarray) -> None:
        super().__init__(frames)
        self.reads: list[int] = []

    def read(self, start: int, stop: int) -> np.ndarray:
        self.reads.append(stop - start)
        return super().read(start, stop)


def test_large_frames_are_resized_a_few_at_a_time_as_they_are_decoded(monkeypatch):
    frames = np.random.default_rng(1).integers(0, 255, (24, 300, 200), dtype=np.uint8)
    monkeypatch.setattr(scoring_loop, "DECODE_BUDGET_BYTES", 300 * 200 * 5)  # five frames at a time
    model = build_model(ModelConfig("bcae1", size=(32, 32)))
    config = InferenceConfig(device="cpu", batch_size=16)
    source = CountingSource(frames)
    chunked = np.concatenate([chunk.errors for chunk in score_source(model, source, config)])
    assert max(source.reads) == 5 and sum(source.reads) == 24
    monkeypatch.setattr(scoring_loop, "DECODE_BUDGET_BYTES", 10**12)
    whole = np.concatenate([chunk.errors for chunk in score_source(model, ArraySource(frames), config)])
    np.testing.assert_array_equal(chunked, whole)
