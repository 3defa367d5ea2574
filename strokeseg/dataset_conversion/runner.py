"""Run a cohort conversion: staging folder, resume, parallel workers, report, atomic hand-over.

The dataset is written into a hidden staging folder beside its destination
(``nnUNet_raw/.DatasetXXX_Name.partial``). Every finished case leaves a small marker there with a
fingerprint of its sources (paths, sizes, modification times, metadata); a rerun after a crash or Ctrl-C
reuses the cases whose fingerprint still matches and converts the rest. When all cases are done,
``dataset.json``, ``cases.csv`` and the conversion report are written and the staging folder is renamed to
``DatasetXXX_Name``. An existing dataset is never touched unless ``overwrite`` is set; then it is replaced
only after the new one is complete.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import logging
import multiprocessing
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from strokeseg import __version__
from strokeseg.cases import CASE_COLUMNS, CASES_FILE, write_cases
from strokeseg.dataset_conversion.case_conversion import EXTRA_MASKS_FOLDER, CaseOptions, convert_case, output_files
from strokeseg.dataset_conversion.report import (
    STATUS_CONVERTED,
    STATUS_SKIPPED,
    CaseOutcome,
    summarise,
    write_report,
)
from strokeseg.dataset_conversion.sources import SPLIT_TRAIN, CaseSource, CohortSpec, Discovery
from strokeseg.errors import InputDataError, OutputExistsError, StrokesegError
from strokeseg.io import write_json_atomic
from strokeseg.nnunet.raw import check_new_dataset, dataset_folder_name, publish_dataset, write_dataset_json

logger = logging.getLogger(__name__)

_STATE_DIR = ".strokeseg_conversion"
_IMAGE_FOLDERS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs", EXTRA_MASKS_FOLDER)


@dataclass(frozen=True)
class ConversionRequest:
    """Where and how to write a converted dataset.

    Attributes:
        out_root: the ``nnUNet_raw`` folder.
        dataset_id: nnU-Net dataset id (1-999).
        name: dataset name (``Dataset{id:03d}_{name}``).
        source: the cohort's source folder or manifest (recorded in dataset.json and the report).
        strict: stop at the first invalid case instead of skipping it.
        overwrite: replace an existing dataset of the same id and name (after the new one is complete).
        workers: parallel worker processes (1 = convert in this process).
        case_options: per-case settings (registration, grid tolerance, lesion connectivity).
    """

    out_root: Path
    dataset_id: int
    name: str
    source: Path
    strict: bool = False
    overwrite: bool = False
    workers: int = 1
    case_options: CaseOptions = field(default_factory=CaseOptions)

    @property
    def dataset_dir(self) -> Path:
        """``out_root/Dataset{id:03d}_{name}``."""
        return self.out_root / dataset_folder_name(self.dataset_id, self.name)

    @property
    def staging_dir(self) -> Path:
        """The hidden folder the dataset is built in."""
        return self.out_root / f".{self.dataset_dir.name}.partial"


@dataclass(frozen=True)
class ConversionResult:
    """A finished conversion: the dataset folder, what happened to every case, and the report files."""

    dataset_dir: Path
    outcomes: list[CaseOutcome]
    report_csv: Path
    report_json: Path

    @property
    def counts(self) -> dict[str, int]:
        """Converted/skipped counts (see :func:`strokeseg.dataset_conversion.report.summarise`)."""
        return summarise(self.outcomes)


def check_destination(request: ConversionRequest) -> None:
    """Refuse to write when another dataset uses the id, or the dataset exists and ``overwrite`` is off.

    Raises:
        OutputExistsError: with the folder in the way and what to do.
    """
    check_new_dataset(request.out_root, request.dataset_id, request.name, request.overwrite)


def describe_conversion(discovery: Discovery, spec: CohortSpec, request: ConversionRequest) -> list[str]:
    """What :func:`convert_cohort` would write, one line per file group and per skipped case (``--dry-run``).

    Only the discovery step runs: no voxel data are read, so cases that fail the per-case checks are
    listed here and skipped by the real run.
    """
    lines = [f"would write {request.dataset_dir} ({spec.cohort}: {len(discovery.cases)} case(s) found, "
             f"{len(discovery.skipped)} to skip; channels {', '.join(spec.channel_names)}; "
             f"labels {dict(spec.labels)})"]
    if request.dataset_dir.exists():
        lines.append(f"note: {request.dataset_dir} exists; the real run needs --overwrite")
    for case in sorted(discovery.cases, key=lambda case: case.case_id):
        files = ", ".join(str(path) for path in output_files(case, spec))
        sources = ", ".join(f"{key.removeprefix('source_')}={value}" for key, value in case.source_paths().items())
        lines.append(f"{case.case_id} ({case.split}): {files} <- {sources}")
    for skipped in sorted(discovery.skipped, key=lambda skipped: skipped.case_id):
        lines.append(f"skip {skipped.case_id}: {skipped.reason}")
    for extra in ("dataset.json", CASES_FILE, "conversion_report.csv", "conversion_report.json"):
        lines.append(f"would write {request.dataset_dir / extra}")
    return lines


def convert_cohort(discovery: Discovery, spec: CohortSpec, request: ConversionRequest) -> ConversionResult:
    """Convert every discovered case and publish the dataset folder.

    Raises:
        OutputExistsError: see :func:`check_destination`.
        InputDataError: with ``strict``, the first invalid case (nothing is published; a rerun resumes);
            or no training case could be converted.
    """
    check_destination(request)
    if request.strict and discovery.skipped:
        first = discovery.skipped[0]
        raise InputDataError(f"case {first.case_id}: {first.reason} (--strict: stopped before converting; "
                             f"{len(discovery.skipped)} case(s) invalid)")
    staging = request.staging_dir
    state = _RunState(staging, _run_fingerprint(spec, request))
    outcomes = [CaseOutcome(skipped.case_id, STATUS_SKIPPED, skipped.reason, sources=dict(skipped.sources))
                for skipped in discovery.skipped]
    for outcome in outcomes:
        logger.warning("skipped %s: %s", outcome.case_id, outcome.reason)
    records: list[dict[str, Any]] = []
    pending: list[CaseSource] = []
    for case in discovery.cases:
        record = state.finished_record(case)
        if record is None:
            pending.append(case)
        else:
            records.append(record)
            outcomes.append(CaseOutcome(case.case_id, STATUS_CONVERTED, split=case.split, resumed=True,
                                        sources=case.source_paths()))
    if records:
        logger.info("resuming %s: %d case(s) already converted, %d to go", staging, len(records), len(pending))
    for case, record, reason in _run_cases(pending, spec, request, state):
        if record is not None:
            state.mark_finished(case, record, output_files(case, spec))
            records.append(record)
            outcomes.append(CaseOutcome(case.case_id, STATUS_CONVERTED, split=case.split, sources=case.source_paths()))
            continue
        logger.warning("skipped %s: %s", case.case_id, reason)
        outcomes.append(CaseOutcome(case.case_id, STATUS_SKIPPED, reason, sources=case.source_paths()))
        if request.strict:
            raise InputDataError(f"case {case.case_id}: {reason} (--strict: stopped; {request.dataset_dir} was not "
                                 "written; fix the case and rerun to resume)")
    header = _report_header(spec, request)
    n_train = sum(record["split"] == SPLIT_TRAIN for record in records)
    if n_train == 0:
        csv_path, _ = write_report(staging, outcomes, header)
        raise InputDataError(f"no training case could be converted from {request.source} ({len(outcomes)} case(s) "
                             f"examined); reasons per case: {csv_path}")
    _prune_stale_files(staging, [case for case in discovery.cases if state.is_finished(case.case_id)], spec)
    write_dataset_json(staging, dict(enumerate(spec.channel_names)), spec.labels, n_train,
                       description=spec.description,
                       extra={**spec.extra, "strokeseg": {**header, "cases_file": CASES_FILE}})
    write_cases(cases_table(records), staging / CASES_FILE, overwrite=True)
    csv_path, json_path = write_report(staging, outcomes, header)
    state.remove()
    _publish(staging, request)
    final = request.dataset_dir
    return ConversionResult(final, outcomes, final / csv_path.name, final / json_path.name)


def cases_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """cases.csv rows sorted by case id, documented columns in their documented dtypes (counts stay integers)."""
    table = pd.DataFrame(sorted(records, key=lambda record: record["case_id"]))
    for column in CASE_COLUMNS:
        if column.name in table.columns and column.dtype in ("Int64", "Float64"):
            table[column.name] = pd.to_numeric(table[column.name]).astype(column.dtype)
    return table


def _run_cases(cases: Sequence[CaseSource], spec: CohortSpec, request: ConversionRequest,
               state: _RunState) -> Iterator[tuple[CaseSource, dict[str, Any] | None, str]]:
    """Convert ``cases`` (in parallel when ``request.workers > 1``), yielding (case, record or None, reason)."""
    if not cases:
        return
    progress = tqdm(total=len(cases), desc=f"convert {spec.cohort}", unit="case", disable=None)
    staging, scratch = request.staging_dir, state.scratch_dir
    try:
        if request.workers <= 1:
            for case in cases:
                yield case, *_convert_worker(case, spec, staging, scratch, request.case_options)
                progress.update()
            return
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=request.workers, mp_context=context,
                                                    initializer=_initialise_worker) as pool:
            futures = {pool.submit(_convert_worker, case, spec, staging, scratch, request.case_options): case
                       for case in cases}
            try:
                for future in concurrent.futures.as_completed(futures):
                    progress.update()
                    yield futures[future], *future.result()
            finally:
                for future in futures:
                    future.cancel()
    finally:
        progress.close()


def _initialise_worker() -> None:
    """One ITK thread per worker process: the parallelism is across cases."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _convert_worker(case: CaseSource, spec: CohortSpec, staging: Path, scratch_root: Path,
                    options: CaseOptions) -> tuple[dict[str, Any] | None, str]:
    """Convert one case; an invalid case returns (None, reason). Bugs propagate."""
    scratch = scratch_root / case.case_id
    try:
        return convert_case(case, spec, staging, scratch, options), ""
    except OutputExistsError:
        raise
    except StrokesegError as error:
        return None, " ".join(str(error).split())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _RunState:
    """Resume markers of one staging folder: a run fingerprint and one finished-case file per case."""

    def __init__(self, staging: Path, run_fingerprint: str) -> None:
        self.root = staging / _STATE_DIR
        self.done_dir = self.root / "done"
        self.scratch_dir = self.root / "scratch"
        state_file = self.root / "state.json"
        if staging.exists() and _read_fingerprint(state_file) != run_fingerprint:
            logger.info("discarding %s: it was started with other settings or another source", staging)
            shutil.rmtree(staging)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        if not state_file.is_file():
            write_json_atomic(state_file, {"run_fingerprint": run_fingerprint})
        self._finished: set[str] = set()

    def finished_record(self, case: CaseSource) -> dict[str, Any] | None:
        """The cases.csv row of ``case`` when an earlier run finished it from identical sources."""
        marker = self.done_dir / f"{case.case_id}.json"
        if not marker.is_file():
            return None
        content = _load_json(marker)
        files_present = all((self.root.parent / path).is_file() for path in content.get("files", []))
        if content.get("fingerprint") != case_fingerprint(case) or not files_present:
            marker.unlink()
            return None
        self._finished.add(case.case_id)
        return dict(content["record"])

    def mark_finished(self, case: CaseSource, record: dict[str, Any], files: Sequence[Path]) -> None:
        """Record that ``case`` is converted; ``files`` (relative to the staging folder) were written."""
        write_json_atomic(self.done_dir / f"{case.case_id}.json",
                          {"fingerprint": case_fingerprint(case), "record": record, "files": [str(f) for f in files]})
        self._finished.add(case.case_id)

    def is_finished(self, case_id: str) -> bool:
        """Whether ``case_id`` was converted in this run or reused from an earlier one."""
        return case_id in self._finished

    def remove(self) -> None:
        """Delete the resume markers (the dataset is complete)."""
        shutil.rmtree(self.root)


