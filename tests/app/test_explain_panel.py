"""The explainability panel, driven offscreen: maps in tiles, cancel, cache, export, not-applicable.

The panel runs the real engine for e-LRP and the counterfactual (fast on a 32 px BCAE1); the slow
methods (SHAP, LIME) are replaced by a stand-in that honours progress and cancellation, so no test
pays for numba's compilation.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from explain_fixtures import tiny_setup
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.controllers import explain_dock
from app.jobs.calibration import review_calibration
from app.jobs.explain import ExplainTarget, drive
from app.widgets import explain_panel
from app.widgets.explain_panel import ExplainPanel
from app.widgets.explain_settings import method_defaults
from vad_core.errors import Cancelled, ConfigError
from vad_core.evaluation.images import mask_outline
from vad_core.explain import Explanation

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def no_shap_warm_up(monkeypatch):
    monkeypatch.setattr(explain_panel, "WARM_UP_SHAP", False)


def part_target(index: int = 0, model=None) -> ExplainTarget:
    setup = tiny_setup()
    image = setup.defective[index]
    return ExplainTarget(
        model=model or setup.model,
        model_key="tiny-parts",
        source_key=f"part-{index}",
        frame=0,
        read=lambda: (image, None),
        calibration=setup.scorer.calibration,
        title=f"defective part {index} ({setup.kinds[index]})",
        mask_outline=tuple(mask_outline(setup.masks[index])),
    )


@pytest.fixture
def panel(qtbot):
    widget = ExplainPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 560)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
    widget.pool.shutdown(10_000)


def wait_idle(qtbot, panel, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not panel.busy, timeout=timeout)


def slow_stand_in(calls: list[int], steps: int = 400, fail: bool = False):
    """An ``explain`` that takes ``steps`` x 10 ms, reports progress and stops when asked."""

    def fake(method, model, image, *, progress=None, should_stop=None, **options) -> Explanation:
        if fail:
            raise ConfigError("LIME", "stand-in failure")
        for step in range(steps):
            calls.append(step)
            if should_stop is not None and should_stop():
                raise Cancelled("stopped")
            if progress is not None:
                progress(step + 1, steps)
            time.sleep(0.01)
        heat = np.ones(np.asarray(image).shape[:2], np.float32)
        return Explanation(method, heat, True, 1.0, 1.0, 0.5, seconds=0.0)

    return fake


def test_lrp_and_counterfactual_show_finite_maps_in_their_tiles(qtbot, panel):
    panel.set_target(part_target(0))
    with qtbot.waitSignal(panel.resultShown, timeout=30_000):
        pass  # the reconstruction arrives first
    assert panel.base is not None and panel.tiles["reconstruction"].image.image is not None

    assert panel.explain("lrp") and panel.explain("counterfactual")
    wait_idle(qtbot, panel)

    lrp, counterfactual = panel.results["lrp"], panel.results["counterfactual"]
    assert lrp.signed and np.isfinite(lrp.heatmap).all() and np.abs(lrp.heatmap).max() > 0
    shown = panel.tiles["lrp"].image.image
    assert shown is not None and np.isfinite(shown).all()
    boxes = counterfactual.extras["boxes"]
    assert len(boxes) >= 1 and len(panel.tiles["counterfactual"].boxes) == len(boxes)
    assert np.isfinite(counterfactual.heatmap).all()
    assert panel.tiles["lrp"].state == "done" and "s" in panel.tiles["lrp"].caption.text()
    assert panel.tiles["input"].outline.xData is not None  # the mask outline is drawn


def test_running_again_is_a_cache_hit_and_comes_back_with_the_image(qtbot, panel):
    panel.set_target(part_target(0))
    panel.explain("lrp")
    wait_idle(qtbot, panel)
    first = panel.results["lrp"]
    hits = panel.cache.hits

    assert panel.explain("lrp")
    assert panel.worker is None and not panel.busy  # nothing recomputed
    assert panel.results["lrp"] is first and panel.cache.hits == hits + 1
    assert "(cached)" in panel.tiles["lrp"].caption.text()

    panel.set_target(part_target(1))  # another image: its tile is empty
    assert "lrp" not in panel.results
    wait_idle(qtbot, panel)
    panel.set_target(part_target(0))  # back: shown from the cache at once
    assert panel.results["lrp"] is first


def test_changing_a_setting_asks_for_a_new_run_and_setting_it_back_shows_the_cached_map(qtbot, panel):
    panel.set_target(part_target(0))
    panel.explain("lrp")
    wait_idle(qtbot, panel)
    first = panel.results["lrp"]
    form = panel.settings["lrp"]

    form.widgets["epsilon"].setValue(0.5)
    assert "lrp" not in panel.results and "press Explain" in panel.tiles["lrp"].caption.text()
    assert panel.options("lrp")["epsilon"] == pytest.approx(0.5)

    form.reset()
    assert panel.options("lrp") == method_defaults("lrp")
    assert panel.results["lrp"] is first


def test_cancel_stops_a_running_explanation(qtbot, panel, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr("vad_core.explain.explain", slow_stand_in(calls))
    panel.set_target(part_target(0))
    panel.explain("lime")
    tile = panel.tiles["lime"]
    qtbot.waitUntil(lambda: tile.progress.value() > 3, timeout=30_000)
    assert tile.run_button.text() == "Cancel"

    qtbot.mouseClick(tile.run_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    qtbot.wait(300)  # the stopped job's last signals arrive and are ignored

    assert tile.state == "cancelled" and "lime" not in panel.results
    assert len(calls) < 400  # the method saw should_stop and returned early
    assert tile.run_button.text() == "Explain"
    assert not any(key[4] == "lime" for key in panel.cache._items)


def test_a_failing_method_shows_its_message_in_the_tile(qtbot, panel, monkeypatch):
    monkeypatch.setattr("vad_core.explain.explain", slow_stand_in([], fail=True))
    panel.set_target(part_target(0))
    panel.explain("lime")
    wait_idle(qtbot, panel)
    assert panel.tiles["lime"].state == "failed"
    assert "stand-in failure" in panel.tiles["lime"].caption.text()


def test_export_png_writes_the_grid(qtbot, panel, tmp_path):
    panel.set_target(part_target(0))
    panel.explain("lrp")
    wait_idle(qtbot, panel)

    path = panel.export_png(tmp_path / "panel")

    assert path.suffix == ".png" and path.is_file()
    image = QImage(str(path))
    assert image.width() >= 400 and image.height() >= 200


def test_e_lrp_is_not_applicable_to_a_clip_model_and_says_so(qtbot, panel):
    from vad_core.models import ModelConfig, build_model
    from vad_core.sources.base import ArraySource

    model = build_model(ModelConfig("clstm_ae", 1, (32, 32))).eval()
    rng = np.random.default_rng(0)
    source = ArraySource(rng.integers(0, 255, (24, 32, 32), dtype=np.uint8), fps=10.0, name="noise")
    target = ExplainTarget(
        model,
        "clstm",
        "noise",
        12,
        read=lambda: explain_dock.read_window(model, source, 12),
        title="frame 12",
    )
    panel.set_target(target)
    assert panel.tiles["lrp"].state == "n/a"
    assert "frame autoencoders only" in panel.tiles["lrp"].caption.text()
    assert not panel.tiles["lrp"].run_button.isEnabled()
    assert panel.explain("lrp") is False

    with qtbot.waitSignal(panel.resultShown, timeout=30_000):
        pass  # the reconstruction of frame 12 inside its clip
    assert panel.base is not None and panel.base.image.shape == (32, 32)
    assert np.array_equal(panel.base.image, source.frame(12))

    panel.explain("counterfactual")  # the other methods explain the frame with its clip fixed
    qtbot.waitUntil(lambda: "counterfactual" in panel.results and not panel.busy, timeout=60_000)
    result = panel.results["counterfactual"]
    _, position = explain_dock.read_window(model, source, 12)
    assert result.settings["frame"] == position and np.isfinite(result.heatmap).all()


def test_drive_reports_progress_and_stops_when_closed():
    seen: list[bool] = []

    def call(progress, should_stop):
        for step in range(1000):
            if should_stop():
                seen.append(True)
                raise Cancelled("stop")
            progress(step, 1000)
            time.sleep(0.002)
        return "finished"

    job = drive(call, poll=0.01)
    first = [next(job) for _ in range(5)]
    job.close()
    assert all(item.total == 1000 for item in first if item.done) and seen == [True]

    quick = drive(lambda progress, should_stop: 42, poll=0.01)
    with pytest.raises(StopIteration) as stop:
        while True:
            next(quick)
    assert stop.value.value == 42


def test_review_window_explains_the_current_frame(
    qtbot, window, load_model, wait_scored, demo_clip, demo_source, tiny_checkpoint
):
    window.opening.open_source(demo_source, "demo-small", demo_clip.labels, demo_clip.categories)
    load_model(window, tiny_checkpoint)
    wait_scored(window)
    window.actions_by_name["explain_panel"].trigger()
    panel = window.explainer.panel
    assert panel is not None and window.explainer.dock.isVisible()

    window.playback.seek(120)
    assert panel.target is not None and panel.target.frame == 120
    calibration = review_calibration(window.session)
    assert calibration is not None and "ground truth" in calibration.note
    assert panel.target.calibration == calibration

    panel.explain("lrp")
    qtbot.waitUntil(lambda: "lrp" in panel.results and not panel.busy, timeout=30_000)
    assert np.isfinite(panel.results["lrp"].heatmap).all()
    assert panel.results["lrp"].heatmap.shape == demo_source.frame(120).shape[:2]


def test_another_image_cancels_the_running_explanation_of_the_previous_one(qtbot, panel, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr("vad_core.explain.explain", slow_stand_in(calls))
    panel.set_target(part_target(0))
    panel.explain("lime")
    tile = panel.tiles["lime"]
    qtbot.waitUntil(lambda: tile.progress.value() > 2, timeout=30_000)

    panel.set_target(part_target(1))

    assert tile.state == "empty" and tile.run_button.text() == "Explain"
    wait_idle(qtbot, panel)
    qtbot.wait(300)
    assert len(calls) < 400 and "lime" not in panel.results


def test_panel_gives_the_review_windows_verdict_for_flagged_and_unflagged_frames(
    qtbot, window, load_model, wait_scored, demo_clip, demo_source, tiny_checkpoint
):
    window.opening.open_source(demo_source, "demo-small", demo_clip.labels, demo_clip.categories)
    load_model(window, tiny_checkpoint)
    wait_scored(window)
    session = window.session
    window.scoring.set_threshold(
        float(np.quantile(session.scores.score, 0.7))
    )  # some frames flagged, most not
    assert session.events, "the threshold should flag something"
    window.actions_by_name["explain_panel"].trigger()
    panel = window.explainer.panel
    inside = session.events[0].peak_frame
    outside = next(i for i in range(session.frame_count) if session.event_at(i) is None)
    for frame, word in ((inside, "flagged: event 1"), (outside, "not flagged")):
        window.playback.seek(frame)
        qtbot.waitUntil(lambda at=frame: panel.base is not None and panel.target.frame == at, timeout=30_000)
        text = panel.info.text()
        assert f"Review:</b> <span style='color:{'#ef5350' if frame == inside else '#81c784'}'>{word}" in text
        assert session.frame_verdict(frame) in text
        assert ": normal" not in text and ": anomalous" not in text  # no verdict of the explainer's own
        assert panel.tiles["error"].caption.text().endswith(word.split(":")[0])
