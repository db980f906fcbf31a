"""First run and everyday comfort: settings kept between runs, Reset layout, the log and the error dialog,
About, the Help menu, and the self-test of an installation."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QByteArray, QSettings

from app import logging_setup
from app.settings import AppSettings, _MemoryStore

pytestmark = pytest.mark.gui


# -- settings ------------------------------------------------------------------------------------------
def _ini_settings(path: Path) -> AppSettings:
    return AppSettings(QSettings(str(path), QSettings.Format.IniFormat))


def test_settings_survive_a_restart(tmp_path):
    first = _ini_settings(tmp_path / "vad-review.ini")
    first.add_recent("/videos/a.avi")
    first.add_recent("/videos/b.avi")
    first.set_last_checkpoint("/models/bcae1.safetensors")
    first.set_device("cpu")
    first.set_batch_size(8)
    first.set_overlay_opacity(0.35)
    first.set_colormap("viridis")
    first.set_demo_offered()
    first.set_window_state(QByteArray(b"geometry"), QByteArray(b"docks"))
    first.sync()

    again = _ini_settings(tmp_path / "vad-review.ini")
    assert again.recent_files() == [str(Path("/videos/b.avi")), str(Path("/videos/a.avi"))]
    assert again.last_checkpoint() == "/models/bcae1.safetensors"
    assert (again.device(), again.batch_size(), again.colormap()) == ("cpu", 8, "viridis")
    assert again.overlay_opacity() == pytest.approx(0.35)
    assert again.demo_offered()
    geometry, state = again.window_state()
    assert bytes(geometry) == b"geometry" and bytes(state) == b"docks"
    assert again.location().endswith("vad-review.ini")


def test_reset_layout_forgets_the_saved_window_layout(tmp_path):
    settings = _ini_settings(tmp_path / "vad-review.ini")
    settings.set_window_state(QByteArray(b"geometry"), QByteArray(b"docks"))
    settings.reset_layout()
    settings.sync()
    assert _ini_settings(tmp_path / "vad-review.ini").window_state() == (None, None)
    assert AppSettings(_MemoryStore()).location().startswith("in memory")


def test_the_window_layout_is_restored_on_the_next_start_and_reset_from_the_view_menu(qtbot, tmp_path, home):
    from app.windows.review_window import ReviewWindow

    ini = tmp_path / "vad-review.ini"
    first = ReviewWindow(settings=_ini_settings(ini))
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.events_dock.hide()
    first.close()  # saves geometry and dock layout

    again = ReviewWindow(settings=_ini_settings(ini))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.events_dock.isVisible()
    again.model_dock.setFloating(True)

    reset = again.actions_by_name["reset_layout"]
    assert reset in again.view_menu.actions()
    reset.trigger()
    assert again.events_dock.isVisible() and not again.model_dock.isFloating()
    assert (again.width(), again.height()) == (1280, 800)
    assert again.settings.window_state() == (None, None)
    again.close()


# -- logging and the uncaught-exception dialog -----------------------------------------------------------
@pytest.fixture
def logged(tmp_path, monkeypatch):
    """setup_logging + install_exception_hooks into tmp_path; the error dialog is recorded, not shown."""
    monkeypatch.setenv("VAD_REVIEW_HOME", str(tmp_path / "home"))
    shown: list[tuple[str, Path | None]] = []
    monkeypatch.setattr(
        logging_setup, "show_error_dialog", lambda summary, path: shown.append((summary, path))
    )
    monkeypatch.setitem(logging_setup._state, "last", 0.0)
    log_file = logging_setup.setup_logging(crash_log=False)
    uninstall = logging_setup.install_exception_hooks(log_file)
    yield log_file, shown
    uninstall()
    logging_setup.shutdown_logging()


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def _raise_and_report(hook, exc: BaseException) -> None:
    try:
        raise exc
    except type(exc):
        hook(*sys.exc_info())


def test_the_log_goes_to_the_user_log_folder_and_rotates(logged, monkeypatch, tmp_path):
    log_file, _shown = logged
    assert log_file == tmp_path / "home" / "logs" / "vad-review.log"
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h, logging.handlers.RotatingFileHandler)
    )
    assert (handler.maxBytes, handler.backupCount) == (logging_setup.MAX_BYTES, logging_setup.BACKUPS)
    monkeypatch.setattr(handler, "maxBytes", 2_000)
    for i in range(60):
        logging.getLogger("vad-review.test").info("line %d of a long session %s", i, "x" * 40)
    _flush_logs()
    assert log_file.is_file() and log_file.with_name("vad-review.log.1").is_file()


@pytest.mark.qt_no_exception_capture
def test_an_uncaught_exception_is_logged_and_shown_with_the_log_path(logged):
    log_file, shown = logged
    _raise_and_report(sys.excepthook, ValueError("the frame has no pixels\nsecond line"))
    assert shown == [("ValueError: the frame has no pixels", log_file)]
    _flush_logs()
    text = log_file.read_text(encoding="utf-8")
    assert "uncaught exception" in text and "Traceback" in text and "the frame has no pixels" in text


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_qt_slot_does_not_close_the_app(logged, qtbot):
    from PySide6.QtCore import QTimer

    _log_file, shown = logged

    def slot() -> None:
        raise RuntimeError("slot failed")

    QTimer.singleShot(0, slot)
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown[0][0] == "RuntimeError: slot failed"


@pytest.mark.qt_no_exception_capture
def test_an_exception_on_a_worker_thread_reaches_the_dialog_on_the_gui_thread(logged, qtbot):
    log_file, shown = logged
    calls_on: list[bool] = []
    real = logging_setup.show_error_dialog

    def record(summary: str, path: Path | None) -> None:
        calls_on.append(threading.current_thread() is threading.main_thread())
        real(summary, path)

    logging_setup.show_error_dialog = record
    thread = threading.Thread(target=lambda: 1 / 0, name="scoring-test")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown == [("ZeroDivisionError: division by zero", log_file)] and calls_on == [True]
    _flush_logs()
    assert "in thread scoring-test" in log_file.read_text(encoding="utf-8")


def test_the_error_dialog_names_the_log_file_and_shows_no_traceback(qapp, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    log_file = tmp_path / "logs" / "vad-review.log"
    logging_setup.show_error_dialog("KeyError: 'frame'", log_file)
    box = logging_setup._state["dialog"]
    try:
        assert isinstance(box, QMessageBox) and box.isVisible()
        assert str(log_file) in box.text() and "KeyError: 'frame'" in box.text()
        assert "Traceback" not in box.text() and not box.detailedText()
        assert any(b.text() == "Open log folder" for b in box.buttons())
    finally:
        box.close()


def test_a_burst_of_errors_opens_one_dialog(logged):
    _log_file, shown = logged
    for i in range(20):
        _raise_and_report(logging_setup.handle_exception, KeyError(i))
    assert len(shown) == 1


# -- Help menu, About -----------------------------------------------------------------------------------
def test_about_lists_the_versions_of_the_app_qt_and_torch(qapp):
    import torch
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    from app.about import AboutDialog

    dialog = AboutDialog(AppSettings(_MemoryStore()))
    text = dialog.text()
    names = [name for name, _ in dialog.rows]
    assert names[0] == "vad-review" and {"Python", "Qt", "torch", "CUDA device", "Log", "Settings"} <= set(
        names
    )
    assert torch.__version__ in text and qVersion() in text and pyside_version in text
    assert "in memory" in text
    dialog.copy_details()
    assert qapp.clipboard().text() == text
    dialog.close()


def test_the_help_menu_has_shortcuts_guide_log_folder_and_about(window, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions() if not a.isSeparator()]
    assert texts[:2] == ["&Keyboard shortcuts", "Getting &started"]
    assert {"Open &log folder", "&About vad-review"} <= set(texts)

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.actions_by_name["open_logs"].trigger()
    assert opened and Path(opened[0]).name == "logs"

    window.actions_by_name["guide"].trigger()
    assert window.help.guide_dialog.isVisible()
    assert "getting started" in window.help.guide_dialog.browser.toPlainText().lower()
    window.help.guide_dialog.close()
    window.actions_by_name["about"].trigger()
    assert window.help.about_dialog.isVisible()
    window.help.about_dialog.close()


# -- start-up and the self-test -------------------------------------------------------------------------
def test_process_age_is_measured_from_the_process_start():
    import subprocess

    from app.main import process_age

    fresh = subprocess.run(
        [sys.executable, "-c", "from app.main import process_age; print(process_age())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert 0.0 <= float(fresh.stdout) < 30.0  # a new process is young
    assert process_age() > float(fresh.stdout)  # this test process started long before it


def test_the_self_test_flag_runs_the_self_test(monkeypatch):
    import app.logging_setup
    import app.self_test
    from app.main import main

    monkeypatch.setattr(app.logging_setup, "setup_logging", lambda: None)
    monkeypatch.setattr(app.logging_setup, "install_exception_hooks", lambda log_file: None)
    monkeypatch.setattr(app.self_test, "run_self_test", lambda: 0)
    assert main(["--self-test"]) == 0
    monkeypatch.setattr(app.self_test, "run_self_test", lambda: 1)
    assert main(["--self-test"]) == 1


@pytest.mark.slow
def test_the_self_test_passes_offscreen_with_the_bundled_model(qapp, home):
    from app.self_test import run_self_test

    lines: list[str] = []
    began = time.perf_counter()
    assert run_self_test(frames=160, hard_timeout=False, out=lines.append, explanations=False) == 0, (
        "\n".join(lines)
    )
    assert time.perf_counter() - began < 20
    assert sum(line.startswith("[ ok ]") for line in lines) == 10
    assert any("spatial anomaly flagged" in line for line in lines)
    assert lines[-1].startswith("self-test passed")


def test_the_self_test_names_what_failed(qapp, monkeypatch, tmp_path):
    import vad_core.resources
    from app.self_test import run_self_test

    monkeypatch.setattr(
        vad_core.resources, "demo_model_path", lambda kind="temporal": tmp_path / "gone.safetensors"
    )
    lines: list[str] = []
    assert run_self_test(frames=100, hard_timeout=False, out=lines.append) == 1
    assert (
        lines[1].startswith("[FAIL] bundled demo model installed: missing") and "gone.safetensors" in lines[1]
    )
    assert "skipped" in lines[2]
    assert lines[-1].startswith("self-test FAILED")


@settings(max_examples=80, deadline=None)
@given(
    key=st.sampled_from(["recent/files", "model/checkpoint", "model/batch_size", "view/overlay_opacity", "start/demo_offered"]),
    value=st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8), st.binary(max_size=4),
        st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), max_size=3),
    ),
)  # fmt: skip
def test_settings_of_any_value_read_back_as_their_type(key, value):
    store = _MemoryStore()
    store.setValue(key, value)
    settings_ = AppSettings(store)
    assert all(isinstance(path, str) and path for path in settings_.recent_files())
    assert 1 <= settings_.batch_size() <= 4096
    assert 0.0 <= settings_.overlay_opacity() <= 1.0
    assert isinstance(settings_.demo_offered(), bool)
    assert settings_.last_checkpoint() is None or isinstance(settings_.last_checkpoint(), str)