def _load_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; an unreadable or damaged file (a crash mid-write) reads as empty."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _read_fingerprint(state_file: Path) -> str | None:
    return _load_json(state_file).get("run_fingerprint")


def _run_fingerprint(spec: CohortSpec, request: ConversionRequest) -> str:
    content = {"spec": asdict(spec), "options": asdict(request.case_options), "source": str(request.source),
               "version": __version__}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def case_fingerprint(case: CaseSource) -> str:
    """Hash of a case's description and of the size and modification time of every file it is made from."""
    paths = [channel.path for channel in case.channels] + list(case.masks) + list(case.extra_masks.values()) \
        + list(case.inputs)
    stats = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                info = file.stat()
                stats.append((str(file), info.st_size, info.st_mtime_ns))
            except OSError:
                stats.append((str(file), -1, -1))
    description = {"case_id": case.case_id, "split": case.split, "metadata": dict(case.metadata),
                   "channels": [asdict(channel) for channel in case.channels], "masks": [str(m) for m in case.masks],
                   "votes": case.votes, "extra_masks": {name: str(path) for name, path in case.extra_masks.items()},
                   "prepare": describe_callable(case.prepare), "files": stats}
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()


def describe_callable(function: Callable[..., Any] | None) -> str:
    """A description of a (partial) function that is the same in every process (no memory addresses)."""
    if function is None:
        return ""
    if isinstance(function, functools.partial):
        arguments = ", ".join(f"{key}={value!s}" for key, value in sorted(function.keywords.items()))
        return f"{describe_callable(function.func)}({', '.join(map(str, function.args))}; {arguments})"
    return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', type(function).__name__)}"


