"""Frame sources: ordering, random access, gray detection, dispatch, and one typed error per bad input."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from dataset_fixtures import frame_value, gray_frame, truncate, write_avi, write_frames
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vad_core.errors import SourceError
from vad_core.sources import (
    ArraySource,
    FrameFolderSource,
    FrameSource,
    ImageFolderSource,
    VideoFileSource,
    natural_key,
    open_source,
    read_image,
)


def assert_names(error: pytest.ExceptionInfo[SourceError], path: Path, *words: str) -> None:
    """The error names the file and says the problem (``words``, sought in the problem part) in one line."""
    message = str(error.value)
    assert path.name in message
    assert "\n" not in message
    for word in words:
        assert word in error.value.problem.lower(), error.value.problem


# ---------------------------------------------------------------------------------------------
# Ordering
# ---------------------------------------------------------------------------------------------


def test_frames_are_ordered_naturally(tmp_path: Path) -> None:
    for number in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"{number}.tif"), gray_frame(number))
    source = FrameFolderSource(tmp_path)
    assert [p.name for p in source.files] == ["1.tif", "2.tif", "10.tif"]
    assert [int(frame[10, 0]) for frame in source] == [frame_value(1), frame_value(2), frame_value(10)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=20, unique=True))
def test_natural_key_orders_numbered_files_by_value(numbers: list[int]) -> None:
    names = [f"frame_{n}.tif" for n in numbers]
    assert sorted(names, key=natural_key) == [f"frame_{n}.tif" for n in sorted(numbers)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
@example(["²", "frame1.png", "1"])  # "²" passes str.isdigit() but is no decimal number
def test_natural_key_sorts_any_file_names(names: list[str]) -> None:
    sorted(names, key=natural_key)


def test_hidden_resource_forks_are_skipped(tmp_path: Path) -> None:
    write_frames(tmp_path, 3, 1, ".tif")
    (tmp_path / "._001.tif").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    assert len(FrameFolderSource(tmp_path)) == 3


# ---------------------------------------------------------------------------------------------
# Missing, empty and unreadable inputs
# ---------------------------------------------------------------------------------------------


def test_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_clip.avi"
    with pytest.raises(SourceError) as error:
        open_source(missing)
    assert_names(error, missing, "no such")


def test_empty_folder_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "Test001"
    folder.mkdir()
    with pytest.raises(SourceError) as error:
        open_source(folder)
    assert_names(error, folder, "no images")


def test_folder_of_non_image_files_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a frame")
    (folder / "clip.m").write_text("TestVideoFile = {};")
    with pytest.raises(SourceError) as error:
        FrameFolderSource(folder)
    assert_names(error, folder, "no images")


def test_unreadable_first_image_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "000.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(SourceError) as error:
        FrameFolderSource(tmp_path)
    assert_names(error, bad, "cannot decode")


def test_unreadable_later_frame_names_the_file(tmp_path: Path) -> None:
    write_frames(tmp_path, 3, 0, ".png")
    bad = tmp_path / "002.png"
    bad.write_bytes(bad.read_bytes()[:20])  # a cut-off PNG
    source = FrameFolderSource(tmp_path)
    assert source.frame(1).shape == source.frame_size
    with pytest.raises(SourceError) as error:
        source.frame(2)
    assert_names(error, bad, "cannot decode")
    with pytest.raises(SourceError):
        source.validate()


def test_zero_byte_image_names_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "001.tif"
    empty.touch()
    with pytest.raises(SourceError) as error:
        read_image(empty)
    assert_names(error, empty, "cannot decode")


def test_mixed_frame_sizes_name_the_odd_frame(tmp_path: Path) -> None:
    write_frames(tmp_path, 3, 1, ".tif")
    odd = tmp_path / "004.tif"
    cv2.imwrite(str(odd), gray_frame(3, (30, 40)))
    source = FrameFolderSource(tmp_path)
    with pytest.raises(SourceError) as error:
        source.read(0, 4)
    assert_names(error, odd, "mixed frame sizes")
    with pytest.raises(SourceError):
        source.validate()


# ---------------------------------------------------------------------------------------------
# Video files
# ---------------------------------------------------------------------------------------------


def test_truncated_video_names_the_file(tmp_path: Path) -> None:
    video = truncate(write_avi(tmp_path / "cut.avi", 30, size=(48, 64), fps=10.0), keep=0.5)
    with pytest.raises(SourceError) as error:
        VideoFileSource(video)
    assert_names(error, video, "truncated", "30 frames")


def test_truncated_video_can_be_opened_on_request(tmp_path: Path) -> None:
    video = truncate(write_avi(tmp_path / "cut.avi", 30, size=(48, 64), fps=10.0), keep=0.5)
    source = VideoFileSource(video, allow_truncated=True)
    assert 0 < len(source) < 30
    assert source.read(0, len(source)).shape[0] == len(source)


def test_video_cut_inside_its_header_names_the_file(tmp_path: Path) -> None:
    video = truncate(write_avi(tmp_path / "stub.avi", 30, size=(48, 64), fps=10.0), keep=0.1)
    with pytest.raises(SourceError) as error:
        open_source(video)
    assert_names(error, video, "corrupt")


def test_garbage_with_avi_extension_names_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "clip.avi"
    garbage.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)))
    with pytest.raises(SourceError) as error:
        open_source(garbage)
    assert_names(error, garbage)


def test_zero_byte_video_names_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.avi"
    empty.touch()
    with pytest.raises(SourceError) as error:
        open_source(empty)
    assert_names(error, empty, "empty")


def test_folder_named_like_a_video_is_not_a_video(tmp_path: Path) -> None:
    folder = tmp_path / "clip.avi"
    folder.mkdir()
    with pytest.raises(SourceError) as error:
        VideoFileSource(folder)
    assert_names(error, folder, "not a file")


def test_video_random_access_equals_sequential_read(tmp_path: Path) -> None:
    video = write_avi(tmp_path / "walk.avi", 15, fps=10.0)
    sequential = np.stack(list(VideoFileSource(video)))
    source = VideoFileSource(video)
    order = list(range(15))
    random.Random(1).shuffle(order)
    for index in order:
        np.testing.assert_array_equal(source.frame(index), sequential[index])
    np.testing.assert_array_equal(VideoFileSource(video).read(4, 9), sequential[4:9])
    np.testing.assert_array_equal(source.frame(-1), sequential[-1])


def test_video_reports_its_length_rate_and_size(tmp_path: Path) -> None:
    source = VideoFileSource(write_avi(tmp_path / "clip.avi", 7, size=(24, 36), fps=10.0))
    assert (len(source), source.fps, source.frame_size) == (7, 10.0, (24, 36))
    assert np.abs(source.frame(3)[10, 0].astype(int) - frame_value(3)).max() <= 3  # MJPG is lossy
    with pytest.raises(IndexError):
        source.frame(7)


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------


def test_three_channel_gray_jpegs_read_as_gray(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.jpg"), cv2.cvtColor(gray_frame(i), cv2.COLOR_GRAY2BGR))
    assert cv2.imread(str(tmp_path / "000.jpg"), cv2.IMREAD_UNCHANGED).ndim == 3  # stored as 3 channels
    source = FrameFolderSource(tmp_path)
    assert source.channels == 1
    assert source.read(0, 3).shape == (3, 24, 36)


@pytest.mark.parametrize("first_frame_gray", [True, False], ids=["gray-clip", "colour-clip"])
def test_video_frames_arrive_in_the_channels_of_the_clip_whatever_each_frame_looks_like(
    tmp_path: Path, first_frame_gray: bool
) -> None:
    """A gray clip converts every frame straight to gray; the result is what testing each frame
    for colour and converting it (the general path, and the only one for colour clips) gives."""
    from vad_core.sources.base import as_gray_or_rgb
    from vad_core.sources.image_files import convert_channels

    rng = np.random.default_rng(6)
    path = tmp_path / "mixed.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (40, 32), isColor=True)
    for i in range(8):
        gray = i % 3 == 0 if first_frame_gray else i % 3 == 1
        image = rng.integers(0, 256, (32, 40), dtype=np.uint8)
        writer.write(
            cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if gray else rng.integers(0, 256, (32, 40, 3), np.uint8)
        )
    writer.release()
    source = VideoFileSource(path)
    assert source.channels == (1 if first_frame_gray else 3)
    capture = cv2.VideoCapture(str(path))
    decoded = [capture.read()[1] for _ in range(8)]
    expected = np.stack([convert_channels(as_gray_or_rgb(image, path), source.channels) for image in decoded])
    np.testing.assert_array_equal(source.read(0, 8), expected)


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    seed=st.integers(0, 10_000),
    outliers=st.floats(0.0, 0.2),
)
def test_gray_test_samples_every_fourth_pixel_of_every_fourth_row(height, width, seed, outliers) -> None:
    from vad_core.sources.base import GRAY_TOLERANCE, is_gray_bgr

    rng = np.random.default_rng(seed)
    gray = rng.integers(0, 256, (height, width, 1))
    shifts = rng.integers(-6, 7, (height, width, 3)) * (rng.random((height, width, 3)) < outliers)
    image = np.clip(gray + shifts, 0, 255).astype(np.uint8)
    sample = image[::4, ::4].astype(np.int16)
    spread = max(np.abs(sample[..., 0] - sample[..., 1]).max(), np.abs(sample[..., 1] - sample[..., 2]).max())
    assert is_gray_bgr(image) == (spread <= GRAY_TOLERANCE)


def test_colour_images_read_as_rgb(tmp_path: Path) -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), image)
    frame = read_image(str(tmp_path / "red.png"))  # a str path works too
    assert frame.shape == (8, 8, 3)
    assert tuple(frame[0, 0]) == (200, 0, 0)


def test_sixteen_bit_images_read_as_eight_bit(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((4, 4), 0x8000, np.uint16))
    frame = read_image(tmp_path / "deep.png")
    assert frame.dtype == np.uint8 and int(frame[0, 0]) == 0x80


def test_still_images_of_mixed_sizes_stack_at_the_first_size(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), gray_frame(0, (20, 30)))
    cv2.imwrite(str(tmp_path / "b.png"), gray_frame(1, (40, 60)))
    source = ImageFolderSource(tmp_path)
    assert source.frame(1).shape == (40, 60)
    assert source.read(0, 2).shape == (2, 20, 30)
    assert not source.is_sequence


# ---------------------------------------------------------------------------------------------
# Dispatch and the protocol
# ---------------------------------------------------------------------------------------------


def test_open_source_picks_the_source_for_each_kind_of_path(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "frames", 4, 0, ".png")
    video = write_avi(tmp_path / "clip.AVI", 5)
    still = folder / "000.png"

    frames = open_source(folder, fps=10.0)
    assert isinstance(frames, FrameFolderSource) and frames.fps == 10.0 and frames.is_sequence
    assert isinstance(open_source(folder, still_images=True), ImageFolderSource)
    assert isinstance(open_source(video), VideoFileSource)
    single = open_source(still)
    assert isinstance(single, ImageFolderSource) and len(single) == 1
    for source in (frames, open_source(video), single):
        assert isinstance(source, FrameSource)

    other = tmp_path / "scores.csv"
    other.write_text("t,score\n")
    with pytest.raises(SourceError) as error:
        open_source(other)
    assert_names(error, other, "unsupported file type .csv")


def test_array_source_rejects_bad_arrays() -> None:
    with pytest.raises(SourceError, match="uint8"):
        ArraySource(np.zeros((2, 4, 4), np.float32), name="floats")
    with pytest.raises(SourceError, match="no frames"):
        ArraySource(np.zeros((0, 4, 4), np.uint8), name="empty")
    source = ArraySource(np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4))
    np.testing.assert_array_equal(source.read(1, 10), source.read(1, 3))
    assert source.read(2, 1).shape == (0, 4, 4)


@pytest.mark.parametrize("channels", [1, 3])
def test_uint8_preprocessing_scaled_on_a_device_equals_float_preprocessing(channels: int) -> None:
    from vad_core.sources import Preprocess
    from vad_core.sources.preprocess import UNIT_SCALE, prepare_frames

    frames = np.random.default_rng(6).integers(0, 256, (4, 60, 90, 3), dtype=np.uint8)
    preprocess = Preprocess((32, 48), channels)
    small = preprocess.to_uint8(frames)
    assert small.dtype == np.uint8 and small.shape == (4, channels, 32, 48)
    np.testing.assert_array_equal(UNIT_SCALE[small], preprocess(frames))
    np.testing.assert_array_equal(UNIT_SCALE, np.arange(256, dtype=np.float32) * np.float32(1 / 255))
    as_float = prepare_frames(frames.astype(np.float32), (32, 48), channels)  # 0..255 floats
    np.testing.assert_allclose(as_float, preprocess(frames), atol=1 / 255 + 1e-6)
