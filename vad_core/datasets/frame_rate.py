"""One default frame rate for a frame folder, wherever it is opened (``vad score``, the window).

A frame folder has no frame rate of its own. When it is a clip of a dataset the engine reads (a
UCSD Ped1 / Ped2 clip folder: 10 fps; CUHK Avenue: 25 fps), its rate is the dataset's, as when
the clip is opened through the dataset; otherwise 25 fps. The rate is stored with the scores
(``meta["fps"]``) and shown by both.

Example::

    fps = folder_frame_rate("ucsd_ped2/testing/frames/02")     # 10.0
"""

from __future__ import annotations

from pathlib import Path

from vad_core.datasets.avenue import AVENUE_FPS, is_avenue_layout
from vad_core.datasets.ucsd import UCSD_FPS, is_ucsd_layout

DEFAULT_FPS = 25.0  # frame folders outside a known dataset
_SEARCHED_PARENTS = 4  # clip folder -> frames -> testing -> dataset root, at most


def _is_ucsd_root(folder: Path) -> bool:
    """A UCSD layout with the dataset's own ground truth beside it (not any folder holding ``Test``)."""
    if not is_ucsd_layout(folder):
        return False
    return folder.name.lower().startswith("ucsdped") or any(
        next(folder.glob(pattern), None) is not None for pattern in ("UCSDped*.m", "*/UCSDped*.m", "ped*.mat")
    )


def dataset_frame_rate(path: str | Path) -> float | None:
    """The capture rate of the dataset the frame folder ``path`` belongs to, or None."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    for parent in list(folder.resolve().parents)[:_SEARCHED_PARENTS]:
        if _is_ucsd_root(parent):
            return UCSD_FPS
        if is_avenue_layout(parent):
            return AVENUE_FPS
    return None


def folder_frame_rate(path: str | Path, fps: float | None = None) -> float | None:
    """``fps`` when given; for a frame folder the rate of its dataset or ``DEFAULT_FPS``; None for a
    video file (its container knows its rate)."""
    if fps:
        return float(fps)
    if not Path(path).is_dir():
        return None
    return dataset_frame_rate(path) or DEFAULT_FPS
