"""Centre-crop prediction (Tomita et al.): only the centre box of each image is segmented.

The preprocessor sets every voxel outside the box to 0 before nnU-Net crops the image to its nonzero region, so
nnU-Net's own bookkeeping (``bbox_used_for_cropping``) limits the network's input to the box, and nnU-Net's
export writes background everywhere outside it, on the image's original grid. Only prediction is cropped:
training cases keep their whole volume, from which the zoom-out patches are sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def centre_box(shape: Sequence[int], spacing: Sequence[float], size_mm: Sequence[float]) -> tuple[slice, ...]:
    """The centre box of ``size_mm`` in an image of ``shape`` voxels at ``spacing`` mm (same axis order).

    The box has round(size / spacing) voxels per axis (at most the image), centred (an odd remainder puts the
    extra voxel after the box).
    """
    box = []
    for length, step, size in zip(shape, spacing, size_mm, strict=True):
        voxels = int(min(length, max(1, round(float(size) / float(step)))))
        start = (int(length) - voxels) // 2
        box.append(slice(start, start + voxels))
    return tuple(box)


def zero_outside_centre_box(data: np.ndarray, spacing_zyx: Sequence[float],
                            size_mm_xyz: Sequence[float]) -> np.ndarray:
    """A copy of ``data`` (channels, z, y, x) with every voxel outside the centre box of ``size_mm_xyz`` (x, y,
    z mm) set to 0."""
    box = centre_box(data.shape[1:], spacing_zyx, tuple(reversed(tuple(size_mm_xyz))))
    cropped = np.zeros_like(data)
    cropped[(slice(None), *box)] = data[(slice(None), *box)]
    return cropped
