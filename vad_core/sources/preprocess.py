"""Turn uint8 frames into model input and model output back into frame-sized maps.

Training and scoring share these functions, so a model always sees frames prepared the same way:
resized to ``size`` (height, width) with area interpolation, converted to ``channels`` (1 gray,
3 RGB) and scaled to [0, 1] (the models end in a sigmoid; thesis 4.4.2).

Example::

    x = prepare_frames(source.read(0, 16), size=(128, 128), channels=1)   # (16, 1, 128, 128) float32
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vad_core.errors import ConfigError
from vad_core.sources.image_files import convert_channels


@dataclass(frozen=True)
class Preprocess:
    """How frames become model input: spatial size ``(height, width)`` and channel count."""

    size: tuple[int, int] = (128, 128)  # thesis 4.9.1: frames resized to 128x128
    channels: int = 1

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ConfigError("preprocess", f"channels must be 1 or 3, found {self.channels}")
        if len(self.size) != 2 or min(self.size) < 8:
            raise ConfigError(
                "preprocess", f"size must be (height, width) of at least 8 px, found {self.size}"
            )

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return prepare_frames(frames, self.size, self.channels)

    def to_uint8(self, frames: np.ndarray) -> np.ndarray:
        """The frames resized and converted, still uint8 ``(N, channels, height, width)``: scaling
        them with :data:`UNIT_SCALE` gives exactly what calling this object gives."""
        return resize_frames_uint8(frames, self.size, self.channels)


# uint8 value -> float32 in [0, 1], exactly as prepare_frames scales: a device can look values up here
UNIT_SCALE = np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0)


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one ``(H, W[, C])`` image to ``size`` = (height, width); area filter when shrinking."""
    height, width = size
    if frame.shape[:2] == (height, width):
        return frame
    shrinking = frame.shape[0] * frame.shape[1] > height * width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)


def resize_frames_uint8(frames: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` -> uint8 ``(N, channels, height, width)``."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ConfigError("frames", f"expected uint8 frames, found {frames.dtype}")
    return _resize_frames(frames, size, channels)


def channels_first_uint8(frames: np.ndarray, channels: int) -> np.ndarray:
    """uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` -> uint8 ``(N, channels, H, W)``, not resized: what a
    device that resizes (:mod:`vad_core.inference.device_resize`) is given."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4):
        raise ConfigError(
            "frames", f"expected uint8 (N, H, W) or (N, H, W, 3), found {frames.dtype} {frames.shape}"
        )
    if not len(frames):
        return np.zeros((0, channels, *frames.shape[1:3]), np.uint8)
    if (frames.ndim == 3) != (channels == 1):
        frames = np.stack([convert_channels(frame, channels) for frame in frames])
    return frames[:, None] if channels == 1 else np.ascontiguousarray(frames.transpose(0, 3, 1, 2))


def prepare_frames(frames: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` -> float32 ``(N, channels, height, width)`` in [0, 1]."""
    resized = _resize_frames(np.asarray(frames), size, channels)
    if resized.dtype == np.uint8:
        return UNIT_SCALE[resized]
    resized *= 1.0 / 255.0  # float frames on the 0..255 scale
    return resized


def _resize_frames(frames: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """Resize and convert ``(N, H, W[, 3])`` frames to ``(N, channels, height, width)``: uint8 stays
    uint8, anything else becomes float32 on the same scale."""
    if frames.ndim == 2:  # one gray frame
        frames = frames[None]
    if frames.ndim not in (3, 4):
        raise ConfigError("frames", f"expected (N, H, W) or (N, H, W, 3), found {frames.shape}")
    dtype = np.uint8 if frames.dtype == np.uint8 else np.float32
    out = np.empty((len(frames), channels, size[0], size[1]), dtype)
    for i, frame in enumerate(frames):
        image = resize_frame(convert_channels(frame, channels), size)
        if image.ndim == 2:
            out[i, 0] = image
        else:
            out[i] = image.transpose(2, 0, 1)
    return out


def to_uint8_image(array: np.ndarray) -> np.ndarray:
    """float ``(C, H, W)`` in [0, 1] -> uint8 ``(H, W)`` or ``(H, W, 3)`` for display."""
    array = np.clip(np.asarray(array, np.float32), 0.0, 1.0)
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    return (array * 255.0 + 0.5).astype(np.uint8)


def resize_map(error_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D float map to ``size`` = (height, width) with bilinear interpolation."""
    height, width = size
    if error_map.shape == (height, width):
        return error_map
    return cv2.resize(np.asarray(error_map, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
