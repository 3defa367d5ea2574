"""Running a whole evaluation: match cases, compute per-case metrics in parallel, stratify, write the report.

Report folder (``--out``):

* ``per_case.csv`` — one row per model and case (``status`` ``ok`` or the problem, ``note``, every metric,
  the stratum of every stratification, the files used);
* ``by_<stratification>.csv`` — statistics per stratum (one file per stratification);
* ``comparison.csv`` — paired tests between models and Mann–Whitney U tests between strata;
* ``volume_agreement.csv`` — Pearson, OLS, Bland–Altman and Lin's CCC of the volumes;
* ``learning_curve.csv`` — when two or more models have a training-set size, with ``learning_curve_fit.csv``
  (DSC against size and ln(size), slope p-value, R², plateau);
* ``group_tests.csv`` — ANOVA / Kruskal–Wallis over three or more strata or models, with post-hoc pairs;
* ``regressions.csv`` — DSC against log10 lesion voxel count and volume, and against the uncertainty index;
* ``certainty_curve.csv`` — with an uncertainty index: mean DSC of the most certain x % of cases;
* ``cohort.csv`` — the cohort characteristics table of cases.csv across the sets of ``cohort_by``;
* ``subregions.csv``, ``by_subregion.csv`` — with ventricle masks: periventricular and deep WMH Dice and volumes;
* ``summary.json`` — settings, inputs, counts, problems, overall statistics, the list of files; written
  last, so its presence marks a complete report;
* PNG plots (``bland_altman.png``, ``volume_scatter.png``, ``dice_by_<stratification>.png``,
  ``learning_curve.png``, ``dice_vs_lesion_size.png``, ``uncertainty_vs_dice.png``, ``certainty_curve.png``).

Tables of tests name the family of every p-value and hold the adjusted p beside the raw one.

Every file is written atomically; an existing report is only replaced with ``overwrite``.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg import __version__
from strokeseg.defaults import BLAND_ALTMAN_Z, LOCATION_MIN_FRACTION, PERIVENTRICULAR_DISTANCE_MM
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError
from strokeseg.evaluation import plots
from strokeseg.evaluation.analyses import (
    adjust_comparisons,
    certainty_curves,
    group_tests,
    learning_curve_fits,
    reader_comparisons,
    regressions,
    subregion_summary,
)
from strokeseg.evaluation.case_metrics import METRIC_COLUMNS
from strokeseg.evaluation.choices import DEFAULT_P_ADJUSTMENT, GROUP_TESTS, LOCATION_SOURCES, P_ADJUSTMENTS
from strokeseg.evaluation.cohort import cohort_table
from strokeseg.evaluation.derived_strata import derived_strata, values_by_case
from strokeseg.evaluation.inputs import PredictionSet, ReferenceSet
from strokeseg.evaluation.label_sources import label_volumes_ml
from strokeseg.evaluation.report import (
    ALL,
    OVERALL,
    BootstrapSettings,
    learning_curve,
    model_comparisons,
    stratum_comparisons,
    stratum_summary,
    volume_agreement_table,
)
from strokeseg.evaluation.strata import StrataSettings, Stratification, assign_strata
from strokeseg.evaluation.subregions import SUBREGION_COLUMNS, SubregionTask, subregion_row
from strokeseg.evaluation.worker import (
    PROBABILITY_COLUMNS,
    STATUS_EXTRA_PREDICTION,
    STATUS_MISSING_PREDICTION,
    STATUS_MISSING_REFERENCE,
    STATUS_OK,
    CaseTask,
    EvaluationSettings,
    empty_row,
    evaluate_case_files,
)
from strokeseg.io import atomic_path, image_files, write_json_atomic
from strokeseg.location.cache import (
    LocationAtlasId,
    LocationTask,
    current_atlas,
    locate,
    location_labels,
    pending_tasks,
    read_location_cache,
    require_location_atlas,
    write_location_cache,
)
from strokeseg.location.ventricles import VentricleTask, prepare_ventricle_folder, write_atlas_ventricles
from strokeseg.nnunet.probabilities import probability_file
from strokeseg.nnunet.raw import case_image
from strokeseg.parallel import run_parallel
from strokeseg.volumes import UNKNOWN

logger = logging.getLogger(__name__)

PER_CASE_FILE = "per_case.csv"
COMPARISON_FILE = "comparison.csv"
VOLUME_AGREEMENT_FILE = "volume_agreement.csv"
LEARNING_CURVE_FILE = "learning_curve.csv"
LEARNING_CURVE_FIT_FILE = "learning_curve_fit.csv"
GROUP_TESTS_FILE = "group_tests.csv"
REGRESSIONS_FILE = "regressions.csv"
CERTAINTY_CURVE_FILE = "certainty_curve.csv"
COHORT_FILE = "cohort.csv"
SUBREGIONS_FILE = "subregions.csv"
SUBREGION_SUMMARY_FILE = "by_subregion.csv"
#: cases.csv column whose values are the sets of the cohort table when ``cohort_by`` is not given.
DEFAULT_COHORT_COLUMN = "split"
SUMMARY_FILE = "summary.json"
LOCATION_CACHE_FILE = "locations.csv"
#: Folder of the atlas ventricle masks (``atlas_ventricles``) inside the report folder.
VENTRICLE_FOLDER = "ventricles"
#: ``status`` of a summary problem: the atlas could not locate a case (its location stratum is "unknown").
STATUS_LOCATION_FAILED = "location_failed"
#: ``model`` of a problem that concerns a case for every model (its location).
ALL_MODELS = "(all models)"
#: Files whose presence means a report exists in a folder.
REPORT_MARKERS: tuple[str, ...] = (PER_CASE_FILE, SUMMARY_FILE)


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything one ``strokeseg evaluate`` run needs.

    Attributes:
        reference: reference label maps.
        models: one or more prediction sets; the first is the baseline of the paired comparisons unless
            ``baseline`` names another.
        out: report folder.
        cases: the cases.csv table (``read_cases``), or None.
        settings: per-case settings (engine, tolerances, labels, uncertainty thresholds).
        strata: cut-offs of the derived strata.
        bootstrap: bootstrap of the confidence intervals.
        by: further cases.csv columns to stratify by.
        location: ``auto`` (cases.csv when it has locations, else none), ``cases``, ``atlas`` or ``none``.
        images_folder: case images for the atlas registration (default: the reference dataset's images).
        location_min_fraction: share of the lesion volume an atlas class needs to count.
        location_cache: cache of atlas locations (default ``<out>/locations.csv``).
        jobs: worker processes.
        strict: missing predictions, extra files, unreadable files and grid mismatches are errors.
        overwrite: replace an existing report.
        plots: write the PNG figures.
        baseline: model the others are compared with.
        loa_z: Bland–Altman limits in SDs.
        readers: names of the models that are second readers (compared with every other model, Mann–Whitney U).
        p_adjustment: multiple-comparison correction of every table of tests (holm, bonferroni, bh, none).
        group_test: omnibus test of three or more groups: auto (ANOVA when every group is normal), anova, kruskal.
        cohort_by: cases.csv column whose values are the sets of the cohort table (default: ``split`` when
            cases.csv has one); ``none`` writes no cohort table.
        infarct_labels: folder of infarct label maps, for infarct-volume strata of a WMH model (cases.csv's
            ``infarct_volume_ml`` column is used when this is None).
        inter_rater_dice: inter-rater DSC drawn as a reference line in the Dice plots, or None.
        ventricle_masks: folder of ventricle masks on the reference grids: periventricular / deep WMH subregions.
        atlas_ventricles: take the ventricles from the registered location atlas instead (written to
            ``<out>/ventricles``, reused by later runs; needs the case images like ``location="atlas"``).
        periventricular_mm: the periventricular region's distance from the ventricles (mm).
    """

    reference: ReferenceSet
    models: tuple[PredictionSet, ...]
    out: Path
    cases: pd.DataFrame | None = None
    settings: EvaluationSettings = field(default_factory=EvaluationSettings)
    strata: StrataSettings = field(default_factory=StrataSettings)
    bootstrap: BootstrapSettings = field(default_factory=BootstrapSettings)
    by: tuple[str, ...] = ()
    location: str = "auto"
    images_folder: Path | None = None
    location_min_fraction: float = LOCATION_MIN_FRACTION
    location_cache: Path | None = None
    jobs: int = 1
    strict: bool = False
    overwrite: bool = False
    plots: bool = True
    baseline: str | None = None
    loa_z: float = BLAND_ALTMAN_Z
    readers: tuple[str, ...] = ()
    p_adjustment: str = DEFAULT_P_ADJUSTMENT
    group_test: str = "auto"
    cohort_by: str | None = None
    infarct_labels: Path | None = None
    inter_rater_dice: float | None = None
    ventricle_masks: Path | None = None
    atlas_ventricles: bool = False
    periventricular_mm: float = PERIVENTRICULAR_DISTANCE_MM


