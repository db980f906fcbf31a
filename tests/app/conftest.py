"""Fixtures of the review-window tests: offscreen Qt, tiny untrained models, a small synthetic clip.

Everything is small enough for a 2-core CPU: a 240-frame 64x64 synthetic clip with ground truth and
BCAE1 models at 64x64 input, saved with ``save_checkpoint`` into a temporary folder. User settings
and caches never leave ``tmp_path``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

from app.compat import guard_none_refcount  # noqa: E402

guard_none_refcount()  # PySide6 6.12.0 on Python 3.11 leaks None references (see app/compat.py)


def _save_tiny_model(folder: Path, seed: int) -> Path:
    import torch

    from vad_core.checkpoint import save_checkpoint
    from vad_core.models import ModelConfig, build_model

    torch.manual_seed(seed)
    model = build_model(ModelConfig("bcae1", 1, (64, 64)))
    model.eval()
    metadata = {"display_name": f"tiny BCAE1 #{seed}", "training": {"dataset": "nothing (untrained)"}}
    return save_checkpoint(model, folder / f"tiny_bcae1_{seed}", metadata)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained BCAE1 (64x64 input), saved as a real checkpoint."""
    return _save_tiny_model(tmp_path_factory.mktemp("models"), seed=0)


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory) -> Path:
    """A second untrained BCAE1 with different weights (for switching models mid-run)."""
    return _save_tiny_model(tmp_path_factory.mktemp("models_b"), seed=1)


@pytest.fixture(scope="session")
def demo_clip():
    """A 240-frame 64x64 version of the synthetic demo clip (three anomalies, with labels)."""
    from vad_core.datasets.synthetic import SyntheticConfig, make_demo_clip

    return make_demo_clip(SyntheticConfig(height=64, width=64), length=240)


@pytest.fixture
def demo_source(demo_clip):
    from vad_core.sources.base import ArraySource

    return ArraySource(np.ascontiguousarray(demo_clip.frames), fps=25.0, name="demo-small")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private VAD_REVIEW_HOME (cache, trained models) for one test."""
    monkeypatch.setenv("VAD_REVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def window(qtbot, home):
    """The real main window, shown offscreen, with in-memory settings and a private score cache."""
    from app.settings import AppSettings, _MemoryStore
    from app.windows.review_window import ReviewWindow
    from vad_core.inference.score_cache import ScoreCache

    win = ReviewWindow(settings=AppSettings(_MemoryStore()), cache=ScoreCache(home / "cache" / "scores"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.close()


@pytest.fixture
def wait_scored(qtbot):
    """``wait_scored(window)``: wait until the current scoring job has finished and its results are shown."""

    def wait(win, timeout: int = 30_000) -> None:
        qtbot.waitUntil(lambda: win.session.complete and not win.score_job.running, timeout=timeout)
        win.scoring.flush()

    return wait


@pytest.fixture
def load_model(qtbot):
    """``load_model(window, path)``: load a checkpoint in the window's worker; wait until the window took it."""

    def load(win, path, timeout: int = 30_000):
        with qtbot.waitSignal(win.checkpoints.loaded, timeout=timeout) as blocker:
            win.load_checkpoint(path)
        return blocker.args[0]

    return load
