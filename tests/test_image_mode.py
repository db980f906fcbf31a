"""Image inspection mode: scoring an MVTec-layout category, sorting, metrics, masks, training, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from explain_fixtures import tiny_setup, write_mvtec_parts

from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.cli.main import main as vad_main
from vad_core.datasets import read_mvtec
from vad_core.errors import Cancelled, ConfigError
from vad_core.evaluation.images import (
    ImageModeConfig,
    evaluate_image_dataset,
    inspect_dataset,
    inspect_iter,
    mask_outline,
    train_on_image_dataset,
)
from vad_core.inference.config import InferenceConfig
from vad_core.models import ModelConfig, build_model


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> Path:
    """A 40x40 px category (the model works at 32x32), one defect image without its mask."""
    root = tmp_path_factory.mktemp("mvtec")
    return write_mvtec_parts(root, size=40, n_train=6, n_good=4, n_per_defect=3, drop_mask="hole/001.png")


@pytest.fixture(scope="module")
def inspection(parts):
    return evaluate_image_dataset(tiny_setup().model, read_mvtec(parts), InferenceConfig(batch_size=8))


def test_defective_parts_rank_first_and_both_aurocs_are_high(inspection) -> None:
    order = inspection.order()
    assert len(order) == len(inspection) == 13
    ranked = [inspection.samples[i].anomalous for i in order]
    assert ranked[:6] == [True] * 6 and ranked[-1] is False
    assert list(inspection.scores[order]) == sorted(inspection.scores, reverse=True)
    assert inspection.image_auroc >= 0.9
    assert inspection.pixel_auroc >= 0.9
    assert 0.5 <= inspection.aupro <= 1.0
    per_defect = {d.defect_type: d for d in inspection.per_defect()}
    assert set(per_defect) == {"hole", "print", "scratch"}
    assert all(d.images == 3 for d in per_defect.values())


def test_table_lists_defect_types_totals_and_the_missing_mask(inspection) -> None:
    table = inspection.table()
    for text in (
        "image AUROC %",
        "pixel AUROC %",
        "AUPRO %",
        "hole",
        "print",
        "scratch",
        "all",
        "G-mean threshold",
    ):
        assert text in table
    assert "hole/001.png has no mask" in table
    assert "left out of pixel AUROC" in table


def test_maps_masks_and_outlines_come_at_image_size(inspection) -> None:
    index = next(i for i, s in enumerate(inspection.samples) if s.defect_type == "print")
    heat = inspection.error_map(index)
    assert heat.shape == (40, 40) and heat.dtype == np.float32
    assert inspection.model_map(index).shape == (32, 32)
    mask = inspection.mask(index)
    assert mask.shape == (40, 40) and mask.any()
    outline = inspection.mask_outline(index)
    assert outline and outline[0].shape[1] == 2
    assert heat[mask].mean() > 3 * heat[~mask].mean()
    good = next(i for i, s in enumerate(inspection.samples) if not s.anomalous)
    assert not inspection.mask(good).any() and inspection.mask_outline(good) == []
    missing = next(i for i, s in enumerate(inspection.samples) if s.anomalous and s.mask_path is None)
    assert inspection.mask(missing) is None
    assert inspection.thumbnail(index, 20).shape == (20, 20, 3)


def test_mask_outline_traces_a_square() -> None:
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:6] = True
    (contour,) = mask_outline(mask)
    assert {tuple(p) for p in contour} == {(3, 2), (5, 2), (5, 4), (3, 4)}


def test_top_k_image_score_and_smoothing(parts) -> None:
    config = ImageModeConfig(image_score="top_k", top_fraction=0.05, smooth_sigma=1.0, pixel_size=None)
    result = inspect_dataset(tiny_setup().model, read_mvtec(parts), config=config)
    assert result.image_auroc >= 0.9
    assert "top 5% pixel errors" in result.table()
    with pytest.raises(ConfigError, match="image_score"):
        ImageModeConfig(image_score="max")


def test_scoring_yields_chunks_and_can_be_cancelled(parts) -> None:
    dataset = read_mvtec(parts)
    chunks = list(inspect_iter(tiny_setup().model, dataset, InferenceConfig(batch_size=4)))
    assert [c.start for c in chunks] == [0, 4, 8, 12]
    assert chunks[-1].stop == chunks[-1].total == 13
    with pytest.raises(Cancelled):
        inspect_dataset(tiny_setup().model, dataset, InferenceConfig(batch_size=4), should_stop=lambda: True)


def test_video_models_are_refused(parts) -> None:
    model = build_model(ModelConfig("crnn_ae", 3, (32, 32), {"time_steps": 4}))
    with pytest.raises(ConfigError, match="frame model"):
        inspect_dataset(model, read_mvtec(parts))


def test_training_on_train_good_writes_a_checkpoint_that_evaluates(parts, tmp_path, capsys) -> None:
    dataset = read_mvtec(parts)
    events = []
    result = train_on_image_dataset(
        dataset,
        "bcae1",
        output=tmp_path / "part_cae",
        size=(32, 32),
        max_epochs=2,
        batch_size=4,
        progress=events.append,
    )
    assert result.checkpoint is not None and result.checkpoint.is_file()
    assert any(e.kind == "epoch" for e in events)
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.config.channels == 3
    assert "part" in checkpoint.trained_on
    code = vad_main(["eval", "--dataset", str(parts), "--model", str(result.checkpoint), "--batch-size", "8"])
    assert code == 0
    assert "image AUROC %" in capsys.readouterr().out


def test_training_can_be_stopped(parts) -> None:
    with pytest.raises(Cancelled):
        train_on_image_dataset(
            read_mvtec(parts), "bcae1", size=(32, 32), max_epochs=5, should_stop=lambda: True
        )


def test_checkpoint_input_uses_its_display_name(parts, tmp_path) -> None:
    path = save_checkpoint(tiny_setup().model, tmp_path / "tiny", {"display_name": "Tiny CAE"})
    result = evaluate_image_dataset(load_checkpoint(path), read_mvtec(parts))
    assert result.table().startswith("Tiny CAE on MVTec AD part")


@pytest.mark.real_data
def test_real_bottle_masks_are_found_and_scored(bottle_root) -> None:
    dataset = read_mvtec(bottle_root)
    assert not dataset.notes
    model = build_model(ModelConfig("bcae1", 3, (64, 64))).eval()
    picked = [s for s in dataset.test if s.defect_type in ("good", "broken_large")][::4]
    chunks = inspect_iter(model, dataset, InferenceConfig(batch_size=16), samples=picked)
    try:
        while True:
            next(chunks)
    except StopIteration as stop:
        result = stop.value
    assert result.error_map(0).shape == (256, 256)
    assert np.isfinite(result.pixel_auroc) and np.isfinite(result.image_auroc)
