"""The review window, driven like an operator would: open, score, seek, step, cancel, fail."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.scoring import anomaly_scores

pytestmark = pytest.mark.gui


def open_and_score(wait_scored, window, source, checkpoint, clip=None) -> None:
    window.opening.open_source(
        source,
        "demo-small",
        clip.labels if clip is not None else None,
        clip.categories if clip is not None else None,
    )
    window.load_checkpoint(checkpoint)  # loads in the window's worker, then scores
    wait_scored(window)
    assert window.session.checkpoint is not None and window.session.checkpoint.path == checkpoint


def test_scoring_the_synthetic_clip_draws_one_point_per_frame(
    qtbot, wait_scored, window, demo_clip, demo_source, tiny_checkpoint
):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint, demo_clip)

    assert window.timeline.curve_points() == len(demo_source)
    session = window.session
    assert session.complete and not np.isnan(session.buffers.errors).any()
    expected = anomaly_scores(session.buffers.errors, session.scoring).events(session.scoring)
    assert session.events == expected
    assert window.events_table.rowCount() == len(expected)
    assert window.timeline.events.visible_count == len(expected)
    assert window.timeline.band("truth").intervals == [(s, e) for s, e, _ in demo_clip.intervals]
    assert "Scored 240 frames" in window.statusBar().currentMessage()


def test_live_curve_grows_with_the_chunks(
    load_model, qtbot, wait_scored, window, demo_source, tiny_checkpoint
):
    window.model_panel.set_batch_size(16)
    seen: list[int] = []
    window.opening.open_source(demo_source, "demo-small")
    load_model(window, tiny_checkpoint)
    window.score_job.worker.signals.chunk.connect(lambda update: seen.append(update.stop))
    wait_scored(window)

    assert seen == sorted(seen) and len(seen) >= 10 and seen[-1] == len(demo_source)


def test_clicking_the_curve_seeks_to_that_frame(qtbot, wait_scored, window, demo_source, tiny_checkpoint):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint)
    timeline = window.timeline
    scene_point = timeline.viewbox.mapViewToScene(QPointF(100, 0.2))
    widget_point = timeline.graphics.mapFromScene(scene_point)

    qtbot.mouseClick(timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)

    assert abs(window.playback.frame_index - 100) <= 1
    assert abs(timeline.playhead.value() - window.playback.frame_index) < 1e-6


def test_dragging_the_playhead_seeks(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.timeline.playhead.setValue(42.3)  # what a drag of the line does
    assert window.playback.frame_index == 42


def test_arrow_keys_step_one_frame_and_shift_arrows_jump_to_events(
    qtbot, wait_scored, window, demo_clip, demo_source, tiny_checkpoint
):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint, demo_clip)
    window.playback.seek(10)

    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.playback.frame_index == 11
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.playback.frame_index == 9

    events = window.session.events
    following = [e for e in events if e.start > 9]
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert window.playback.frame_index == (following[0].start if following else 9)


def test_playback_needs_a_video_but_the_speed_can_be_set_before_one_is_open(qtbot, window, demo_source):
    actions = window.actions_by_name
    assert not actions["play"].isEnabled() and not actions["mark_in"].isEnabled()
    assert actions["slower"].isEnabled() and actions["faster"].isEnabled()
    window.opening.open_source(demo_source, "demo-small")
    assert actions["play"].isEnabled() and actions["mark_in"].isEnabled() and actions["faster"].isEnabled()


def test_space_plays_and_k_pauses(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playback.playing
    qtbot.waitUntil(lambda: window.playback.frame_index >= 3, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert not window.playback.playing
    stopped_at = window.playback.frame_index
    qtbot.wait(150)
    assert window.playback.frame_index == stopped_at


def test_l_twice_plays_faster_and_j_plays_backwards(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    qtbot.keyClick(window, Qt.Key.Key_L)
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.playback.playing and window.transport.current_speed() == 1.5
    window.playback.seek(100)
    qtbot.keyClick(window, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.playback.frame_index < 98, timeout=3000)
    window.playback.pause()


def test_events_table_click_seeks_to_the_event(qtbot, wait_scored, window, demo_source, tiny_checkpoint):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint)
    window.scoring.set_threshold(0.3)  # a low threshold, so that an untrained model flags something
    assert window.session.events, "expected at least one event at threshold 0.3"
    last = len(window.session.events) - 1
    rect = window.events_table.visualItemRect(window.events_table.item(last, 0))

    qtbot.mouseClick(window.events_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    assert window.playback.frame_index == window.session.events[last].start
    assert window.timeline.events.selected == last


def test_dragging_the_threshold_line_recomputes_events(
    qtbot, wait_scored, window, demo_source, tiny_checkpoint
):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint)
    window.timeline.threshold_line.setValue(0.8)  # s(t) = 0.8, i.e. anomaly threshold 0.2

    assert window.session.scoring.threshold == pytest.approx(0.2)
    assert window.scoring_controls.threshold.value() == pytest.approx(0.2)
    assert window.session.events == window.session.scores.events(window.session.scoring)
    assert window.events_table.rowCount() == len(window.session.events)


def test_cancelling_a_running_job_stops_it_and_clears_the_partial_curve(
    load_model, qtbot, window, demo_source, tiny_checkpoint
):
    window.model_panel.set_batch_size(1)
    window.opening.open_source(demo_source, "demo-small")
    load_model(window, tiny_checkpoint)
    worker = window.score_job.worker
    assert worker is not None
    qtbot.waitUntil(lambda: window.session.scored > 0, timeout=10_000)

    qtbot.keyClick(window, Qt.Key.Key_Escape)

    assert worker.wait(10)
    assert not window.score_job.running and worker.result is None
    assert not window.session.complete and window.session.scored == 0
    window.scoring.flush()
    assert window.timeline.curve_points() == 0
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.model_panel.score_button.isEnabled()


def test_switching_model_mid_run_keeps_only_the_new_models_scores(
    load_model, qtbot, wait_scored, window, demo_source, tiny_checkpoint, other_checkpoint
):
    from vad_core.checkpoint import load_checkpoint

    window.model_panel.set_batch_size(4)
    window.opening.open_source(demo_source, "demo-small")
    load_model(window, tiny_checkpoint)
    first = window.score_job.worker
    qtbot.waitUntil(lambda: window.session.scored > 0, timeout=10_000)
    load_model(window, other_checkpoint)
    wait_scored(window)

    assert first.wait(10)
    expected = score_all(
        load_checkpoint(other_checkpoint).model, demo_source, InferenceConfig(batch_size=32)
    ).errors
    np.testing.assert_allclose(window.session.buffers.errors, expected, rtol=1e-4, atol=1e-7)


def test_reopening_a_scored_video_reads_the_cache(qtbot, wait_scored, window, demo_clip, tiny_checkpoint):
    from vad_core.sources.base import ArraySource

    open_and_score(wait_scored, window, ArraySource(demo_clip.frames.copy(), 25.0, "a"), tiny_checkpoint)
    first = window.session.buffers.errors.copy()
    assert not window.scoring.last_summary.cached

    window.opening.open_source(ArraySource(demo_clip.frames.copy(), 25.0, "b"), "again")
    wait_scored(window)

    assert window.scoring.last_summary.cached
    np.testing.assert_array_equal(window.session.buffers.errors, first)
    assert window.session.maps is not None and window.session.maps.dtype == np.float16
    assert "cache" in window.statusBar().currentMessage()


def test_overlay_is_the_frames_error_map_scaled_to_the_frame(
    qtbot, wait_scored, window, demo_source, tiny_checkpoint
):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint)
    window.playback.seek(20)
    image = window.video_view.overlay_item.image
    assert image is not None and image.shape == demo_source.frame_size
    assert window.video_view.overlay_item.isVisible()

    qtbot.keyClick(window, Qt.Key.Key_H)
    assert not window.video_view.overlay_item.isVisible()
    assert not window.heatmap_controls.overlay.isChecked()


def test_side_by_side_shows_input_reconstruction_and_error(
    qtbot, wait_scored, window, demo_source, tiny_checkpoint
):
    open_and_score(wait_scored, window, demo_source, tiny_checkpoint)
    window.playback.seek(30)
    qtbot.waitUntil(
        lambda: not window.recon.job.running and window.side_by_side.items["reconstruction"].image is not None
    )
    for name in ("input", "reconstruction", "error"):
        assert window.side_by_side.items[name].image.shape[:2] == (64, 64)


def test_a_corrupt_video_shows_a_dialog_naming_the_file(qtbot, window, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"this is not a video" * 100)

    assert not window.opening.open_path(broken)

    dialog = window.error_dialog
    assert dialog is not None and dialog.isVisible()
    assert "broken.avi" in dialog.text()
    dialog.close()
    assert window.session.source is None  # nothing half-opened; the window stays usable


def test_an_incompatible_checkpoint_shows_one_line_naming_it_and_keeps_the_old_model(
    qtbot, window, load_model, tiny_checkpoint, tmp_path
):
    import json
    import shutil

    bad = tmp_path / "wrong.safetensors"
    shutil.copy(tiny_checkpoint, bad)
    description = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    description["model"]["name"] = "bcae2"  # the weights are BCAE1's
    description.pop("weights_sha256", None)
    bad.with_suffix(".json").write_text(json.dumps(description))
    load_model(window, tiny_checkpoint)

    with qtbot.waitSignal(window.checkpoints.failed, timeout=30_000) as failed:
        window.load_checkpoint(bad)

    text = window.error_dialog.text()
    assert window.error_dialog.windowTitle() == "Cannot load checkpoint"
    assert "wrong.safetensors" in text and "\n" not in text and text == failed.args[0]
    assert window.session.checkpoint.path == tiny_checkpoint
    qtbot.waitUntil(lambda: not window.checkpoints.loading and not window.busy_indicator.isVisible())


def test_a_checkpoint_that_fails_unexpectedly_is_shown_as_one_sentence(
    qtbot, window, tiny_checkpoint, monkeypatch
):
    import vad_core.checkpoint

    def broken(path, device="cpu"):
        raise RuntimeError("storage has wrong byte size\n  a second line of torch's message")

    monkeypatch.setattr(vad_core.checkpoint, "load_checkpoint", broken)
    with qtbot.waitSignal(window.checkpoints.failed, timeout=30_000):
        window.load_checkpoint(tiny_checkpoint)

    assert window.error_dialog.text() == (
        f"{tiny_checkpoint}: cannot be loaded (RuntimeError: storage has wrong byte size)"
    )
    assert window.session.checkpoint is None


def test_loading_a_checkpoint_runs_in_a_worker_while_the_window_stays_usable(
    qtbot, window, demo_source, tiny_checkpoint, monkeypatch, wait_scored
):
    import threading

    import vad_core.checkpoint

    real_load = vad_core.checkpoint.load_checkpoint
    release, threads = threading.Event(), []

    def slow_load(path, device="cpu"):
        threads.append(threading.current_thread())
        assert release.wait(20)
        return real_load(path, device=device)

    monkeypatch.setattr(vad_core.checkpoint, "load_checkpoint", slow_load)
    window.opening.open_source(demo_source, "demo-small")

    window.load_checkpoint(tiny_checkpoint)  # returns at once

    qtbot.waitUntil(lambda: bool(threads))
    assert threads[0] is not threading.main_thread()
    assert window.checkpoints.loading and window.busy_indicator.isVisible()
    assert "loading the model tiny_bcae1_0.safetensors" in window.busy_indicator.text()
    window.playback.seek(17)  # the window stays usable meanwhile
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.playback.frame_index == 18 and window.session.checkpoint is None

    with qtbot.waitSignal(window.checkpoints.loaded, timeout=30_000):
        release.set()
    assert not window.busy_indicator.isVisible()
    assert window.settings.last_checkpoint() == str(tiny_checkpoint)
    wait_scored(window)  # the open video is scored with the new model
    assert window.timeline.curve_points() == len(demo_source)


def test_closing_the_window_cancels_running_jobs(qtbot, home, demo_source, tiny_checkpoint):
    from app.settings import AppSettings, _MemoryStore
    from app.windows.review_window import ReviewWindow
    from vad_core.inference.score_cache import ScoreCache

    win = ReviewWindow(settings=AppSettings(_MemoryStore()), cache=ScoreCache(home / "c"))
    win.show()
    win.model_panel.set_batch_size(1)
    win.opening.open_source(demo_source, "demo-small")
    with qtbot.waitSignal(win.checkpoints.loaded, timeout=30_000):
        win.load_checkpoint(tiny_checkpoint)
    worker = win.score_job.worker
    qtbot.waitUntil(lambda: win.session.scored > 0, timeout=10_000)

    win.close()

    assert worker.is_finished and worker.is_cancelled
    assert win.pool.running == []


def test_demo_without_a_bundled_model_offers_to_train_one(qtbot, window, monkeypatch):
    monkeypatch.setattr("app.controllers.demo.bundled_demo_models", lambda: [])
    window.demo.open_demo()

    assert window.session.source_name == "demo (synthetic)"
    assert window.session.ground_truth is not None and window.session.ground_truth.sum() == 120
    assert window.demo.info_dialog is not None and window.demo.info_dialog.isVisible()
    assert "Train a demo model" in [b.text().rstrip("…") + "…" for b in window.demo.info_dialog.buttons()][0]
    window.demo.info_dialog.close()


def test_demo_uses_the_bundled_model_when_present(qtbot, window, monkeypatch, tiny_checkpoint):
    monkeypatch.setattr("app.controllers.demo.bundled_demo_models", lambda: [tiny_checkpoint])
    with qtbot.waitSignal(window.checkpoints.loaded, timeout=30_000):
        window.demo.open_demo()
    assert window.session.checkpoint.path == tiny_checkpoint
    window.cancel_jobs()


def test_help_lists_the_playback_shortcuts(qtbot, window):
    window.help.show_shortcuts()
    rows = {
        window.help.shortcuts_dialog.table.item(r, 1).text(): window.help.shortcuts_dialog.table.item(
            r, 0
        ).text()
        for r in range(window.help.shortcuts_dialog.table.rowCount())
    }
    assert rows["Play / pause"] == "Space"
    assert "Left" in rows["Step one frame back"]
    assert rows["Next event"] == "Shift+Right"
    assert {"Play backwards (again: faster)", "Pause", "Play forwards (again: faster)"} <= set(rows)
    window.help.shortcuts_dialog.close()


def test_marking_normal_frames_with_i_and_o(qtbot, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.playback.seek(5)
    qtbot.keyClick(window, Qt.Key.Key_I)
    window.playback.seek(40)
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.session.normal_ranges == [(5, 41)]
    assert window.timeline.band("normal").intervals == [(5, 41)]


def test_train_on_this_footage_trains_and_loads_the_model(qtbot, wait_scored, window, demo_source):
    window.opening.open_source(demo_source, "demo-small")
    window.session.mark_normal(0, 40)
    window.training.open_dialog()
    dialog = window.train_dialog
    dialog.size.setCurrentIndex(0)  # 64x64
    dialog.epochs.setValue(1)
    dialog.batch.setValue(16)
    assert dialog.selected_choice().frames == 40

    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)

    assert dialog.checkpoint is not None and dialog.checkpoint.is_file(), dialog.status.text()
    assert dialog.train_curve.getData()[0] is not None
    with qtbot.waitSignal(window.checkpoints.loaded, timeout=30_000):
        dialog.use_button.click()
    assert window.session.checkpoint is not None
    assert window.session.checkpoint.trained_on == "demo-small"
    wait_scored(window)


def test_retraining_starts_from_the_loaded_models_architecture_and_options(
    load_model, qtbot, wait_scored, window, demo_source
):
    """A loaded 16-filter U-Net is retrained as a 16-filter U-Net, not as the zoo's default width."""
    from vad_core.resources import demo_model_path

    window.opening.open_source(demo_source, "demo-small")
    load_model(window, demo_model_path("temporal"))  # the 16-filter U-Net
    wait_scored(window)
    assert window.model_panel.architecture_choice() == "unet_predictor"
    window.session.mark_normal(0, 40)
    window.training.open_dialog()
    dialog = window.train_dialog
    assert dialog.architecture.currentText() == "unet_predictor"
    assert dialog.train_config().model.options["base_filters"] == 16
    assert "base_filters=16" in dialog.options_label.text()
    dialog.architecture.setCurrentText("bcae1")
    assert dialog.train_config().model.options == {}
    assert dialog.options_label.text() == "the architecture's defaults"
    dialog.close()


