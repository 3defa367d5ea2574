"""Label maps as lesion masks: which voxels of a label map (0 = background) count as lesion.

Label maps are the references (``labelsTr``/``labelsTs``) and the predictions ``nnUNetv2_predict`` writes.
Lesion is every value > 0 except nnU-Net's ``ignore`` label, or only the values the user selects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from strokeseg.defaults import GRID_TOLERANCE_MM
from strokeseg.errors import GeometryError, InputDataError
from strokeseg.grids import on_reference_grid
from strokeseg.io import Geometry, read_array


def lesion_mask(label_map: np.ndarray, labels: Sequence[int] | None = None,
                ignore_label: int | None = None) -> np.ndarray:
    """Boolean lesion mask of a label map: voxels with a value in ``labels`` (None: > 0, ignore label excluded).

    Raises:
        InputDataError: the map holds non-integer values (e.g. probabilities instead of labels) or negative
            values (no nnU-Net label is negative; an unsigned mask saved as signed, or an intensity image given
            by mistake); the message does not name the file, callers prefix it.
    """
    check_label_values(label_map)
    if labels is not None:
        return np.isin(label_map, np.asarray(labels))
    mask = label_map > 0
    if ignore_label is not None:
        mask &= label_map != ignore_label
    return mask


def check_label_values(label_map: np.ndarray) -> None:
    """Raise InputDataError unless ``label_map`` is a 3-D array of non-negative integers (message without file)."""
    if label_map.ndim != 3:
        raise InputDataError(f"has {label_map.ndim} dimensions (array shape {label_map.shape}); expected a 3-D "
                             "label map (a 4-D file holds one volume per time point or channel: save one)")
    if np.issubdtype(label_map.dtype, np.floating) and not np.array_equal(label_map, np.round(label_map)):
        raise InputDataError("holds non-integer values; expected a label map (0 = background)")
    if not np.issubdtype(label_map.dtype, np.unsignedinteger) and label_map.size and label_map.min() < 0:
        raise InputDataError(f"holds negative values (minimum {label_map.min()}); expected a label map of "
                             "non-negative integers (0 = background); check how the mask was saved")


def read_lesion_mask(path: Path, what: str) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """(label map, boolean lesion mask = label > 0, geometry) of a label-map file.

    Args:
        path: the label-map file.
        what: what the file is, for error messages (``"prediction of case X"``).

    Raises:
        InputDataError: the file is missing, unreadable or damaged, or holds NaN, negative or non-integer values.
    """
    label_map, geometry = read_array(path, what)
    try:
        return label_map, lesion_mask(label_map), geometry
    except InputDataError as error:
        raise InputDataError(f"{what} {path} {error}") from None


def read_lesion_mask_on_grid(path: Path, what: str, grid: Geometry,
                             tolerance: float = GRID_TOLERANCE_MM) -> np.ndarray:
    """Boolean lesion mask (label > 0) of a label-map file, on ``grid``.

    A file holding the same voxels in another axis order or direction is reoriented exactly
    (:func:`strokeseg.grids.on_reference_grid`).

    Raises:
        GeometryError: the file is on another grid (the message names it and says what differs).
        InputDataError: the file is missing, unreadable or damaged, or not a label map.
    """
    _, mask, geometry = read_lesion_mask(path, what)
    try:
        on_grid, _ = on_reference_grid(mask.astype(np.uint8), geometry, grid, f"{what} {path}", "image",
                                       tolerance)
    except GeometryError as error:
        raise GeometryError(f"{error}; resample it onto that grid") from None
    return on_grid > 0


def majority_vote(masks: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Consensus of several readings of one case: a voxel is lesion when at least ``k`` of the ``n`` masks mark it.

    Alis et al.'s test-set ground truth is ``k = 2`` of ``n = 3`` readings; ``k = n`` is the intersection and
    ``k = 1`` the union.

    Args:
        masks: boolean (or 0/1) lesion masks of one case, all of one shape.
        k: votes needed, 1 ≤ k ≤ n.

    Raises:
        InputDataError: fewer than one mask, shapes differ, or ``k`` is outside 1..n.
    """
    if not masks:
        raise InputDataError("a majority vote needs at least one reading")
    shapes = {mask.shape for mask in masks}
    if len(shapes) != 1:
        raise InputDataError(f"the readings of one case must share one grid, got shapes {sorted(shapes)}")
    if not 1 <= k <= len(masks):
        raise InputDataError(f"a voxel needs k votes of n readings with 1 ≤ k ≤ n; got k = {k}, n = {len(masks)}")
    votes = np.zeros(masks[0].shape, dtype=np.int16)
    for mask in masks:
        votes += np.asarray(mask, dtype=bool)
    return votes >= k


def default_votes(readings: int) -> int:
    """Votes a voxel needs by default: a strict majority, ⌊n/2⌋ + 1 = ⌈(n + 1)/2⌉ (2 of 3, 3 of 4, 1 of 1)."""
    return readings // 2 + 1


def vote_label_maps(label_maps: Sequence[np.ndarray], k: int, ignore_label: int | None = None) -> np.ndarray:
    """k-of-n consensus of several label maps of one case, as a uint8 label map.

    Lesion (1) where at least ``k`` maps mark lesion (:func:`lesion_mask`: > 0, the ignore label excluded);
    with an ``ignore_label`` (the WMH challenge's 2 = other pathology), the remaining voxels that at least
    ``k`` maps mark with it get that label; everything else is background (0).

    Raises:
        InputDataError: see :func:`majority_vote` and :func:`lesion_mask`.
    """
    lesion = majority_vote([lesion_mask(labels, ignore_label=ignore_label) for labels in label_maps], k)
    consensus = lesion.astype(np.uint8)
    if ignore_label is not None:
        ignored = majority_vote([labels == ignore_label for labels in label_maps], k) & ~lesion
        consensus[ignored] = ignore_label
    return consensus
