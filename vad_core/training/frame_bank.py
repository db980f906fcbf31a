"""Training data in memory: every training frame preprocessed once, windows as index rows.

All frames of the training sources are resized to the model input once and kept as one uint8
tensor (on the GPU when training there); a training sample is a row of frame indices, so a batch
is one gather. Temporal stride augmentation (thesis 4.9.1: strides 1, 2, 4, 8, 16) only adds rows.

Example::

    bank = FrameBank.from_sources(sources, Preprocess((128, 128), 1))
    windows = bank.windows(window=8, strides=(1, 2, 4))      # (n, 8) int64 frame indices
    batch = bank.gather(windows[:32])                        # (32, 8, 1, 128, 128) float32
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vad_core.errors import ConfigError
from vad_core.sources.base import FrameSource
from vad_core.sources.image_files import convert_channels
from vad_core.sources.preprocess import Preprocess, resize_frame


@dataclass
class FrameBank:
    """uint8 frames ``(N, C, H, W)`` of several sources, and where each source starts and ends."""

    frames: torch.Tensor
    bounds: list[tuple[int, int]]  # [start, stop) of each source inside ``frames``
    names: list[str]
    sequences: list[bool]  # False for still-image sources (no temporal windows across them)
    #: the raw footage before preprocessing, ``{"size": [H, W], "channels": C}`` of the first source
    footage: dict | None = None

    @classmethod
    def from_sources(
        cls,
        sources: Sequence[FrameSource],
        preprocess: Preprocess,
        frame_ranges: Sequence[Sequence[tuple[int, int]]] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> FrameBank:
        """Preprocess frames of ``sources`` (optionally only ``frame_ranges[i]`` of source i)."""
        if not sources:
            raise ConfigError("training", "no training sources")
        height, width = preprocess.size
        spans: list[tuple[FrameSource, int, int]] = []
        for i, source in enumerate(sources):
            ranges = frame_ranges[i] if frame_ranges is not None else [(0, len(source))]
            for start, stop in ranges:
                start, stop = max(0, start), min(len(source), stop)
                if stop > start:
                    spans.append((source, start, stop))
        total = sum(stop - start for _, start, stop in spans)
        if total == 0:
            raise ConfigError("training", "the training selection holds no frames")
        frames = np.empty((total, preprocess.channels, height, width), np.uint8)
        bounds, names, sequences = [], [], []
        cursor = 0
        for source, start, stop in spans:
            bounds.append((cursor, cursor + stop - start))
            names.append(
                source.name if (start, stop) == (0, len(source)) else f"{source.name}[{start}:{stop}]"
            )
            sequences.append(bool(getattr(source, "is_sequence", True)))
            for index in range(start, stop):
                image = resize_frame(
                    convert_channels(source.frame(index), preprocess.channels), (height, width)
                )
                frames[cursor] = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
                cursor += 1
                if progress and cursor % 64 == 0:
                    progress(cursor, total)
        if progress:
            progress(total, total)
        first = spans[0][0]
        footage = {"size": [int(v) for v in first.frame_size], "channels": int(first.channels)}
        return cls(torch.from_numpy(frames), bounds, names, sequences, footage)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def to(self, device: torch.device) -> FrameBank:
        return FrameBank(self.frames.to(device), self.bounds, self.names, self.sequences, self.footage)

    def windows(self, window: int, strides: Sequence[int] = (1,), step: int = 1) -> torch.Tensor:
        """Rows of ``window`` frame indices ``t, t+s, ..., t+(window-1)s`` inside one source each."""
        rows: list[np.ndarray] = []
        for (start, stop), is_sequence in zip(self.bounds, self.sequences, strict=True):
            length = stop - start
            if window == 1 or not is_sequence:
                if window == 1:
                    rows.append(np.arange(start, stop)[:, None])
                continue
            for stride in strides:
                span = (window - 1) * stride + 1
                if span > length:
                    continue
                starts = np.arange(start, stop - span + 1, step)
                rows.append(starts[:, None] + np.arange(window)[None] * stride)
        if not rows:
            raise ConfigError(
                "training", f"no training windows of {window} frames fit the selected footage (too short?)"
            )
        return torch.from_numpy(np.concatenate(rows).astype(np.int64))

    def gather(self, rows: torch.Tensor) -> torch.Tensor:
        """Float32 clips ``(B, window, C, H, W)`` in [0, 1] for index rows ``(B, window)``."""
        rows = rows.to(self.frames.device)
        return self.frames[rows].float().div_(255.0)
