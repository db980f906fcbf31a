"""Tiny datasets written in the exact published layouts, for reader tests that need no real data.

Every helper writes under a folder the test gives (``tmp_path``) and returns the dataset root.
Frames are small gray images whose brightness encodes the frame number (``frame_value``), so a
test can tell which file a frame came from after sorting and decoding.

* ``write_ucsd_original``: ``UCSDped2/{Train/Train001, Test/Test001}/001.tif``, ``Test/UCSDped2.m``,
  ``Test/Test001_gt/001.bmp`` (the ``UCSD_Anomaly_Dataset.v1p2`` layout);
* ``write_ucsd_repacked``: ``{training,testing}/frames/01/000.jpg``, ``UCSDped2.m``, ``ped2.mat``;
* ``write_avenue``: ``training_videos/01.avi``, ``testing_videos/01.avi`` (MJPG),
  ``ground_truth_demo/testing_label_mask/1_label.mat`` (``volLabel``: 1xT cell of HxW masks);
* ``write_mvtec``: ``<category>/train/good/000.png``, ``test/<defect>/000.png``,
  ``ground_truth/<defect>/000_mask.png``.

Example::

    root = write_ucsd_original(tmp_path, test_ranges=[[(3, 5)], [], [(1, 2), (6, 7)]])
    dataset = read_ucsd(root)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import scipy.io

Ranges = Sequence[tuple[int, int]]

SIZE = (24, 36)  # (height, width): tiny, with UCSD's 2:3 aspect


def frame_value(index: int) -> int:
    """Brightness of frame ``index`` (0-based) in every fixture: distinct and far from JPEG noise."""
    return 20 + 10 * (index % 22)


def gray_frame(index: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A gray uint8 frame: flat ``frame_value(index)`` with a small bright square that moves."""
    frame = np.full(size, frame_value(index), np.uint8)
    x = (2 * index) % max(1, size[1] - 4)
    frame[2:6, x : x + 4] = 250
    return frame


