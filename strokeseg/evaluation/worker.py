"""Evaluating case files: read, check the grid, binarise, compute the metrics — one case per call.

``evaluate_case_files`` runs in the worker processes of ``strokeseg evaluate -j N`` (files are read in the
workers, so reading scales with the processes too); :func:`strokeseg.parallel.run_parallel` distributes
the cases with a process pool and a progress bar. Problems of one case (unreadable file, different grid, bad
probability map) become that case's ``status`` and ``note`` instead of stopping the run; the caller decides
whether they are fatal (``--strict``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from strokeseg.defaults import (
    ENSEMBLE_LABEL_THRESHOLD,
    GRID_TOLERANCE_MM,
    LESION_CONNECTIVITY,
    NSD_TOLERANCE_MM,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
    UNCERTAINTY_REVIEW_CUT,
)
from strokeseg.errors import InputDataError
from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, CaseMetrics
from strokeseg.evaluation.engines import select_engine
from strokeseg.evaluation.probability import ensemble_mean_probability, max_dice, uncertainty_index
from strokeseg.grids import on_reference_grid, same_voxel_centres
from strokeseg.io import Geometry, read_array
from strokeseg.labels import lesion_mask
from strokeseg.nnunet.probabilities import read_foreground_probability

logger = logging.getLogger(__name__)

#: ``status`` of a case that was evaluated.
STATUS_OK = "ok"
#: ``status`` values of cases that were not evaluated (reported case by case, failures under --strict).
STATUS_MISSING_PREDICTION = "missing_prediction"
STATUS_EXTRA_PREDICTION = "extra_prediction"
STATUS_MISSING_REFERENCE = "missing_reference"
STATUS_GRID_MISMATCH = "grid_mismatch"
STATUS_UNREADABLE = "unreadable"
STATUS_ENSEMBLE_MISMATCH = "ensemble_mismatch"
#: ``note`` of a case whose prediction was reoriented onto the reference grid.
REORIENTED_NOTE = ("prediction reoriented onto the reference grid (the same voxels stored in another axis order or "
                   "direction)")
#: Columns added when probability maps are evaluated.
PROBABILITY_COLUMNS: tuple[str, ...] = ("max_dice", "max_dice_threshold", "uncertainty_index", "needs_review")


@dataclass(frozen=True)
class EvaluationSettings:
    """Per-case settings shared by all workers (picklable).

    Attributes:
        device: engine spec for :func:`select_engine`, already resolved (``cpu``, ``cuda``, ``torch:cpu``).
        nsd_tolerance_mm: τ of the normalised surface Dice.
        connectivity: lesion connectivity (6, 18, 26).
        grid_tolerance_mm: spacing/origin tolerance (mm) and direction-cosine tolerance of the grid check.
        labels: label values that count as lesion (None: every value > 0 except the ignore label).
        ignore_label: reference value whose voxels are removed from both masks before scoring.
        uncertainty_divergence_threshold, uncertainty_prior, uncertainty_review_cut: uncertainty index.
    """

    device: str = "cpu"
    nsd_tolerance_mm: float = NSD_TOLERANCE_MM
    connectivity: int = LESION_CONNECTIVITY
    grid_tolerance_mm: float = GRID_TOLERANCE_MM
    labels: tuple[int, ...] | None = None
    ignore_label: int | None = None
    uncertainty_divergence_threshold: float = UNCERTAINTY_DIVERGENCE_THRESHOLD
    uncertainty_prior: float = UNCERTAINTY_PRIOR
    uncertainty_review_cut: float = UNCERTAINTY_REVIEW_CUT


@dataclass(frozen=True)
class CaseTask:
    """One (model, case) pair to evaluate; ``probabilities``: the case's ``.npz`` of each ensemble member."""

    model: str
    case_id: str
    reference: Path
    prediction: Path
    probabilities: tuple[Path, ...] = ()


