"""Lesion-like reference/prediction mask pairs for evaluation tests and benchmarks.

A reference holds a few irregular blobs of varying size (each the union of one to three ellipsoids);
the prediction is a perturbed copy: blobs shifted and rescaled, now and then a lesion missed or a small
false-positive blob added, and a ragged boundary. Arrays are (z, y, x) booleans; sizes are given in mm so
that the same call makes comparable lesions on thick-slice and isotropic grids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strokeseg.masks import surface


@dataclass(frozen=True)
class _Ellipsoid:
    centre_mm: np.ndarray  # (z, y, x) mm
    radii_mm: np.ndarray  # (z, y, x) mm


def _paint(mask: np.ndarray, spacing: np.ndarray, ellipsoid: _Ellipsoid) -> None:
    """Set the voxels of ``ellipsoid`` in ``mask``, touching only its bounding box."""
    low = np.maximum(np.floor((ellipsoid.centre_mm - ellipsoid.radii_mm) / spacing).astype(int), 0)
    high = np.minimum(np.ceil((ellipsoid.centre_mm + ellipsoid.radii_mm) / spacing).astype(int) + 1, mask.shape)
    if np.any(high <= low):
        return
    axes = [(np.arange(lo, hi) * step - centre) / radius for lo, hi, step, centre, radius
            in zip(low, high, spacing, ellipsoid.centre_mm, ellipsoid.radii_mm, strict=True)]
    inside = (axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2) <= 1.0
    mask[low[0]:high[0], low[1]:high[1], low[2]:high[2]] |= inside


def _random_lesion(rng: np.random.Generator, extent_mm: np.ndarray, radius_mm: float) -> list[_Ellipsoid]:
    centre = rng.uniform(0.2, 0.8, size=3) * extent_mm
    parts = [_Ellipsoid(centre, radius_mm * rng.uniform(0.6, 1.3, size=3))]
    for _ in range(int(rng.integers(0, 3))):
        offset = rng.normal(0.0, 0.5 * radius_mm, size=3)
        parts.append(_Ellipsoid(centre + offset, 0.6 * radius_mm * rng.uniform(0.6, 1.3, size=3)))
    return parts


def lesion_pair(shape: Sequence[int], spacing_mm: Sequence[float], rng: np.random.Generator,
                n_lesions: tuple[int, int] = (2, 5), radius_mm: tuple[float, float] = (2.0, 18.0),
                shift_mm: float = 1.5, miss_probability: float = 0.15, false_positive_probability: float = 0.5,
                ragged_fraction: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A lesion-like (reference, prediction) pair of boolean (z, y, x) masks.

    Args:
        shape: grid size (z, y, x) in voxels.
        spacing_mm: voxel spacing (z, y, x) in mm.
        rng: random generator (the pair is a deterministic function of its state).
        n_lesions: inclusive range of the number of reference lesions.
        radius_mm: range of lesion radii (log-uniform, so small lesions are common).
        shift_mm: SD of the per-lesion shift of the prediction.
        miss_probability: chance that the prediction misses a lesion (never all of them).
        false_positive_probability: chance of one small false-positive blob.
        ragged_fraction: share of the prediction's surface voxels flipped to roughen its boundary.
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    extent = np.asarray(shape) * spacing
    reference = np.zeros(tuple(shape), dtype=bool)
    prediction = np.zeros(tuple(shape), dtype=bool)
    count = int(rng.integers(n_lesions[0], n_lesions[1] + 1))
    missed = rng.random(count) < miss_probability
    missed[int(rng.integers(count))] = False
    for index in range(count):
        radius = float(np.exp(rng.uniform(np.log(radius_mm[0]), np.log(radius_mm[1]))))
        parts = _random_lesion(rng, extent, radius)
        shift = rng.normal(0.0, shift_mm, size=3)
        scale = rng.uniform(0.85, 1.15)
        for part in parts:
            _paint(reference, spacing, part)
            if not missed[index]:
                _paint(prediction, spacing, _Ellipsoid(part.centre_mm + shift, part.radii_mm * scale))
    if rng.random() < false_positive_probability:
        _paint(prediction, spacing, _Ellipsoid(rng.uniform(0.2, 0.8, size=3) * extent,
                                               np.full(3, rng.uniform(2.0, 4.0))))
    boundary = surface(prediction)
    prediction[boundary & (rng.random(prediction.shape) < ragged_fraction)] = False
    return reference, prediction