def test_dropping_a_frame_folder_opens_it(qtbot, window, tmp_path, demo_clip):
    import cv2
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        cv2.imwrite(str(folder / f"{i:03d}.png"), demo_clip.frames[i])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )

    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.source is not None)

    assert len(window.session.source) == 12
    assert window.settings.recent_files()[0] == str(folder)


def test_out_of_memory_halves_the_batch_and_says_so_in_the_status_bar(
    qtbot, wait_scored, window, demo_source, tiny_checkpoint
):
    from vad_core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(tiny_checkpoint)
    checkpoint.sha256 = None  # not cached: this run must really score
    forward = checkpoint.model.forward

    def forward_with_little_memory(frames):
        if frames.shape[0] > 8:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(frames)

    checkpoint.model.forward = forward_with_little_memory
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.opening.open_source(demo_source, "demo-small")
    window.set_checkpoint(checkpoint)
    wait_scored(window)

    assert any("batch size halved to 16" in m for m in messages)
    assert window.scoring.last_summary.batch_size == 8
    assert "halved to 8" in window.statusBar().currentMessage()
    assert window.timeline.curve_points() == len(demo_source)


def test_switching_video_mid_run_scores_only_the_new_video(
    load_model, qtbot, wait_scored, window, demo_clip, tiny_checkpoint
):
    from vad_core.checkpoint import load_checkpoint
    from vad_core.sources.base import ArraySource

    window.model_panel.set_batch_size(4)
    load_model(window, tiny_checkpoint)
    window.opening.open_source(ArraySource(demo_clip.frames, 25.0, "long"), "long")
    qtbot.waitUntil(lambda: window.session.scored > 0, timeout=10_000)
    short = ArraySource(demo_clip.frames[::-1][:50].copy(), 25.0, "short")
    window.opening.open_source(short, "short")
    wait_scored(window)

    assert window.timeline.curve_points() == 50
    expected = score_all(load_checkpoint(tiny_checkpoint).model, short, InferenceConfig(batch_size=32)).errors
    np.testing.assert_allclose(window.session.buffers.errors, expected, rtol=1e-4, atol=1e-7)


