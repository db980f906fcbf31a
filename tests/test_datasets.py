"""Dataset readers on fixtures in the published layouts, their typed errors, and light real-data checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from dataset_fixtures import (
    SIZE,
    label_cell,
    m_line,
    ranges_cell,
    truncate,
    write_avenue,
    write_frames,
    write_m_file,
    write_mvtec,
    write_ranges_mat,
    write_ucsd_original,
    write_ucsd_repacked,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.datasets import (
    ImageDataset,
    SyntheticConfig,
    VideoDataset,
    open_dataset,
    parse_ucsd_m,
    read_avenue,
    read_label_file,
    read_mvtec,
    read_ranges_mat,
    read_ucsd,
    read_ucsd_m,
    write_synthetic_dataset,
)
from vad_core.errors import DatasetError, GroundTruthError, SourceError, VadError
from vad_core.sources import FrameFolderSource, VideoFileSource, read_image


def problem_of(error: pytest.ExceptionInfo[VadError], name: str) -> str:
    """Check that the error names ``name`` on one line; return its problem part, lower-cased."""
    message = str(error.value)
    assert name in message, message
    assert "\n" not in message
    return error.value.problem.lower()


def frames_of(labels: np.ndarray) -> list[int]:
    return np.flatnonzero(labels).tolist()


# ---------------------------------------------------------------------------------------------
# UCSD: the .m ground truth
# ---------------------------------------------------------------------------------------------


def test_m_file_reads_single_multiple_and_empty_ranges(tmp_path: Path) -> None:
    path = tmp_path / "UCSDped1.m"
    path.write_text(
        "% frame-level ground truth\r\n"
        "TestVideoFile = {};\r\n"
        "TestVideoFile{end+1}.gt_frame = [61:180];\r\n"
        "\r\n"
        "TestVideoFile{end+1}.gt_frame = [5:90, 140:200];   % two events\r\n"
        "TestVideoFile{end+1}.gt_frame = [];\r\n"
        "TestVideoFile{end+1}.gt_frame = [ 1 : 4 7:9 ...\r\n"
        "    12];\r\n"
        "TestVideoFile{5}.gt_frame = [3:3]\r\n"
    )
    assert parse_ucsd_m(path) == [
        [(61, 180)],
        [(5, 90), (140, 200)],
        [],
        [(1, 4), (7, 9), (12, 12)],
        [(3, 3)],
    ]


def test_m_ranges_are_one_based_and_inclusive(tmp_path: Path) -> None:
    path = write_m_file(tmp_path / "UCSDped2.m", [[(61, 180)], [(1, 2), (9, 10)], []])
    labels = read_ucsd_m(path, [180, 10, 4])
    assert frames_of(labels[0]) == list(range(60, 180))
    assert frames_of(labels[1]) == [0, 1, 8, 9]
    assert frames_of(labels[2]) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 20)), max_size=4), min_size=1, max_size=5)
)
def test_m_file_round_trips_any_ranges(tmp_path_factory: pytest.TempPathFactory, clips: list) -> None:
    ranges = [[(first, first + extra) for first, extra in clip] for clip in clips]
    path = write_m_file(tmp_path_factory.mktemp("m") / "UCSDped2.m", ranges)
    labels = read_ucsd_m(path, [70] * len(ranges))
    for clip_ranges, clip_labels in zip(ranges, labels, strict=True):
        expected = np.zeros(70, bool)
        for first, last in clip_ranges:
            expected[first - 1 : last] = True
        np.testing.assert_array_equal(clip_labels, expected)


def test_m_file_with_garbage_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "UCSDped2.m"
    path.write_text("TestVideoFile = {};\n" + m_line([(1, 3)]) + "\nthis is not matlab\n" + m_line([]) + "\n")
    with pytest.raises(GroundTruthError) as error:
        parse_ucsd_m(path)
    assert "line 3" in problem_of(error, "UCSDped2.m")


def test_m_file_with_bad_range_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "UCSDped2.m"
    path.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [61-180];\n")
    with pytest.raises(GroundTruthError) as error:
        parse_ucsd_m(path)
    assert "line 2" in problem_of(error, "UCSDped2.m")
    path.write_text("TestVideoFile{end+1}.gt_frame = [90:5];\n")
    with pytest.raises(GroundTruthError) as error:
        parse_ucsd_m(path)
    assert "line 1" in problem_of(error, "UCSDped2.m")


def test_m_range_beyond_the_clip_names_file_and_line(tmp_path: Path) -> None:
    path = write_m_file(tmp_path / "UCSDped2.m", [[(1, 3)], [(5, 11)]])
    with pytest.raises(GroundTruthError) as error:
        read_ucsd_m(path, [10, 10], ["Test001", "Test002"])
    problem = problem_of(error, "UCSDped2.m")
    assert "line 3" in problem and "test002" in problem


def test_m_clip_count_mismatch_names_the_file(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    write_m_file(root / "Test" / "UCSDped2.m", [[(1, 2)], []])  # 2 lines for 3 test clips
    with pytest.raises(GroundTruthError) as error:
        read_ucsd(root)
    assert "3 test clips" in problem_of(error, "UCSDped2.m")


def test_binary_m_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "UCSDped2.m"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(GroundTruthError) as error:
        parse_ucsd_m(path)
    assert "binary" in problem_of(error, "UCSDped2.m")


# ---------------------------------------------------------------------------------------------
# UCSD: layouts
# ---------------------------------------------------------------------------------------------


def test_ucsd_original_layout_reads_clips_labels_and_masks(tmp_path: Path) -> None:
    dataset = read_ucsd(write_ucsd_original(tmp_path))
    assert (dataset.name, dataset.fps) == ("UCSDped2", 10.0)
    assert [(c.name, len(c.source)) for c in dataset.train] == [("Train001", 6), ("Train002", 5)]
    assert [(c.name, len(c.source)) for c in dataset.test] == [("Test001", 8), ("Test002", 7), ("Test003", 9)]
    assert all(c.labels is None for c in dataset.train)
    assert [frames_of(c.labels) for c in dataset.test] == [[2, 3, 4], [], [0, 1, 5, 6, 7, 8]]
    first = dataset.test[0]
    assert isinstance(first.source, FrameFolderSource) and first.source.channels == 1
    assert first.source.frame_size == SIZE and first.source.fps == 10.0
    assert first.masks is not None
    anomalous, normal = first.masks(2), first.masks(0)
    assert anomalous.dtype == bool and anomalous.shape == SIZE and anomalous.any()
    assert not normal.any()
    assert dataset.test[1].masks is None


def test_ucsd_skips_macos_resource_forks(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    (root / "Train" / "Train001" / "._001.tif").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (root / "Test" / "._Test001").mkdir()
    dataset = read_ucsd(root)
    assert len(dataset.train[0].source) == 6 and len(dataset.test) == 3


def test_ucsd_parent_of_ped1_and_ped2_needs_a_subset(tmp_path: Path) -> None:
    write_ucsd_original(tmp_path, name="UCSDped1", test_lengths=(5,), test_ranges=[[(2, 3)]], masks_for=())
    write_ucsd_original(tmp_path)
    with pytest.raises(DatasetError) as error:
        read_ucsd(tmp_path)
    assert "subset" in problem_of(error, tmp_path.name)
    ped1 = read_ucsd(tmp_path, subset="ped1")
    assert ped1.name == "UCSDped1" and frames_of(ped1.test[0].labels) == [1, 2]


def test_ucsd_repacked_layout_reads_the_m_file(tmp_path: Path) -> None:
    dataset = read_ucsd(write_ucsd_repacked(tmp_path))
    assert dataset.name == "UCSDped2"
    assert [c.name for c in dataset.train] == ["01", "02"]
    assert [frames_of(c.labels) for c in dataset.test] == [[0, 1, 2, 3, 4], [3, 4, 5, 6]]
    assert all(c.masks is None for c in dataset.test)
    assert dataset.test[0].source.channels == 1  # 3-channel JPEGs of a gray scene


def test_ped2_mat_agrees_with_m_file_except_the_first_frames(tmp_path: Path) -> None:
    root = write_ucsd_repacked(tmp_path)
    from_m = [c.labels for c in read_ucsd(root).test]
    from_mat = read_ranges_mat(root / "ped2.mat", [8, 7])
    assert frames_of(from_m[0] != from_mat[0]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(from_m[1], from_mat[1])
    (root / "UCSDped2.m").unlink()  # without the .m file the reader falls back to ped2.mat
    assert frames_of(read_ucsd(root).test[0].labels) == [4]


def test_ranges_mat_reads_several_ranges_per_clip(tmp_path: Path) -> None:
    path = write_ranges_mat(tmp_path / "ped1.mat", [[(2, 3), (6, 7)], []])
    assert [frames_of(labels) for labels in read_ranges_mat(path, [8, 4])] == [[1, 2, 5, 6], []]


def test_mat_that_is_not_a_mat_file_names_the_file(tmp_path: Path) -> None:
    root = write_ucsd_repacked(tmp_path)
    (root / "ped2.mat").write_text("gt = {[61; 180]}")
    with pytest.raises(GroundTruthError) as error:
        read_ucsd(root, ground_truth=root / "ped2.mat")
    assert "not a readable matlab" in problem_of(error, "ped2.mat")


def test_mat_without_gt_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ped2.mat"
    scipy.io.savemat(str(path), {"labels": np.zeros((1, 3))})
    with pytest.raises(GroundTruthError) as error:
        read_ranges_mat(path, [3])
    assert "'gt'" in problem_of(error, "ped2.mat")
    scipy.io.savemat(str(path), {"gt": ranges_cell([[(1, 2)]]), "x": 1})
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.array([[1, 2, 3]])
    scipy.io.savemat(str(path), {"gt": cell})
    with pytest.raises(GroundTruthError) as error:
        read_ranges_mat(path, [3])
    assert "pairs" in problem_of(error, "ped2.mat")


def test_missing_ground_truth_names_the_folder(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    (root / "Test" / "UCSDped2.m").unlink()
    with pytest.raises(GroundTruthError) as error:
        read_ucsd(root)
    assert "no ground truth" in problem_of(error, "UCSDped2")


def test_corrupt_bmp_mask_names_the_file(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    (root / "Test" / "Test001_gt" / "003.bmp").write_bytes(b"BM not really a bitmap")
    clip = read_ucsd(root).test[0]
    assert clip.masks is not None
    with pytest.raises(GroundTruthError) as error:
        clip.masks(2)
    assert "cannot decode" in problem_of(error, "003.bmp")


def test_mask_folder_with_missing_masks_names_the_folder(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    (root / "Test" / "Test001_gt" / "008.bmp").unlink()
    with pytest.raises(GroundTruthError) as error:
        read_ucsd(root)
    assert "7 mask images" in problem_of(error, "Test001_gt")


def test_empty_clip_folder_names_the_folder(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    shutil.rmtree(root / "Train" / "Train002")
    (root / "Train" / "Train002").mkdir()
    with pytest.raises(SourceError) as error:
        read_ucsd(root)
    assert "no images" in problem_of(error, "Train002")


def test_mixed_frame_sizes_in_a_clip_name_the_frame(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path)
    odd = root / "Test" / "Test002" / "004.tif"
    cv2.imwrite(str(odd), np.zeros((30, 40), np.uint8))
    clip = read_ucsd(root).test[1]
    with pytest.raises(SourceError) as error:
        clip.source.read(0, len(clip.source))
    assert "mixed frame sizes" in problem_of(error, "004.tif")


def test_folder_of_another_layout_is_not_ucsd(tmp_path: Path) -> None:
    write_frames(tmp_path / "clips" / "a", 2, 0, ".png")
    with pytest.raises(DatasetError) as error:
        read_ucsd(tmp_path / "clips")
    assert "not a ucsd folder" in problem_of(error, "clips")
    with pytest.raises(DatasetError):
        read_ucsd(tmp_path / "missing")


# ---------------------------------------------------------------------------------------------
# Avenue
# ---------------------------------------------------------------------------------------------


def test_avenue_layout_reads_videos_labels_and_masks(tmp_path: Path) -> None:
    dataset = read_avenue(write_avenue(tmp_path))
    assert (dataset.name, dataset.fps) == ("Avenue", 25.0)
    assert [(c.name, len(c.source)) for c in dataset.train] == [("01", 5), ("02", 4)]
    assert all(isinstance(c.source, VideoFileSource) for c in [*dataset.train, *dataset.test])
    assert [frames_of(c.labels) for c in dataset.test] == [[2, 3], [0]]
    clip = dataset.test[0]
    assert clip.masks is not None
    assert clip.masks(2).shape == SIZE and clip.masks(2).any() and not clip.masks(0).any()


def test_avenue_label_vector_is_accepted(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    label_file = root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat"
    scipy.io.savemat(str(label_file), {"volLabel": np.array([[0, 1, 1, 0, 0, 1]], np.uint8)})
    clip = read_avenue(root).test[0]
    assert frames_of(clip.labels) == [1, 2, 5] and clip.masks is None


def test_avenue_mask_volume_is_accepted(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    volume = np.zeros((*SIZE, 5), np.uint8)  # HxWxT, frames last as MATLAB stores them
    volume[3:6, 4:9, 1] = 1
    scipy.io.savemat(
        str(root / "ground_truth_demo" / "testing_label_mask" / "2_label.mat"), {"volLabel": volume}
    )
    clip = read_avenue(root).test[1]
    assert frames_of(clip.labels) == [1]
    assert clip.masks is not None and clip.masks(1).sum() == 15 and not clip.masks(-1).any()


def test_avenue_label_file_not_a_mat_names_the_file(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    (root / "ground_truth_demo" / "testing_label_mask" / "2_label.mat").write_bytes(
        b"MATLAB 5.0 MAT-file, cut"
    )
    with pytest.raises(GroundTruthError) as error:
        read_avenue(root)
    problem_of(error, "2_label.mat")


def test_avenue_label_length_mismatch_names_the_file(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    label_file = root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat"
    scipy.io.savemat(str(label_file), {"volLabel": label_cell([0, 1, 0])})
    with pytest.raises(GroundTruthError) as error:
        read_avenue(root)
    assert "3 frame labels" in problem_of(error, "1_label.mat")


def test_avenue_missing_label_file_names_it(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    (root / "ground_truth_demo" / "testing_label_mask" / "2_label.mat").unlink()
    with pytest.raises(GroundTruthError) as error:
        read_avenue(root)
    assert "missing" in problem_of(error, "2_label.mat")


def test_avenue_truncated_video_names_the_video(tmp_path: Path) -> None:
    root = write_avenue(tmp_path)
    truncate(root / "testing_videos" / "02.avi", keep=0.3)
    with pytest.raises(SourceError) as error:
        read_avenue(root)
    problem_of(error, "02.avi")


def test_label_file_reader_rejects_a_struct_of_other_things(tmp_path: Path) -> None:
    path = tmp_path / "1_label.mat"
    scipy.io.savemat(str(path), {"a": np.zeros(3), "b": np.ones(3)})
    with pytest.raises(GroundTruthError) as error:
        read_label_file(path)
    assert "vollabel" in problem_of(error, "1_label.mat")


def test_avenue_repacked_layout_reads_avenue_mat(tmp_path: Path) -> None:
    root = tmp_path / "avenue"
    write_frames(root / "training" / "frames" / "01", 4, 0, ".jpg")
    write_frames(root / "testing" / "frames" / "01", 6, 0, ".jpg")
    write_ranges_mat(root / "avenue.mat", [[(2, 3)]])
    dataset = open_dataset(root)
    assert isinstance(dataset, VideoDataset) and dataset.name == "Avenue"
    assert frames_of(dataset.test[0].labels) == [1, 2]


# ---------------------------------------------------------------------------------------------
# MVTec AD
# ---------------------------------------------------------------------------------------------


def test_mvtec_category_reads_images_defects_and_masks(tmp_path: Path) -> None:
    category = write_mvtec(tmp_path)
    dataset = read_mvtec(category)
    assert (dataset.category, len(dataset.train), len(dataset.test)) == ("bottle", 3, 6)
    assert dataset.defect_types == ["broken_large", "broken_small"]
    assert [s.anomalous for s in dataset.test] == [True, True, True, True, False, False]
    by_name = {f"{s.defect_type}/{s.path.name}": s for s in dataset.test}
    assert (
        by_name["broken_large/000.png"].mask_path
        == category / "ground_truth" / "broken_large" / "000_mask.png"
    )
    missing = by_name["broken_small/001.png"]
    assert missing.mask_path is None and missing.read_mask() is None
    assert any("broken_small/001.png has no mask" in note for note in dataset.notes)
    mask = by_name["broken_large/001.png"].read_mask()
    assert mask is not None and mask.dtype == bool and mask.shape == (32, 32) and mask.any()
    good = by_name["good/000.png"].read_mask()
    assert good is not None and good.shape == (32, 32) and not good.any()
    assert read_image(dataset.train[0].path).shape == (32, 32, 3)


def test_mvtec_root_plus_category_is_the_same_dataset(tmp_path: Path) -> None:
    write_mvtec(tmp_path, category="bottle")
    write_mvtec(tmp_path, category="grid", color=False, size=(50, 70), missing_masks=())
    grid = read_mvtec(tmp_path, "grid")
    assert grid.category == "grid" and grid.notes == []
    assert read_image(grid.test[0].path).shape == (50, 70)
    assert grid.test[0].read_mask((25, 35)).shape == (25, 35)
    assert [s.path for s in read_mvtec(tmp_path / "bottle").test] == [
        s.path for s in read_mvtec(tmp_path, "bottle").test
    ]
    with pytest.raises(DatasetError) as error:
        read_mvtec(tmp_path)
    assert "bottle, grid" in problem_of(error, tmp_path.name)
    with pytest.raises(DatasetError) as error:
        read_mvtec(tmp_path, "screw")
    assert "screw" in problem_of(error, tmp_path.name)


def test_mvtec_mask_named_like_its_image_is_accepted(tmp_path: Path) -> None:
    category = write_mvtec(tmp_path, test={"crack": 1}, missing_masks=("crack/000.png",))
    (category / "ground_truth" / "crack").mkdir(parents=True)
    cv2.imwrite(str(category / "ground_truth" / "crack" / "000.png"), np.full((32, 32), 255, np.uint8))
    assert read_mvtec(category).test[0].mask_path == category / "ground_truth" / "crack" / "000.png"


def test_mvtec_corrupt_mask_names_the_file(tmp_path: Path) -> None:
    category = write_mvtec(tmp_path)
    (category / "ground_truth" / "broken_large" / "000_mask.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    sample = read_mvtec(category).test[0]
    with pytest.raises(GroundTruthError) as error:
        sample.read_mask()
    assert "cannot decode" in problem_of(error, "000_mask.png")


def test_empty_mvtec_category_is_a_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "cable" / "train" / "good").mkdir(parents=True)
    (tmp_path / "cable" / "test").mkdir()
    with pytest.raises(DatasetError) as error:
        read_mvtec(tmp_path / "cable")
    assert "no images" in problem_of(error, "cable")


# ---------------------------------------------------------------------------------------------
# open_dataset
# ---------------------------------------------------------------------------------------------


def test_open_dataset_recognises_each_layout(tmp_path: Path) -> None:
    ucsd = open_dataset(write_ucsd_original(tmp_path / "a"))
    repacked = open_dataset(write_ucsd_repacked(tmp_path / "b"))
    avenue = open_dataset(write_avenue(tmp_path / "c"))
    mvtec = open_dataset(write_mvtec(tmp_path / "d"))
    mvtec_root = open_dataset(tmp_path / "d")
    config = SyntheticConfig(
        height=40, width=40, train_clips=1, test_clips_per_type=1, frames_per_clip=20, anomaly_frames=(4, 8)
    )
    write_synthetic_dataset(tmp_path / "e", config, demo=False)
    synthetic = open_dataset(tmp_path / "e")
    assert isinstance(ucsd, VideoDataset) and ucsd.name == "UCSDped2" and len(ucsd.test) == 3
    assert isinstance(repacked, VideoDataset) and repacked.name == "UCSDped2" and len(repacked.test) == 2
    assert isinstance(avenue, VideoDataset) and avenue.name == "Avenue"
    assert isinstance(mvtec, ImageDataset) and isinstance(mvtec_root, ImageDataset)
    assert mvtec_root.category == "bottle"
    assert isinstance(synthetic, VideoDataset) and synthetic.name == "synthetic" and len(synthetic.test) == 3


def test_open_dataset_lists_the_accepted_layouts(tmp_path: Path) -> None:
    (tmp_path / "holiday").mkdir()
    (tmp_path / "holiday" / "beach.jpg").write_bytes(b"")
    with pytest.raises(DatasetError) as error:
        open_dataset(tmp_path / "holiday")
    problem = problem_of(error, "holiday")
    for layout in ("ucsd", "avenue", "mvtec", "synthetic"):
        assert layout in problem
    with pytest.raises(DatasetError) as error:
        open_dataset(tmp_path / "nowhere")
    assert "no such folder" in problem_of(error, "nowhere")


# ---------------------------------------------------------------------------------------------
# Real data (../shared/datasets; skipped when absent). Light: count files, decode a few.
# ---------------------------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_ped2_has_the_published_clips_and_labels(ped2_root: Path) -> None:
    dataset = read_ucsd(ped2_root)
    assert (dataset.name, len(dataset.train), len(dataset.test)) == ("UCSDped2", 16, 12)
    assert sum(len(c.source) for c in dataset.train) == 2550
    assert sum(len(c.source) for c in dataset.test) == 2010
    first = dataset.test[0]
    assert first.name == "01" and frames_of(first.labels) == list(range(60, 180))
    assert (first.source.frame_size, first.source.channels) == ((240, 360), 1)
    assert first.source.frame(179).shape == (240, 360)


@pytest.mark.real_data
def test_real_ped2_mat_agrees_with_m_file_except_first_frames(ped2_root: Path) -> None:
    lengths = [len(list((ped2_root / "testing" / "frames" / f"{i:02d}").glob("*.jpg"))) for i in range(1, 13)]
    from_m = read_ucsd_m(ped2_root / "UCSDped2.m", lengths)
    from_mat = read_ranges_mat(ped2_root / "ped2.mat", lengths)
    differing = {}
    for clip, (m_labels, mat_labels) in enumerate(zip(from_m, from_mat, strict=True), start=1):
        frames = frames_of(m_labels != mat_labels)
        if frames:
            differing[clip] = frames
            assert m_labels[:4].all() and not mat_labels[:4].any()
    assert differing == {clip: [0, 1, 2, 3] for clip in (3, 5, 8, 9, 10, 11)}


@pytest.mark.real_data
def test_real_bottle_has_the_published_counts_and_binary_masks(bottle_root: Path) -> None:
    dataset = read_mvtec(bottle_root)
    assert (dataset.category, len(dataset.train), len(dataset.test)) == ("bottle", 209, 83)
    with_masks = [s for s in dataset.test if s.mask_path is not None]
    assert len(with_masks) == 63 and dataset.notes == []
    assert sum(not s.anomalous for s in dataset.test) == 20
    assert dataset.defect_types == ["broken_large", "broken_small", "contamination"]
    for sample in (with_masks[0], with_masks[-1]):
        raw = cv2.imread(str(sample.mask_path), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(raw).tolist()) <= {0, 255}
        mask = sample.read_mask()
        assert mask is not None and mask.dtype == bool and mask.any()
        np.testing.assert_array_equal(mask, raw > 0)
    assert read_image(dataset.train[0].path).shape == (256, 256, 3)
    assert isinstance(open_dataset(bottle_root.parent), ImageDataset)


def test_a_single_m_file_under_another_name_is_the_ground_truth(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path, name="UCSDwalk")  # a third camera: Test/UCSDwalk.m
    dataset = open_dataset(root)
    assert [int(clip.labels.sum()) for clip in dataset.test] == [3, 0, 6]


def test_several_ground_truth_files_ask_for_one_to_be_named(tmp_path: Path) -> None:
    root = write_ucsd_original(tmp_path, name="UCSDwalk")
    shutil.copy(root / "Test" / "UCSDwalk.m", root / "Test" / "walk_old.m")
    with pytest.raises(GroundTruthError, match="several ground-truth files .* --ground-truth FILE"):
        open_dataset(root)
    chosen = open_dataset(root, ground_truth=root / "Test" / "walk_old.m")
    assert [int(clip.labels.sum()) for clip in chosen.test] == [3, 0, 6]


def test_vad_eval_takes_the_ground_truth_file_by_name(tmp_path: Path, capsys) -> None:
    from vad_core.cli.main import main

    root = write_ucsd_original(tmp_path, name="UCSDwalk")
    (root / "Test" / "UCSDwalk.m").rename(tmp_path / "truth.m")
    model = Path(__file__).parent.parent / "resources" / "models" / "demo_bcae1.safetensors"
    assert (
        main(
            [
                "eval",
                "--dataset",
                str(root),
                "--model",
                str(model),
                "--ground-truth",
                str(tmp_path / "missing.m"),
            ]
        )
        == 2
    )
    assert "missing.m: no such ground-truth file" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--dataset",
                str(root),
                "--model",
                str(model),
                "--ground-truth",
                str(tmp_path / "truth.m"),
            ]
        )
        == 0
    )