def evaluate_case_files(task: CaseTask, settings: EvaluationSettings) -> dict[str, Any]:
    """Evaluate one case from its files; the row of ``per_case.csv`` (status ``ok`` or the problem).

    A prediction on the reference's voxels in another axis order or direction is reoriented onto the
    reference grid first (exactly, as the converters do; the note says so); any other grid difference is
    ``grid_mismatch``, never a voxel-by-voxel comparison.
    """
    row: dict[str, Any] = {"model": task.model, "case_id": task.case_id, "status": STATUS_OK, "note": "",
                           "reference_file": str(task.reference), "prediction_file": str(task.prediction)}
    try:
        reference_map, reference_grid = read_array(task.reference, "reference")
        prediction_map, prediction_grid = read_array(task.prediction, "prediction")
    except InputDataError as error:
        return {**row, "status": STATUS_UNREADABLE, "note": str(error)}
    differences = reference_grid.differences(prediction_grid, settings.grid_tolerance_mm)
    reoriented = bool(differences) and same_voxel_centres(prediction_grid, reference_grid, settings.grid_tolerance_mm)
    if differences and not reoriented:
        return {**row, "status": STATUS_GRID_MISMATCH,
                "note": f"prediction grid differs from the reference (not resampled): prediction {task.prediction} "
                        f"vs reference {task.reference}: " + "; ".join(differences)}
    if reoriented:
        prediction_map, _ = on_reference_grid(prediction_map, prediction_grid, reference_grid, "prediction",
                                              "reference", settings.grid_tolerance_mm)
        row["note"] = REORIENTED_NOTE
    try:
        reference = _lesion_mask(reference_map, task.reference, "reference", settings)
        prediction = _lesion_mask(prediction_map, task.prediction, "prediction", settings)
    except InputDataError as error:
        return {**row, "status": STATUS_UNREADABLE, "note": str(error)}
    ignored = None if settings.ignore_label is None else reference_map == settings.ignore_label
    if ignored is not None:
        prediction &= ~ignored
    spacing_zyx = tuple(reversed(reference_grid.spacing))
    engine = select_engine(settings.device)
    analysis = engine.analyse(reference, prediction, spacing_zyx, settings.connectivity)
    row.update(CaseMetrics.from_analysis(analysis, spacing_zyx, settings.nsd_tolerance_mm).as_row())
    if task.probabilities:
        try:
            members = [_on_grid(read_foreground_probability(path, tuple(reversed(prediction_grid.size))),
                                prediction_grid, reference_grid, reoriented, settings)
                       for path in task.probabilities]
            row.update(probability_metrics(members, reference, prediction, prediction_map > 0, ignored, settings))
        except EnsembleMismatchError as error:
            return {**row, "status": STATUS_ENSEMBLE_MISMATCH, "note": f"prediction {task.prediction}: {error}"}
        except InputDataError as error:
            return {**row, "status": STATUS_UNREADABLE, "note": str(error)}
    return row


def _lesion_mask(label_map: np.ndarray, path: Path, what: str, settings: EvaluationSettings) -> np.ndarray:
    try:
        return lesion_mask(label_map, settings.labels, settings.ignore_label)
    except InputDataError as error:
        raise InputDataError(f"{what} {path} {error}") from None


def _on_grid(array: np.ndarray, grid: Geometry, reference_grid: Geometry, reorient: bool,
             settings: EvaluationSettings) -> np.ndarray:
    """A probability map in the prediction's array order moved onto the reference grid with the prediction."""
    if not reorient:
        return array
    return on_reference_grid(array, grid, reference_grid, "probability map", "reference",
                             settings.grid_tolerance_mm)[0]


class EnsembleMismatchError(InputDataError):
    """The evaluated label map is not the soft-voting segmentation of the ensemble's probability maps."""


def probability_metrics(members: Sequence[np.ndarray], reference: np.ndarray, prediction: np.ndarray,
                        predicted_labels: np.ndarray, ignored: np.ndarray | None,
                        settings: EvaluationSettings) -> dict[str, Any]:
    """max_dice, its threshold, the uncertainty index and needs_review of one case (docs/evaluation.md).

    One definition of an ensemble (soft voting, Kim et al.): p̄ is the mean of the members' foreground
    probabilities, its segmentation is p̄ ≥ ENSEMBLE_LABEL_THRESHOLD, and ``max_dice`` and the uncertainty
    index are computed on p̄. With two or more members the evaluated labels must be that segmentation.

    Args:
        members: the members' foreground probabilities on the reference grid (z, y, x).
        reference: the reference lesion mask.
        prediction: the evaluated lesion mask P of the uncertainty index (ignore-label voxels removed).
        predicted_labels: voxels the evaluated label map marks with any label > 0.
        ignored: voxels of the reference's ignore label (removed before ``max_dice``), or None.
        settings: the uncertainty settings.

    Raises:
        EnsembleMismatchError: two or more members and ``predicted_labels`` differ from p̄ ≥ the threshold.
    """
    mean = ensemble_mean_probability(members)
    if len(members) > 1:
        differing = int(np.count_nonzero((mean >= ENSEMBLE_LABEL_THRESHOLD) != predicted_labels))
        if differing:
            raise EnsembleMismatchError(
                f"the prediction differs in {differing} voxel(s) from the soft-voting segmentation of the "
                f"{len(members)} probability maps (mean probability ≥ {ENSEMBLE_LABEL_THRESHOLD}); it was made "
                "otherwise (nnU-Net averages logits). Evaluate the folder 'strokeseg uncertainty --members ...' "
                "writes, whose labels are that segmentation")
    scored = np.ones(mean.shape, dtype=bool) if ignored is None else ~ignored
    best_dice, threshold = max_dice(mean[scored], reference[scored])
    index = uncertainty_index(mean, prediction, settings.uncertainty_divergence_threshold, settings.uncertainty_prior)
    review = "" if math.isnan(index) else ("yes" if index > settings.uncertainty_review_cut else "no")
    return {"max_dice": best_dice, "max_dice_threshold": threshold, "uncertainty_index": index,
            "needs_review": review}


def empty_row(task_model: str, case_id: str, status: str, note: str, reference: Path | None = None,
              prediction: Path | None = None) -> dict[str, Any]:
    """The per-case row of a case that could not be evaluated (metrics NaN)."""
    row: dict[str, Any] = {"model": task_model, "case_id": case_id, "status": status, "note": note,
                           "reference_file": str(reference or ""), "prediction_file": str(prediction or "")}
    row.update({column: math.nan for column in METRIC_COLUMNS})
    return row
