"""Dataset readers: UCSD Ped1/Ped2, CUHK Avenue, MVTec AD and the built-in synthetic benchmark.

Each reader returns frame sources plus ground truth in the containers of ``base``
(``VideoDataset`` of ``VideoClip`` for video sets, ``ImageDataset`` of ``ImageSample`` for
MVTec AD). ``open_dataset`` recognises which layout a folder holds and calls the right reader.
Bad input raises one typed error naming the file: ``DatasetError`` (wrong layout),
``SourceError`` (unreadable frames or video), ``GroundTruthError`` (missing or malformed labels).

Example::

    dataset = open_dataset("../shared/datasets/ucsd_ped2")       # -> VideoDataset "UCSDped2"
    parts = open_dataset("../shared/datasets/mvtec_bottle_256")  # -> ImageDataset, category "bottle"
    print(len(dataset.test), parts.notes)
"""

from __future__ import annotations

from pathlib import Path

from vad_core.datasets.avenue import AVENUE_FPS, is_avenue_layout, read_avenue, read_label_file
from vad_core.datasets.base import ImageDataset, ImageSample, MaskReader, VideoClip, VideoDataset
from vad_core.datasets.masks import read_mask, read_mask_file
from vad_core.datasets.mvtec import is_mvtec_category, mvtec_categories, read_mvtec
from vad_core.datasets.synthetic import (
    MANIFEST,
    SyntheticConfig,
    make_synthetic_dataset,
    read_synthetic,
    write_synthetic_dataset,
)
from vad_core.datasets.ucsd import (
    UCSD_FPS,
    is_ucsd_layout,
    parse_ranges_mat,
    parse_ucsd_m,
    ranges_to_labels,
    read_ranges_mat,
    read_ucsd,
    read_ucsd_m,
)
from vad_core.errors import DatasetError

ACCEPTED_LAYOUTS = (
    "UCSD Ped1/Ped2 (Train/Train001/001.tif + Test/UCSDped2.m, "
    "or training/frames/01/000.jpg + UCSDped2.m / ped2.mat)",
    "CUHK Avenue (training_videos/01.avi + testing_videos/01.avi + ground_truth_demo/testing_label_mask/, "
    "or training/frames/01/0000.jpg + avenue.mat)",
    "MVTec AD category (train/good/*.png, test/<defect>/*.png, ground_truth/<defect>/*_mask.png) "
    "or a root holding one category",
    f"the synthetic benchmark ({MANIFEST})",
)


def open_dataset(path: str | Path, ground_truth: str | Path | None = None) -> VideoDataset | ImageDataset:
    """Read the dataset in ``path``, whichever accepted layout it has (see ``ACCEPTED_LAYOUTS``);
    ``ground_truth`` names a UCSD folder's ground-truth file (``.m`` / ``.mat``) explicitly.

    Raises ``DatasetError`` naming the folder and listing the accepted layouts when none fits;
    the chosen reader's own errors pass through unchanged.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "no such folder")
    if path.is_file() and path.name == MANIFEST:
        path = path.parent
    if not path.is_dir():
        raise DatasetError(path, "not a folder (a dataset is a folder)")
    if ground_truth is not None and not is_ucsd_layout(path):
        raise DatasetError(path, "a ground-truth file can be named for UCSD folders only")
    if ground_truth is not None:
        return read_ucsd(path, ground_truth=ground_truth)
    if (path / MANIFEST).is_file():
        return read_synthetic(path)
    # MVTec before UCSD: on case-insensitive file systems a category's test/ also answers to Test/.
    if is_mvtec_category(path) or mvtec_categories(path):
        return read_mvtec(path)
    if is_avenue_layout(path):
        return read_avenue(path)
    if is_ucsd_layout(path):
        return read_ucsd(path)
    raise DatasetError(path, "no known dataset layout; accepted: " + "; ".join(ACCEPTED_LAYOUTS))


__all__ = [
    "ACCEPTED_LAYOUTS",
    "AVENUE_FPS",
    "UCSD_FPS",
    "ImageDataset",
    "ImageSample",
    "MaskReader",
    "SyntheticConfig",
    "VideoClip",
    "VideoDataset",
    "is_avenue_layout",
    "is_mvtec_category",
    "is_ucsd_layout",
    "make_synthetic_dataset",
    "mvtec_categories",
    "open_dataset",
    "parse_ranges_mat",
    "parse_ucsd_m",
    "ranges_to_labels",
    "read_avenue",
    "read_label_file",
    "read_mask",
    "read_mask_file",
    "read_mvtec",
    "read_ranges_mat",
    "read_synthetic",
    "read_ucsd",
    "read_ucsd_m",
    "write_synthetic_dataset",
]
