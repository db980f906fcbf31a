"""Drawing an exported clip's pictures: error-map overlay, burned-in captions, padding, contact sheet.

Frames arrive as the source gives them (grey or RGB) and leave as BGR images for OpenCV's writer.
:class:`ClipFrames` renders the frames of one clip in order and keeps the key frames that the
contact sheet (:func:`contact_sheet`) shows.

Example::

    frames = ClipFrames(source, incident, inputs, config)
    for number, frame in zip(range(frames.first, frames.end), source.read(frames.first, frames.end)):
        writer.write(frames.render(number, frame))
    sheet = contact_sheet(frames.tiles, source.fps, inputs.score, incident.peak_frame, "title", (2, 4), 240)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vad_core.sources.preprocess import resize_map

if TYPE_CHECKING:
    from vad_core.export.clips import ExportConfig, ExportInputs, Incident


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


def _even(size: int) -> int:
    return size + (size % 2)


def _overlay(frame: np.ndarray, error_map: np.ndarray, low: float, high: float, alpha: float) -> np.ndarray:
    height, width = frame.shape[:2]
    values = resize_map(np.asarray(error_map, np.float32), (height, width))
    norm = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0)
    colour = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)
    weight = (alpha * norm)[..., None]
    return (frame * (1.0 - weight) + colour * weight).astype(np.uint8)


def _text(
    image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour=(255, 255, 255)
) -> None:
    """``text`` in ``colour`` with a dark outline. The outline is the same text at the same thickness
    shifted by a pixel each way: a thicker stroke advances each glyph further, which drew every
    caption twice with different spacing ("PEAK K")."""
    thickness = max(1, round(scale * 2))
    x, y = origin
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(
            image, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA
        )
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def _font_scale(width: int) -> float:
    return float(np.clip(width / 900.0, 0.3, 1.0))


def _annotate(image: np.ndarray, frame: int, fps: float, score: float | None, in_incident: bool) -> None:
    height, width = image.shape[:2]
    scale = _font_scale(width)
    line = f"frame {frame}  {frame / fps:.2f} s" + (
        f"  anomaly score {score:.2f}" if score is not None else ""
    )
    _text(image, line, (4, max(12, round(22 * scale))), scale)
    if in_incident:  # a red frame around the incident's own frames (not the padding)
        cv2.rectangle(image, (0, 0), (width - 1, height - 1), (0, 0, 255), max(2, round(4 * scale)))


def _map_range(maps: np.ndarray, start: int, end: int) -> tuple[float, float]:
    """Colour scale of the overlay: 0 to the 99.5th percentile of the clip's errors."""
    values = np.asarray(maps[start:end], np.float32)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    high = float(np.percentile(finite, 99.5))
    low = float(min(0.0, finite.min()))
    return low, high if high > low else low + 1.0


def key_frames(incident: Incident, count: int) -> list[int]:
    """Up to ``count`` evenly spaced frames of the incident, including its peak frame."""
    frames = sorted({int(round(v)) for v in np.linspace(incident.start, incident.last, num=max(1, count))})
    peak = incident.peak_frame
    if peak is not None and incident.start <= peak < incident.end and peak not in frames:
        nearest = min(range(len(frames)), key=lambda i: abs(frames[i] - peak))
        frames[nearest] = peak
        frames.sort()
    return frames


def contact_sheet(
    tiles: Sequence[tuple[int, np.ndarray]],
    fps: float,
    score: np.ndarray | None,
    peak: int | None,
    title: str,
    grid: tuple[int, int],
    tile_width: int,
) -> np.ndarray:
    """A BGR image: ``title`` above a grid of captioned tiles ``(frame number, BGR frame)``."""
    rows, cols = grid
    height, width = tiles[0][1].shape[:2]
    tile_height = max(1, round(height * tile_width / width))
    caption = 22
    header = 30
    sheet = np.full((header + rows * (tile_height + caption), cols * tile_width, 3), 32, np.uint8)
    _text(sheet, title, (6, 20), 0.5)
    for n, (frame, image) in enumerate(tiles[: rows * cols]):
        row, col = divmod(n, cols)
        top, left = header + row * (tile_height + caption), col * tile_width
        sheet[top : top + tile_height, left : left + tile_width] = cv2.resize(
            image, (tile_width, tile_height), interpolation=cv2.INTER_AREA
        )
        words = f"frame {frame}  {frame / fps:.2f} s"
        if score is not None:
            words += f"  anomaly {float(score[frame]):.2f}"
        is_peak = frame == peak
        if is_peak:
            words += "  peak"
            cv2.rectangle(sheet, (left, top), (left + tile_width - 1, top + tile_height - 1), (0, 0, 255), 2)
        _text(
            sheet,
            words,
            (left + 4, top + tile_height + 16),
            0.42,
            (80, 80, 255) if is_peak else (255, 255, 255),
        )
    return sheet


def _frames_to_pad(seconds: float, fps: float) -> int:
    return int(round(seconds * fps))


class ClipFrames:
    """The frames of one incident's clip (with padding) and how each is drawn before it is written."""

    def __init__(self, source: Any, incident: Incident, inputs: ExportInputs, config: ExportConfig) -> None:
        length, self.fps = len(source), float(source.fps)
        self.incident, self.inputs, self.config = incident, inputs, config
        self.first = max(0, incident.start - _frames_to_pad(config.pad_before, self.fps))
        self.end = min(length, incident.end + _frames_to_pad(config.pad_after, self.fps))
        self.source_size: tuple[int, int] = tuple(source.frame_size)
        height, width = self.source_size
        self.size = (_even(height), _even(width))
        self.overlay = config.overlay and inputs.maps is not None
        self.low, self.high = _map_range(inputs.maps, self.first, self.end) if self.overlay else (0.0, 1.0)
        rows, cols = config.sheet_grid
        self.wanted = set(key_frames(incident, rows * cols)) if config.contact_sheet else set()
        self.tiles: list[tuple[int, np.ndarray]] = []  # (frame number, BGR frame) for the contact sheet

    @property
    def total(self) -> int:
        return self.end - self.first

    def render(self, number: int, frame: np.ndarray) -> np.ndarray:
        """Frame ``number`` as written: overlay, key-frame tile kept, caption burned in, even size."""
        inputs, config = self.inputs, self.config
        image = _to_bgr(frame)
        if self.overlay:
            image = _overlay(image, inputs.maps[number], self.low, self.high, config.overlay_alpha)
        if number in self.wanted:
            self.tiles.append((number, image.copy()))
        if config.annotate:
            score = None if inputs.score is None else float(inputs.score[number])
            in_incident = self.incident.start <= number < self.incident.end
            _annotate(image, number, self.fps, score, in_incident)
        if image.shape[:2] != self.size:
            height, width = self.source_size
            image = cv2.copyMakeBorder(
                image, 0, self.size[0] - height, 0, self.size[1] - width, cv2.BORDER_CONSTANT
            )
        return image
