"""Voxel grids that hold the same voxel centres in another axis order or direction, and moving arrays between them.

A label map saved by a viewer that flips an axis, or a prediction written in another orientation, covers the
same voxels as the reference image; such a grid is reoriented exactly (the voxel centres coincide, so nearest
neighbour resampling moves voxels without interpolating). Any other difference is a GeometryError.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from strokeseg.defaults import GRID_TOLERANCE_MM
from strokeseg.errors import GeometryError
from strokeseg.io import Geometry, array_to_image


def on_reference_grid(array: np.ndarray, geometry: Geometry, reference: Geometry, what: str, reference_what: str,
                      tolerance: float = GRID_TOLERANCE_MM) -> tuple[np.ndarray, bool]:
    """``array`` on the ``reference`` grid, and whether it had to be reoriented.

    Grids that agree within ``tolerance`` are taken as they are. A grid that holds exactly the same voxel
    centres in another axis order or direction (e.g. a mask saved by a viewer that flips the y axis, or
    dcm2niix output against a DICOM-derived mask) is reoriented voxel by voxel (nearest neighbour; no
    interpolation happens because the centres coincide).

    Raises:
        GeometryError: any other difference; the message lists it.
    """
    problems = geometry.differences(reference, tolerance)
    if not problems:
        return array, False
    if same_voxel_centres(geometry, reference, tolerance):
        image = array_to_image(array, geometry)
        target = sitk.Image([int(size) for size in reference.size], image.GetPixelID())
        target.SetSpacing(reference.spacing)
        target.SetOrigin(reference.origin)
        target.SetDirection(reference.direction)
        resampled = sitk.Resample(image, target, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0, image.GetPixelID())
        return sitk.GetArrayFromImage(resampled), True
    raise GeometryError(f"{what} is not on the grid of the {reference_what}: {'; '.join(problems)}")


def same_voxel_centres(first: Geometry, second: Geometry, tolerance: float = GRID_TOLERANCE_MM) -> bool:
    """Whether two 3-D grids hold the same voxel centres (up to axis order and direction): same sizes and
    spacings as multisets and the same eight corner voxel centres in physical space (mm)."""
    if sorted(first.size) != sorted(second.size) or len(first.size) != 3:
        return False
    if not np.allclose(sorted(first.spacing), sorted(second.spacing), atol=tolerance, rtol=0):
        return False
    return bool(np.allclose(_corners(first), _corners(second), atol=tolerance, rtol=0))


def _corners(geometry: Geometry) -> np.ndarray:
    """Physical positions (mm) of the eight corner voxel centres, sorted lexicographically."""
    direction = np.asarray(geometry.direction, dtype=float).reshape(3, 3)
    scaled = direction * np.asarray(geometry.spacing, dtype=float)
    indices = np.array([[i, j, k] for i in (0, geometry.size[0] - 1) for j in (0, geometry.size[1] - 1)
                        for k in (0, geometry.size[2] - 1)], dtype=float)
    points = indices @ scaled.T + np.asarray(geometry.origin, dtype=float)
    points = np.round(points, 3)
    return points[np.lexsort(points.T[::-1])]
