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


@pytest.fixture(scope="session")
def ped2_root() -> Path:
    """../shared/datasets/ucsd_ped2, or skip."""
    root = SHARED_DATASETS / "ucsd_ped2"
    if not (root / "UCSDped2.m").is_file():
        pytest.skip(f"UCSD Ped2 not found at {root}")
    return root


@pytest.fixture(scope="session")
def bottle_root() -> Path:
    """../shared/datasets/mvtec_bottle_256/bottle, or skip."""
    root = SHARED_DATASETS / "mvtec_bottle_256" / "bottle"
    if not (root / "train" / "good").is_dir():
        pytest.skip(f"MVTec bottle not found at {root}")
    return root
