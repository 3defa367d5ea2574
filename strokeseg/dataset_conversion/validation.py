"""Checks and per-case numbers on label arrays (pure functions, no file access).

Messages name *what* is wrong; callers prefix them with the file and case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.errors import InputDataError

_CONNECTIVITY_RANK = {6: 1, 18: 2, 26: 3}


@dataclass(frozen=True)
class LesionStatistics:
    """Lesion burden of one label map: volume in mL and number of connected components."""

    volume_ml: float
    n_lesions: int


def normalise_mask(values: np.ndarray, mask_values: Iterable[int], binary: bool) -> np.ndarray:
    """Validate a mask array and return it as uint8 labels.

    Args:
        values: the mask as read (any numeric dtype).
        mask_values: values allowed in a multi-label mask (e.g. {0, 1, 2} for the WMH challenge).
        binary: a binary lesion mask: background 0 plus at most one other value (1, 255, 1.0 ...), written as 1.

    Raises:
        InputDataError: negative or non-integer values, a second non-zero value in a binary mask, or values
            outside ``mask_values``.
    """
    unique = np.unique(values)
    if unique.size and unique[0] < 0:
        raise InputDataError(f"holds negative values ({_listing(unique[unique < 0][:3])}); expected a label map of "
                             "non-negative integers (0 = background); check how the mask was saved")
    if not np.all(np.equal(np.mod(unique, 1), 0)):
        odd = [f"{value:g}" for value in unique[np.mod(unique, 1) != 0][:3]]
        raise InputDataError(f"holds non-integer values ({', '.join(odd)}, ...); expected a label map, "
                             "not probabilities")
    if binary:
        nonzero = unique[unique != 0]
        if nonzero.size > 1:
            raise InputDataError(f"is not binary: it holds the values {_listing(unique)}; expected 0 = background "
                                 "and one lesion value")
        return (values != 0).astype(np.uint8)
    allowed = {int(value) for value in mask_values}
    unexpected = [int(value) for value in unique if int(value) not in allowed]
    if unexpected:
        raise InputDataError(f"holds the values {_listing(unique)}; only {_listing(sorted(allowed))} are allowed")
    return values.astype(np.uint8)


def union_of_masks(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Voxel-wise maximum of label maps (the union for binary masks; ATLAS R1.2 lesion masks)."""
    if not masks:
        raise ValueError("union_of_masks needs at least one mask")
    result = masks[0].copy()
    for mask in masks[1:]:
        np.maximum(result, mask, out=result)
    return result


def count_components(foreground: np.ndarray, connectivity: int = LESION_CONNECTIVITY) -> int:
    """Number of connected components of a boolean 3-D array (6-, 18- or 26-connectivity)."""
    if connectivity not in _CONNECTIVITY_RANK:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    structure = ndimage.generate_binary_structure(3, _CONNECTIVITY_RANK[connectivity])
    _, count = ndimage.label(foreground, structure=structure)
    return int(count)


def lesion_statistics(labels: np.ndarray, spacing_mm: Sequence[float], lesion_label: int = 1,
                      connectivity: int = LESION_CONNECTIVITY) -> LesionStatistics:
    """Volume (mL) and component count of ``labels == lesion_label``; ``spacing_mm`` in any axis order."""
    lesion = labels == lesion_label
    voxel_ml = float(np.prod(np.asarray(spacing_mm, dtype=float))) / 1000.0
    return LesionStatistics(float(np.count_nonzero(lesion)) * voxel_ml, count_components(lesion, connectivity))


def _listing(values: Iterable[float]) -> str:
    return "{" + ", ".join(f"{float(value):g}" for value in values) + "}"
