"""AUPRO (MVTec AD's per-region overlap up to 30 % FPR) on hand-made masks with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vad_core.errors import ConfigError
from vad_core.metrics import aupro, pro_curve


def _mask(size: int = 10) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[1:4, 1:4] = True  # a large region (9 px)
    mask[7, 7] = True  # a small one (1 px)
    return mask


def test_a_map_equal_to_the_mask_scores_one() -> None:
    mask = _mask()
    assert aupro([mask.astype(float)], [mask]) == pytest.approx(1.0)


def test_a_constant_map_scores_half_the_fpr_limit() -> None:
    # every pixel crosses at once: the curve is the diagonal, area 0.3^2 / 2, over 0.3 -> 0.15
    assert aupro([np.zeros((10, 10))], [_mask()]) == pytest.approx(0.15)
    assert aupro([np.zeros((10, 10))], [_mask()], fpr_limit=1.0) == pytest.approx(0.5)


def test_each_region_counts_the_same_whatever_its_size() -> None:
    heat = np.zeros((10, 10))
    heat[1:4, 1:4] = 1.0  # the 9-pixel region found, the 1-pixel one missed: PRO 0.5, not 0.9
    fpr, pro = pro_curve([heat], [_mask()])
    assert fpr[1] == 0.0 and pro[1] == pytest.approx(0.5)
    # from (0, 0.5) straight to (1, 1): PRO(0.3) = 0.65, area 0.3 * (0.5 + 0.65) / 2 = 0.1725
    assert aupro([heat], [_mask()]) == pytest.approx(0.1725 / 0.3)


def test_half_of_a_region_found_gives_half_its_overlap() -> None:
    mask = np.zeros((4, 8), bool)
    mask[:, :4] = True
    heat = np.zeros((4, 8))
    heat[:2, :4] = 1.0
    _, pro = pro_curve([heat], [mask])
    assert pro[1] == pytest.approx(0.5)


def test_regions_are_eight_connected_and_counted_over_all_images() -> None:
    diagonal = np.zeros((6, 6), bool)
    diagonal[1, 1] = diagonal[2, 2] = True  # one region (touching corners), not two
    heat = np.zeros((6, 6))
    heat[1, 1] = 1.0
    _, pro = pro_curve([heat], [diagonal])
    assert pro[1] == pytest.approx(0.5)
    good = np.zeros((6, 6), bool)  # a good image adds normal pixels only
    fpr, pro = pro_curve([heat, np.full((6, 6), 2.0)], [diagonal, good])
    assert fpr[1] == pytest.approx(36 / 70) and pro[1] == 0.0  # its 36 px cross first


def test_no_defect_region_or_no_normal_pixel_is_nan() -> None:
    assert math.isnan(aupro([np.zeros((4, 4))], [np.zeros((4, 4), bool)]))
    assert math.isnan(aupro([np.zeros((4, 4))], [np.ones((4, 4), bool)]))


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="map 0 has shape"):
        aupro([np.zeros((4, 4))], [np.zeros((4, 5), bool)])
    with pytest.raises(ConfigError, match="2 maps but 1 masks"):
        aupro([np.zeros((4, 4))] * 2, [np.eye(4, dtype=bool)])
    with pytest.raises(ConfigError, match="fpr_limit"):
        aupro([np.zeros((10, 10))], [_mask()], fpr_limit=0.0)
    with pytest.raises(ConfigError, match="NaN"):
        aupro([np.full((10, 10), np.nan)], [_mask()])
