"""Centre-crop prediction: the box, and the voxels outside it set to 0 before nnU-Net's crop to nonzero."""

from __future__ import annotations

import numpy as np

from strokeseg.preprocessing.centre_crop import centre_box, zero_outside_centre_box


def test_centre_box_is_centred_and_sized_in_mm() -> None:
    # ATLAS's MNI grid (z, y, x voxels at 1 mm) and the paper's 144 x 172 x 168 mm crop (x, y, z) in z, y, x
    assert centre_box((189, 233, 197), (1.0, 1.0, 1.0), (168.0, 172.0, 144.0)) == (
        slice(10, 178), slice(30, 202), slice(26, 170))
    assert centre_box((46, 40, 40), (6.0, 6.0, 6.0), (168.0, 172.0, 144.0)) == (
        slice(9, 37), slice(5, 34), slice(8, 32))
    assert centre_box((10, 10, 10), (1.0, 1.0, 1.0), (168.0, 172.0, 144.0)) == (slice(0, 10),) * 3  # whole image


def test_voxels_outside_the_box_become_zero_in_every_channel() -> None:
    data = np.ones((2, 10, 12, 14), dtype=np.float32)
    cropped = zero_outside_centre_box(data, (2.0, 2.0, 2.0), (16.0, 12.0, 8.0))  # x, y, z mm -> 4, 6, 8 voxels
    assert cropped.shape == data.shape and data.min() == 1  # a copy, the input unchanged
    inside = np.argwhere(cropped[0] > 0)
    assert inside.min(axis=0).tolist() == [3, 3, 3] and inside.max(axis=0).tolist() == [6, 8, 10]
    assert np.array_equal(cropped[0], cropped[1]) and cropped.sum() == 2 * 4 * 6 * 8
