"""OpenCV's area resize (``cv2.INTER_AREA`` when shrinking), bit for bit, as torch ops on any device.

Scoring on an accelerator ships frames at their own size and shrinks them there, which takes the
resize (a quarter of the CPU time per frame of 240x360 footage) off the CPU cores that decode. The
result equals :func:`vad_core.sources.preprocess.resize_frame`'s exactly, so scores do not depend on
where frames were resized:

* integer factors in both directions take OpenCV's fast path: sums of whole cells, rounded
  half up for 2x2 cells and half to even otherwise (``sum * (1 / area)`` in float32);
* other factors take OpenCV's weighted path: the same float32 weights, per output pixel, added
  in the same order (horizontal taps, then vertical), rounded half to even.

The tests compare against the installed OpenCV on random frames of many sizes.

Example::

    resize = AreaResize((240, 360), (128, 128), device)
    small = resize(frames)      # uint8 (N, C, 240, 360) on ``device`` -> uint8 (N, C, 128, 128)
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Larger frames are resized on the host: a batch of them would hold gigabytes at their own size
#: (a clip model's batch of 64 windows of 8 frames reads 512 frames), and such footage is bound by
#: decoding anyway.
MAX_DEVICE_PIXELS = 1920 * 1080


def shrinks(frame_size: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether resizing ``frame_size`` to ``size`` (both height, width) is an area shrink that
    :class:`AreaResize` does: neither side grows, and the size changes."""
    return frame_size != size and frame_size[0] >= size[0] and frame_size[1] >= size[1]


def resize_on_device(frame_size: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether scoring on an accelerator ships frames of ``frame_size`` at their own size: an area
    shrink of frames of at most :data:`MAX_DEVICE_PIXELS`."""
    return shrinks(frame_size, size) and frame_size[0] * frame_size[1] <= MAX_DEVICE_PIXELS


def area_taps(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and float32 weights ``(target, taps)`` of OpenCV's area table for one axis
    (``computeResizeAreaTab``); unused taps have weight 0 and come last."""
    scale = 1.0 / (target / source)  # as cv::resize derives it from the inverse scale
    rows: list[list[tuple[int, float]]] = []
    for out in range(target):
        first_edge = out * scale
        last_edge = first_edge + scale
        cell = min(scale, source - first_edge)
        first_whole, last_whole = math.ceil(first_edge), math.floor(last_edge)
        last_whole = min(last_whole, source - 1)
        first_whole = min(first_whole, last_whole)
        row = []
        if first_whole - first_edge > 1e-3:
            row.append((first_whole - 1, (first_whole - first_edge) / cell))
        row += [(index, 1.0 / cell) for index in range(first_whole, last_whole)]
        if last_edge - last_whole > 1e-3:
            row.append((last_whole, min(last_edge - last_whole, 1.0, cell) / cell))
        rows.append(row)
    taps = max(len(row) for row in rows)
    indices = np.zeros((target, taps), np.int64)
    weights = np.zeros((target, taps), np.float32)
    for out, row in enumerate(rows):
        for tap, (index, weight) in enumerate(row):
            indices[out, tap] = index
            weights[out, tap] = weight
    return indices, weights


class AreaResize:
    """Shrinks uint8 frames ``(N, C, H, W)`` of one size to ``size`` = (height, width) on ``device``."""

    def __init__(self, frame_size: tuple[int, int], size: tuple[int, int], device: torch.device) -> None:
        if not shrinks(frame_size, size):
            raise ValueError(f"AreaResize only shrinks, not {frame_size} -> {size}")
        self.frame_size = frame_size
        self.size = size
        (height, width), (out_height, out_width) = frame_size, size
        self._cells = None
        if height % out_height == 0 and width % out_width == 0:
            self._cells = (height // out_height, width // out_width)
            return
        rows, row_weights = area_taps(height, out_height)
        columns, column_weights = area_taps(width, out_width)
        self._rows = torch.from_numpy(rows).to(device)
        self._row_weights = torch.from_numpy(row_weights).to(device)
        self._columns = torch.from_numpy(columns).to(device)
        self._column_weights = torch.from_numpy(column_weights).to(device)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if tuple(frames.shape[-2:]) != self.frame_size:
            raise ValueError(f"expected frames of {self.frame_size}, found {tuple(frames.shape[-2:])}")
        if self._cells is not None:
            return self._whole_cells(frames)
        across = None  # horizontal taps first, added in table order, as OpenCV does
        for tap in range(self._columns.shape[1]):  # gathered as uint8: float only at output width
            term = frames[..., self._columns[:, tap]].float() * self._column_weights[:, tap]
            across = term if across is None else across + term
        assert across is not None
        down = None
        for tap in range(self._rows.shape[1]):
            term = across[..., self._rows[:, tap], :] * self._row_weights[:, tap, None]
            down = term if down is None else down + term
        assert down is not None
        return torch.round(down).clamp_(0, 255).to(torch.uint8)

    def _whole_cells(self, frames: torch.Tensor) -> torch.Tensor:
        cell_height, cell_width = self._cells
        out_height, out_width = self.size
        cells = frames.reshape(*frames.shape[:-2], out_height, cell_height, out_width, cell_width)
        sums = cells.sum(dim=(-3, -1), dtype=torch.int32).float()  # whole numbers: exact in float32
        if (cell_height, cell_width) == (2, 2):
            rounded = torch.floor((sums + 2.0) / 4.0)
        else:
            inverse_area = torch.tensor(1.0 / (cell_height * cell_width), dtype=torch.float32)
            rounded = torch.round(sums * inverse_area.to(sums.device))
        return rounded.to(torch.uint8)
