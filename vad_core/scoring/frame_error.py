"""Per-pixel reconstruction error maps and their reduction to one error e(t) per frame.

Implements the first line of thesis eq. 4.1 (seed 003, section 4.9.1): the error between a frame
and its reconstruction (or prediction), ``e(t) = ||I(x, y, t) - f_d(f_e(I(x, y, t)))||_2``. The map
keeps the squared error per pixel (averaged over channels) so the GUI can draw it as a heatmap;
:func:`reduce_error_maps` turns each map into one number per frame. Besides the thesis' L2 norm
and the plain mean squared error, ``"patch_max"`` takes the worst patch of the frame, which keeps a
small anomaly (one odd object in a crowd) from being diluted by a large, well reconstructed scene.

Example::

    maps = error_maps(batch, model_output)          # (N, C, H, W) -> (N, H, W) float32
    e = reduce_error_maps(maps, how="patch_max", patch=16)   # (N,)
    s = regularity(e)                                # see vad_core.scoring.regularity
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from vad_core.errors import ConfigError

Reduction = Literal["mean", "l2", "patch_max", "smoothed_max"]
REDUCTIONS: tuple[str, ...] = ("mean", "l2", "patch_max", "smoothed_max")


def error_maps(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Squared error per pixel, averaged over channels.

    Args:
        inputs: original frames, ``(N, C, H, W)``; ``(N, H, W)`` is read as one channel.
        outputs: reconstructed or predicted frames, same shape as ``inputs``.

    Returns:
        ``(N, H, W)`` float32 array, ``mean_c (inputs - outputs) ** 2``.

    Raises:
        ConfigError: the shapes differ or are not 3-D / 4-D.
    """
    a = np.asarray(inputs)
    b = np.asarray(outputs)
    if a.shape != b.shape:
        raise ConfigError(
            "error maps", f"inputs and outputs must have the same shape, found {a.shape} and {b.shape}"
        )
    if a.ndim == 3:
        a, b = a[:, None], b[:, None]
    if a.ndim != 4:
        raise ConfigError(
            "error maps", f"expected (N, C, H, W) or (N, H, W) arrays, found shape {np.shape(inputs)}"
        )
    diff = a.astype(np.float32, copy=False) - b.astype(np.float32, copy=False)
    return np.mean(diff * diff, axis=1, dtype=np.float32)


def _block_starts(size: int, patch: int) -> np.ndarray:
    """Top-left offsets of blocks of ``patch`` pixels tiling ``size``; the last one flush with the edge."""
    starts = list(range(0, size - patch + 1, patch))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return np.asarray(starts)


def _patch_max(maps: np.ndarray, patch: int) -> np.ndarray:
    """Largest block-mean per map, blocks of ``patch x patch`` pixels (clamped to the frame size)."""
    n, height, width = maps.shape
    ph, pw = min(patch, height), min(patch, width)
    # Summed-area table: any block sum is four look-ups, whatever the frame size.
    table = np.zeros((n, height + 1, width + 1), dtype=np.float64)
    np.cumsum(np.cumsum(maps, axis=1, dtype=np.float64), axis=2, out=table[:, 1:, 1:])
    ys = _block_starts(height, ph)[:, None]
    xs = _block_starts(width, pw)[None, :]
    sums = table[:, ys + ph, xs + pw] - table[:, ys, xs + pw] - table[:, ys + ph, xs] + table[:, ys, xs]
    return (sums / (ph * pw)).reshape(n, -1).max(axis=1)


def _smoothed_max(maps: np.ndarray, patch: int) -> np.ndarray:
    """Largest value of each map after a ``patch x patch`` mean filter at every pixel (zero padding
    of ``patch // 2`` counted in the mean): DRAEM's image score, the authors' ``avg_pool2d``."""
    n, height, width = maps.shape
    half = patch // 2
    table = np.zeros((n, height + 2 * half + 1, width + 2 * half + 1), dtype=np.float64)
    table[:, 1 + half : 1 + half + height, 1 + half : 1 + half + width] = maps
    table = np.cumsum(np.cumsum(table, axis=1), axis=2)  # summed-area table over the padded maps
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    sums = (
        table[:, ys + patch, xs + patch]
        - table[:, ys, xs + patch]
        - table[:, ys + patch, xs]
        + table[:, ys, xs]
    )
    return (sums / (patch * patch)).reshape(n, -1).max(axis=1)


