"""Evaluating case files: read, check the grid, binarise, compute the metrics — one case per call.

``evaluate_case_files`` runs in the worker processes of ``strokeseg evaluate -j N`` (files are read in the
workers, so reading scales with the processes too); ``run_case_tasks`` distributes the cases with a
process pool and a progress bar. Problems of one case (unreadable file, different grid, bad probability
map) become that case's ``status`` and ``note`` instead of stopping the run; the caller decides whether
they are fatal (``--strict``).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

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
from strokeseg.evaluation.inputs import PROBABILITY_KEY
from strokeseg.evaluation.probability import (
    check_probability,
    ensemble_mean_probability,
    foreground_probability,
    max_dice,
    uncertainty_index,
)
from strokeseg.io import read_array

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


def lesion_mask(label_map: np.ndarray, labels: Sequence[int] | None, ignore_label: int | None) -> np.ndarray:
    """Boolean lesion mask of a label map: voxels with a value in ``labels`` (None: > 0, ignore label excluded).

    Raises:
        InputDataError: the map holds non-integer values (e.g. probabilities instead of labels).
    """
    if np.issubdtype(label_map.dtype, np.floating) and not np.array_equal(label_map, np.round(label_map)):
        raise InputDataError("holds non-integer values; expected a label map (0 = background)")
    if labels is not None:
        return np.isin(label_map, np.asarray(labels))
    mask = label_map > 0
    if ignore_label is not None:
        mask &= label_map != ignore_label
    return mask


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


def read_foreground_probability(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Foreground probability (z, y, x) of one nnU-Net ``.npz`` file, checked against the label map's ``shape``."""
    if not path.is_file():
        raise InputDataError(f"probability map {path} does not exist (predict with --save_probabilities)")
    try:
        with np.load(path) as archive:
            if PROBABILITY_KEY not in archive:
                raise InputDataError(f"probability map {path} has no {PROBABILITY_KEY!r} array "
                                     f"(keys: {', '.join(archive.files)})")
            probabilities = archive[PROBABILITY_KEY]
    except (OSError, ValueError) as error:
        raise InputDataError(f"probability map {path} could not be read ({error})") from None
    if probabilities.ndim != 4 or probabilities.shape[1:] != shape:
        raise InputDataError(f"probability map {path} has shape {probabilities.shape}; expected (C, "
                             f"{', '.join(map(str, shape))}) in the reference's (z, y, x) array order")
    foreground = foreground_probability(probabilities)
    try:
        check_probability(foreground)
    except ValueError as error:
        raise InputDataError(f"probability map {path}: {error}") from None
    return foreground


def empty_row(task_model: str, case_id: str, status: str, note: str, reference: Path | None = None,
              prediction: Path | None = None) -> dict[str, Any]:
    """The per-case row of a case that could not be evaluated (metrics NaN)."""
    row: dict[str, Any] = {"model": task_model, "case_id": case_id, "status": status, "note": note,
                           "reference_file": str(reference or ""), "prediction_file": str(prediction or "")}
    row.update({column: math.nan for column in METRIC_COLUMNS})
    return row


Item = TypeVar("Item")


def run_parallel(function: Callable[[Item], dict[str, Any]], items: Sequence[Item], jobs: int,
                 device: str = "cpu", description: str = "evaluating") -> list[dict[str, Any]]:
    """Apply ``function`` to every item with ``jobs`` worker processes and a progress bar; results in order.

    CUDA workers are started with ``spawn`` (CUDA cannot be used after ``fork``), CPU workers with ``fork``
    where it exists (no start-up imports; the parent has run no threaded computation at that point) and
    ``spawn`` elsewhere. Each worker process uses one thread for SimpleITK so that ``-j`` scales.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    progress = tqdm(total=len(items), desc=description, unit="case", disable=len(items) < 2, leave=False)
    if jobs == 1 or len(items) < 2:
        results = []
        for item in items:
            results.append(function(item))
            progress.update()
        progress.close()
        return results
    method = "spawn" if device == "cuda" or "fork" not in multiprocessing.get_all_start_methods() else "fork"
    ordered: list[dict[str, Any] | None] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context(method),
                             initializer=_single_threaded) as pool:
        futures = {pool.submit(function, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            ordered[futures[future]] = future.result()
            progress.update()
    progress.close()
    return [row for row in ordered if row is not None]


def _single_threaded() -> None:
    """Worker initialiser: one thread per process for SimpleITK and OpenMP, so that ``-j`` scales."""
    os.environ["OMP_NUM_THREADS"] = "1"
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