@dataclass(frozen=True)
class EvaluationResult:
    """What a run produced: the per-case table, the summary written to summary.json, and the files."""

    per_case: pd.DataFrame
    summary: dict[str, Any]
    files: tuple[Path, ...]


def run_evaluation(request: EvaluationRequest) -> EvaluationResult:
    """Evaluate every model of ``request`` and write the report (see the module docstring).

    Raises:
        OutputExistsError: a report exists in ``out`` and ``overwrite`` is false.
        InputDataError: under ``strict``, any case problem (the message lists them).
        ConfigurationError: inconsistent options (duplicate model names, unknown baseline, ...).
    """
    started = time.perf_counter()
    _check_request(request)
    previous_files = _previous_report_files(request.out, request.overwrite)
    tasks, problem_rows = plan_tasks(request.reference, request.models)
    if request.strict and problem_rows:
        raise InputDataError(_problem_message(problem_rows, "case matching"))
    logger.info("evaluating %d prediction(s) of %d model(s) against %s with the %s engine, %d process(es)",
                len(tasks), len(request.models), request.reference.folder, request.settings.device, request.jobs)
    rows = run_parallel(functools.partial(evaluate_case_files, settings=request.settings), tasks, request.jobs,
                        request.settings.device, "evaluating")
    failed = [row for row in rows if row["status"] != STATUS_OK]
    if request.strict and failed:
        raise InputDataError(_problem_message(failed, "evaluation"))
    per_case = _per_case_table(rows + problem_rows)
    locations, location_problems, location_atlas = _locations(request, per_case)
    if request.strict and location_problems:
        raise InputDataError(_problem_message(location_problems, "atlas location"))
    strata_table, stratifications = assign_strata(
        _evaluated_case_ids(per_case, request.reference), _reference_volumes(per_case, request.reference),
        request.cases, request.by, locations, request.strata, case_locations=request.location in ("auto", "cases"))
    derived_table, derived = _derived_strata(request, per_case, strata_table["case_id"].tolist())
    strata_table = strata_table.merge(derived_table, on="case_id", how="left")
    stratifications = [*stratifications, *derived]
    per_case = per_case.merge(strata_table, on="case_id", how="left")
    per_case = per_case[_column_order(per_case, stratifications)]
    files = _write_report(request, per_case, stratifications)
    summary = _summary(request, per_case, stratifications, files, time.perf_counter() - started,
                       location_problems, location_atlas)
    files.append(write_json_atomic(request.out / SUMMARY_FILE, summary))
    _remove_stale(previous_files, files)
    return EvaluationResult(per_case, summary, tuple(files))


