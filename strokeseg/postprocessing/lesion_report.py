"""Per-case lesion report (``strokeseg report``): what lesion-segmentation tools give clinicians, per case.

Report folder:

* ``report.csv`` — one row per case (:data:`CASE_REPORT_COLUMNS`, plus reference metrics when references
  are given): total lesion volume (mL), number of lesions, largest lesion, case location class, registration
  QC, the location atlas's name and version, uncertainty index and review flag (from ``strokeseg uncertainty``),
  the QC figure;
* ``lesions.csv`` — one row per lesion (connected component, largest first; :data:`LESION_COLUMNS`): volume
  (mL), location class (the rule of docs/location.md applied to that lesion), centre in scanner coordinates
  (mm, LPS), and with references whether it overlaps a reference lesion;
* ``qc/CASE.png`` — axial, coronal and sagittal slices through the largest lesion, prediction (red) and
  reference (green) outlines over the case image (channel 0, the DWI in the DWI datasets).

Locations come from the location atlas (MNI registration, ``strokeseg.location.lookup.locate_case``);
``location=False`` skips the registration (location "not computed").

Resuming: every finished case is recorded in ``.partial/CASE.json`` (keyed by the sizes and modification
times of its files and the settings); a run that finds no ``report.csv`` reuses the records whose key still
matches, so an interrupted run continues where it stopped. The records are removed once the report is written.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.defaults import LESION_CONNECTIVITY, LOCATION_MIN_FRACTION
from strokeseg.errors import ConfigurationError, GeometryError, InputDataError, OutputExistsError, StrokesegError
from strokeseg.evaluation import evaluate_pair
from strokeseg.io import Geometry, atomic_path, image_files, read_image, write_json_atomic
from strokeseg.labels import read_lesion_mask_on_grid
from strokeseg.lesions import label_lesions
from strokeseg.location.lookup import LOCATION_UNKNOWN, LocationAtlas, load_location_atlas, locate_case
from strokeseg.nnunet.raw import case_image
from strokeseg.parallel import run_parallel
from strokeseg.postprocessing.qc_figure import write_qc_png
from strokeseg.postprocessing.uncertainty import (
    STATUS_OK,
    STATUS_UNREADABLE,
    UNCERTAINTY_FILE,
    read_uncertainty_table,
)
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)

REPORT_FILE = "report.csv"
LESIONS_FILE = "lesions.csv"
QC_FOLDER = "qc"
#: Per-case records of an unfinished run (removed when the report is complete).
PARTIAL_FOLDER = ".partial"
#: Location value when the atlas lookup was not requested.
LOCATION_NOT_COMPUTED = "not computed"

#: ``status`` of a reported case: ``STATUS_OK``, ``STATUS_UNREADABLE`` (shared with ``uncertainty.csv``) or one of
#: the values below, which name the problem that kept a case out (``note`` says more).
STATUS_GRID_MISMATCH = "grid_mismatch"
STATUS_MISSING_FILE = "missing_file"

CASE_REPORT_COLUMNS: tuple[str, ...] = ("case_id", "status", "note", "total_volume_ml", "n_lesions",
                                        "largest_lesion_ml", "location", "registration_qc", "registration_ok",
                                        "location_atlas", "location_atlas_version", "uncertainty_index", "flagged",
                                        "qc_png", "prediction_file", "image_file")
#: Extra case columns when references are given.
REFERENCE_COLUMNS: tuple[str, ...] = ("reference_volume_ml", "n_reference_lesions", "dice", "lesion_f1",
                                      "lesion_tp", "lesion_fp", "lesion_fn")
LESION_COLUMNS: tuple[str, ...] = ("case_id", "lesion_index", "volume_ml", "location", "centre_x_mm",
                                   "centre_y_mm", "centre_z_mm", "overlaps_reference")


@dataclasses.dataclass(frozen=True)
class LesionRecord:
    """One predicted lesion: rank (1 = largest), volume (mL), location class, centre (mm, LPS), overlap."""

    lesion_index: int
    volume_ml: float
    location: str
    centre_mm: tuple[float, float, float]
    overlaps_reference: bool | None


def lesion_records(prediction: np.ndarray, geometry: Geometry, *, reference: np.ndarray | None = None,
                   locations: Sequence[str] | None = None,
                   connectivity: int = LESION_CONNECTIVITY) -> list[LesionRecord]:
    """The lesions (components, largest first) of a predicted mask (pure computation, no files).

    Args:
        prediction: boolean lesion mask (z, y, x).
        geometry: its grid (for volumes and scanner coordinates).
        reference: reference mask on the same grid (sets ``overlaps_reference``).
        locations: location class of each lesion, largest first (``LesionLocation.label`` order of
            ``locate_case``); None: "not computed".
        connectivity: 6, 18 or 26.
    """
    labels, count = label_lesions(prediction, connectivity)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    order = np.argsort(-sizes, kind="stable") + 1
    if locations is not None and len(locations) != count:
        raise ValueError(f"{len(locations)} locations for {count} lesions")
    centres = ndimage.center_of_mass(np.ones_like(labels, dtype=np.uint8), labels, list(order)) if count else []
    overlaps = None
    if reference is not None:
        overlaps = np.zeros(count + 1, dtype=bool)
        overlaps[labels[np.asarray(reference, dtype=bool)]] = True
    image = sitk.Image([int(s) for s in geometry.size], sitk.sitkUInt8)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    voxel_ml = voxel_volume_ml(geometry.spacing)
    records = []
    for rank, (label, centre_zyx) in enumerate(zip(order, centres, strict=True), start=1):
        point = image.TransformContinuousIndexToPhysicalPoint([float(c) for c in reversed(centre_zyx)])
        records.append(LesionRecord(
            lesion_index=rank, volume_ml=float(sizes[label - 1]) * voxel_ml,
            location=LOCATION_NOT_COMPUTED if locations is None else locations[rank - 1],
            centre_mm=(float(point[0]), float(point[1]), float(point[2])),
            overlaps_reference=None if overlaps is None else bool(overlaps[label])))
    return records


@dataclasses.dataclass(frozen=True)
class ReportRequest:
    """Inputs and options of one ``strokeseg report`` run.

    Attributes:
        predictions_dir: label maps ``CASE.nii.gz`` (an nnUNetv2_predict or strokeseg output folder).
        images_dir: case images (``CASE_0000.nii.gz`` nnU-Net style, or ``CASE.nii.gz``).
        out_dir: report folder.
        references_dir: reference masks ``CASE.nii.gz`` (optional).
        uncertainty_csv: ``uncertainty.csv`` of ``strokeseg uncertainty`` (default: the one in
            ``predictions_dir``, when that folder is a ``strokeseg uncertainty`` output).
        case_ids: report only these cases (default: every prediction).
        location: locate lesions with the location atlas (MNI registration, seconds per case).
        atlas: a loaded location atlas (default: loaded from the cache when ``location``).
        min_fraction: the location rule's class threshold (docs/location.md).
        connectivity: lesion connectivity.
        overwrite: replace an existing report.
        jobs: worker processes (cases in parallel; the registration dominates the time).
        strict: raise InputDataError after writing the report when any case could not be reported.
    """

    predictions_dir: Path
    images_dir: Path
    out_dir: Path
    references_dir: Path | None = None
    uncertainty_csv: Path | None = None
    case_ids: tuple[str, ...] = ()
    location: bool = True
    atlas: LocationAtlas | None = None
    min_fraction: float = LOCATION_MIN_FRACTION
    connectivity: int = LESION_CONNECTIVITY
    overwrite: bool = False
    jobs: int = 1
    strict: bool = False


def run_report(request: ReportRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the report folder (module docstring); returns (report.csv table, lesions.csv table).

    A case whose files are missing, damaged, off the image grid or not label maps is reported with that
    ``status`` and a ``note`` naming the file; the other cases are reported as usual.

    Raises:
        OutputExistsError: a report exists and ``overwrite`` is false (checked before any work).
        InputDataError: a requested case has no prediction; under ``strict``, any case problem (after the
            report is written).
    """
    out = request.out_dir
    if request.jobs < 1:
        raise ConfigurationError(f"-j/--workers must be at least 1, got {request.jobs}")
    existing = [name for name in (REPORT_FILE, LESIONS_FILE) if (out / name).exists()]
    if existing and not request.overwrite:
        raise OutputExistsError(f"{out} already holds a report ({', '.join(existing)}); pass --overwrite to replace it")
    predictions = image_files(request.predictions_dir, "predictions")
    case_ids = list(request.case_ids) or sorted(predictions)
    unknown = [case for case in case_ids if case not in predictions]
    if unknown:
        raise InputDataError(f"predictions folder {request.predictions_dir} has no label map for case(s) "
                             f"{', '.join(unknown)}")
    if not case_ids:
        raise InputDataError(f"predictions folder {request.predictions_dir} holds no label maps (CASE.nii.gz)")
    references_dir = request.references_dir
    references = image_files(references_dir, "references") if references_dir is not None else None
    uncertainty_csv = request.uncertainty_csv
    if uncertainty_csv is None and (request.predictions_dir / UNCERTAINTY_FILE).is_file():
        uncertainty_csv = request.predictions_dir / UNCERTAINTY_FILE  # the folder is a strokeseg uncertainty output
        logger.info("using the uncertainty indices of %s", uncertainty_csv)
    uncertainty = read_uncertainty_table(uncertainty_csv) if uncertainty_csv is not None else None
    atlas = request.atlas
    if request.location and atlas is None:
        atlas = load_location_atlas()
    tasks = []
    for case_id in case_ids:
        reference_file = None
        if references_dir is not None and references is not None:
            # a missing reference is that case's problem (reported as missing_file), not the run's
            reference_file = references.get(case_id, references_dir / f"{case_id}.nii.gz")
        known = _uncertainty_of(uncertainty, case_id, uncertainty_csv) if uncertainty is not None else {}
        tasks.append(_CaseTask(case_id, predictions[case_id], reference_file, known,
                               f"{atlas.source} {atlas.version}" if atlas is not None else ""))
    finished = {} if (out / REPORT_FILE).exists() else _finished_cases(request, tasks)
    if finished:
        logger.info("resuming: %d of %d case(s) were reported by an interrupted run", len(finished), len(tasks))
    worker = functools.partial(_report_case, dataclasses.replace(request, atlas=None), atlas)  # atlas sent once
    pending = [task for task in tasks if task.case_id not in finished]
    computed = dict(zip((task.case_id for task in pending),
                        run_parallel(worker, pending, request.jobs, description="lesion report"), strict=True))
    results = [finished.get(task.case_id) or computed[task.case_id] for task in tasks]
    case_rows = [result["case"] for result in results]
    lesion_rows = [lesion for result in results for lesion in result["lesions"]]
    columns = list(CASE_REPORT_COLUMNS) + (list(REFERENCE_COLUMNS) if references is not None else [])
    report = pd.DataFrame(case_rows, columns=columns)
    lesion_table = pd.DataFrame(lesion_rows, columns=list(LESION_COLUMNS))
    _write_csv(lesion_table, out / LESIONS_FILE)
    _write_csv(report, out / REPORT_FILE)
    shutil.rmtree(out / PARTIAL_FOLDER, ignore_errors=True)
    logger.info("reported %d case(s), %d lesion(s) into %s", len(report), len(lesion_table), out)
    problems = report[report["status"] != STATUS_OK]
    for problem in problems.itertuples():
        logger.warning("case %s not reported (%s): %s", problem.case_id, problem.status, problem.note)
    if request.strict and len(problems):
        lines = "\n".join(f"  {row.case_id}: {row.status} — {row.note}" for row in problems.itertuples())
        raise InputDataError(f"--strict: {len(problems)} case(s) could not be reported (the others are in "
                             f"{out / REPORT_FILE}):\n{lines}")
    return report, lesion_table


