"""The review window scores with the checkpoint's recommended score kind (psnr, mnad), as ``vad score`` does."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import MEMORY_DISTANCE, score_all
from vad_core.scoring import ScoringConfig, anomaly_scores
from vad_core.sources.base import ArraySource

pytestmark = pytest.mark.gui

TINY_MNAD = {"base_filters": 2, "memory_items": 3}


def _save(folder, name: str, options: dict, scoring: dict):
    import torch

    from vad_core.checkpoint import save_checkpoint
    from vad_core.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(name, 1, (64, 64), options)).eval()
    metadata = {"display_name": f"tiny {name}", "training": {"dataset": "nothing"}, "scoring": scoring}
    return save_checkpoint(model, folder / f"tiny_{name}", metadata)


@pytest.fixture(scope="module")
def mnad_checkpoint(tmp_path_factory):
    """An untrained tiny MNAD recommending its score (error mse, mean, score mnad, lambda 0.6)."""
    scoring = {"error": "mse", "reduction": "mean", "score": "mnad", "mnad_weight": 0.6}
    return _save(tmp_path_factory.mktemp("mnad"), "mnad_predictor", TINY_MNAD, scoring)


@pytest.fixture(scope="module")
def psnr_checkpoint(tmp_path_factory):
    """An untrained BCAE1 whose checkpoint recommends the PSNR score."""
    return _save(tmp_path_factory.mktemp("psnr"), "bcae1", {}, {"reduction": "mean", "score": "psnr"})


def what_vad_score_reports(checkpoint_path, frames: np.ndarray, scoring: ScoringConfig) -> np.ndarray:
    """The anomaly score ``vad score`` writes for these frames (score_all, then anomaly_scores with side)."""
    from vad_core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(checkpoint_path)
    inference = InferenceConfig(device="cpu", error="mse", reduction="mean")
    result = score_all(checkpoint.model, ArraySource(frames, 25.0), inference, checkpoint.preprocess)
    return anomaly_scores(result.errors, scoring, result.side).score


def test_an_mnad_checkpoint_is_scored_with_psnr_and_memory_distance_like_vad_score(
    qtbot, wait_scored, window, demo_clip, mnad_checkpoint
):
    frames = np.ascontiguousarray(demo_clip.frames)
    window.opening.open_source(ArraySource(frames, 25.0, "demo-small"), "demo-small")
    window.load_checkpoint(mnad_checkpoint)
    wait_scored(window)
    session = window.session

    assert session.scoring.score == "mnad" and session.scoring.mnad_weight == 0.6
    distance = session.buffers.side[MEMORY_DISTANCE]
    assert distance.shape == (len(frames),) and np.isfinite(distance).all()
    expected = what_vad_score_reports(mnad_checkpoint, frames, session.scoring)
    np.testing.assert_allclose(session.scores.score, expected, atol=1e-5)
    by_error = anomaly_scores(session.buffers.errors, ScoringConfig()).score
    assert not np.allclose(session.scores.score, by_error, atol=1e-3)  # not the plain error's curve
    assert window.model_panel.info_labels["Scoring"].text().startswith("mnad")

    window.scoring_controls.threshold.setValue(0.3)  # a threshold change keeps the score kind
    assert session.scoring.score == "mnad" and session.scoring.threshold == 0.3


def test_reopening_an_mnad_scored_video_reads_the_memory_distance_from_the_cache(
    qtbot, wait_scored, window, demo_clip, mnad_checkpoint
):
    frames = np.ascontiguousarray(demo_clip.frames)
    window.opening.open_source(ArraySource(frames, 25.0, "demo-small"), "demo-small")
    window.load_checkpoint(mnad_checkpoint)
    wait_scored(window)
    first = window.session.scores.score.copy()

    window.opening.open_source(ArraySource(frames.copy(), 25.0, "again"), "again")
    window.scoring.start()
    wait_scored(window)

    assert window.session.from_cache and MEMORY_DISTANCE in window.session.buffers.side
    np.testing.assert_allclose(window.session.scores.score, first, atol=1e-6)


def test_a_cache_entry_without_the_memory_distance_is_scored_again(
    qtbot, wait_scored, window, demo_clip, mnad_checkpoint
):
    frames = np.ascontiguousarray(demo_clip.frames)
    window.opening.open_source(ArraySource(frames, 25.0, "demo-small"), "demo-small")
    window.load_checkpoint(mnad_checkpoint)
    wait_scored(window)
    cache = window.scoring.cache
    (entry,) = cache.entries()
    hit = cache.load(entry.stem)
    cache.store(entry.stem, hit.errors, hit.maps, hit.meta)  # as written before side series existed

    window.scoring.start()
    wait_scored(window)

    assert not window.session.from_cache and window.session.problem is None
    assert MEMORY_DISTANCE in cache.load(entry.stem).side


def test_a_psnr_checkpoint_is_scored_with_psnr_and_the_panel_says_so(
    qtbot, wait_scored, window, demo_clip, psnr_checkpoint
):
    frames = np.ascontiguousarray(demo_clip.frames)
    window.opening.open_source(ArraySource(frames, 25.0, "demo-small"), "demo-small")
    window.load_checkpoint(psnr_checkpoint)
    wait_scored(window)
    session = window.session

    assert session.scoring.score == "psnr"
    np.testing.assert_allclose(
        session.scores.score, what_vad_score_reports(psnr_checkpoint, frames, session.scoring), atol=1e-5
    )
    assert window.model_panel.info_labels["Scoring"].text().startswith("psnr")
    assert "score psnr" in window.statusBar().currentMessage()


@pytest.fixture(scope="module")
def fused_description(tmp_path_factory, tiny_checkpoint, mnad_checkpoint):
    """``vad fuse`` output: the tiny BCAE1 (error score) and the tiny MNAD (mnad score), 0.3 / 0.7."""
    from vad_core.fusion import write_fused

    folder = tmp_path_factory.mktemp("fused")
    return write_fused(folder / "fused.json", [(tiny_checkpoint, 0.3), (mnad_checkpoint, 0.7)])


def test_a_fused_model_scores_the_video_like_vad_score_does(
    qtbot, wait_scored, window, demo_clip, fused_description
):
    from vad_core.fusion import fused_series, open_members, read_fused

    frames = np.ascontiguousarray(demo_clip.frames)
    window.opening.open_source(ArraySource(frames, 25.0, "demo-small"), "demo-small")
    window.load_checkpoint(fused_description)
    wait_scored(window)
    session = window.session

    assert session.checkpoint is None and session.fused is not None and session.problem is None
    members = open_members(read_fused(fused_description))
    series = fused_series(members, ArraySource(frames, 25.0), InferenceConfig(device="cpu"))
    np.testing.assert_allclose(session.buffers.errors, series, atol=1e-5)
    np.testing.assert_allclose(session.scores.score, anomaly_scores(series, session.scoring).score, atol=1e-5)
    assert session.scoring.score == "error"
    assert "fused" in window.model_panel.info_labels["Architecture"].text()
    assert window.model_panel.info_labels["Scoring"].text().startswith("error")
    assert "fused" in window.windowTitle()


def test_the_image_window_refuses_a_fused_model_naming_it(qtbot, home, fused_description):
    from app.settings import AppSettings, _MemoryStore
    from app.windows.image_window import ImageWindow

    win = ImageWindow(AppSettings(_MemoryStore()))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.checkpoints.failed, timeout=30_000):
        win.load_checkpoint(fused_description)
    assert win.checkpoint is None and "fused model" in win.error_dialog.text()
    win.close()