def _check_request(request: EvaluationRequest) -> None:
    if not request.models:
        raise ConfigurationError("no predictions to evaluate: give --predictions, --model or --models")
    names = [model.name for model in request.models]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigurationError(f"model name(s) {', '.join(duplicated)} used twice; name models with "
                                 "--model NAME=DIR")
    if request.baseline is not None and request.baseline not in names:
        raise ConfigurationError(f"--baseline {request.baseline!r} is not one of the models ({', '.join(names)})")
    if request.location not in LOCATION_SOURCES:
        raise ConfigurationError(f"--location must be one of {', '.join(LOCATION_SOURCES)}")
    if request.jobs < 1:
        raise ConfigurationError(f"-j/--workers must be at least 1, got {request.jobs}")
    unknown_readers = sorted(set(request.readers) - set(names))
    if unknown_readers:
        raise ConfigurationError(f"reader(s) {', '.join(unknown_readers)} are not among the evaluated models")
    if request.p_adjustment not in P_ADJUSTMENTS:
        raise ConfigurationError(f"--p-adjust must be one of {', '.join(P_ADJUSTMENTS)}")
    if request.group_test not in GROUP_TESTS:
        raise ConfigurationError(f"--group-test must be one of {', '.join(GROUP_TESTS)}")
    if request.cohort_by not in (None, "none") and (request.cases is None
                                                     or request.cohort_by not in request.cases.columns):
        raise ConfigurationError(f"--cohort-by {request.cohort_by}: no such column in cases.csv"
                                 + ("" if request.cases is not None else " (no cases.csv was given)"))
    columns = set() if request.cases is None else set(request.cases.columns)
    for column in request.by:
        if column not in columns:
            available = ", ".join(sorted(columns)) if request.cases is not None else "no cases.csv was given"
            raise ConfigurationError(f"--by {column}: no such column in cases.csv ({available})")
    if request.location == "cases" and not _has_cases_location(request):
        raise ConfigurationError("--location cases: cases.csv has no location values; use --location atlas "
                                 "with --images, or --location none")
    if request.atlas_ventricles and request.ventricle_masks is not None:
        raise ConfigurationError("ventricles come either from a folder of masks or from the atlas, not both")
    if request.location == "atlas" or request.atlas_ventricles:
        require_location_atlas()
        _atlas_images(request, "--ventricle-masks atlas" if request.location != "atlas" else "--location atlas")


