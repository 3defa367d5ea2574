"""WMH subregions: periventricular and deep (subcortical) WMH (definitions: docs/evaluation.md, "WMH subregions").

Kim et al. report DSC and volumes of periventricular and deep WMH separately. The periventricular region is
every voxel whose centre lies within ``distance_mm`` (default 10 mm) of the nearest ventricle voxel centre
(Euclidean, with the voxel spacing), the ventricles included; the deep region is every other voxel. Both
masks are cut into the two regions and scored in each: Dice (both empty: 1.0) and the reference and predicted
volumes in mL. The ventricles come from a given mask per case (``--ventricle-masks``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from strokeseg.defaults import GRID_TOLERANCE_MM, PERIVENTRICULAR_DISTANCE_MM
from strokeseg.errors import InputDataError
from strokeseg.evaluation.overlap import ConfusionCounts, dice
from strokeseg.io import read_array
from strokeseg.labels import lesion_mask
from strokeseg.volumes import voxel_volume_ml

SUBREGIONS: tuple[str, ...] = ("periventricular", "deep")
#: Per-case columns of the subregion table (one row per model and case with a ventricle mask).
SUBREGION_COLUMNS: tuple[str, ...] = (
    "model", "case_id", "status", "note", "distance_mm",
    *(f"{metric}_{region}" for region in SUBREGIONS for metric in ("dice", "vol_ref_ml", "vol_pred_ml")),
)


def periventricular_region(ventricles: np.ndarray, spacing_zyx_mm: Sequence[float],
                           distance_mm: float = PERIVENTRICULAR_DISTANCE_MM) -> np.ndarray:
    """Voxels within ``distance_mm`` of a ventricle voxel (centre to centre, in mm); no ventricle: none."""
    if distance_mm < 0:
        raise ValueError(f"the periventricular distance must be ≥ 0 mm, got {distance_mm}")
    ventricles = np.asarray(ventricles, dtype=bool)
    if not ventricles.any():
        return np.zeros(ventricles.shape, dtype=bool)
    distance = ndimage.distance_transform_edt(~ventricles, sampling=tuple(float(s) for s in spacing_zyx_mm))
    return np.asarray(distance <= distance_mm)


def subregion_metrics(reference: np.ndarray, prediction: np.ndarray, ventricles: np.ndarray,
                      spacing_zyx_mm: Sequence[float],
                      distance_mm: float = PERIVENTRICULAR_DISTANCE_MM) -> dict[str, float]:
    """Dice and reference / predicted volumes (mL) of the two masks inside each subregion."""
    near = periventricular_region(ventricles, spacing_zyx_mm, distance_mm)
    voxel_ml = voxel_volume_ml(spacing_zyx_mm)
    reference, prediction = np.asarray(reference, dtype=bool), np.asarray(prediction, dtype=bool)
    values = {}
    for region, inside in zip(SUBREGIONS, (near, ~near), strict=True):
        r, p = reference & inside, prediction & inside
        values[f"dice_{region}"] = dice(ConfusionCounts(int(np.count_nonzero(r & p)), int(np.count_nonzero(p & ~r)),
                                                        int(np.count_nonzero(r & ~p))))
        values[f"vol_ref_ml_{region}"] = float(np.count_nonzero(r)) * voxel_ml
        values[f"vol_pred_ml_{region}"] = float(np.count_nonzero(p)) * voxel_ml
    return values


@dataclass(frozen=True)
class SubregionTask:
    """One model's prediction of one case, with the case's ventricle mask."""

    model: str
    case_id: str
    reference: Path
    prediction: Path
    ventricles: Path
    distance_mm: float
    labels: tuple[int, ...] | None
    ignore_label: int | None


def subregion_row(task: SubregionTask) -> dict[str, Any]:
    """The subregion row of a task (status ``ok``, or ``unreadable`` with the problem in ``note``)."""
    row: dict[str, Any] = {"model": task.model, "case_id": task.case_id, "status": "ok", "note": "",
                           "distance_mm": task.distance_mm}
    try:
        reference_map, grid = read_array(task.reference, f"reference of case {task.case_id}")
        prediction_map, _ = read_array(task.prediction, f"prediction of case {task.case_id}")
        ventricle_map, ventricle_grid = read_array(task.ventricles, f"ventricle mask of case {task.case_id}")
        problems = grid.differences(ventricle_grid, GRID_TOLERANCE_MM)
        if problems:
            raise InputDataError(f"ventricle mask {task.ventricles} is not on the reference's grid "
                                 f"({'; '.join(problems)}); resample it to the reference first")
        ignore = reference_map == task.ignore_label if task.ignore_label is not None else None
        reference = lesion_mask(reference_map, task.labels, task.ignore_label)
        prediction = lesion_mask(prediction_map, task.labels, task.ignore_label)
        if ignore is not None:
            prediction &= ~ignore
        spacing_zyx = tuple(reversed(grid.spacing))
        row.update(subregion_metrics(reference, prediction, ventricle_map > 0, spacing_zyx, task.distance_mm))
    except InputDataError as error:
        row.update({"status": "unreadable", "note": str(error)})
        row.update({column: math.nan for column in SUBREGION_COLUMNS[5:]})
    return row
