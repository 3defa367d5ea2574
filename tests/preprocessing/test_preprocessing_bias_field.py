"""N4 on a shrunk copy, applied at full resolution, against a known multiplicative bias field."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.preprocessing.bias_field import (
    BiasFieldError,
    N4Parameters,
    n4_correct,
    n4_log_bias_field,
    shrink_factors,
)
from strokeseg.synthetic.analytic_head import coefficient_of_variation, head_phantom

SHAPE, SPACING = (16, 72, 64), (5.0, 2.0, 2.0)


@pytest.fixture(scope="module")
def biased() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image, brain mask, white matter, true log field) of a phantom with a strong bias field."""
    phantom = head_phantom(SHAPE, SPACING, bias_strength=0.45)
    image = np.where(phantom.brain, phantom.image("DWI", noise_sd=1.0), 0.0).astype(np.float32)
    return image, phantom.brain, phantom.white_matter, phantom.log_bias


def test_n4_halves_the_white_matter_variation(biased) -> None:
    image, brain, white_matter, _ = biased
    corrected = n4_correct(image, brain, SPACING)
    before, after = coefficient_of_variation(image, white_matter), coefficient_of_variation(corrected, white_matter)
    assert after <= 0.5 * before, f"white-matter CV {before:.4f} -> {after:.4f}"


def test_estimated_field_follows_the_true_field(biased) -> None:
    image, brain, _, log_bias = biased
    box, log_field = n4_log_bias_field(image, brain, SPACING)
    assert log_field.shape == image[box].shape, "the field is returned at full resolution"
    estimated, true = log_field[brain[box]], log_bias[box][brain[box]]
    assert np.corrcoef(estimated, true)[0, 1] > 0.9


def test_voxels_outside_the_mask_box_are_untouched(biased) -> None:
    image, brain, _, _ = biased
    image = image.copy()
    image[0] = 7.0  # the first slice holds no brain
    corrected = n4_correct(image, brain, SPACING)
    assert np.array_equal(corrected[0], image[0])


def test_shrink_factors_follow_the_spacing() -> None:
    assert shrink_factors((5.0, 1.0, 1.0), 4.0) == (1, 4, 4)
    assert shrink_factors((1.0, 1.0, 1.0), 6.0) == (6, 6, 6)
    assert shrink_factors((3.0, 0.45, 0.45), 6.0) == (2, 13, 13)


def test_a_mask_too_small_to_fit_a_field_fails_clearly() -> None:
    image = np.full((8, 32, 32), 50.0, dtype=np.float32)
    mask = np.zeros(image.shape, dtype=bool)
    mask[3:5, 10:14, 10:14] = True
    with pytest.raises(BiasFieldError, match="mask voxels"):
        n4_log_bias_field(image, mask, (1.0, 1.0, 1.0), N4Parameters(shrink_spacing_mm=4.0))


def test_simpleitk_failure_becomes_a_bias_field_error() -> None:
    image = np.full((1, 40, 40), 50.0, dtype=np.float32)  # a single slice: N4's 3D B-spline lattice cannot fit
    mask = np.ones(image.shape, dtype=bool)
    with pytest.raises(BiasFieldError):
        n4_log_bias_field(image, mask, (1.0, 1.0, 1.0), N4Parameters(shrink_spacing_mm=1.0))
