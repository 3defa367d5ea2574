"""The multi-site DWI registry (Noh's cohort shape) from a manifest CSV -> nnU-Net.

``SRC`` is the manifest CSV or a folder holding ``manifest.csv``. One row per case; paths are relative to
the CSV (absolute paths are taken as they are)::

    case_id, dwi, adc?, b0?, flair?, dicom?, mask, site, vendor, field_strength_t, onset_to_imaging_h,
    location?, chronic_infarct?, wmh_volume_ml?, split?, <any further column>

A row gives its images either as NIfTI files (``dwi`` and optionally ``adc``, ``b0``, ``flair``) or as a
folder of DICOM series (``dicom``), converted with dcm2niix (:mod:`strokeseg.dataset_conversion.dicom`).
Either way the acquisition is read from the DWI's BIDS sidecar (the JSON file beside a NIfTI ``dwi``, the
DWI series' sidecar dcm2niix writes): vendor, field strength, scanner model, b-value, slice thickness,
institution (:func:`~strokeseg.dataset_conversion.bids.sidecar_metadata`). Manifest values override the
sidecar's; disagreements are logged and listed in cases.csv (``metadata_conflicts``).
Channels: ``DWI`` (``_0000``), then ``ADC``, ``b0``, ``FLAIR`` in this order, each when its column is
present (a DICOM row provides DWI, ADC and b0); ``channels=`` overrides. ``FLAIR`` is registered and
resampled to the DWI grid when it lies on another grid. ``split`` is ``train`` (default) or ``test``;
a test row without ``mask`` goes to ``imagesTs`` without a label. Further columns are copied to cases.csv.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.cases import canonical_vendor, safe_case_id
from strokeseg.dataset_conversion.bids import (
    CONFLICTS_COLUMN,
    merge_with_sidecar,
    nominal_field_strength,
    read_sidecar,
    report_conflicts,
    sidecar_metadata,
    sidecar_path,
)
from strokeseg.dataset_conversion.dicom import DICOM_CHANNELS, resolve_dicom_case
from strokeseg.dataset_conversion.diffusion import read_bval
from strokeseg.dataset_conversion.sources import (
    SPLIT_TEST,
    CaseSource,
    ChannelSource,
    CohortSpec,
    Discovery,
    SkippedCase,
    missing_files,
    normalise_split,
)
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR, LABEL_BACKGROUND

COHORT = "registry"
MANIFEST_NAME = "manifest.csv"
#: Image columns of the manifest and the channel each provides, in channel order.
CHANNEL_COLUMNS: dict[str, str] = {"dwi": CHANNEL_DWI, "adc": CHANNEL_ADC, "b0": CHANNEL_B0, "flair": CHANNEL_FLAIR}
REQUIRED_COLUMNS: tuple[str, ...] = ("case_id", "mask", "site", "vendor", "field_strength_t", "onset_to_imaging_h")
_NUMERIC_COLUMNS = ("field_strength_t", "onset_to_imaging_h", "wmh_volume_ml")
_BOOLEAN_VALUES = {"yes": True, "y": True, "true": True, "1": True, "1.0": True,
                   "no": False, "n": False, "false": False, "0": False, "0.0": False}
_PATH_COLUMNS = (*CHANNEL_COLUMNS, "dicom", "mask")


def manifest_path(source: Path) -> Path:
    """``source`` itself when it is a file, else ``source/manifest.csv``.

    Raises:
        InputDataError: neither exists.
    """
    path = source if source.is_file() else source / MANIFEST_NAME
    if not path.is_file():
        raise InputDataError(f"registry manifest {path} does not exist; pass the CSV or a folder holding "
                             f"{MANIFEST_NAME}")
    return path


def read_manifest(path: Path) -> pd.DataFrame:
    """The manifest as strings (empty cells ``""``), column names stripped and lower-cased.

    Raises:
        ConfigurationError: a required column is missing, or neither ``dwi`` nor ``dicom`` is present.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InputDataError(f"registry manifest {path} could not be read as CSV ({error})") from None
    table.columns = [str(column).strip().lower() for column in table.columns]
    table = table.apply(lambda column: column.str.strip())
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if "dwi" not in table.columns and "dicom" not in table.columns:
        missing.append("dwi (or dicom)")
    if missing:
        raise ConfigurationError(f"registry manifest {path} lacks the column(s) {', '.join(missing)}; expected "
                                 f"{', '.join(REQUIRED_COLUMNS)}, dwi or dicom, and optionally adc, b0, flair, "
                                 f"location, chronic_infarct, wmh_volume_ml, split (found: {', '.join(table.columns)})")
    return table


def manifest_channels(table: pd.DataFrame) -> tuple[str, ...]:
    """Default channels of a manifest: DWI, then ADC/b0/FLAIR where a column has values (DICOM rows: ADC)."""
    has_dicom = "dicom" in table.columns and table["dicom"].astype(bool).any()
    present = {column for column in CHANNEL_COLUMNS if column in table.columns and table[column].astype(bool).any()}
    if has_dicom:
        present |= {"dwi", "adc"}
    return tuple(CHANNEL_COLUMNS[column] for column in CHANNEL_COLUMNS if column in present)


def registry_spec(channels: Sequence[str], require_lesion: bool = True) -> CohortSpec:
    """The registry's channels and binary lesion label."""
    return CohortSpec(COHORT, tuple(channels), {LABEL_BACKGROUND: 0, "lesion": 1}, require_lesion=require_lesion,
                      description=f"multi-site acute infarct DWI registry ({', '.join(channels)})")


