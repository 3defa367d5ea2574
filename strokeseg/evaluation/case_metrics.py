"""All per-case metrics of docs/evaluation.md ("Definitions") for one reference/prediction pair, as one record.

``evaluate_pair(reference, prediction, spacing_mm)`` is the array-level entry point (no files involved);
the CLI builds its ``per_case.csv`` from :meth:`CaseMetrics.as_row`. Units: distances in mm, volumes in mL,
counts in voxels or lesions. Empty-mask conventions are those of docs/evaluation.md, "Definitions".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY, NSD_TOLERANCE_MM
from strokeseg.evaluation.engine_base import MetricEngine, PairAnalysis
from strokeseg.evaluation.engines import CpuEngine
from strokeseg.evaluation.lesion_matching import lesion_f1
from strokeseg.evaluation.overlap import dice, precision, sensitivity
from strokeseg.evaluation.surface import (
    average_symmetric_surface_distance,
    hausdorff,
    hausdorff95,
    normalized_surface_dice,
)
from strokeseg.volumes import voxel_volume_ml


@dataclass(frozen=True)
class CaseMetrics:
    """Per-case metrics (column names of ``per_case.csv``; definitions in docs/evaluation.md).

    Attributes:
        tp, fp, fn: voxel counts.
        dice, sensitivity, precision: voxel-wise overlap (NaN where docs/evaluation.md says undefined).
        vol_ref_ml, vol_pred_ml: volumes in mL; vol_diff_ml = pred − ref (signed); avd_ml = |pred − ref|.
        hd, hd95, assd: surface distances in mm (NaN when exactly one mask is empty).
        nsd: normalised surface Dice at the tolerance given to :func:`evaluate_pair`.
        lesion_tp, lesion_fp, lesion_fn: lesion-wise detection counts.
        lesion_f1: TP / (TP + (FP + FN)/2).
        n_lesions_ref, n_lesions_pred, lesion_count_diff: lesion numbers and |n_ref − n_pred|.
    """

    tp: int
    fp: int
    fn: int
    dice: float
    sensitivity: float
    precision: float
    vol_ref_ml: float
    vol_pred_ml: float
    vol_diff_ml: float
    avd_ml: float
    hd: float
    hd95: float
    assd: float
    nsd: float
    lesion_tp: int
    lesion_fp: int
    lesion_fn: int
    lesion_f1: float
    n_lesions_ref: int
    n_lesions_pred: int
    lesion_count_diff: int

    @classmethod
    def from_analysis(cls, analysis: PairAnalysis, spacing_mm: Sequence[float],
                      nsd_tolerance_mm: float = NSD_TOLERANCE_MM) -> CaseMetrics:
        """Apply the formulas of docs/evaluation.md to an engine's analysis."""
        counts, distances, lesions = analysis.counts, analysis.distances, analysis.lesions
        voxel_ml = voxel_volume_ml(spacing_mm)
        vol_ref, vol_pred = counts.n_reference * voxel_ml, counts.n_prediction * voxel_ml
        return cls(
            tp=counts.tp, fp=counts.fp, fn=counts.fn,
            dice=dice(counts), sensitivity=sensitivity(counts), precision=precision(counts),
            vol_ref_ml=vol_ref, vol_pred_ml=vol_pred, vol_diff_ml=vol_pred - vol_ref, avd_ml=abs(vol_pred - vol_ref),
            hd=hausdorff(distances), hd95=hausdorff95(distances),
            assd=average_symmetric_surface_distance(distances),
            nsd=normalized_surface_dice(distances, nsd_tolerance_mm),
            lesion_tp=lesions.tp, lesion_fp=lesions.fp, lesion_fn=lesions.fn, lesion_f1=lesion_f1(lesions),
            n_lesions_ref=lesions.n_reference, n_lesions_pred=lesions.n_prediction,
            lesion_count_diff=lesions.count_difference,
        )

    def as_row(self) -> dict[str, float | int]:
        """Field name -> value, in column order."""
        return asdict(self)


#: Column names of the per-case metrics, in order.
METRIC_COLUMNS: tuple[str, ...] = tuple(CaseMetrics.__dataclass_fields__)


def evaluate_pair(reference: np.ndarray, prediction: np.ndarray, spacing_mm: Sequence[float], *,
                  engine: MetricEngine | None = None, nsd_tolerance_mm: float = NSD_TOLERANCE_MM,
                  connectivity: int = LESION_CONNECTIVITY) -> CaseMetrics:
    """Every per-case metric of two masks on one grid.

    Args:
        reference, prediction: masks (any dtype; non-zero is lesion) of one 3-D shape.
        spacing_mm: voxel edge lengths in mm, in the arrays' axis order (SimpleITK arrays: z, y, x).
        engine: where to compute (default: the CPU engine).
        nsd_tolerance_mm: tolerance τ of the normalised surface Dice, mm.
        connectivity: lesion connectivity, 6, 18 or 26.
    """
    engine = engine or CpuEngine()
    analysis = engine.analyse(_as_mask(reference), _as_mask(prediction), spacing_mm, connectivity)
    return CaseMetrics.from_analysis(analysis, spacing_mm, nsd_tolerance_mm)


def _as_mask(array: np.ndarray) -> np.ndarray:
    """Boolean view of a mask (no copy when it already is boolean)."""
    array = np.asarray(array)
    return array if array.dtype == np.bool_ else array != 0
