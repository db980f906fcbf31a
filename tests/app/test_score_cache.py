"""The on-disk score cache: keys, round trips, damaged entries, size bound (no Qt)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vad_core.checkpoint import Checkpoint
from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache, cache_key, source_identity
from vad_core.model_config import ModelConfig
from vad_core.sources.base import ArraySource

pytestmark = pytest.mark.gui


def frames(seed: int = 0, n: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 16, 16), dtype=np.uint8)


def test_round_trip_keeps_errors_and_float16_maps(tmp_path):
    cache = ScoreCache(tmp_path)
    errors = np.linspace(0, 1, 20, dtype=np.float32)
    maps = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)

    cache.store("k", errors, maps, {"model": "x"})
    hit = cache.load("k")

    np.testing.assert_array_equal(hit.errors, errors)
    assert hit.maps.dtype == np.float16 and hit.maps.shape == (20, 8, 8)
    assert hit.meta["model"] == "x"
    assert not list(tmp_path.glob("*.tmp"))


def checkpoint(sha: str = "sha-a", metadata: dict | None = None, **config) -> Checkpoint:
    """A checkpoint as the cache sees it (no weights needed to compute a key)."""
    fields = {"name": "bcae1", "channels": 1, "size": (128, 128), "options": {}, **config}
    metadata = {"preprocess": {"size": [128, 128], "channels": 1, "range": [0.0, 1.0]}, "scoring": {}} | (
        metadata or {}
    )
    return Checkpoint(model=None, config=ModelConfig(**fields), metadata=metadata, sha256=sha)  # type: ignore[arg-type]


def test_key_changes_with_frames_checkpoint_and_settings():
    source = ArraySource(frames(0))
    base = cache_key(source, checkpoint(), InferenceConfig())
    assert cache_key(ArraySource(frames(0)), checkpoint(), InferenceConfig(batch_size=7)) == base
    assert cache_key(ArraySource(frames(1)), checkpoint(), InferenceConfig()) != base
    assert cache_key(source, checkpoint("sha-b"), InferenceConfig()) != base
    assert cache_key(source, checkpoint(), InferenceConfig(reduction="l2")) != base
    assert cache_key(source, checkpoint(), InferenceConfig(), device="cuda") != base


SAME_WEIGHTS_OTHER_MODEL = {
    "input size": {"size": (64, 64)},
    "channels": {"channels": 3},
    "architecture": {"name": "bcae2"},
    "model option": {"options": {"time_steps": 4}},
    "normalisation": {"metadata": {"preprocess": {"size": [128, 128], "channels": 1, "range": [0.0, 255.0]}}},
    "score kind": {"metadata": {"scoring": {"score": "psnr"}}},
    "MNAD weight": {"metadata": {"scoring": {"score": "mnad", "mnad_weight": 0.3}}},
    "recommended error": {"metadata": {"scoring": {"error": "ssim"}}},
}
OTHER_SETTINGS = {
    "error": {"error": "ssim"},
    "reduction": {"reduction": "smoothed_max"},
    "patch": {"patch": 11},
    "predictor scoring": {"prediction": "block"},
    "maps kept": {"keep_maps": False},
}


@pytest.mark.parametrize("field", SAME_WEIGHTS_OTHER_MODEL)
def test_a_checkpoint_with_the_same_weights_but_another_field_misses_the_cache(tmp_path, field):
    cache, source = ScoreCache(tmp_path), ArraySource(frames(0))
    cache.store(cache_key(source, checkpoint(), InferenceConfig()), np.ones(20, np.float32), None, {})
    changed = checkpoint(**SAME_WEIGHTS_OTHER_MODEL[field])
    assert cache.load(cache_key(source, changed, InferenceConfig())) is None
    assert cache.load(cache_key(source, checkpoint(), InferenceConfig())) is not None  # the stored one hits


@pytest.mark.parametrize("field", OTHER_SETTINGS)
def test_each_inference_setting_that_changes_scores_misses_the_cache(tmp_path, field):
    cache, source = ScoreCache(tmp_path), ArraySource(frames(0))
    cache.store(cache_key(source, checkpoint(), InferenceConfig()), np.ones(20, np.float32), None, {})
    assert cache.load(cache_key(source, checkpoint(), InferenceConfig(**OTHER_SETTINGS[field]))) is None


def test_the_key_reads_the_model_as_built_so_spelled_out_defaults_still_hit():
    from vad_core.models.registry import build_model

    source = ArraySource(frames(0))
    built = build_model(ModelConfig("crnn_ae", size=(32, 32)))
    implicit = Checkpoint(model=built, config=ModelConfig("crnn_ae", size=(32, 32)), sha256="s")
    explicit = Checkpoint(model=built, config=built.config, sha256="s")
    assert cache_key(source, implicit, InferenceConfig()) == cache_key(source, explicit, InferenceConfig())


def test_file_identity_follows_size_and_mtime(tmp_path):
    path = tmp_path / "clip.avi"
    path.write_bytes(b"0" * 100)

    class FakeVideo(ArraySource):
        pass

    source = FakeVideo(frames(0))
    source.path = path
    first = source_identity(source)
    os.utime(path, ns=(1, 1))
    assert source_identity(source) != first


def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path):
    cache = ScoreCache(tmp_path)
    tmp_path.joinpath("bad.npz").write_bytes(b"not a zip")
    assert cache.load("bad") is None
    assert not tmp_path.joinpath("bad.npz").exists()
    assert cache.load("missing") is None


def test_the_cache_drops_least_recently_used_entries_beyond_its_size(tmp_path):
    cache = ScoreCache(tmp_path, max_bytes=12_000)
    for i in range(5):
        cache.store(f"k{i}", np.zeros(1000, np.float32), None)
        os.utime(cache.path_of(f"k{i}"), (i, i))
    cache.store("new", np.zeros(1000, np.float32), None)
    assert cache.size_bytes() <= 12_000
    assert cache.load("new") is not None
    assert cache.load("k0") is None
