"""The on-disk score cache: keys, round trips, damaged entries, size bound (no Qt)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vad_core.inference.config import InferenceConfig
from vad_core.inference.score_cache import ScoreCache, cache_key, source_identity
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


def test_key_changes_with_frames_checkpoint_and_settings():
    source = ArraySource(frames(0))
    base = cache_key(source, "sha-a", InferenceConfig())
    assert cache_key(ArraySource(frames(0)), "sha-a", InferenceConfig(batch_size=7)) == base
    assert cache_key(ArraySource(frames(1)), "sha-a", InferenceConfig()) != base
    assert cache_key(source, "sha-b", InferenceConfig()) != base
    assert cache_key(source, "sha-a", InferenceConfig(reduction="l2")) != base
    assert cache_key(source, "sha-a", InferenceConfig(), device="cuda") != base


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