def test_a_dataset_clip_opens_with_its_ground_truth(qtbot, window, tmp_path):
    from vad_core.datasets.synthetic import SyntheticConfig, write_synthetic_dataset

    config = SyntheticConfig(
        height=64, width=64, train_clips=1, test_clips_per_type=1, frames_per_clip=60, anomaly_frames=(10, 20)
    )
    write_synthetic_dataset(tmp_path / "synth", config, demo=False)

    assert window.opening.open_path(f"{tmp_path / 'synth'}::test_01_spatial")

    assert len(window.session.source) == 60
    truth = window.timeline.band("truth").intervals
    assert len(truth) == 1 and 10 <= truth[0][1] - truth[0][0] <= 20
    assert window.settings.recent_files()[0].endswith("synth::test_01_spatial")


def test_later_panels_plug_in_as_a_timeline_band_and_a_right_dock(qtbot, window, demo_source):
    from PySide6.QtWidgets import QLabel

    band = window.timeline.add_band("labels", "#90caf9", "labels")
    window.opening.open_source(demo_source, "demo-small")
    band.set_intervals([(3, 9)])
    dock = window.add_right_dock("Explain", QLabel("why"))

    assert window.timeline.band("labels").intervals == [(3, 9)]
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
    qtbot.waitUntil(lambda: dock in window.tabifiedDockWidgets(window.side_dock), timeout=2000)


def test_side_by_side_panes_follow_the_dock_shape(qtbot):
    from app.widgets.side_by_side import SideBySideView

    view = SideBySideView()
    qtbot.addWidget(view)
    view.resize(300, 700)
    view.show()
    qtbot.waitUntil(lambda: view.orientation == "vertical")
    view.resize(600, 240)
    qtbot.waitUntil(lambda: view.orientation == "horizontal")
    assert all(view.ci.items.get(view.views[name]) for name in ("input", "reconstruction", "error"))
    view.resize(300, 700)
    qtbot.waitUntil(lambda: view.orientation == "vertical")
    assert view.better_orientation(300, 250) == "horizontal"  # the 1280x800 dock: 96 px panes, not 65
    fixed = SideBySideView(orientation="vertical")
    qtbot.addWidget(fixed)
    fixed.resize(600, 240)
    fixed.show()
    qtbot.wait(50)
    assert fixed.orientation == "vertical"
