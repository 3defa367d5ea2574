"""Surfaces and surface-distance metrics (definitions: docs/evaluation.md, "Surfaces and distances").

The surface ∂A of a mask A is the set of its voxels with at least one of the 6 face neighbours outside A
(A XOR its 6-connected erosion, :func:`strokeseg.masks.surface`); voxels beyond the array border count as
outside. d(A→B) is, for every voxel of ∂A, the Euclidean distance in mm between voxel centres (voxel
spacing s) to the nearest voxel of ∂B. hd, hd95, assd and nsd are computed from the two directed distance
sets, so both evaluation engines (which differ only in how they find nearest surface voxels) share these
formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strokeseg.defaults import NSD_TOLERANCE_MM


@dataclass(frozen=True)
class SurfaceDistances:
    """The two directed surface-distance sets of one case, in mm.

    Attributes:
        pred_to_ref: d(P→R), one value per voxel of ∂P (empty when P is empty).
        ref_to_pred: d(R→P), one value per voxel of ∂R (empty when R is empty).
        pred_empty, ref_empty: whether P / R has no voxel (then its distance set is empty).
    """

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray
    pred_empty: bool
    ref_empty: bool

    @classmethod
    def empty(cls, pred_empty: bool, ref_empty: bool) -> SurfaceDistances:
        """Distance sets of a case in which at least one mask is empty (no distance is defined)."""
        nothing = np.zeros(0, dtype=np.float64)
        return cls(nothing, nothing, pred_empty, ref_empty)

    @property
    def defined(self) -> bool:
        """Both masks have voxels, so distances exist."""
        return not (self.pred_empty or self.ref_empty)


def hausdorff(distances: SurfaceDistances) -> float:
    """hd = max(max d(P→R), max d(R→P)) in mm; both empty -> 0, one empty -> NaN."""
    undefined = _undefined_value(distances, both_empty=0.0, one_empty=math.nan)
    if undefined is not None:
        return undefined
    return float(max(distances.pred_to_ref.max(), distances.ref_to_pred.max()))


def hausdorff95(distances: SurfaceDistances, percentile: float = 95.0) -> float:
    """hd95 = max of the two directed 95th percentiles (linear interpolation), in mm.

    This is MONAI's ``compute_hausdorff_distance(percentile=95)`` and the WMH challenge's definition;
    MedPy pools both sets before taking the percentile and DeepMind's surface-distance weights by surfel
    area, so their values differ. Both empty -> 0, one empty -> NaN.
    """
    undefined = _undefined_value(distances, both_empty=0.0, one_empty=math.nan)
    if undefined is not None:
        return undefined
    return float(max(np.percentile(distances.pred_to_ref, percentile),
                     np.percentile(distances.ref_to_pred, percentile)))


def average_symmetric_surface_distance(distances: SurfaceDistances) -> float:
    """assd = (Σ d(P→R) + Σ d(R→P)) / (|∂P| + |∂R|) in mm; both empty -> 0, one empty -> NaN."""
    undefined = _undefined_value(distances, both_empty=0.0, one_empty=math.nan)
    if undefined is not None:
        return undefined
    total = float(distances.pred_to_ref.sum()) + float(distances.ref_to_pred.sum())
    return total / (distances.pred_to_ref.size + distances.ref_to_pred.size)


def normalized_surface_dice(distances: SurfaceDistances, tolerance_mm: float = NSD_TOLERANCE_MM) -> float:
    """nsd at tolerance τ mm: share of surface voxels of both masks within τ of the other surface.

    (#{p ∈ ∂P: d(p→R) ≤ τ} + #{r ∈ ∂R: d(r→P) ≤ τ}) / (|∂P| + |∂R|); both empty -> 1, one empty -> 0.
    """
    undefined = _undefined_value(distances, both_empty=1.0, one_empty=0.0)
    if undefined is not None:
        return undefined
    within = np.count_nonzero(distances.pred_to_ref <= tolerance_mm) + np.count_nonzero(
        distances.ref_to_pred <= tolerance_mm)
    return within / (distances.pred_to_ref.size + distances.ref_to_pred.size)


def _undefined_value(distances: SurfaceDistances, both_empty: float, one_empty: float) -> float | None:
    if distances.pred_empty and distances.ref_empty:
        return both_empty
    if distances.pred_empty or distances.ref_empty:
        return one_empty
    return None
