"""The command line of the review window and its settings."""

from __future__ import annotations

import pytest

from app.main import build_parser
from app.settings import MAX_RECENT, AppSettings, _MemoryStore

pytestmark = pytest.mark.gui


def test_parser_takes_a_path_a_model_and_a_device():
    args = build_parser().parse_args(["clip.avi", "--model", "m.safetensors", "--device", "cpu"])
    assert (args.path, args.model, args.device) == ("clip.avi", "m.safetensors", "cpu")


def test_recent_files_are_newest_first_without_duplicates():
    settings = AppSettings(_MemoryStore())
    for i in range(MAX_RECENT + 3):
        settings.add_recent(f"/v/{i}.avi")
    settings.add_recent("/v/5.avi")
    recent = settings.recent_files()
    assert recent[0] == "/v/5.avi" and len(recent) == MAX_RECENT and len(set(recent)) == MAX_RECENT
    assert not settings.demo_offered()
    settings.set_demo_offered()
    assert settings.demo_offered()


def test_the_none_refcount_guard_leaves_none_safe_to_use_for_qt_calls(qapp):
    import sys

    from PySide6.QtWidgets import QLabel

    from app.compat import guard_none_refcount, none_refcount_leaks

    guard_none_refcount()
    label = QLabel()
    for _ in range(10_000):
        label.setText("x")  # would abort the process on PySide6 6.12.0 / Python 3.11 without the guard
    assert sys.getrefcount(None) > 10_000 and sys.getrefcount(True) > 10_000
    assert none_refcount_leaks() in (True, False)
