"""Shared test set-up: offscreen Qt, small torch thread pool, paths to the real datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("VAD_REVIEW_NO_USER_SETTINGS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("VAD_DATASETS", REPO.parent / "shared" / "datasets"))


def _torch_threads() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)  # small test models run fastest single-threaded on a busy 2-core machine


_torch_threads()
_MISSING_DATA: set[str] = set()  # real datasets a test wanted and did not find


def pytest_terminal_summary(terminalreporter) -> None:
    """One line when real-data tests were skipped: where the data was looked for."""
    if _MISSING_DATA:
        terminalreporter.write_line(
            f"real-data tests skipped: {', '.join(sorted(_MISSING_DATA))} not found under {SHARED_DATASETS} "
            "(set VAD_DATASETS to the folder holding them)"
        )


@pytest.fixture(scope="session")
def ped2_root() -> Path:
    """../shared/datasets/ucsd_ped2, or skip."""
    root = SHARED_DATASETS / "ucsd_ped2"
    if not (root / "UCSDped2.m").is_file():
        _MISSING_DATA.add("ucsd_ped2")
        pytest.skip(f"UCSD Ped2 not found at {root}")
    return root


@pytest.fixture(scope="session")
def bottle_root() -> Path:
    """../shared/datasets/mvtec_bottle_256/bottle, or skip."""
    root = SHARED_DATASETS / "mvtec_bottle_256" / "bottle"
    if not (root / "train" / "good").is_dir():
        _MISSING_DATA.add("mvtec_bottle_256/bottle")
        pytest.skip(f"MVTec bottle not found at {root}")
    return root