def _atlas_images(request: EvaluationRequest, option: str = "--location atlas") -> Path:
    """The images the atlas registration reads (``--images``, else the reference dataset's)."""
    images = request.images_folder or request.reference.images_folder
    if images is None:
        raise ConfigurationError(f"{option} needs the case images for registration: pass --images DIR")
    return images


def _has_cases_location(request: EvaluationRequest) -> bool:
    return request.cases is not None and "location" in request.cases.columns and bool(
        request.cases["location"].notna().any())


def _previous_report_files(out: Path, overwrite: bool) -> list[Path]:
    """Files of an existing report in ``out`` (refused without ``overwrite``)."""
    existing = [out / name for name in REPORT_MARKERS if (out / name).exists()]
    if not existing:
        return []
    if not overwrite:
        raise OutputExistsError(f"{out} already holds a report ({', '.join(p.name for p in existing)}); "
                                "pass --overwrite to replace it or choose another --out")
    try:
        listed = json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        listed = []
    return [out / Path(name).name for name in listed]


def _remove_stale(previous: Sequence[Path], written: Sequence[Path]) -> None:
    """Delete files an earlier report wrote that this one did not (e.g. a dropped ``by_`` file)."""
    keep = {path.resolve() for path in written}
    for path in previous:
        if path.exists() and path.resolve() not in keep:
            path.unlink()
            logger.info("removed %s from the earlier report", path)


def plan_tasks(reference: ReferenceSet, models: Sequence[PredictionSet]) -> tuple[list[CaseTask], list[dict[str, Any]]]:
    """Match cases by ID: tasks for (model, case) pairs and per-case rows for every matching problem."""
    tasks: list[CaseTask] = []
    problems: list[dict[str, Any]] = []
    for model in models:
        expected = set(reference.files) if model.expected_cases is None else set(model.expected_cases)
        for case_id in sorted(expected - set(reference.files)):
            problems.append(empty_row(model.name, case_id, STATUS_MISSING_REFERENCE,
                                      f"case is a validation case of the model but has no reference in "
                                      f"{reference.folder}", prediction=model.files.get(case_id)))
        expected &= set(reference.files)
        for case_id in sorted(expected):
            if case_id not in model.files:
                problems.append(empty_row(model.name, case_id, STATUS_MISSING_PREDICTION,
                                          f"no prediction for this case in {model.source}",
                                          reference=reference.files[case_id]))
                continue
            probabilities = tuple(probability_file(folder, case_id) for folder in model.probability_folders)
            tasks.append(CaseTask(model.name, case_id, reference.files[case_id], model.files[case_id], probabilities))
        for case_id in sorted(set(model.files) - expected - {row["case_id"] for row in problems
                                                              if row["model"] == model.name}):
            problems.append(empty_row(model.name, case_id, STATUS_EXTRA_PREDICTION,
                                      "prediction without a reference case (extra file)",
                                      prediction=model.files[case_id]))
    return tasks, problems


def _problem_message(rows: Sequence[dict[str, Any]], stage: str, shown: int = 20) -> str:
    lines = [f"  {row['model']} / {row['case_id']}: {row['status']} — {row['note']}" for row in rows[:shown]]
    more = f"\n  ... and {len(rows) - shown} more" if len(rows) > shown else ""
    return (f"--strict: {len(rows)} case problem(s) during {stage}:\n" + "\n".join(lines) + more
            + "\nfix the inputs, or run without --strict to report them in per_case.csv and evaluate the rest")


def _per_case_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    for column in METRIC_COLUMNS:
        if column not in table.columns:
            table[column] = math.nan
    order = {name: index for index, name in enumerate(dict.fromkeys(table["model"]))}
    table["_model_order"] = table["model"].map(order)
    table = table.sort_values(["_model_order", "case_id"], kind="stable").drop(columns="_model_order")
    return table.reset_index(drop=True)


def _evaluated_case_ids(per_case: pd.DataFrame, reference: ReferenceSet) -> list[str]:
    """Reference cases that appear in the report (strata are assigned to these)."""
    return sorted(set(per_case["case_id"]) & set(reference.files))


def _reference_volumes(per_case: pd.DataFrame, reference: ReferenceSet) -> list[float]:
    ok = per_case[per_case["status"] == STATUS_OK].drop_duplicates("case_id").set_index("case_id")
    return [float(ok.at[case, "vol_ref_ml"]) if case in ok.index else math.nan
            for case in _evaluated_case_ids(per_case, reference)]


