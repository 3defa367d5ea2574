"""The CPU engine's surface distances and bounding box, bit for bit against brute force.

The brute-force reference computes every pairwise distance between the two surfaces' voxel centres the way the
k-d tree does (mm coordinates relative to the crop corner, squared terms summed z, y, x), so any change of a
distance value, of its order (which decides assd's rounding) or of the empty-mask conventions shows up as an
inequality, not as a tolerance question.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from strokeseg.evaluation.case_metrics import evaluate_pair
from strokeseg.evaluation.engine_base import crop_slices
from strokeseg.evaluation.engines import joint_bounding_box
from strokeseg.evaluation.nearest_surface import (
    MAX_REACH,
    mask_surface_distances,
    neighbour_offsets,
    surface_distances,
    surface_positions,
)
from strokeseg.evaluation.surface import (
    SurfaceDistances,
    average_symmetric_surface_distance,
    hausdorff,
    hausdorff95,
    normalized_surface_dice,
)
from strokeseg.masks import bounding_box, surface

SPACINGS = [(5.0, 0.9, 0.9), (1.0, 1.0, 1.0), (2.5, 0.7, 1.3), (1.0, 1.0, 3.0), (0.6, 0.6, 0.6), (3.3, 0.4688, 1.0)]


def _brute_force(source: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """d(source→target): zeros for voxels on both surfaces, then the others in C order, by exhaustive search."""
    shared = np.count_nonzero(source & target)
    points = np.argwhere(source & ~target) * spacing
    others = np.argwhere(target) * spacing
    if points.shape[0] == 0:
        return np.zeros(shared)
    difference = points[:, None, :] - others[None, :, :]
    squared = difference[..., 0] ** 2 + difference[..., 1] ** 2 + difference[..., 2] ** 2
    return np.concatenate([np.zeros(shared), np.sqrt(squared.min(axis=1))])


def _random_masks(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Two masks of blobs and speckle: near each other in places (neighbour look-up), far in others (k-d tree)."""
    z, y, x = np.indices(shape)
    masks = []
    for _ in range(2):
        mask = rng.random(shape) < 0.01
        for _ in range(int(rng.integers(1, 4))):
            centre = rng.uniform(0, shape)
            radii = rng.uniform(1.0, 5.0, size=3)
            mask |= ((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + (
                (x - centre[2]) / radii[2]) ** 2 <= 1.0
        masks.append(mask)
    return masks[0], masks[1]


@pytest.mark.parametrize("spacing", SPACINGS)
def test_surface_distances_equal_brute_force_bit_for_bit(spacing: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(int(sum(spacing) * 1000))
    step = np.asarray(spacing)
    for index in range(6):
        first, second = (surface(mask) for mask in _random_masks(rng, (9, 17, 14)))
        if index == 0:  # surfaces on the grid's border: the look-up grid must be padded
            first[0], second[:, -1] = True, True
        if not (first.any() and second.any()):
            continue
        forward, backward = surface_distances(first, second, step)
        assert np.array_equal(forward, _brute_force(first, second, step))
        assert np.array_equal(backward, _brute_force(second, first, step))


def test_surface_positions_are_the_erosion_surface_inside_and_on_the_border() -> None:
    rng = np.random.default_rng(41)
    for index in range(12):
        mask = _random_masks(rng, (7, 12, 10))[0]
        if index % 3 == 1:  # voxels on the array's faces: always surface, their neighbours outside are not read
            mask[:, :, -1] |= rng.random((7, 12)) < 0.5
        if index % 3 == 2:
            mask[:] = False
            mask[2:5, 3:9, 2:8] = True  # a box with an interior, away from the faces
        expected = np.argwhere(surface(mask)).T
        assert np.array_equal(surface_positions(mask), expected)
        if mask.any():
            other = np.roll(mask, 2, axis=1)
            assert all(np.array_equal(a, b) for a, b in zip(mask_surface_distances(mask, other, np.ones(3)),
                                                            surface_distances(surface(mask), surface(other),
                                                                              np.ones(3)), strict=True))


def test_single_voxels_at_opposite_corners() -> None:
    first, second = np.zeros((4, 5, 6), dtype=bool), np.zeros((4, 5, 6), dtype=bool)
    first[0, 0, 0], second[-1, -1, -1] = True, True
    forward, backward = surface_distances(first, second, np.array([2.0, 1.0, 0.5]))
    assert forward.tolist() == backward.tolist() == [math.sqrt(6.0**2 + 4.0**2 + 2.5**2)]


@pytest.mark.parametrize("spacing", SPACINGS)
def test_every_shell_holds_every_shorter_offset(spacing: tuple[float, float, float]) -> None:
    step = np.asarray(spacing)
    neighbours = neighbour_offsets(spacing)
    offsets, run_ends = neighbours.offsets, neighbours.run_ends
    assert len({tuple(offset) for offset in offsets}) == len(offsets) == run_ends[-1]
    block = np.indices((2 * MAX_REACH + 3,) * 3).reshape(3, -1).T - (MAX_REACH + 1)
    block = block[np.any(block != 0, axis=1)]
    length = np.sqrt(((block * step) ** 2).sum(axis=1))
    for end in run_ends:
        read = (block[:, None, :] == offsets[None, :end, :]).all(axis=2).any(axis=1)
        # whatever is not read by a run end is measurably longer than everything read
        assert length[read].max() < length[~read].min() * (1 - 1e-9)
    # the face and edge neighbours along the finest axes are among the offsets; shells end at run ends
    assert np.all(np.isin(np.flatnonzero(length < 2 * step.min() * (1 - 1e-9)),
                          np.flatnonzero((block[:, None, :] == offsets[None]).all(axis=2).any(axis=1))))
    assert neighbours.next_end(0, 1) == run_ends[0] and neighbours.next_end(0, 10**6) == run_ends[-1]
    assert all(neighbours.next_end(int(start), 3) in run_ends for start in run_ends[:-1])


def _reference_metrics(reference: np.ndarray, prediction: np.ndarray,
                       spacing: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """hd, hd95, assd and nsd@1 mm from brute-force distances on the same crop as the engine."""
    if not (reference.any() and prediction.any()):
        distances = SurfaceDistances.empty(pred_empty=not prediction.any(), ref_empty=not reference.any())
    else:
        window = crop_slices(joint_bounding_box(reference, prediction), reference.shape)
        ref_surface, pred_surface = surface(reference[window]), surface(prediction[window])
        step = np.asarray(spacing)
        distances = SurfaceDistances(_brute_force(pred_surface, ref_surface, step),
                                     _brute_force(ref_surface, pred_surface, step), False, False)
    return (hausdorff(distances), hausdorff95(distances), average_symmetric_surface_distance(distances),
            normalized_surface_dice(distances, 1.0))


def test_case_metrics_equal_brute_force_including_empty_and_border_masks() -> None:
    rng = np.random.default_rng(23)
    for index, spacing in enumerate(SPACINGS * 2):
        reference, prediction = _random_masks(rng, (10, 16, 13))
        if index % 4 == 1:
            reference[:, 0, :] |= rng.random((10, 13)) < 0.5  # touches the border
        if index % 6 == 2:
            prediction[:] = False
        if index % 6 == 3:
            reference[:] = False
        metrics = evaluate_pair(reference, prediction, spacing, nsd_tolerance_mm=1.0)
        expected = _reference_metrics(reference, prediction, spacing)
        actual = (metrics.hd, metrics.hd95, metrics.assd, metrics.nsd)
        assert all(a == e or (math.isnan(a) and math.isnan(e)) for a, e in zip(actual, expected, strict=True)), (
            index, actual, expected)


def test_joint_bounding_box_matches_the_box_of_the_union() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        shape = tuple(int(size) for size in rng.integers(1, 25, size=3))
        reference = rng.random(shape) < rng.choice([0.0, 0.001, 0.02])
        prediction = rng.random(shape) < rng.choice([0.0, 0.001, 0.02])
        if rng.random() < 0.2:  # only the last plane occupied
            reference[:] = False
            prediction[:] = False
            prediction[-1, rng.integers(shape[1]), rng.integers(shape[2])] = True
        box = joint_bounding_box(reference, prediction)
        union = reference | prediction
        if not union.any():
            assert box is None
        else:
            assert box == [(part.start, part.stop - 1) for part in bounding_box(union)]
