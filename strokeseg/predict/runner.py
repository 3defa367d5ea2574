"""``strokeseg predict``: every case of INPUT through conversion, the model, post-processing and the report.

Three passes over the cases, each with a progress bar:

1. **convert** (``-j`` workers): the case's channels as ``strokeseg convert`` writes them (dcm2niix for DICOM,
   b-value choice, ADC units, FLAIR registration; :mod:`strokeseg.predict.inputs`) into the case's working folder;
2. **predict** (one case at a time on the device, the members loaded once): nnU-Net's predictor
   (:mod:`strokeseg.predict.inference`), then the ensemble's uncertainty and the model's post-processing
   (:mod:`strokeseg.predict.segmentation`); the mask is written;
3. **report** (``-j`` workers): location, MNI mask, lesions, QC montage (:mod:`strokeseg.predict.results`), then
   the case's JSON and CSV.

A case that fails at any pass is recorded with its ``status`` (:data:`STATUS_INPUT_ERROR`,
:data:`STATUS_PREDICTION_ERROR`, :data:`STATUS_REPORT_ERROR`) and a ``note`` naming the file and the problem; the
other cases go on. Resuming: a case whose report was written by an earlier run with the same inputs (sizes and
modification times), model and settings, and whose files all exist, is not processed again. An earlier *result*
from other inputs or settings is only replaced with ``overwrite``; failed cases are always retried.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from strokeseg import __version__
from strokeseg.dataset_conversion.case_conversion import CaseOptions, convert_case
from strokeseg.dataset_conversion.sources import CohortSpec
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.device import resolve_device
from strokeseg.errors import ConfigurationError, OutputExistsError, StrokesegError
from strokeseg.io import Geometry, array_to_image, atomic_path, read_image, write_image_atomic, write_json_atomic
from strokeseg.location.atlas import LocationAtlas
from strokeseg.location.choices import RegistrationMethod
from strokeseg.modalities import LABEL_BACKGROUND
from strokeseg.nnunet.raw import image_path
from strokeseg.parallel import run_parallel
from strokeseg.postprocessing.uncertainty import STATUS_OK
from strokeseg.predict.inputs import KIND_BIDS, PredictCase, detect_kind, discover_cases
from strokeseg.predict.layout import COHORT_FILE, CaseFiles, finished_report, write_dataset_description
from strokeseg.predict.model import TrainedModel
from strokeseg.predict.results import PREDICT_COLUMNS, ReportSettings, report_case
from strokeseg.predict.segmentation import Postprocessing, UncertaintySettings, segment
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)

#: ``status`` of a case that could not be predicted, by the pass that failed.
STATUS_INPUT_ERROR = "input_error"
STATUS_PREDICTION_ERROR = "prediction_error"
STATUS_REPORT_ERROR = "report_error"
_STAGED_DATASET = "nnunet_input"


@dataclasses.dataclass(frozen=True)
class PredictRequest:
    """One ``strokeseg predict`` run.

    Attributes:
        input: a DICOM folder, a BIDS dataset, or NIfTI files (a folder or one file).
        output: the output folder (a BIDS derivative for BIDS input).
        model: the trained model (:func:`strokeseg.predict.model.load_model`).
        kind: ``auto``, ``dicom``, ``bids`` or ``nifti``.
        participant_labels: BIDS subjects to predict (default: all).
        device: ``auto``, ``cpu`` or ``cuda``.
        workers: worker processes of the convert and report passes.
        overwrite: replace earlier results made from other inputs or settings.
        target_b: b-value (s/mm²) of the DWI taken from multi-b series.
        registration: alignment of a FLAIR on another grid to the first channel.
        postprocessing: the model's post-processing (:func:`strokeseg.predict.segmentation.load_postprocessing`).
        uncertainty: Kim et al.'s index settings (ensembles).
        report: location and MNI settings.
        atlas: the location atlas (needed when ``report.location``).
    """

    input: Path
    output: Path
    model: TrainedModel
    kind: str = "auto"
    participant_labels: tuple[str, ...] = ()
    device: str = "auto"
    workers: int = 1
    overwrite: bool = False
    target_b: float = TARGET_B_VALUE
    registration: RegistrationMethod = "rigid"
    postprocessing: Postprocessing = dataclasses.field(default_factory=Postprocessing)
    uncertainty: UncertaintySettings = dataclasses.field(default_factory=UncertaintySettings)
    report: ReportSettings = dataclasses.field(default_factory=ReportSettings)
    atlas: LocationAtlas | None = None


@dataclasses.dataclass
class _CaseState:
    """What is known about a case as it goes through the passes (sent to and from worker processes)."""

    case: PredictCase
    files: CaseFiles
    key: str
    status: str = STATUS_OK
    note: str = ""
    conversion: dict[str, Any] = dataclasses.field(default_factory=dict)
    staged: tuple[Path, ...] = ()
    segmentation: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def fail(self, status: str, error: BaseException) -> _CaseState:
        self.status, self.note = status, str(error)
        logger.warning("case %s: %s (%s)", self.case.case_id, error, status)
        return self


def run_predict(request: PredictRequest) -> pd.DataFrame:
    """Predict and report every case of ``request.input`` (module docstring); returns this run's cohort rows.

    Raises:
        ConfigurationError: OUTPUT is INPUT, or a setting is inconsistent.
        OutputExistsError: earlier results from other inputs or settings, without ``overwrite``.
        InputDataError: INPUT is missing or holds no case.
    """
    if request.output.resolve() == request.input.resolve():
        raise ConfigurationError(f"the output folder {request.output} is the input; choose another OUTPUT")
    if request.report.mni and not request.report.location:
        raise ConfigurationError("--mni needs the MNI registration of the location step; drop --no-location")
    device = resolve_device(request.device)  # before any work: --device cuda without a GPU is refused
    kind = detect_kind(request.input) if request.kind == "auto" else request.kind
    cases = discover_cases(request.input, kind, request.model.channels, participant_labels=request.participant_labels,
                           target_b=request.target_b, exclude=request.output)
    states = [_CaseState(case, CaseFiles(request.output / case.folder, case.prefix), _case_key(case, request))
              for case in cases]
    finished = {state.case.case_id: report for state in states
                if (report := finished_report(state.files, state.key)) is not None}
    _refuse_other_results([state for state in states if state.case.case_id not in finished], request.overwrite)
    if finished:
        logger.info("resuming: %d of %d case(s) are done already", len(finished), len(states))
    request.output.mkdir(parents=True, exist_ok=True)
    if kind == KIND_BIDS:
        write_dataset_description(request.output, request.input)
    pending = [state for state in states if state.case.case_id not in finished]
    pending = run_parallel(functools.partial(_convert, request.model.channels, request.registration), pending,
                           request.workers, description="converting")
    _predict_all([state for state in pending if state.status == STATUS_OK], request, device)
    reported = run_parallel(functools.partial(_report, request, kind), pending, request.workers,
                            description="reporting")
    rows = {state.case.case_id: finished[state.case.case_id] for state in states if state.case.case_id in finished}
    rows.update({row["case_id"]: row for row in reported})
    table = pd.DataFrame([_csv_row(rows[state.case.case_id]) for state in states], columns=list(PREDICT_COLUMNS))
    _write_cohort(request.output / COHORT_FILE, _with_earlier_cases(request.output / COHORT_FILE, table))
    return table


def _with_earlier_cases(cohort_file: Path, table: pd.DataFrame) -> pd.DataFrame:
    """This run's rows, after the rows of other cases an earlier run into the same OUTPUT listed (e.g. one
    DICOM export per run)."""
    if not cohort_file.is_file():
        return table
    earlier = pd.read_csv(cohort_file, dtype={"case_id": str})
    earlier = earlier[~earlier["case_id"].isin(table["case_id"])] if "case_id" in earlier.columns else earlier[:0]
    return pd.concat([earlier.reindex(columns=list(PREDICT_COLUMNS)), table], ignore_index=True) if len(earlier) \
        else table


def _case_key(case: PredictCase, request: PredictRequest) -> str:
    """Fingerprint of a case's inputs, the model and every setting that changes its results."""
    stamps = []
    for path in case.inputs:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stamps += [[str(file), file.stat().st_size, file.stat().st_mtime_ns] for file in files if file.exists()]
    settings = [request.model.identity(), request.target_b, request.registration, request.report.key(),
                dataclasses.asdict(request.uncertainty), request.postprocessing.describe(),
                request.atlas.version if request.atlas is not None else None, case.problem]
    return hashlib.sha256(json.dumps([stamps, settings], default=str).encode()).hexdigest()