def reduce_error_maps(maps: np.ndarray, how: Reduction | str = "mean", patch: int = 16) -> np.ndarray:
    """Reduce ``(N, H, W)`` error maps to one error per frame, ``(N,)`` float64.

    Args:
        maps: squared-error maps from :func:`error_maps`.
        how: ``"mean"``: mean squared error of the frame (the thesis' training loss, MSE).
            ``"l2"``: square root of the summed squared error, the L2 norm of thesis eq. 4.1.
            ``"patch_max"``: the largest mean error over ``patch x patch`` blocks. Blocks tile the
            frame from the top-left corner; where the size is not a multiple of ``patch`` one last
            block is placed flush with the bottom / right edge (overlapping its neighbour), so that
            every block averages exactly ``patch x patch`` pixels and edge blocks are neither
            diluted by padding nor noisier for being small. A patch larger than the frame is
            clamped to it (then "patch_max" equals "mean").
            ``"smoothed_max"``: the largest value after a ``patch x patch`` mean filter centred on
            each pixel, zero padding counted (DRAEM's image score over its segmentation map).
        patch: block side in pixels for ``"patch_max"``, filter side for ``"smoothed_max"``.

    Raises:
        ConfigError: unknown ``how``, ``patch < 1`` or maps that are not ``(N, H, W)``.
    """
    values = np.asarray(maps)
    if _is_empty(how, values.shape):
        return np.zeros(values.shape[0], dtype=np.float64)
    if how == "mean":
        return values.mean(axis=(1, 2), dtype=np.float64)
    if how == "l2":
        return np.sqrt(values.sum(axis=(1, 2), dtype=np.float64))
    if how == "smoothed_max":
        return _smoothed_max(values, _checked_patch(patch))
    return _patch_max(values, _checked_patch(patch))


def _is_empty(how: str, shape: tuple[int, ...]) -> bool:
    """Check the reduction name and the maps' shape; whether there is nothing to reduce."""
    if how not in REDUCTIONS:
        raise ConfigError("error reduction", f"how must be one of {', '.join(REDUCTIONS)}, found {how!r}")
    if len(shape) != 3:
        raise ConfigError("error reduction", f"expected (N, H, W) error maps, found shape {tuple(shape)}")
    return min(shape) == 0


def _checked_patch(patch) -> int:
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch < 1:
        raise ConfigError("error reduction", f"patch must be an integer >= 1, found {patch!r}")
    return int(patch)


def reduce_error_maps_torch(maps, how: Reduction | str = "mean", patch: int = 16):
    """:func:`reduce_error_maps` on a torch tensor ``(N, H, W)``, where it lies (e.g. on the GPU, so
    only the per-frame errors need to come back); float64 ``(N,)``, equal to the numpy result up to
    the order of summation."""
    import torch

    if _is_empty(how, tuple(maps.shape)):
        return torch.zeros(maps.shape[0], dtype=torch.float64, device=maps.device)
    n, height, width = maps.shape
    values = maps.double()
    if how == "mean":
        return values.mean(dim=(1, 2))
    if how == "l2":
        return values.sum(dim=(1, 2)).sqrt()
    patch = _checked_patch(patch)
    if how == "smoothed_max":
        smoothed = torch.nn.functional.avg_pool2d(values[:, None], patch, stride=1, padding=patch // 2)
        return smoothed[:, 0, :height, :width].reshape(n, -1).amax(dim=1)
    ph, pw = min(patch, height), min(patch, width)
    table = torch.nn.functional.pad(values.cumsum(dim=1).cumsum(dim=2), (1, 0, 1, 0))
    ys = torch.as_tensor(_block_starts(height, ph), device=maps.device)[:, None]
    xs = torch.as_tensor(_block_starts(width, pw), device=maps.device)[None, :]
    sums = table[:, ys + ph, xs + pw] - table[:, ys, xs + pw] - table[:, ys + ph, xs] + table[:, ys, xs]
    return (sums / (ph * pw)).reshape(n, -1).amax(dim=1)