def _locations(request: EvaluationRequest, per_case: pd.DataFrame
               ) -> tuple[dict[str, str] | None, list[dict[str, Any]], LocationAtlasId | None]:
    """(atlas locations, problems, the atlas's name and version) when the atlas is the location source, else
    (None, [], None) (cases.csv or no location strata); a problem row (model ``ALL_MODELS``, status
    ``location_failed``) for every case the atlas could not locate."""
    if request.location != "atlas":
        if request.location == "auto" and not _has_cases_location(request):
            logger.info("no location strata: cases.csv has no location column (use --location atlas for the atlas)")
        return None, [], None
    images = _atlas_images(request)
    atlas = current_atlas()
    case_ids = _evaluated_case_ids(per_case, request.reference)
    volumes = dict(zip(case_ids, _reference_volumes(per_case, request.reference), strict=True))
    empty = {case for case, volume in volumes.items() if volume == 0}
    tasks = []
    problems: list[dict[str, Any]] = []
    for case in case_ids:
        image = case_image(images, case)
        if case in empty:
            continue
        if image is None:
            logger.warning("case %s: no image in %s for the atlas registration; location 'unknown'", case, images)
            problems.append(_location_problem(case, f"no image in {images} for the atlas registration "
                                                    f"({case}_0000.nii.gz or {case}.nii.gz)"))
            continue
        tasks.append(LocationTask(case, image, request.reference.files[case], request.location_min_fraction, atlas))
    cache_path = request.location_cache or request.out / LOCATION_CACHE_FILE
    cache = read_location_cache(cache_path)
    todo = pending_tasks(tasks, cache)
    logger.info("atlas locations: %d cached, %d to register", len(tasks) - len(todo), len(todo))
    for row in run_parallel(locate, todo, request.jobs, "cpu", "locating"):
        cache[row["case_id"]] = row
    if todo:
        write_location_cache(cache_path, cache)
    for task in tasks:
        cached = cache.get(task.case_id, {})
        if cached.get("note"):
            problems.append(_location_problem(task.case_id, str(cached["note"]), str(cached.get("location"))))
    return location_labels(case_ids, cache, empty), sorted(problems, key=lambda row: row["case_id"]), atlas


def _location_problem(case_id: str, note: str, location: str = UNKNOWN) -> dict[str, Any]:
    """A summary problem row of a case the atlas could not locate (or located with a failed registration QC)."""
    return {"model": ALL_MODELS, "case_id": case_id, "status": STATUS_LOCATION_FAILED,
            "note": f"atlas location {location!r}: {note}"}


def _derived_strata(request: EvaluationRequest, per_case: pd.DataFrame,
                    case_ids: list[str]) -> tuple[pd.DataFrame, list[Stratification]]:
    """Strata derived from the evaluated set: size quartiles, WMH tertiles, infarct volume, uncertainty."""
    ok = per_case[per_case["status"] == STATUS_OK]
    first = ok.drop_duplicates("case_id").set_index("case_id")
    voxels = values_by_case(case_ids, (first["tp"] + first["fn"]).to_dict())
    baseline = request.baseline or request.models[0].name
    uncertainty = None
    if "uncertainty_index" in ok.columns:
        mine = ok[ok["model"] == baseline].set_index("case_id")["uncertainty_index"]
        uncertainty = values_by_case(case_ids, mine.dropna().astype(float).to_dict())
    cases = request.cases.set_index(request.cases["case_id"].astype(str)) if request.cases is not None else None
    wmh = None
    if cases is not None and "wmh_volume_ml" in cases.columns:
        wmh = values_by_case(case_ids, cases["wmh_volume_ml"].dropna().astype(float).to_dict())
    infarct = None
    if request.infarct_labels is not None:
        infarct = values_by_case(case_ids, label_volumes_ml(request.infarct_labels, case_ids))
    elif cases is not None and "infarct_volume_ml" in cases.columns:
        infarct = values_by_case(case_ids, pd.to_numeric(cases["infarct_volume_ml"], errors="coerce").dropna()
                                 .to_dict())
    return derived_strata(case_ids, voxels, uncertainty, wmh, infarct, request.strata,
                          request.settings.uncertainty_review_cut)


def _subregions(request: EvaluationRequest, per_case: pd.DataFrame) -> pd.DataFrame:
    """Periventricular / deep WMH Dice and volumes of every evaluated prediction whose case has a ventricle mask."""
    ok = per_case[per_case["status"] == STATUS_OK]
    folder = _atlas_ventricles(request, sorted(set(ok["case_id"]))) if request.atlas_ventricles \
        else request.ventricle_masks
    assert folder is not None  # only called with ventricle masks or atlas ventricles
    ventricles = image_files(folder, "ventricle mask")
    tasks = [SubregionTask(row["model"], row["case_id"], Path(row["reference_file"]), Path(row["prediction_file"]),
                           ventricles[row["case_id"]], request.periventricular_mm, request.settings.labels,
                           request.settings.ignore_label)
             for row in ok.to_dict("records") if row["case_id"] in ventricles]
    missing = sorted(set(ok["case_id"]) - set(ventricles))
    if missing:
        logger.warning("%d evaluated case(s) have no ventricle mask in %s (no subregions): %s", len(missing),
                       folder, ", ".join(missing[:10]))
    rows = run_parallel(subregion_row, tasks, request.jobs, "cpu", "subregions")
    return pd.DataFrame(rows, columns=list(SUBREGION_COLUMNS))