def _refuse_other_results(states: Sequence[_CaseState], overwrite: bool) -> None:
    """Stop before any work when a case's folder holds a finished result from other inputs or settings."""
    if overwrite:
        return
    clashes = []
    for state in states:
        try:
            earlier = json.loads(state.files.report_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(earlier, dict) and earlier.get("status") == STATUS_OK and earlier.get("key") != state.key:
            clashes.append(str(state.files.report_json))  # (the same key with a file gone: simply made again)
    if clashes:
        raise OutputExistsError(f"{len(clashes)} case(s) have results from other inputs, model or settings (e.g. "
                                f"{clashes[0]}); pass --overwrite to replace them, or choose another OUTPUT")


# ----------------------------------------------------------------------------------------------------------
# Pass 1: convert
# ----------------------------------------------------------------------------------------------------------
def _convert(channels: tuple[str, ...], registration: RegistrationMethod, state: _CaseState) -> _CaseState:
    """The case's channels, converted as ``strokeseg convert`` does, in its working folder (worker process)."""
    start = time.perf_counter()
    case = state.case
    if case.source is None:
        return state.fail(STATUS_INPUT_ERROR, StrokesegError(case.problem))
    work = state.files.work
    shutil.rmtree(work, ignore_errors=True)
    spec = CohortSpec("predict", channels, {LABEL_BACKGROUND: 0, "lesion": 1}, require_lesion=False)
    try:
        record = convert_case(case.source, spec, work / _STAGED_DATASET, work / "scratch",
                              CaseOptions(registration=registration))
    except StrokesegError as error:
        return state.fail(STATUS_INPUT_ERROR, error)
    staged_dataset = work / _STAGED_DATASET
    state.staged = tuple(image_path(staged_dataset, case.case_id, index, "Ts") for index in range(len(channels)))
    if case.source.prepare is not None:  # DICOM: the converted channels are the only NIfTI of the case
        for name, staged in zip(channels, state.staged, strict=True):
            shutil.copyfile(staged, state.files.channel_image(name))
    state.conversion = {key: value for key, value in record.items() if key not in ("split",)}
    state.seconds += time.perf_counter() - start
    return state


# ----------------------------------------------------------------------------------------------------------
# Pass 2: predict
# ----------------------------------------------------------------------------------------------------------
def _predict_all(states: Sequence[_CaseState], request: PredictRequest, device: str) -> None:
    """Run the model on every converted case, one at a time on ``device``; write masks (and mean probabilities)."""
    if not states:
        return
    from strokeseg.predict.inference import ModelPredictor

    start = time.perf_counter()
    predictor = ModelPredictor(request.model, device)
    load_seconds = (time.perf_counter() - start) / len(states)  # shared by the cases
    for state in tqdm(states, desc="predicting", unit="case", disable=len(states) < 2, leave=False):
        start = time.perf_counter()
        try:
            image = read_image(state.staged[0], f"converted {request.model.channels[0]} of case {state.case.case_id}")
            members = predictor.predict(state.staged)
            geometry = Geometry.of(image)
            result = segment(members, voxel_volume_ml(geometry.spacing), request.postprocessing, request.uncertainty)
            write_image_atomic(array_to_image(result.mask.astype(np.uint8), geometry), state.files.mask)
            if request.model.is_ensemble:
                write_image_atomic(array_to_image(result.probability, geometry), state.files.probability)
        except StrokesegError as error:
            state.fail(STATUS_PREDICTION_ERROR, error)
            continue
        state.segmentation = {"uncertainty": result.uncertainty, "device": device,
                              "voxels_before_postprocessing": result.voxels_before_postprocessing}
        state.seconds += time.perf_counter() - start + load_seconds


# ----------------------------------------------------------------------------------------------------------
# Pass 3: report
# ----------------------------------------------------------------------------------------------------------
def _report(request: PredictRequest, kind: str, state: _CaseState) -> dict[str, Any]:
    """Report the case (worker process), write its JSON and CSV; returns its JSON content."""
    start = time.perf_counter()
    report: dict[str, Any] = {}
    if state.status == STATUS_OK:
        uncertainty = state.segmentation["uncertainty"]
        extra = ""
        if uncertainty:
            review = " (REVIEW)" if uncertainty["flagged"] else ""
            extra = f", uncertainty {uncertainty['uncertainty_index']:.2f}{review}"
        try:
            image = read_image(state.staged[0], f"converted image of case {state.case.case_id}")
            mask = read_image(state.files.mask, f"lesion mask of case {state.case.case_id}")
            report = report_case(image, sitk.GetArrayFromImage(mask) > 0, state.files, request.atlas,
                                 request.report, extra)
        except StrokesegError as error:
            state.fail(STATUS_REPORT_ERROR, error)
    state.seconds += time.perf_counter() - start
    content = _without_nan(_case_json(request, kind, state, report))
    write_json_atomic(state.files.report_json, content)
    _write_cohort(state.files.report_csv, pd.DataFrame([_csv_row(content)], columns=list(PREDICT_COLUMNS)))
    shutil.rmtree(state.files.work, ignore_errors=True)
    logger.info("case %s: %s%s", state.case.case_id, state.status,
                f", {content['total_volume_ml']:.2f} mL, location {content['location']}" if state.status == STATUS_OK
                else f" — {state.note}")
    return content


def _case_json(request: PredictRequest, kind: str, state: _CaseState, report: dict[str, Any]) -> dict[str, Any]:
    files = dict(report.get("files", {}))
    if request.model.is_ensemble and state.status == STATUS_OK:
        files["probability_file"] = str(state.files.probability)
    uncertainty = state.segmentation.get("uncertainty") or {}
    notes = [note for note in [state.note, *report.get("notes", [])] if note]
    return {
        "case_id": state.case.case_id, "status": state.status, "note": "; ".join(notes), "input_kind": kind,
        **report.get("summary", {}),
        "uncertainty_index": uncertainty.get("uncertainty_index"), "flagged": uncertainty.get("flagged"),
        "n_members": len(request.model.members),
        "postprocessing_applied": request.postprocessing.params is not None if state.status == STATUS_OK else None,
        **files, "report_json": str(state.files.report_json), "seconds": round(state.seconds, 3),
        "input": {"path": str(request.input), "files": [str(path) for path in state.case.inputs],
                  "conversion": state.conversion},
        "model": {"path": str(request.model.path), "members": [member.name for member in request.model.members],
                  "channels": list(request.model.channels), "device": state.segmentation.get("device")},
        "postprocessing": {**request.postprocessing.describe(),
                           "voxels_before": state.segmentation.get("voxels_before_postprocessing")},
        "uncertainty": {**uncertainty, **dataclasses.asdict(request.uncertainty)} if uncertainty else None,
        "class_volumes_ml": report.get("class_volumes_ml", {}), "lesions": report.get("lesions", []),
        "files": {key: value for key, value in files.items() if key.endswith(("_file", "_png"))},
        "strokeseg_version": __version__, "key": state.key,
    }


def _without_nan(value: Any) -> Any:
    """``value`` with every NaN replaced by None (JSON has no NaN: ``null`` is "not known")."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def _csv_row(content: dict[str, Any]) -> dict[str, Any]:
    return {column: content.get(column) for column in PREDICT_COLUMNS}


def _write_cohort(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)

