"""Binary-mask helpers shared by skull stripping, brain masks, registration, planners, evaluation, phantoms.

Arrays are in any axis order; spacings are per array axis in mm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage


def slice_axis_of(spacing: Sequence[float]) -> int:
    """The axis with the coarsest spacing (the acquisition's slice direction); the first such axis on ties."""
    return int(np.argmax(np.asarray(spacing, dtype=float)))


def bounding_box(mask: np.ndarray, pad: int = 0) -> tuple[slice, ...]:
    """The smallest box (one slice per axis) that holds every True voxel of a non-empty ``mask``, widened by
    ``pad`` voxels on each side and clipped to the array."""
    slices = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        slices.append(slice(max(int(present[0]) - pad, 0), min(int(present[-1]) + pad + 1, mask.shape[axis])))
    return tuple(slices)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 6-connected (face-connected) component of ``mask``; an empty mask stays empty."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return labels > 0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray, slice_axis: int = 0) -> np.ndarray:
    """Fill holes in 3D, then in every slice perpendicular to ``slice_axis``.

    The 3D pass fills enclosed cavities (ventricles); the per-slice pass also fills cavities that are open
    only through the first or last slice of a limited field of view, which 3D filling cannot see as holes.
    Identical to scipy's ``binary_fill_holes`` on the volume and then on every slice, but each pass labels the
    background once (a few times faster on a 1 mm head).
    """
    face_neighbours = ndimage.generate_binary_structure(mask.ndim, 1)
    filled = mask | _enclosed(~mask, face_neighbours, range(mask.ndim))
    in_slice = face_neighbours.copy()
    np.moveaxis(in_slice, slice_axis, 0)[[0, 2]] = False  # no neighbours across slices
    in_plane_axes = [axis for axis in range(mask.ndim) if axis != slice_axis]
    return filled | _enclosed(~filled, in_slice, in_plane_axes)


def _enclosed(background: np.ndarray, structure: np.ndarray, open_axes: Sequence[int]) -> np.ndarray:
    """Voxels of ``background`` whose connected component (``structure``) touches neither end of any of
    ``open_axes``: the holes that scipy's ``binary_fill_holes`` fills, when it runs per piece that ``structure``
    connects."""
    labels, count = ndimage.label(background, structure)
    open_to_border = np.zeros(count + 1, dtype=bool)
    open_to_border[0] = True  # label 0: the mask itself
    for axis in open_axes:
        for end in (0, -1):
            open_to_border[np.take(labels, end, axis=axis)] = True
    return ~open_to_border[labels]


def interior(mask: Any) -> Any:
    """Voxels of ``mask`` whose 6 face neighbours all lie inside ``mask`` (its 6-connected erosion).

    Works on numpy arrays and torch tensors alike (only slicing, ``&`` and ``zeros_like`` are used), so the
    CPU and CUDA evaluation engines share this definition. Voxels on the array border are never interior.
    """
    inner = mask[1:-1, 1:-1, 1:-1]
    result = mask.new_zeros(mask.shape) if hasattr(mask, "new_zeros") else np.zeros_like(mask)
    if min(mask.shape) < 3:
        return result
    result[1:-1, 1:-1, 1:-1] = (inner & mask[:-2, 1:-1, 1:-1] & mask[2:, 1:-1, 1:-1] & mask[1:-1, :-2, 1:-1]
                                & mask[1:-1, 2:, 1:-1] & mask[1:-1, 1:-1, :-2] & mask[1:-1, 1:-1, 2:])
    return result


def surface(mask: Any) -> Any:
    """∂A = A XOR its 6-connected erosion (numpy array or torch tensor, 3-D, boolean)."""
    return mask ^ interior(mask)  # the erosion lies inside the mask: XOR is AND NOT, in one operation
