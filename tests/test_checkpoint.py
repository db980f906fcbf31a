"""Checkpoints: safetensors + JSON round trips and clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from vad_core.checkpoint import checkpoint_paths, load_checkpoint, read_description, save_checkpoint
from vad_core.errors import CheckpointError
from vad_core.models import ModelConfig, build_model


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig("bcae1", 1, (32, 32)))
    path = save_checkpoint(model, tmp_path / "model", {"training": {"dataset": "unit test"}})
    return model, path


def test_round_trip_gives_identical_outputs(saved) -> None:
    model, path = saved
    loaded = load_checkpoint(path)
    x = torch.rand(2, 1, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded.model(x), model(x))
    assert loaded.trained_on == "unit test"
    assert loaded.config == model.config


def test_any_of_the_two_files_or_the_stem_opens_it(saved) -> None:
    _, path = saved
    for variant in (path, path.with_suffix(".json"), path.with_suffix("")):
        assert load_checkpoint(variant).config.name == "bcae1"


def test_truncated_weights_name_the_file(saved) -> None:
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=path.name):
        load_checkpoint(path, verify=False)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(path)


def test_weights_of_another_architecture_are_refused(saved, tmp_path) -> None:
    _, path = saved
    weights, description = checkpoint_paths(path)
    data = json.loads(description.read_text())
    data["model"]["name"] = "bcae2"
    description.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="do not fit architecture bcae2"):
        load_checkpoint(path)


def test_newer_format_is_refused_with_a_message(saved) -> None:
    _, path = saved
    _, description = checkpoint_paths(path)
    data = json.loads(description.read_text())
    data["version"] = 99
    description.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="newer"):
        read_description(path)


def test_missing_and_garbage_descriptions(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "junk.json")