def _prune_stale_files(staging: Path, finished: Sequence[CaseSource], spec: CohortSpec) -> None:
    """Remove files of cases that an earlier run wrote but this run does not keep (now invalid or gone)."""
    expected = {str(path) for case in finished for path in output_files(case, spec)}
    for folder in _IMAGE_FOLDERS:
        directory = staging / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*"), reverse=True):  # files before the folders holding them
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            elif str(path.relative_to(staging)) not in expected:
                logger.debug("removing stale %s", path)
                path.unlink()
        if not any(directory.iterdir()):
            directory.rmdir()


def _report_header(spec: CohortSpec, request: ConversionRequest) -> dict[str, Any]:
    return {"cohort": spec.cohort, "source": str(request.source), "dataset": request.dataset_dir.name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "strokeseg_version": __version__,
            "channels": list(spec.channel_names), "labels": dict(spec.labels),
            "require_lesion": spec.require_lesion, "options": asdict(request.case_options)}


def _publish(staging: Path, request: ConversionRequest) -> None:
    """Hand the finished staging folder over to the dataset folder (replacing an existing one with ``overwrite``)."""
    replacing = request.dataset_dir.exists()
    publish_dataset(staging, request.dataset_dir)
    if replacing:
        logger.info("replaced %s; re-run nnUNetv2_plan_and_preprocess, its preprocessed data are out of date",
                    request.dataset_dir)