def write_frames(
    folder: Path, count: int, first_number: int, suffix: str, size: tuple[int, int] = SIZE
) -> Path:
    """``count`` frames named ``001.tif`` (``first_number=1``) or ``000.jpg`` (``first_number=0``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i + first_number:03d}{suffix}"), gray_frame(i, size))
    return folder


def m_line(ranges: Ranges) -> str:
    """One line of a UCSD ``.m`` ground-truth file for 1-based inclusive ``ranges``."""
    body = ", ".join(f"{first}:{last}" for first, last in ranges)
    return f"TestVideoFile{{end+1}}.gt_frame = [{body}];"


def write_m_file(path: Path, test_ranges: Sequence[Ranges]) -> Path:
    """A ``UCSDpedN.m`` file as the dataset writes it: an init line, then one line per test clip."""
    lines = ["TestVideoFile = {};", *(m_line(ranges) for ranges in test_ranges)]
    path.write_text("\n".join(lines) + "\n")
    return path


def ranges_cell(test_ranges: Sequence[Ranges]) -> np.ndarray:
    """A 1xN MATLAB cell (object array) of 2xK ``[start; end]`` matrices, as in ``ped2.mat``."""
    cell = np.empty((1, len(test_ranges)), dtype=object)
    for i, ranges in enumerate(test_ranges):
        cell[0, i] = np.array(ranges, dtype=np.float64).reshape(-1, 2).T
    return cell


def write_ranges_mat(path: Path, test_ranges: Sequence[Ranges], variable: str = "gt") -> Path:
    scipy.io.savemat(str(path), {variable: ranges_cell(test_ranges)})
    return path


def box_mask(size: tuple[int, int], on: bool) -> np.ndarray:
    """A uint8 0/255 mask with an anomalous box when ``on``."""
    mask = np.zeros(size, np.uint8)
    if on:
        mask[size[0] // 4 : size[0] // 2, size[1] // 4 : size[1] // 2] = 255
    return mask


def write_ucsd_original(
    parent: Path,
    name: str = "UCSDped2",
    train_lengths: Sequence[int] = (6, 5),
    test_lengths: Sequence[int] = (8, 7, 9),
    test_ranges: Sequence[Ranges] = (((3, 5),), (), ((1, 2), (6, 9))),
    masks_for: Sequence[int] = (0,),
    size: tuple[int, int] = SIZE,
) -> Path:
    """``parent/UCSDped2`` in the original layout; ``masks_for`` are test clips with ``TestNNN_gt``."""
    root = parent / name
    for i, length in enumerate(train_lengths):
        write_frames(root / "Train" / f"Train{i + 1:03d}", length, 1, ".tif", size)
    ranges_per_clip = [list(ranges) for ranges in test_ranges]
    for i, length in enumerate(test_lengths):
        write_frames(root / "Test" / f"Test{i + 1:03d}", length, 1, ".tif", size)
        if i in masks_for:
            labels = np.zeros(length, bool)
            for first, last in ranges_per_clip[i]:
                labels[first - 1 : last] = True
            gt = root / "Test" / f"Test{i + 1:03d}_gt"
            gt.mkdir()
            for t in range(length):
                cv2.imwrite(str(gt / f"{t + 1:03d}.bmp"), box_mask(size, bool(labels[t])))
    write_m_file(root / "Test" / f"{name}.m", ranges_per_clip)
    return root


def write_ucsd_repacked(
    parent: Path,
    name: str = "ucsd_ped2",
    train_lengths: Sequence[int] = (6, 5),
    test_lengths: Sequence[int] = (8, 7),
    m_ranges: Sequence[Ranges] = (((1, 5),), ((4, 7),)),
    mat_ranges: Sequence[Ranges] | None = (((5, 5),), ((4, 7),)),
) -> Path:
    """``parent/ucsd_ped2`` re-packed: JPEG frame folders from 000, ``UCSDped2.m`` and ``ped2.mat``.

    By default ``ped2.mat`` starts clip 01 at frame 5 where the ``.m`` file starts at 1, like the real copy.
    """
    root = parent / name
    for i, length in enumerate(train_lengths):
        write_frames(root / "training" / "frames" / f"{i + 1:02d}", length, 0, ".jpg")
    for i, length in enumerate(test_lengths):
        write_frames(root / "testing" / "frames" / f"{i + 1:02d}", length, 0, ".jpg")
    write_m_file(root / "UCSDped2.m", m_ranges)
    if mat_ranges is not None:
        write_ranges_mat(root / "ped2.mat", mat_ranges)
    return root


def write_avi(path: Path, count: int, size: tuple[int, int] = SIZE, fps: float = 25.0) -> Path:
    """A small MJPG ``.avi`` of ``count`` gray frames (stored as 3-channel, as real videos are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size[1], size[0]), isColor=True
    )
    assert writer.isOpened(), f"OpenCV cannot write MJPG to {path}"
    for i in range(count):
        writer.write(cv2.cvtColor(gray_frame(i, size), cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def label_cell(labels: Sequence[bool], size: tuple[int, int] = SIZE) -> np.ndarray:
    """Avenue's ``volLabel``: a 1xT cell of HxW masks, non-zero where the frame is anomalous."""
    cell = np.empty((1, len(labels)), dtype=object)
    for t, on in enumerate(labels):
        cell[0, t] = (box_mask(size, bool(on)) > 0).astype(np.uint8)
    return cell


def write_avenue(
    parent: Path,
    train_lengths: Sequence[int] = (5, 4),
    test_labels: Sequence[Sequence[bool]] = ((0, 0, 1, 1, 0, 0), (1, 0, 0, 0, 0)),
    size: tuple[int, int] = SIZE,
) -> Path:
    """``parent/Avenue Dataset`` in the original layout, label files in ``ground_truth_demo``."""
    root = parent / "Avenue Dataset"
    for i, length in enumerate(train_lengths):
        write_avi(root / "training_videos" / f"{i + 1:02d}.avi", length, size)
    label_dir = root / "ground_truth_demo" / "testing_label_mask"
    label_dir.mkdir(parents=True)
    for i, labels in enumerate(test_labels):
        write_avi(root / "testing_videos" / f"{i + 1:02d}.avi", len(labels), size)
        scipy.io.savemat(str(label_dir / f"{i + 1}_label.mat"), {"volLabel": label_cell(labels, size)})
    return root


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


def part_image(index: int, size: tuple[int, int], color: bool) -> np.ndarray:
    gray = gray_frame(index, size)
    if not color:
        return gray
    return np.stack([gray, np.roll(gray, 3, axis=1), 255 - gray], axis=-1)  # channels differ: colour


def write_mvtec(
    parent: Path,
    category: str = "bottle",
    train: int = 3,
    test: dict[str, int] | None = None,
    missing_masks: Sequence[str] = ("broken_small/001.png",),
    size: tuple[int, int] = (32, 32),
    color: bool = True,
) -> Path:
    """``parent/<category>`` in MVTec AD's layout; ``missing_masks`` lists defect images left without mask."""
    test = test if test is not None else {"good": 2, "broken_large": 2, "broken_small": 2}
    root = parent / category
    for i in range(train):
        write_png(root / "train" / "good" / f"{i:03d}.png", part_image(i, size, color))
    for defect, count in test.items():
        for i in range(count):
            write_png(root / "test" / defect / f"{i:03d}.png", part_image(i, size, color))
            if defect != "good" and f"{defect}/{i:03d}.png" not in missing_masks:
                write_png(root / "ground_truth" / defect / f"{i:03d}_mask.png", box_mask(size, True))
    return root


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut ``path`` to ``keep`` of its bytes, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