def _uncertainty_of(table: pd.DataFrame, case_id: str, path: Path | None) -> dict[str, Any]:
    if case_id not in table.index:
        logger.warning("case %s is not in %s; its uncertainty is left empty", case_id, path)
        return {}
    return {"uncertainty_index": float(table.at[case_id, "uncertainty_index"]),
            "flagged": bool(str(table.at[case_id, "flagged"]).strip().lower() in ("true", "yes", "1"))}


@dataclasses.dataclass(frozen=True)
class _CaseTask:
    case_id: str
    prediction_file: Path
    reference_file: Path | None
    uncertainty: dict[str, Any]
    atlas: str

    def key(self, request: ReportRequest) -> str:
        """Identity of the inputs and settings of this case's record (the location atlas included)."""
        files = [self.prediction_file, self.reference_file, case_image(request.images_dir, self.case_id)]
        stamps = [f"{path.stat().st_size}:{path.stat().st_mtime_ns}" if path is not None and path.exists() else ""
                  for path in files]
        return json.dumps([stamps, self.uncertainty, request.location, request.min_fraction, request.connectivity,
                           self.atlas])


def _record_file(request: ReportRequest, case_id: str) -> Path:
    return request.out_dir / PARTIAL_FOLDER / f"{case_id}.json"


def _finished_cases(request: ReportRequest, tasks: Sequence[_CaseTask]) -> dict[str, dict[str, Any]]:
    """case_id -> result recorded by an interrupted run, for the cases whose inputs have not changed."""
    finished = {}
    for task in tasks:
        path = _record_file(request, task.case_id)
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        if record.get("key") == task.key(request) and Path(record["case"]["qc_png"]).is_file():
            finished[task.case_id] = {"case": record["case"], "lesions": record["lesions"]}
    return finished