def _atlas_ventricles(request: EvaluationRequest, case_ids: Sequence[str]) -> Path:
    """Write the atlas ventricles of ``case_ids`` to ``<out>/ventricles`` (masks already there are reused)."""
    images = _atlas_images(request, "--ventricle-masks atlas")
    atlas = current_atlas()
    folder = request.out / VENTRICLE_FOLDER
    prepare_ventricle_folder(folder, atlas)
    tasks = []
    for case in case_ids:
        image = case_image(images, case)
        if image is None:
            logger.warning("case %s: no image in %s for the atlas ventricles; no subregions", case, images)
        else:
            tasks.append(VentricleTask(case, image, folder / f"{case}.nii.gz", atlas))
    todo = [task for task in tasks if not task.is_done()]
    logger.info("atlas ventricles: %d reused, %d to register", len(tasks) - len(todo), len(todo))
    for row in run_parallel(write_atlas_ventricles, todo, request.jobs, "cpu", "ventricles"):
        if row["note"]:
            logger.warning("case %s: %s", row["case_id"], row["note"])
    return folder


def _cohort_column(request: EvaluationRequest) -> str | None:
    """The cases.csv column of the cohort table's sets, or None when there is no table to write."""
    if request.cohort_by == "none" or request.cases is None:
        return None
    column = request.cohort_by or DEFAULT_COHORT_COLUMN
    if column not in request.cases.columns or request.cases[column].dropna().nunique() < 2:
        return None
    return column


def _reference_lines(request: EvaluationRequest, per_case: pd.DataFrame) -> dict[str, float]:
    """Label -> DSC of the reference lines of the Dice plots: each reader's mean DSC and the given inter-rater DSC."""
    ok = per_case[per_case["status"] == STATUS_OK]
    lines = {f"{reader} (reader) mean DSC": float(ok.loc[ok["model"] == reader, "dice"].mean())
             for reader in request.readers}
    if request.inter_rater_dice is not None:
        lines["inter-rater DSC"] = request.inter_rater_dice
    return {label: value for label, value in lines.items() if not math.isnan(value)}


def _column_order(per_case: pd.DataFrame, stratifications: Sequence[Stratification]) -> list[str]:
    probability = [c for c in PROBABILITY_COLUMNS if c in per_case.columns]
    strata = [s.name for s in stratifications]
    first = ["model", "case_id", "status", "note", *METRIC_COLUMNS, *probability, *strata]
    return [*first, *[c for c in per_case.columns if c not in first]]


def stratum_file_name(stratification: Stratification) -> str:
    """``by_<name>.csv`` with characters outside [A-Za-z0-9_.-] replaced by ``_``."""
    return f"by_{re.sub(r'[^A-Za-z0-9_.-]+', '_', stratification.name)}.csv"


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path


def _write_report(request: EvaluationRequest, per_case: pd.DataFrame,
                  stratifications: Sequence[Stratification]) -> list[Path]:
    """Write every table and figure of the report; its independent parts run in ``request.jobs`` processes."""
    out = request.out
    out.mkdir(parents=True, exist_ok=True)
    files = [_write_csv(per_case, out / PER_CASE_FILE)]
    parts = _report_parts(request, per_case, stratifications)
    for written in run_parallel(_write_part, parts, request.jobs, "cpu", "writing the report", "part"):
        files.extend(written)
    if request.ventricle_masks is not None or request.atlas_ventricles:  # has its own worker processes
        subregions = _subregions(request, per_case)
        files.append(_write_csv(subregions, out / SUBREGIONS_FILE))
        files.append(_write_csv(subregion_summary(subregions, request.bootstrap), out / SUBREGION_SUMMARY_FILE))
    return files


ReportPart = Callable[[], list[Path]]


def _write_part(part: ReportPart) -> list[Path]:
    return part()


