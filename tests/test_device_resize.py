"""The device-side area resize equals OpenCV's, so scores do not depend on where frames shrink."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.inference.device_resize import (
    MAX_DEVICE_PIXELS,
    AreaResize,
    area_taps,
    resize_on_device,
    shrinks,
)
from vad_core.sources.preprocess import resize_frame

CPU = torch.device("cpu")


def _frames(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Noise and a smooth ramp: noise hits every rounding case, the ramp long runs of near-ties."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, shape, dtype=np.uint8)
    height, width = shape[1:3]
    ramp = (np.add.outer(np.arange(height) * 3, np.arange(width) * 5) % 256).astype(np.uint8)
    if len(shape) == 4:
        ramp = np.repeat(ramp[..., None], 3, axis=2)
    return np.concatenate([noise, ramp[None]])


def _device_resized(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(N, H, W[, 3])`` frames with AreaResize, back in the same layout."""
    channels_first = frames[:, None] if frames.ndim == 3 else frames.transpose(0, 3, 1, 2)
    resized = AreaResize(frames.shape[1:3], size, CPU)(torch.from_numpy(np.ascontiguousarray(channels_first)))
    out = resized.numpy()
    return out[:, 0] if frames.ndim == 3 else out.transpose(0, 2, 3, 1)


@pytest.mark.parametrize(
    ("frame_size", "size"),
    [
        ((240, 360), (128, 128)),  # UCSD Ped2 -> the thesis's model size
        ((360, 640), (128, 128)),  # Avenue
        ((1080, 1920), (128, 128)),
        ((300, 201), (128, 96)),
        ((240, 360), (120, 180)),  # whole 2x2 cells: OpenCV rounds half up here
        ((384, 384), (128, 128)),  # whole 3x3 cells: half to even
        ((256, 384), (128, 128)),  # whole 2x3 cells
        ((128, 256), (128, 128)),  # one side unchanged
        ((200, 128), (128, 128)),
    ],
    ids=str,
)
@pytest.mark.parametrize("colour", [False, True], ids=["gray", "rgb"])
def test_area_resize_equals_opencv_bit_for_bit(frame_size, size, colour) -> None:
    shape = (3, *frame_size, 3) if colour else (3, *frame_size)
    frames = _frames(shape, seed=sum(frame_size))
    expected = np.stack([resize_frame(frame, size) for frame in frames])
    np.testing.assert_array_equal(_device_resized(frames, size), expected)


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(8, 90),
    width=st.integers(8, 90),
    out_height=st.integers(8, 90),
    out_width=st.integers(8, 90),
    seed=st.integers(0, 1000),
)
def test_area_resize_equals_opencv_for_any_shrink(height, width, out_height, out_width, seed) -> None:
    size = (min(out_height, height), min(out_width, width))
    if not shrinks((height, width), size):
        return
    frames = _frames((2, height, width), seed)
    expected = np.stack([resize_frame(frame, size) for frame in frames])
    np.testing.assert_array_equal(_device_resized(frames, size), expected)


def test_area_weights_of_each_output_pixel_sum_to_one() -> None:
    for source, target in [(360, 128), (240, 128), (201, 96), (1920, 128), (130, 128)]:
        indices, weights = area_taps(source, target)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
        assert indices.min() >= 0 and indices.max() < source


def test_only_shrinks_are_resized_on_the_device() -> None:
    assert shrinks((240, 360), (128, 128))
    assert not shrinks((128, 128), (128, 128))  # nothing to do
    assert not shrinks((100, 400), (128, 128))  # grows in one direction: the host resizes
    assert resize_on_device((1080, 1920), (128, 128)) and MAX_DEVICE_PIXELS == 1920 * 1080
    assert not resize_on_device((2160, 3840), (128, 128))  # 4K: a batch would hold gigabytes
    with pytest.raises(ValueError, match="only shrinks"):
        AreaResize((64, 64), (128, 128), CPU)
    resize = AreaResize((64, 64), (32, 32), CPU)
    with pytest.raises(ValueError, match="expected frames of"):
        resize(torch.zeros((1, 1, 48, 48), dtype=torch.uint8))
