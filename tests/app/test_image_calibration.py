"""Explanations of an image category are calibrated on the same raw error the explanation scorer uses."""

from types import SimpleNamespace

import numpy as np

from app.jobs.calibration import image_calibration


def _inspection_with_one_hot_spot() -> SimpleNamespace:
    maps = np.zeros((6, 64, 64), np.float16)
    maps[3:, 20:36, 20:36] = 0.9  # defective images: a bright 16 x 16 blob on a dark map
    labels = np.array([False, False, False, True, True, True])
    return SimpleNamespace(maps=maps, labels=labels)


def test_a_segmenting_model_is_calibrated_on_its_image_score_not_the_map_mean():
    inspection = _inspection_with_one_hot_spot()

    segmentation = image_calibration(inspection, "segmentation")
    mean = image_calibration(inspection, "mse")

    # DRAEM's image score at 64 px: max of the 5 x 5 mean-filtered map = 0.9 inside the blob
    assert abs(segmentation.scale - 0.9) < 1e-3
    assert abs(mean.scale - 0.9 * 256 / 4096) < 1e-3  # the map mean
    assert "test split" in segmentation.note


def test_an_inspection_without_usable_errors_gives_no_calibration():
    inspection = SimpleNamespace(maps=np.full((4, 8, 8), np.nan, np.float16), labels=np.zeros(4, bool))
    assert image_calibration(inspection, "segmentation") is None
