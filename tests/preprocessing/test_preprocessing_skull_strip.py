"""Skull stripping by Gaussian blur + Otsu on analytic head phantoms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from strokeseg.errors import InputDataError
from strokeseg.masks import fill_holes, largest_component
from strokeseg.preprocessing.skull_strip import skull_strip_mask
from strokeseg.synthetic.analytic_head import head_phantom


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum()))


@pytest.mark.parametrize(("shape", "spacing"), [((24, 96, 96), (5.0, 2.0, 2.0)), ((40, 48, 40), (3.0, 3.0, 3.0))])
def test_mask_matches_the_phantom_brain(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
    phantom = head_phantom(shape, spacing)
    mask = skull_strip_mask(phantom.image("DWI"), spacing)
    assert dice(mask, phantom.brain) >= 0.95
    assert not np.any(mask & phantom.skull), "the skull ring must be stripped"


def test_ventricles_are_filled() -> None:
    phantom = head_phantom()
    mask = skull_strip_mask(phantom.image("DWI"), phantom.spacing)
    ventricles = phantom.csf & phantom.brain
    assert ventricles.any() and mask[ventricles].all()


def test_constant_image_is_refused() -> None:
    with pytest.raises(InputDataError, match="constant"):
        skull_strip_mask(np.zeros((8, 16, 16), dtype=np.float32), (3.0, 1.0, 1.0))


def test_nan_is_refused() -> None:
    image = head_phantom((12, 32, 32), (5.0, 3.0, 3.0)).image("DWI")
    image[3, 4, 5] = np.nan
    with pytest.raises(InputDataError, match="NaN"):
        skull_strip_mask(image, (5.0, 3.0, 3.0))


def test_no_brain_gives_a_clear_error() -> None:
    image = np.zeros((12, 48, 48), dtype=np.float32)
    image[5:7, 20:24, 20:24] = 100.0  # a bright speck of 0.3 mL, not a brain
    with pytest.raises(InputDataError, match="found no brain"):
        skull_strip_mask(image, (5.0, 3.0, 3.0))


def test_largest_component_and_slicewise_hole_filling() -> None:
    mask = np.zeros((3, 9, 9), dtype=bool)
    mask[:, 1:8, 1:8] = True
    mask[:, 3:6, 3:6] = False  # a tube open at both ends: no 3D hole, but a hole in every slice
    mask[1, 0, 8] = True       # an isolated voxel that is not the largest component
    assert largest_component(mask).sum() == mask.sum() - 1
    assert fill_holes(mask[:, :, :], slice_axis=0)[:, 4, 4].all()


def scipy_fill_holes(mask: np.ndarray, slice_axis: int) -> np.ndarray:
    """The definition fill_holes keeps: scipy's binary_fill_holes on the volume, then on every slice."""
    filled = ndimage.binary_fill_holes(mask)
    moved = np.moveaxis(filled, slice_axis, 0)
    for index in range(moved.shape[0]):
        moved[index] = ndimage.binary_fill_holes(moved[index])
    return filled


@pytest.mark.parametrize("slice_axis", [0, 1, 2])
def test_fill_holes_equals_scipy_per_volume_then_per_slice(slice_axis: int) -> None:
    rng = np.random.default_rng(slice_axis)
    for _ in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 14, 3))
        mask = ndimage.binary_opening(rng.random(shape) < rng.uniform(0.4, 0.95)) | (rng.random(shape) < 0.05)
        assert np.array_equal(fill_holes(mask, slice_axis), scipy_fill_holes(mask, slice_axis)), shape
    head = head_phantom((20, 40, 36), (3.0, 2.0, 2.0)).image("DWI") > 50.0  # shell, ventricles, open ends
    assert np.array_equal(fill_holes(head, slice_axis), scipy_fill_holes(head, slice_axis))
