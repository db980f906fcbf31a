"""Interval algebra on half-open frame ranges ``((start, end), ...)``: normalise, union, intersect,
subtract, clip, and conversion to and from per-frame masks.

Example::

    union_ranges([(0, 3)], [(2, 6)])            # ((0, 6),)
    subtract_ranges([(0, 10)], [(4, 6)])        # ((0, 4), (6, 10))
    mask_to_ranges(ranges_to_mask([(1, 3)], 5)) # ((1, 3),)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: Half-open frame ranges ``((start, end), ...)``.
Ranges = tuple[tuple[int, int], ...]


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, disjoint, non-adjacent ranges covering the same frames; empty ranges are dropped.

    >>> normalize_ranges([(5, 8), (0, 2), (2, 3), (7, 9), (4, 4)])
    ((0, 3), (5, 9))
    """
    items = sorted((int(a), int(b)) for a, b in ranges if int(b) > int(a))
    out: list[tuple[int, int]] = []
    for start, end in items:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def union_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in ``a`` or ``b``."""
    return normalize_ranges([*a, *b])


def intersect_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in both ``a`` and ``b``."""
    left, right = normalize_ranges(a), normalize_ranges(b)
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract_ranges(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> Ranges:
    """Frames in ``a`` but not in ``b``."""
    out: list[tuple[int, int]] = []
    cuts = normalize_ranges(b)
    for start, end in normalize_ranges(a):
        cursor = start
        for cut_start, cut_end in cuts:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                out.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


def clip_ranges(ranges: Iterable[tuple[int, int]], start: int, end: int) -> Ranges:
    """The part of ``ranges`` inside ``[start, end)``."""
    return intersect_ranges(ranges, [(start, end)])


def ranges_to_mask(ranges: Iterable[tuple[int, int]], length: int) -> np.ndarray:
    """``(length,)`` bool array, True on the frames of ``ranges`` (parts beyond ``length`` are cut)."""
    mask = np.zeros(max(0, int(length)), dtype=bool)
    for start, end in ranges:
        mask[max(0, start) : max(0, min(end, length))] = True
    return mask


def mask_to_ranges(mask: np.ndarray) -> Ranges:
    """The runs of True in a 1-D array as half-open ranges."""
    values = np.asarray(mask, dtype=bool).ravel()
    edges = np.diff(np.concatenate(([False], values, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple((int(a), int(b)) for a, b in zip(starts, ends, strict=True))
