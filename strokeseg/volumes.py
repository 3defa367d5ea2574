"""Lesion volumes in mL and the volume strata of Noh et al. (small < 1.7 mL ≤ medium ≤ 14 mL < large)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from strokeseg.defaults import VOLUME_LARGE_ABOVE_ML, VOLUME_SMALL_BELOW_ML

#: Stratum of a case whose reference mask is empty, and of a case whose volume is missing.
NO_LESION = "no lesion"
UNKNOWN = "unknown"
#: Volume strata labels, in display order.
VOLUME_LEVELS: tuple[str, ...] = ("small", "medium", "large", NO_LESION, UNKNOWN)


def voxel_volume_ml(spacing_mm: Sequence[float]) -> float:
    """Volume of one voxel in mL (= cm³ = 1000 mm³) from its edge lengths in mm."""
    return float(np.prod(np.asarray(spacing_mm, dtype=np.float64))) / 1000.0


def volume_stratum(volume_ml: float | None, small_below_ml: float = VOLUME_SMALL_BELOW_ML,
                   large_above_ml: float = VOLUME_LARGE_ABOVE_ML) -> str:
    """``small`` (< 1.7 mL), ``medium`` (1.7–14 mL, both ends inclusive), ``large`` (> 14 mL), ``no lesion``
    (0 mL) or ``unknown`` (missing: None or NaN)."""
    if volume_ml is None or math.isnan(float(volume_ml)):
        return UNKNOWN
    if volume_ml <= 0:
        return NO_LESION
    if volume_ml < small_below_ml:
        return "small"
    return "large" if volume_ml > large_above_ml else "medium"
