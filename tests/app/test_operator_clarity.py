"""What the review window tells an operator: a model that does not fit, valid clip names."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui


def _checkpoint_with_normal_range(folder, errors) -> object:
    import torch

    from vad_core.checkpoint import save_checkpoint
    from vad_core.evaluation.fit import NORMAL_RANGE, normal_range_record
    from vad_core.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig("bcae1", 1, (64, 64))).eval()
    metadata = {
        "display_name": "tiny BCAE1",
        "training": {"dataset": "made up", "footage": {"size": [64, 64], "channels": 1}},
        NORMAL_RANGE: normal_range_record(np.asarray(errors)),
    }
    return save_checkpoint(model, folder / "tiny_fit", metadata)


def _score(qtbot, window, source, checkpoint) -> None:
    window.opening.open_source(source, "demo-small")
    window.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: window.session.complete and not window.score_job.running, timeout=30_000)


def test_a_model_far_outside_its_normal_range_shows_the_banner_and_offers_training(
    qtbot, window, demo_source, tmp_path
):
    checkpoint = _checkpoint_with_normal_range(tmp_path, np.linspace(1e-7, 2e-7, 50))
    _score(qtbot, window, demo_source, checkpoint)

    banner = window.fit_banner
    assert banner.isVisible()
    assert "tiny BCAE1 does not seem to fit demo-small: 100 % of frames err far above" in banner.text
    assert "the model does not fit this footage: see the banner" in window.statusBar().currentMessage()
    qtbot.mouseClick(banner.train_button, Qt.MouseButton.LeftButton)
    assert window.train_dialog is not None and window.train_dialog.isVisible()
    window.train_dialog.close()


def test_a_model_inside_its_normal_range_shows_no_banner(
    qtbot, window, demo_source, tiny_checkpoint, tmp_path
):
    from vad_core.checkpoint import load_checkpoint
    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import score_all

    errors = score_all(
        load_checkpoint(tiny_checkpoint).model, demo_source, InferenceConfig(batch_size=32)
    ).errors
    checkpoint = _checkpoint_with_normal_range(tmp_path, errors)
    _score(qtbot, window, demo_source, checkpoint)

    assert not window.fit_banner.isVisible()


def test_colour_footage_for_a_gray_model_is_named_in_the_banner(qtbot, window, demo_clip, tmp_path):
    from vad_core.sources.base import ArraySource

    colour = np.repeat(np.ascontiguousarray(demo_clip.frames)[..., None], 3, axis=3)
    colour[..., 0] //= 2  # not gray
    checkpoint = _checkpoint_with_normal_range(tmp_path, np.linspace(0.0, 1.0, 50))
    _score(qtbot, window, ArraySource(colour, fps=25.0, name="colour"), checkpoint)

    assert window.fit_banner.isVisible()
    assert "the footage is colour, the training footage was gray" in window.fit_banner.text


def test_a_wrong_dataset_clip_name_shows_the_valid_names(qtbot, window, tmp_path, monkeypatch):
    from vad_core.datasets.synthetic import SyntheticConfig, write_synthetic_dataset

    config = SyntheticConfig(height=64, width=64, objects=1, train_clips=1, test_clips_per_type=1,
                             frames_per_clip=60, anomaly_frames=(20, 30))  # fmt: skip
    write_synthetic_dataset(tmp_path / "syn", config, video=False)
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, message: shown.append(message))
    window.opening.open_path(f"{tmp_path / 'syn'}::Test002")
    assert shown and "no clip named Test002; test clips: test_01_spatial, test_02_temporal" in shown[0]
    assert "'" not in shown[0]


def test_the_training_plot_axis_reads_epoch_without_a_scale_prefix(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.training.open_dialog()
    dialog = window.train_dialog
    dialog.train_curve.setData([0.001, 0.002, 0.004], [0.1, 0.05, 0.02])  # the first batches of epoch 1
    axis = dialog.plot.getAxis("bottom")
    dialog.plot.setXRange(0.0, 0.005)
    axis.updateAutoSIPrefix()
    assert axis.labelString().count("epoch") == 1 and "x0.001" not in axis.labelString()
    dialog.close()


def test_the_docks_keep_their_width_when_the_frame_counter_grows_as_scores_arrive(qtbot, window):
    window.resize(1280, 800)
    window.fit_docks()
    qtbot.wait(50)
    before = (window.model_dock.width(), window.side_dock.width(), window.events_dock.width())
    window.transport.set_position(85, 400, 25.0)
    qtbot.wait(50)
    window.transport.set_position(85, 400, 25.0, "anomaly score 0.94" + " " * 60 + "(a long caption)")
    qtbot.wait(50)
    assert (window.model_dock.width(), window.side_dock.width(), window.events_dock.width()) == before