def _report_parts(request: EvaluationRequest, per_case: pd.DataFrame,
                  stratifications: Sequence[Stratification]) -> list[ReportPart]:
    """The report's independent parts, each writing its files and returning their paths; the costliest first
    (the tests), so that worker processes finish together."""
    strata = tuple(stratifications)
    parts: list[ReportPart] = [
        functools.partial(_write_comparisons, request, per_case, strata),
        functools.partial(_write_group_tests, request, per_case, strata),
        *(functools.partial(_write_stratum_summary, request, per_case, stratification) for stratification in strata),
        functools.partial(_write_regressions, request, per_case),
        functools.partial(_write_agreement, request, per_case, strata),
    ]
    if _has_learning_curve(request):
        parts.append(functools.partial(_write_learning_curve, request, per_case))
    if request.plots:
        parts.append(functools.partial(_write_volume_plots, request, per_case))
        lines = _reference_lines(request, per_case)
        parts += [functools.partial(_write_stratum_plot, per_case, stratification, request.out, lines)
                  for stratification in strata]
    return parts


def _write_comparisons(request: EvaluationRequest, per_case: pd.DataFrame,
                       stratifications: Sequence[Stratification]) -> list[Path]:
    """comparison.csv: paired tests of the models, tests between strata (and readers), p adjusted together."""
    tests = [model_comparisons(per_case, stratifications, request.baseline),
             stratum_comparisons(per_case, stratifications)]
    if request.readers:
        tests.append(reader_comparisons(per_case, request.readers, stratifications))
    comparisons = adjust_comparisons(pd.concat(tests, ignore_index=True), request.p_adjustment)
    return [_write_csv(comparisons, request.out / COMPARISON_FILE)]


def _write_group_tests(request: EvaluationRequest, per_case: pd.DataFrame,
                       stratifications: Sequence[Stratification]) -> list[Path]:
    table = group_tests(per_case, stratifications, request.group_test, request.p_adjustment)
    return [_write_csv(table, request.out / GROUP_TESTS_FILE)]


def _write_stratum_summary(request: EvaluationRequest, per_case: pd.DataFrame,
                           stratification: Stratification) -> list[Path]:
    table = stratum_summary(per_case, stratification, request.bootstrap)
    return [_write_csv(table, request.out / stratum_file_name(stratification))]


def _write_regressions(request: EvaluationRequest, per_case: pd.DataFrame) -> list[Path]:
    """regressions.csv and the certainty curves, with the figures drawn from them."""
    out = request.out
    regression_table = regressions(per_case, request.p_adjustment)
    files = [_write_csv(regression_table, out / REGRESSIONS_FILE)]
    curves = certainty_curves(per_case, request.settings.uncertainty_review_cut)
    if not curves.empty:
        files.append(_write_csv(curves, out / CERTAINTY_CURVE_FILE))
    if request.plots:
        files.append(plots.dice_vs_lesion_size_plot(per_case, regression_table, out / "dice_vs_lesion_size.png"))
        if not curves.empty:
            files.append(plots.uncertainty_vs_dice_plot(per_case, regression_table, out / "uncertainty_vs_dice.png"))
            files.append(plots.certainty_curve_plot(curves, out / "certainty_curve.png"))
    return files


def _write_agreement(request: EvaluationRequest, per_case: pd.DataFrame,
                     stratifications: Sequence[Stratification]) -> list[Path]:
    """The cohort table (when cases.csv names the sets) and volume_agreement.csv."""
    files = []
    cohort_column = _cohort_column(request)
    if cohort_column is not None and request.cases is not None:
        files.append(_write_csv(cohort_table(request.cases, cohort_column), request.out / COHORT_FILE))
    files.append(_write_csv(volume_agreement_table(per_case, stratifications, request.loa_z),
                            request.out / VOLUME_AGREEMENT_FILE))
    return files


def _write_learning_curve(request: EvaluationRequest, per_case: pd.DataFrame) -> list[Path]:
    curve = _learning_curve(request, per_case)
    assert curve is not None  # only a part when the models have two or more training-set sizes
    files = [_write_csv(curve[0], request.out / LEARNING_CURVE_FILE),
             _write_csv(learning_curve_fits(per_case, _curve_sizes(request), request.p_adjustment),
                        request.out / LEARNING_CURVE_FIT_FILE)]
    if request.plots:
        files.append(plots.learning_curve_plot(curve[0], curve[1], request.out / "learning_curve.png"))
    return files


def _write_volume_plots(request: EvaluationRequest, per_case: pd.DataFrame) -> list[Path]:
    return [plots.bland_altman_plot(per_case, request.out / "bland_altman.png", request.loa_z),
            plots.volume_scatter_plot(per_case, request.out / "volume_scatter.png")]


