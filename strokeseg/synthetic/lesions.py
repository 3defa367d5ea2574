"""Placing lesions of controlled volume inside chosen location classes (pure numpy on one voxel grid).

A lesion grows from a seed voxel inside its allowed region (the chosen class, or a union of two adjacent
classes for a territorial infarct): the voxels with the lowest "potential" (an ellipsoidal distance from the
seed, in mm, modulated by smooth noise) are taken until the target volume is reached, and only the
26-connected component that holds the seed is kept, so a lesion is one irregular blob.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from strokeseg.masks import bounding_box

_FULL = ndimage.generate_binary_structure(3, 3)


@dataclass(frozen=True)
class GrownLesion:
    """A placed lesion: its mask on the full grid, the volume reached (mL) and the seed (z, y, x)."""

    mask: np.ndarray
    volume_ml: float
    seed: tuple[int, int, int]


def interior(region: np.ndarray, spacing_zyx: tuple[float, float, float], margin_mm: float) -> np.ndarray:
    """Voxels of ``region`` at least ``margin_mm`` (in-plane and through-plane, in mm) from its border."""
    if margin_mm <= 0 or not region.any():
        return region
    box = bounding_box(region, pad=1)
    result = np.zeros_like(region)
    result[box] = ndimage.distance_transform_edt(region[box], sampling=spacing_zyx) >= margin_mm
    return result


def grow_lesion(allowed: np.ndarray, seed: tuple[int, int, int], volume_ml: float,
                spacing_zyx: tuple[float, float, float], rng: np.random.Generator,
                irregularity: float = 0.35) -> GrownLesion:
    """Grow one connected lesion of about ``volume_ml`` inside ``allowed`` from ``seed``.

    Args:
        allowed: boolean region the lesion must stay in.
        seed: (z, y, x) voxel inside ``allowed``.
        volume_ml: target volume, mL; the result is smaller when the connected allowed region is smaller.
        spacing_zyx: voxel spacing, mm.
        rng: random generator (shape, orientation, noise).
        irregularity: relative amplitude of the smooth noise that makes the outline irregular.
    """
    spacing = np.asarray(spacing_zyx, dtype=float)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    target = max(1, round(volume_ml / voxel_ml))
    radius_mm = (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    half = np.ceil((3.0 * radius_mm + 6.0) / spacing).astype(int)
    lower = np.maximum(np.asarray(seed) - half, 0)
    upper = np.minimum(np.asarray(seed) + half + 1, allowed.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lower, upper, strict=True))
    local_allowed = allowed[box]
    local_seed = tuple(int(s - a) for s, a in zip(seed, lower, strict=True))

    axes = np.array([1.0, rng.uniform(0.6, 1.0), rng.uniform(0.45, 1.0)])
    rotation = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    grids = np.meshgrid(*[(np.arange(n) - c) * s for n, c, s in zip(local_allowed.shape, local_seed, spacing,
                                                                       strict=True)], indexing="ij")
    offsets = np.stack(grids, axis=-1) @ rotation
    distance = np.sqrt(np.sum((offsets / axes) ** 2, axis=-1))
    noise = ndimage.gaussian_filter(rng.standard_normal(local_allowed.shape),
                                    sigma=np.maximum(0.5 * radius_mm / spacing, 0.5))
    noise /= max(float(np.abs(noise).max()), 1e-6)
    potential = distance * (1.0 + irregularity * noise)
    potential[~local_allowed] = np.inf
    potential[local_seed] = -1.0
    order = np.sort(potential[np.isfinite(potential)])
    if order.size == 0:
        return GrownLesion(np.zeros(allowed.shape, dtype=bool), 0.0, seed)

    def component(count: int) -> np.ndarray:
        threshold = order[min(count, order.size) - 1]
        labels, _ = ndimage.label(potential <= threshold, structure=_FULL)
        return labels == labels[local_seed]

    count, blob = target, component(target)
    for _ in range(8):  # disconnected pieces were dropped: take more voxels until the target is reached
        size = int(blob.sum())
        if size >= target or count >= order.size:
            break
        count = min(order.size, count + (target - size))
        blob = component(count)
    if int(blob.sum()) > target:  # trim the farthest voxels so the volume matches
        values = np.where(blob, potential, np.inf)
        cut = np.sort(values[blob])[target - 1]
        blob &= values <= cut
        labels, _ = ndimage.label(blob, structure=_FULL)
        blob = labels == labels[local_seed]
    mask = np.zeros(allowed.shape, dtype=bool)
    mask[box] = blob
    return GrownLesion(mask, float(blob.sum()) * voxel_ml, seed)


def random_seed_voxel(region: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int] | None:
    """A uniformly drawn voxel of ``region`` as (z, y, x), or None when the region is empty."""
    candidates = np.flatnonzero(region)
    if candidates.size == 0:
        return None
    index = np.unravel_index(int(candidates[int(rng.integers(candidates.size))]), region.shape)
    return int(index[0]), int(index[1]), int(index[2])


def smooth_blobs(shape: tuple[int, ...], spacing_zyx: tuple[float, float, float], region: np.ndarray,
                 count: int, radius_mm: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """``count`` soft spherical blobs (0..1) centred in ``region`` with radii drawn from ``radius_mm``."""
    result = np.zeros(shape, dtype=np.float32)
    spacing = np.asarray(spacing_zyx)
    for _ in range(count):
        seed = random_seed_voxel(region, rng)
        if seed is None:
            break
        radius = rng.uniform(*radius_mm)
        half = np.ceil((radius + 3.0) / spacing).astype(int)
        lower = np.maximum(np.asarray(seed) - half, 0)
        upper = np.minimum(np.asarray(seed) + half + 1, shape)
        grids = np.meshgrid(*[(np.arange(a, b) - c) * s for a, b, c, s in zip(lower, upper, seed, spacing,
                                                                                  strict=True)], indexing="ij")
        distance = np.sqrt(sum(g**2 for g in grids))
        blob = np.clip((radius + 1.0 - distance) / 2.0, 0.0, 1.0).astype(np.float32)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lower, upper, strict=True))
        result[box] = np.maximum(result[box], blob)
    return result
