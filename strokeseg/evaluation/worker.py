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
from strokeseg.io import read_array
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
    """Evaluate one case from its files; the row of ``per_case.csv`` (status ``ok`` or the problem)."""
    row: dict[str, Any] = {"model": task.model, "case_id": task.case_id, "status": STATUS_OK, "note": "",
                           "reference_file": str(task.reference), "prediction_file": str(task.prediction)}
    try:
        reference_map, reference_grid = read_array(task.reference, "reference")
        prediction_map, prediction_grid = read_array(task.prediction, "prediction")
    except InputDataError as error:
        return {**row, "status": STATUS_UNREADABLE, "note": str(error)}
    differences = reference_grid.differences(prediction_grid, settings.grid_tolerance_mm)
    if differences:
        return {**row, "status": STATUS_GRID_MISMATCH,
                "note": "prediction grid differs from the reference (not resampled): " + "; ".join(differences)}
    try:
        reference = lesion_mask(reference_map, settings.labels, settings.ignore_label)
        prediction = lesion_mask(prediction_map, settings.labels, settings.ignore_label)
    except InputDataError as error:
        return {**row, "status": STATUS_UNREADABLE, "note": f"{error}"}
    if settings.ignore_label is not None:
        ignored = reference_map == settings.ignore_label
        prediction &= ~ignored
    spacing_zyx = tuple(reversed(reference_grid.spacing))
    engine = select_engine(settings.device)
    analysis = engine.analyse(reference, prediction, spacing_zyx, settings.connectivity)
    row.update(CaseMetrics.from_analysis(analysis, spacing_zyx, settings.nsd_tolerance_mm).as_row())
    if task.probabilities:
        try:
            row.update(_probability_metrics(task.probabilities, reference, prediction, settings))
        except InputDataError as error:
            return {**row, "status": STATUS_UNREADABLE, "note": str(error)}
    return row


def _probability_metrics(files: Sequence[Path], reference: np.ndarray, prediction: np.ndarray,
                         settings: EvaluationSettings) -> dict[str, Any]:
    members = [read_foreground_probability(path, reference.shape) for path in files]
    mean = members[0] if len(members) == 1 else ensemble_mean_probability(members)
    best_dice, threshold = max_dice(mean, reference)
    index = uncertainty_index(mean, prediction, settings.uncertainty_divergence_threshold,
                              settings.uncertainty_prior)
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
