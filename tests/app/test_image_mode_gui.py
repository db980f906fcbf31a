"""Image inspection mode, driven offscreen on tiny synthetic "parts" written in the MVTec layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from explain_fixtures import tiny_setup, write_mvtec_parts

from app.widgets import explain_panel

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def no_shap_warm_up(monkeypatch):
    monkeypatch.setattr(explain_panel, "WARM_UP_SHAP", False)


@pytest.fixture(scope="module")
def parts_root(tmp_path_factory):
    """A 32 px category "part": 8 training images, 3 good and 2 of each defect type in test/."""
    return write_mvtec_parts(tmp_path_factory.mktemp("mvtec"), size=32, n_train=8, n_good=3, n_per_defect=2)


@pytest.fixture(scope="module")
def parts_checkpoint(tmp_path_factory):
    """The tiny BCAE1 of ``tiny_setup`` (32 px RGB, trained on good parts) as a real checkpoint."""
    from vad_core.checkpoint import save_checkpoint

    metadata = {"display_name": "tiny parts BCAE1", "training": {"dataset": "synthetic parts"}}
    return save_checkpoint(tiny_setup().model, tmp_path_factory.mktemp("ckpt") / "parts_bcae1", metadata)


@pytest.fixture
def image_window(qtbot, home):
    from app.settings import AppSettings, _MemoryStore
    from app.windows.image_window import ImageWindow

    win = ImageWindow(AppSettings(_MemoryStore()))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def open_and_score(qtbot, win, root, checkpoint) -> None:
    assert win.open_dataset(root)
    with qtbot.waitSignal(win.checkpoints.loaded, timeout=30_000):
        win.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: win.inspection is not None and not win.score_job.running, timeout=60_000)


def test_scoring_sorts_the_thumbnails_and_shows_both_aurocs(
    qtbot, image_window, parts_root, parts_checkpoint
):
    win = image_window
    assert win.open_dataset(parts_root)
    assert win.thumbnails.count() == 9
    qtbot.waitUntil(lambda: not win.thumb_job.running, timeout=30_000)

    with qtbot.waitSignal(win.checkpoints.loaded, timeout=30_000):
        win.load_checkpoint(parts_checkpoint)
    qtbot.waitUntil(lambda: win.inspection is not None and not win.score_job.running, timeout=60_000)

    order = win.thumbnails.displayed_order()
    scores = win.inspection.scores[order]
    assert sorted(order) == list(range(9)) and np.all(np.diff(scores) <= 0)
    for label in (win.image_auroc_label, win.pixel_auroc_label, win.aupro_label):
        value = label.text().split(":")[1].strip()
        assert value.endswith("%") and 0.0 <= float(value.rstrip(" %")) <= 100.0
    assert "scratch" in win.per_defect_label.text()
    assert win.current == order[0]  # the most anomalous image is shown first
    assert "#1 " in win.thumbnails.item(0).text()


def test_selecting_an_image_shows_its_error_map_and_mask_outline(
    qtbot, image_window, parts_root, parts_checkpoint
):
    win = image_window
    open_and_score(qtbot, win, parts_root, parts_checkpoint)
    defective = next(i for i, s in enumerate(win.dataset.test) if s.anomalous and s.mask_path is not None)

    win.thumbnails.select_index(defective)

    assert win.current == defective
    overlay = win.view.overlay_item.image
    assert overlay is not None and overlay.shape == (32, 32) and np.isfinite(overlay).all()
    assert win.view.overlay_item.isVisible()
    x, _ = win.outline.getData()
    assert x is not None and len(x) > 3  # the ground-truth mask is outlined
    assert win.explain_panel.target is not None and win.explain_panel.target.frame == defective
    assert "rank" in win.image_label.text() and "defective" in win.image_label.text()


def test_the_explain_panel_explains_the_selected_image_calibrated_on_the_test_split(
    qtbot, image_window, parts_root, parts_checkpoint
):
    win = image_window
    open_and_score(qtbot, win, parts_root, parts_checkpoint)
    panel = win.explain_panel
    assert win.calibration is not None and "G-mean" in win.calibration.note
    assert panel.target.calibration == win.calibration

    panel.explain("counterfactual")
    qtbot.waitUntil(lambda: "counterfactual" in panel.results and not panel.busy, timeout=30_000)

    result = panel.results["counterfactual"]
    assert np.isfinite(result.heatmap).all() and result.heatmap.shape == (32, 32)
    assert panel.base is not None and "G-mean" in panel.info.text()


def test_training_a_bcae1_on_train_good_loads_it_and_scores(qtbot, image_window, parts_root):
    win = image_window
    assert win.open_dataset(parts_root)
    win.open_train_dialog()
    dialog = win.train_dialog
    assert dialog is not None and dialog.architecture.currentText() == "bcae1"
    dialog.epochs.setValue(1)
    dialog.batch.setValue(4)

    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert dialog.checkpoint is not None and dialog.use_button.isEnabled()
    dialog.use_button.click()

    qtbot.waitUntil(lambda: win.inspection is not None and not win.score_job.running, timeout=60_000)
    assert win.checkpoint.config.name == "bcae1" and len(win.inspection) == 9


def test_training_draem_small_uses_its_recipe_and_scores_with_its_segmentation_map(
    qtbot, image_window, parts_root
):
    win = image_window
    assert win.open_dataset(parts_root)
    win.open_train_dialog()
    dialog = win.train_dialog
    offered = [dialog.architecture.itemText(i) for i in range(dialog.architecture.count())]
    assert {"draem", "draem_small"} <= set(offered) and "unet_predictor" not in offered

    dialog.architecture.setCurrentText("draem_small")

    assert (dialog.epochs.value(), dialog.batch.value()) == (700, 8)  # the paper's recipe, not bcae1's
    assert "draem_small" in Path(dialog.output.text()).name and "bcae1" not in dialog.output.text()
    assert "last epoch kept" in dialog.options_label.text()
    config = dialog.train_config()
    assert config.learning_rate == 1e-4 and config.keep == "last" and config.validation_fraction == 0.0
    assert len(config.lr_milestones) == 2 and config.model.size == (64, 64)

    dialog.epochs.setValue(2)  # 8 good images at batch 8: one step per epoch
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=180_000)
    assert dialog.checkpoint is not None, dialog.status.text()
    assert "draem_small" in dialog.checkpoint.name
    dialog.use_button.click()

    qtbot.waitUntil(lambda: win.inspection is not None and not win.score_job.running, timeout=120_000)
    assert win.checkpoint.config.name == "draem_small"
    assert win.checkpoint.scoring["error"] == "segmentation"
    assert "segmentation map" in win.inspection.scoring and "segmentation map" in win.per_defect_label.text()
    maps = win.inspection.maps.astype(np.float32)
    assert maps.min() >= 0.0 and maps.max() <= 1.0  # DRAEM's per-pixel probability, not a squared error
    value = win.aupro_label.text().split(":")[1].strip()
    assert value.endswith("%") and 0.0 <= float(value.rstrip(" %")) <= 100.0
    assert "AUPRO" in win.per_defect_label.text()


def test_a_folder_that_is_no_image_dataset_names_the_problem(qtbot, image_window, tmp_path):
    (tmp_path / "empty").mkdir()
    assert not image_window.open_dataset(tmp_path / "empty")
    assert image_window.error_dialog is not None
    assert str(tmp_path / "empty") in image_window.error_dialog.text()


def test_the_review_window_opens_an_mvtec_folder_in_image_mode(qtbot, window, parts_root):
    assert window.opening.open_image_dataset(parts_root)
    assert window.opening.image_window is not None and window.opening.image_window.dataset.category == "part"
    window.opening.image_window.close()

    assert window.opening.open_dataset_path(parts_root)  # "Open dataset clip" on parts goes to image mode too
    assert window.opening.image_window.isVisible()
    assert "open_images" in window.actions_by_name


def test_a_category_without_a_model_offers_to_train_one_at_once(qtbot, image_window, parts_root):
    from PySide6.QtCore import Qt

    win = image_window
    assert win.open_dataset(parts_root)
    assert win.fit_banner.isVisible()
    assert "No model for part yet: train one on its 8 good training images" in win.fit_banner.text
    assert win.fit_banner.train_button.text() == "Train a model now…"
    qtbot.mouseClick(win.fit_banner.train_button, Qt.MouseButton.LeftButton)
    assert win.train_dialog is not None and win.train_dialog.isVisible()
    win.train_dialog.close()


def test_a_model_scoring_under_chance_says_so_in_the_banner(
    qtbot, image_window, parts_root, tmp_path, monkeypatch
):
    from vad_core.evaluation.images import ImageInspection

    monkeypatch.setattr(ImageInspection, "image_auroc", property(lambda self: 0.337))
    from vad_core.checkpoint import save_checkpoint

    checkpoint = save_checkpoint(tiny_setup().model, tmp_path / "m", {"display_name": "3-epoch BCAE1"})
    open_and_score(qtbot, image_window, parts_root, checkpoint)

    banner = image_window.fit_banner
    assert banner.isVisible()
    assert (
        "3-epoch BCAE1 does not seem to fit part: its image AUROC against the labels is 33.7 %, below chance"
        in (banner.text)
    )


def test_tile_titles_are_not_cut_off_at_1280x800(qtbot, image_window, parts_root):
    from PySide6.QtGui import QFont, QFontMetrics

    win = image_window
    win.resize(1280, 800)
    win.fit_layout()
    assert win.open_dataset(parts_root)
    qtbot.wait(50)
    for name in ("counterfactual", "shap", "lime", "lrp"):
        title = win.explain_panel.tiles[name].title
        bold = QFont(title.font())
        bold.setBold(True)
        needed = QFontMetrics(bold).horizontalAdvance(title.toolTip())
        assert title.width() >= needed, f"{title.toolTip()}: {title.width()} px for {needed} px of text"


def test_the_explain_panel_gives_the_image_windows_flagging(
    qtbot, image_window, parts_root, parts_checkpoint
):
    win = image_window
    open_and_score(qtbot, win, parts_root, parts_checkpoint)
    inspection = win.inspection
    for index in (win.thumbnails.displayed_order()[0], win.thumbnails.displayed_order()[-1]):
        win.show_image(index)
        flagged = inspection.scores[index] >= inspection.threshold
        verdict = win.explain_panel.target.verdict
        assert verdict.startswith("flagged:" if flagged else "not flagged:")
        assert verdict in win.explain_panel.info.text()