def plan_registry(source: Path, channels: Sequence[str] | None = None, target_b: float = TARGET_B_VALUE,
                  require_lesion: bool = True) -> tuple[CohortSpec, Discovery]:
    """Read the manifest and return the cohort spec and the discovered cases.

    Raises:
        InputDataError / ConfigurationError: the manifest is missing or lacks columns; an unknown channel.
    """
    path = manifest_path(source)
    table = read_manifest(path)
    chosen = tuple(channels) if channels else manifest_channels(table)
    unknown = [name for name in chosen if name not in CHANNEL_COLUMNS.values()]
    if unknown or not chosen or chosen[0] != CHANNEL_DWI:
        raise ConfigurationError(f"registry channels {', '.join(chosen) or 'none'}: the first must be DWI and all of "
                                 f"them among {', '.join(CHANNEL_COLUMNS.values())}")
    discovery = Discovery([], [])
    for row_number, row in enumerate(table.to_dict("records"), start=2):
        case_id = safe_case_id(row["case_id"]) or f"row{row_number}"
        try:
            discovery.cases.append(_case(row, path.parent, chosen, target_b, f"{path.name} line {row_number}"))
        except (InputDataError, ConfigurationError) as error:
            sources = {f"source_{key}": row[key] for key in _PATH_COLUMNS if row.get(key)}
            discovery.skipped.append(SkippedCase(case_id, str(error), sources))
    discovery.drop_duplicate_ids()
    return registry_spec(chosen, require_lesion), discovery


def _case(row: dict[str, str], base: Path, channels: tuple[str, ...], target_b: float, where: str) -> CaseSource:
    if not row["case_id"]:
        raise InputDataError(f"{where}: empty case_id")
    case_id = safe_case_id(row["case_id"])
    split = normalise_split(row.get("split"), where)
    metadata = _metadata(row, where)
    if case_id != row["case_id"]:
        metadata["original_id"] = row["case_id"]
    mask = _path(base, row.get("mask", ""))
    if mask is None and split != SPLIT_TEST:
        raise InputDataError(f"{where}: no mask given for a training case (missing modality)")
    masks = (mask,) if mask is not None else ()
    dicom_dir = _path(base, row.get("dicom", "")) if not row.get("dwi") else None
    if dicom_dir is not None:
        unavailable = [name for name in channels if name not in DICOM_CHANNELS]
        problems = missing_files([("mask", mask)] if mask is not None else [])
        if not dicom_dir.is_dir():
            problems.append(f"DICOM folder {dicom_dir} does not exist")
        if unavailable:
            problems.append(f"channel(s) {', '.join(unavailable)} cannot come from DICOM (use NIfTI columns)")
        if problems:
            raise InputDataError(f"{where}: {'; '.join(problems)}")
        prepare = functools.partial(resolve_dicom_case, dicom_dir=dicom_dir, channels=channels, target_b=target_b)
        return CaseSource(case_id, split, (), masks, {**metadata, "source_dicom": str(dicom_dir)}, prepare,
                          (dicom_dir,))
    column_of = {channel: column for column, channel in CHANNEL_COLUMNS.items()}
    sources = [(f"{name} image", _path(base, row.get(column_of[name], ""))) for name in channels]
    problems = missing_files(sources + ([("mask", mask)] if mask is not None else []))
    if problems:
        raise InputDataError(f"{where}: {'; '.join(problems)} (missing modality or file)")
    channel_sources = tuple(ChannelSource(name, path, register=name == CHANNEL_FLAIR)
                            for name, (_, path) in zip(channels, sources, strict=True) if path is not None)
    return CaseSource(case_id, split, channel_sources, masks, _with_sidecar(case_id, metadata, channel_sources[0].path))


def _with_sidecar(case_id: str, metadata: dict[str, Any], dwi: Path) -> dict[str, Any]:
    """``metadata`` (the manifest's) completed from the DWI's JSON sidecar, as the DICOM path does; without a
    ``DiffusionBValue`` in the sidecar, the b-value comes from a ``.bval`` beside the DWI that holds one b.

    Raises:
        InputDataError: the sidecar exists but is not a JSON object; the ``.bval`` holds something else than
            numbers.
    """
    sidecar = sidecar_path(dwi)
    values = sidecar_metadata(read_sidecar(sidecar))
    bval = sidecar.with_suffix(".bval")
    if "b_value" not in values and bval.is_file():
        b_values = set(read_bval(bval))
        if len(b_values) == 1:  # a 3-D trace image: its one b (several b-values say nothing about this image)
            values["b_value"] = b_values.pop()
    merged = merge_with_sidecar(metadata, values)
    report_conflicts(case_id, f"sidecar {sidecar}", merged.conflicts)
    return {**merged.values, CONFLICTS_COLUMN: "; ".join(merged.conflicts)} if merged.conflicts else merged.values


def _metadata(row: dict[str, str], where: str) -> dict[str, Any]:
    """cases.csv values of a manifest row: typed known columns, further columns as text."""
    values: dict[str, Any] = {}
    for column, text in row.items():
        if column in (*_PATH_COLUMNS, "case_id", "split") or text == "":
            continue
        if column in _NUMERIC_COLUMNS:
            number = _parse_number(text.rstrip("Tt ").strip() if column == "field_strength_t" else text, column, where)
            values[column] = nominal_field_strength(number) if column == "field_strength_t" else number
        elif column == "vendor":
            values[column] = canonical_vendor(text)
        elif column == "chronic_infarct":
            if text.lower() not in _BOOLEAN_VALUES:
                raise ConfigurationError(f"{where}: chronic_infarct {text!r} is not yes/no")
            values[column] = _BOOLEAN_VALUES[text.lower()]
        else:
            values[column] = text
    return values


def _parse_number(text: str, column: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{where}: {column} {text!r} is not a number") from None


def _path(base: Path, text: str) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