class MissingFileError(InputDataError):
    """A file the report needs for a case does not exist."""


def _report_case(request: ReportRequest, atlas: LocationAtlas | None, task: _CaseTask) -> dict[str, Any]:
    """One case: {"case": its report.csv row, "lesions": its lesions.csv rows} (runs in worker processes).

    A problem of the case's files becomes its row's ``status`` and ``note`` (no lesions, no record kept, so a
    rerun tries the case again).
    """
    try:
        return _report_readable_case(request, atlas, task)
    except StrokesegError as error:
        if isinstance(error, GeometryError):
            status = STATUS_GRID_MISMATCH
        elif isinstance(error, MissingFileError):
            status = STATUS_MISSING_FILE
        else:
            status = STATUS_UNREADABLE
        return {"case": {"case_id": task.case_id, "status": status, "note": str(error),
                         "prediction_file": str(task.prediction_file), **task.uncertainty}, "lesions": []}


def _report_readable_case(request: ReportRequest, atlas: LocationAtlas | None, task: _CaseTask) -> dict[str, Any]:
    case_id, prediction_file, reference_file = task.case_id, task.prediction_file, task.reference_file
    image_file = case_image(request.images_dir, case_id)
    if image_file is None:
        raise MissingFileError(f"images folder {request.images_dir} has no image of case {case_id} "
                               f"({case_id}_0000.nii.gz or {case_id}.nii.gz)")
    if reference_file is not None and not reference_file.is_file():
        raise MissingFileError(f"references folder {request.references_dir} has no mask for case {case_id}")
    image = read_image(image_file, f"image of case {case_id}")
    geometry = Geometry.of(image)
    prediction = read_lesion_mask_on_grid(prediction_file, f"prediction of case {case_id}", geometry)
    reference = None
    if reference_file is not None:
        reference = read_lesion_mask_on_grid(reference_file, f"reference of case {case_id}", geometry)
    row: dict[str, Any] = {"case_id": case_id, "status": STATUS_OK, "note": "", "location": LOCATION_NOT_COMPUTED,
                           "registration_qc": math.nan, "registration_ok": None, "location_atlas": "",
                           "location_atlas_version": "", "uncertainty_index": math.nan, "flagged": None,
                           "prediction_file": str(prediction_file), "image_file": str(image_file),
                           **task.uncertainty}
    locations = None
    if request.location:
        mask_image = sitk.GetImageFromArray(prediction.astype(np.uint8))
        mask_image.CopyInformation(image)
        try:
            located = locate_case(image, mask_image, min_fraction=request.min_fraction, atlas=atlas,
                                  connectivity=request.connectivity)
        except StrokesegError as error:  # the volumes are still right; the location is not known
            logger.warning("case %s: location unknown (%s)", case_id, error)
            row.update(location=LOCATION_UNKNOWN, registration_ok=False, note=f"atlas location failed: {error}")
        else:
            # both sides list components by decreasing volume; equal-volume lesions may swap their classes
            locations = [lesion.label for lesion in located.lesions]
            row.update(location=located.label, registration_qc=located.registration_qc,
                       registration_ok=located.registration_ok, location_atlas=located.atlas,
                       location_atlas_version=located.atlas_version)
    lesions = lesion_records(prediction, geometry, reference=reference, locations=locations,
                             connectivity=request.connectivity)
    row.update(total_volume_ml=float(np.count_nonzero(prediction)) * voxel_volume_ml(geometry.spacing),
               n_lesions=len(lesions), largest_lesion_ml=lesions[0].volume_ml if lesions else 0.0)
    if reference is not None:
        metrics = evaluate_pair(reference, prediction, tuple(reversed(geometry.spacing)),
                                connectivity=request.connectivity)
        row.update(reference_volume_ml=metrics.vol_ref_ml, n_reference_lesions=metrics.n_lesions_ref,
                   dice=metrics.dice, lesion_f1=metrics.lesion_f1, lesion_tp=metrics.lesion_tp,
                   lesion_fp=metrics.lesion_fp, lesion_fn=metrics.lesion_fn)
    title = f"{case_id}: {row['total_volume_ml']:.2f} mL, {len(lesions)} lesion(s), location: {row['location']}"
    if not math.isnan(row["uncertainty_index"]):
        title += f", uncertainty {row['uncertainty_index']:.2f}{' (REVIEW)' if row['flagged'] else ''}"
    row["qc_png"] = str(write_qc_png(image, prediction, request.out_dir / QC_FOLDER / f"{case_id}.png",
                                     reference=reference, title=title))
    lesion_rows = [{"case_id": case_id, "lesion_index": lesion.lesion_index, "volume_ml": lesion.volume_ml,
                    "location": lesion.location, "centre_x_mm": lesion.centre_mm[0],
                    "centre_y_mm": lesion.centre_mm[1], "centre_z_mm": lesion.centre_mm[2],
                    "overlaps_reference": lesion.overlaps_reference} for lesion in lesions]
    result = {"case": row, "lesions": lesion_rows}
    write_json_atomic(_record_file(request, case_id), {"key": task.key(request), **result})
    return result


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path