def _write_stratum_plot(per_case: pd.DataFrame, stratification: Stratification, out: Path,
                        reference_lines: dict[str, float]) -> list[Path]:
    name = stratum_file_name(stratification).removeprefix("by_").removesuffix(".csv")
    return [plots.metric_by_stratum_plot(per_case, stratification, out / f"dice_by_{name}.png",
                                         reference_lines=reference_lines)]


def _curve_sizes(request: EvaluationRequest) -> dict[str, int]:
    """Training cases by model name, of the models that give them."""
    return {m.name: m.training_cases for m in request.models if m.training_cases is not None}


def _has_learning_curve(request: EvaluationRequest) -> bool:
    """Whether two or more models give their training cases (a learning curve)."""
    return len(_curve_sizes(request)) >= 2


def _learning_curve(request: EvaluationRequest, per_case: pd.DataFrame) -> tuple[pd.DataFrame, dict] | None:
    if not _has_learning_curve(request):
        return None
    return learning_curve(per_case, _curve_sizes(request), request.bootstrap)


def _summary(request: EvaluationRequest, per_case: pd.DataFrame, stratifications: Sequence[Stratification],
             files: Sequence[Path], seconds: float, location_problems: Sequence[dict[str, Any]] = (),
             location_atlas: LocationAtlasId | None = None) -> dict[str, Any]:
    overall = stratum_summary(per_case, OVERALL, request.bootstrap)
    agreement = volume_agreement_table(per_case, [], request.loa_z)
    models = {}
    for model in request.models:
        rows = per_case[per_case["model"] == model.name]
        statistics = overall[overall["model"] == model.name]
        models[model.name] = {
            "source": str(model.source),
            "training_cases": model.training_cases,
            "probability_folders": [str(p) for p in model.probability_folders],
            "cases_by_status": {str(k): int(v) for k, v in rows["status"].value_counts().sort_index().items()},
            "overall": {row["metric"]: _clean({k: row[k] for k in overall.columns if k not in ("model", "stratum",
                                                                                                "metric")})
                        for _, row in statistics.iterrows()},
            "volume_agreement": _clean(agreement[agreement["model"] == model.name].iloc[0].drop(
                ["model", "stratification", "stratum"]).to_dict()),
        }
    problems = per_case[per_case["status"] != STATUS_OK][["model", "case_id", "status", "note"]]
    cases_without_row = []
    if request.cases is not None:
        known = set(request.cases["case_id"].astype(str))
        cases_without_row = sorted(set(_evaluated_case_ids(per_case, request.reference)) - known)
        if cases_without_row:
            logger.warning("%d evaluated case(s) have no row in cases.csv (strata 'unknown'): %s",
                           len(cases_without_row), ", ".join(cases_without_row[:10]))
    curve = _learning_curve(request, per_case)
    return {
        "strokeseg_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "definitions": "docs/evaluation.md, Definitions",
        "engine": request.settings.device,
        "seconds": round(seconds, 3),
        "settings": {**_clean(asdict(request.settings)), **_clean(asdict(request.strata)),
                     "bootstrap": asdict(request.bootstrap), "bland_altman_z": request.loa_z,
                     "location": request.location, "location_min_fraction": request.location_min_fraction,
                     "location_atlas": None if location_atlas is None else location_atlas.name,
                     "location_atlas_version": None if location_atlas is None else location_atlas.version,
                     "jobs": request.jobs, "strict": request.strict, "p_adjustment": request.p_adjustment,
                     "group_test": request.group_test, "cohort_by": _cohort_column(request),
                     "infarct_labels": str(request.infarct_labels or ""), "readers": list(request.readers),
                     "inter_rater_dice": request.inter_rater_dice,
                     "ventricle_masks": "atlas" if request.atlas_ventricles else str(request.ventricle_masks or ""),
                     "periventricular_mm": request.periventricular_mm},
        "reference": {"folder": str(request.reference.folder), "cases": len(request.reference.files),
                      "dataset": str(request.reference.dataset_folder or ""),
                      "ignore_label": request.reference.ignore_label},
        "models": models,
        "baseline": request.baseline or request.models[0].name,
        "stratifications": [{"name": s.name, "levels": list(s.levels), "source": s.source,
                             "file": stratum_file_name(s)} for s in stratifications],
        "learning_curve": None if curve is None else {"points": curve[0].to_dict("records"), "fit": curve[1]},
        "cases_without_cases_csv_row": cases_without_row,
        "problems": problems.to_dict("records") + list(location_problems),
        "files": [path.name for path in files] + [SUMMARY_FILE],
        "overall_stratum": ALL,
    }


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly: NaN -> None, numpy scalars -> Python, tuples -> lists."""
    cleaned = {}
    for key, value in values.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, tuple):
            value = list(value)
        cleaned[key] = value
    return cleaned
