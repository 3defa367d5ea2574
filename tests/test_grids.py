"""Grids with the same voxel centres in another orientation are reoriented exactly; other differences are errors."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.errors import GeometryError
from strokeseg.grids import on_reference_grid, same_voxel_centres
from strokeseg.io import Geometry


def _geometry(direction: tuple[float, ...], origin: tuple[float, float, float]) -> Geometry:
    return Geometry((4, 3, 2), (1.0, 2.0, 3.0), origin, direction)


def test_flipped_grid_with_same_voxel_centres_is_reoriented_exactly() -> None:
    reference = _geometry((1, 0, 0, 0, 1, 0, 0, 0, 1), (0.0, 0.0, 0.0))
    flipped = _geometry((1, 0, 0, 0, -1, 0, 0, 0, 1), (0.0, 4.0, 0.0))  # y runs the other way
    assert same_voxel_centres(flipped, reference)
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)   # (z, y, x) on the flipped grid
    moved, reoriented = on_reference_grid(array, flipped, reference, "mask", "DWI")
    assert reoriented
    assert np.array_equal(moved, array[:, ::-1, :])


def test_shifted_grid_is_a_geometry_error() -> None:
    reference = _geometry((1, 0, 0, 0, 1, 0, 0, 0, 1), (0.0, 0.0, 0.0))
    shifted = _geometry((1, 0, 0, 0, 1, 0, 0, 0, 1), (0.5, 0.0, 0.0))
    assert not same_voxel_centres(shifted, reference)
    with pytest.raises(GeometryError, match="mask is not on the grid of the DWI: origin"):
        on_reference_grid(np.zeros((2, 3, 4)), shifted, reference, "mask", "DWI")
