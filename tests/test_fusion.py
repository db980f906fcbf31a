"""Fused models: the description is validated on read, and the fused score is the weighted mean of
the members' per-clip normalised scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vad_core.checkpoint import save_checkpoint
from vad_core.cli.main import main
from vad_core.datasets.synthetic import SyntheticConfig, write_synthetic_dataset
from vad_core.errors import CheckpointError
from vad_core.fusion import fuse, fused_series, open_members, read_fused, write_fused
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scores_file import read_scores
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.scoring.combined import min_max
from vad_core.scoring.psnr import psnr_from_mse
from vad_core.sources import ArraySource


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    folder = tmp_path_factory.mktemp("members")
    torch.manual_seed(0)
    frame = build_model(ModelConfig("bcae1", 1, (32, 32)))
    predictor = build_model(ModelConfig("unet_predictor", 1, (32, 32), {"base_filters": 4, "levels": 2}))
    a = save_checkpoint(frame, folder / "frame", {"scoring": {"error": "mse", "reduction": "mean"}})
    b = save_checkpoint(predictor, folder / "predictor", {"scoring": {"error": "mse", "score": "psnr"}})
    return folder, a, b


def test_fused_series_equals_the_hand_computed_combination(members) -> None:
    folder, a, b = members
    fused = read_fused(write_fused(folder / "f.json", [(a.name, 0.25), (b.name, 0.75)]))
    frames = np.random.default_rng(0).integers(0, 255, (12, 32, 32), dtype=np.uint8)
    source = ArraySource(frames)
    config = InferenceConfig(batch_size=4, device="cpu")
    opened = open_members(fused)
    series = fused_series(opened, source, config)
    e_frame = score_all(opened[0].checkpoint.model, source, config).errors
    e_pred = score_all(opened[1].checkpoint.model, source, config).errors
    expected = 0.25 * min_max(e_frame) + 0.75 * (1 - min_max(psnr_from_mse(e_pred)))
    np.testing.assert_allclose(series, expected, atol=1e-9)
    np.testing.assert_allclose(fuse([np.ones(3), np.zeros(3)], [1, 3]), np.full(3, 0.25))


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ({"format": "other"}, "not a vad-review fused model description"),
        ({"format": "vad-review fused model", "version": 9, "members": []}, "newer vad-review"),
        (
            {"format": "vad-review fused model", "version": 1, "members": [{"checkpoint": "a", "weight": 1}]},
            "at least two",
        ),
        (
            {
                "format": "vad-review fused model",
                "version": 1,
                "members": [{"checkpoint": "a", "weight": -1}, {"checkpoint": "b", "weight": 1}],
            },
            "member 1: 'weight' must be a number >= 0, found -1",
        ),
        (
            {
                "format": "vad-review fused model",
                "version": 1,
                "members": [{"checkpoint": "a", "weight": 0}, {"checkpoint": "b", "weight": 0}],
            },
            "weights sum to 0",
        ),
        (
            {
                "format": "vad-review fused model",
                "version": 1,
                "members": [{"weight": 1}, {"checkpoint": "b", "weight": 1}],
            },
            "member 1 needs a 'checkpoint'",
        ),
    ],
)
def test_a_bad_description_names_the_file_and_the_problem(tmp_path, description, message) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(description))
    with pytest.raises(CheckpointError, match=message) as caught:
        read_fused(path)
    assert str(path) in str(caught.value)


def test_a_missing_member_is_named_when_opened(tmp_path, members) -> None:
    _, a, _ = members
    fused = read_fused(write_fused(tmp_path / "f.json", [(str(a), 1.0), ("gone.safetensors", 1.0)]))
    with pytest.raises(CheckpointError, match="gone"):
        open_members(fused)


def test_vad_fuse_then_eval_and_score_open_it_like_a_checkpoint(tmp_path, members, capsys) -> None:
    _, a, b = members
    out = tmp_path / "fused.json"
    assert main(["fuse", str(a), str(b), "--weights", "0.5", "0.5", "--out", str(out)]) == 0
    root = write_synthetic_dataset(
        tmp_path / "syn",
        SyntheticConfig(
            height=64,
            width=64,
            objects=2,
            train_clips=1,
            test_clips_per_type=1,
            frames_per_clip=40,
            anomaly_frames=(10, 20),
        ),
        demo=False,
    ).parent
    assert main(["eval", "--dataset", str(root), "--model", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "fused (0.5 x frame + 0.5 x predictor)" in text and "event recall %" in text
    clip = root / "test" / sorted(p.name for p in (root / "test").iterdir() if p.is_dir())[0]
    assert (
        main(["score", str(clip), "--model", str(out), "--out", str(tmp_path / "s"), "--device", "cpu"]) == 0
    )
    scores = read_scores(tmp_path / "s.npz")
    assert scores.meta["fused_model"] == str(out) and len(scores.meta["members"]) == 2
    assert scores.errors.min() >= 0.0 and scores.errors.max() <= 1.0
