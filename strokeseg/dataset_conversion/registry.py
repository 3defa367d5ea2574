"""A multi-site registry (Noh's DWI cohort, Kim's FLAIR WMH cohort, ...) from a manifest CSV -> nnU-Net.

``SRC`` is the manifest CSV or a folder holding ``manifest.csv``. One row per case; paths are relative to
the CSV (absolute paths are taken as they are)::

    case_id, dwi?, adc?, b0?, flair?, t1w?, dicom?, mask | mask_1, mask_2, ...?, <name>_mask?, site, vendor,
    field_strength_t, onset_to_imaging_h?, location?, chronic_infarct?, wmh_volume_ml?, split?, <any further column>

Channels: any set of ``DWI``, ``ADC``, ``b0``, ``FLAIR``, ``T1w`` declared for the cohort with ``channels=``
(``--channels FLAIR`` for a FLAIR-only WMH cohort, ``DWI`` for a DWI-only one); by default every image column
that has values, in the order DWI, ADC, b0, FLAIR, T1w (a DICOM row provides DWI and ADC). The first channel
defines the case's grid; a channel of another acquisition (diffusion: DWI/ADC/b0; FLAIR; T1w) is registered
and resampled onto it when it lies on another grid; channels of the first channel's acquisition must share
its grid. A row gives its images as NIfTI files or as a folder of DICOM series (``dicom``; diffusion
channels only), converted with dcm2niix (:mod:`strokeseg.dataset_conversion.dicom`).
The acquisition is read from the first channel's BIDS sidecar (the JSON file beside a NIfTI image, the DWI
series' sidecar dcm2niix writes): vendor, field strength, scanner model, b-value, slice thickness, institution
(:func:`~strokeseg.dataset_conversion.bids.sidecar_metadata`). Manifest values override the sidecar's;
disagreements are logged and listed in cases.csv (``metadata_conflicts``).

Labels: ``mask`` is the lesion mask; several readings of one case (``mask``, ``mask_2``, ... or ``mask_1``,
``mask_2``, ...) are combined by a k-of-n vote (``votes=``, default a strict majority of the readings a row
has; :func:`strokeseg.labels.vote_label_maps`), and cases.csv records ``n_readings`` and ``votes``. With
``ignore_label`` the masks hold 0 / 1 = lesion / 2 = other pathology, and 2 is nnU-Net's ignore label (the
WMH challenge's convention, :mod:`strokeseg.dataset_conversion.wmh`). A column ``<name>_mask`` (e.g.
``infarct_mask``) is an extra mask, not a label: stored on its own grid in ``extra_masks/<name>/`` beside the
dataset, with ``<name>_mask`` (its path in the dataset) and ``<name>_volume_ml`` in cases.csv for strata.
``split`` is ``train`` (default) or ``test``; a test row without a mask goes to ``imagesTs`` without a label.
Further columns are copied to cases.csv.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    choose_channels,
    missing_files,
    normalise_split,
)
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.labels import default_votes
from strokeseg.modalities import (
    CHANNEL_ADC,
    CHANNEL_B0,
    CHANNEL_DWI,
    CHANNEL_FLAIR,
    CHANNEL_T1W,
    LABEL_BACKGROUND,
    LABEL_IGNORE,
)

COHORT = "registry"
MANIFEST_NAME = "manifest.csv"
#: Image columns of the manifest and the channel each provides, in default channel order.
CHANNEL_COLUMNS: dict[str, str] = {"dwi": CHANNEL_DWI, "adc": CHANNEL_ADC, "b0": CHANNEL_B0, "flair": CHANNEL_FLAIR,
                                   "t1w": CHANNEL_T1W}
#: The acquisition each channel comes from: channels of one acquisition share a grid, others are registered.
ACQUISITIONS: dict[str, str] = {CHANNEL_DWI: "diffusion", CHANNEL_ADC: "diffusion", CHANNEL_B0: "diffusion",
                                CHANNEL_FLAIR: "FLAIR", CHANNEL_T1W: "T1w"}
REQUIRED_COLUMNS: tuple[str, ...] = ("case_id", "site", "vendor", "field_strength_t")
#: Mask values of a registry with ``ignore_label``: the WMH challenge's 0 background, 1 lesion, 2 other pathology.
IGNORE_LABELS: dict[str, int] = {LABEL_BACKGROUND: 0, "lesion": 1, LABEL_IGNORE: 2}
_READING_COLUMN = re.compile(r"mask(_\d+)?")
_EXTRA_MASK_COLUMN = re.compile(r"([a-z0-9]+)_mask")
_NUMERIC_COLUMNS = ("field_strength_t", "onset_to_imaging_h", "wmh_volume_ml")
_BOOLEAN_VALUES = {"yes": True, "y": True, "true": True, "1": True, "1.0": True,
                   "no": False, "n": False, "false": False, "0": False, "0.0": False}


@dataclass(frozen=True)
class ManifestColumns:
    """Which manifest columns hold what.

    Attributes:
        readings: the lesion-mask columns (``mask``, ``mask_2``, ...), in manifest order.
        extra_masks: extra-mask name -> column (``infarct`` -> ``infarct_mask``).
    """

    readings: tuple[str, ...]
    extra_masks: dict[str, str]

    @property
    def paths(self) -> tuple[str, ...]:
        """Every column that holds a path (not copied to cases.csv as metadata)."""
        return (*CHANNEL_COLUMNS, "dicom", *self.readings, *self.extra_masks.values())


def manifest_columns(table: pd.DataFrame) -> ManifestColumns:
    """The reading and extra-mask columns of a manifest."""
    readings = tuple(column for column in table.columns if _READING_COLUMN.fullmatch(column))
    extra = {match.group(1): column for column in table.columns
             if (match := _EXTRA_MASK_COLUMN.fullmatch(column)) and column not in readings}
    return ManifestColumns(readings, extra)


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
        ConfigurationError: a required column is missing, or there is no image column, or no mask column.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InputDataError(f"registry manifest {path} could not be read as CSV ({error})") from None
    table.columns = [str(column).strip().lower() for column in table.columns]
    table = table.apply(lambda column: column.str.strip())
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if not any(column in table.columns for column in (*CHANNEL_COLUMNS, "dicom")):
        missing.append(f"an image column ({', '.join(CHANNEL_COLUMNS)} or dicom)")
    if not manifest_columns(table).readings:
        missing.append("mask (or mask_1, mask_2, ... for several readings)")
    if missing:
        raise ConfigurationError(f"registry manifest {path} lacks the column(s) {', '.join(missing)}; expected "
                                 f"{', '.join(REQUIRED_COLUMNS)}, image columns ({', '.join(CHANNEL_COLUMNS)} or "
                                 "dicom), mask, and optionally mask_2..., <name>_mask, onset_to_imaging_h, location, "
                                 f"chronic_infarct, wmh_volume_ml, split (found: {', '.join(table.columns)})")
    return table


def manifest_channels(table: pd.DataFrame) -> tuple[str, ...]:
    """Default channels of a manifest: every image column with values, in ``CHANNEL_COLUMNS`` order (a DICOM row
    provides DWI and ADC)."""
    has_dicom = "dicom" in table.columns and table["dicom"].astype(bool).any()
    present = {column for column in CHANNEL_COLUMNS if column in table.columns and table[column].astype(bool).any()}
    if has_dicom:
        present |= {"dwi", "adc"}
    return tuple(CHANNEL_COLUMNS[column] for column in CHANNEL_COLUMNS if column in present)


def registry_spec(channels: Sequence[str], require_lesion: bool = True, ignore_label: bool = False) -> CohortSpec:
    """The registry's channels and its binary lesion label (0/1, or 0/1/2 with 2 = ignore)."""
    description = f"multi-site registry ({', '.join(channels)})"
    if ignore_label:
        return CohortSpec(COHORT, tuple(channels), IGNORE_LABELS, mask_values=frozenset(IGNORE_LABELS.values()),
                          binary_masks=False, require_lesion=require_lesion,
                          description=f"{description}; label 2 (other pathology) is nnU-Net's ignore label")
    return CohortSpec(COHORT, tuple(channels), {LABEL_BACKGROUND: 0, "lesion": 1}, require_lesion=require_lesion,
                      description=description)


def plan_registry(source: Path, channels: Sequence[str] | None = None, target_b: float = TARGET_B_VALUE,
                  require_lesion: bool = True, votes: int | None = None,
                  ignore_label: bool = False) -> tuple[CohortSpec, Discovery]:
    """Read the manifest and return the cohort spec and the discovered cases.

    Args:
        source: the manifest CSV or its folder.
        channels: the cohort's channels (default: :func:`manifest_channels`).
        target_b: b-value (s/mm²) of the DWI taken from multi-b DICOM series.
        require_lesion: a training mask without lesion is invalid.
        votes: readings (``mask``, ``mask_2``, ...) that must mark a voxel for it to be lesion (default: a strict
            majority of the readings each row has).
        ignore_label: masks hold 0/1/2 with 2 = other pathology, written as nnU-Net's ignore label.

    Raises:
        InputDataError / ConfigurationError: the manifest is missing or lacks columns; an unknown channel;
            ``votes`` above the number of reading columns.
    """
    path = manifest_path(source)
    table = read_manifest(path)
    columns = manifest_columns(table)
    chosen = choose_channels(channels, tuple(CHANNEL_COLUMNS.values()), manifest_channels(table), "registry")
    if votes is not None and not 1 <= votes <= len(columns.readings):
        raise ConfigurationError(f"--votes {votes}: the manifest has {len(columns.readings)} reading column(s) "
                                 f"({', '.join(columns.readings)}); a voxel can need 1 to {len(columns.readings)} "
                                 "votes (add mask_2, mask_3, ... columns for several readings)")
    rules = _RowRules(path.parent, chosen, target_b, columns, votes)
    discovery = Discovery([], [])
    for row_number, row in enumerate(table.to_dict("records"), start=2):
        case_id = safe_case_id(row["case_id"]) or f"row{row_number}"
        try:
            discovery.cases.append(_case(row, rules, f"{path.name} line {row_number}"))
        except (InputDataError, ConfigurationError) as error:
            sources = {f"source_{key}": row[key] for key in columns.paths if row.get(key)}
            discovery.skipped.append(SkippedCase(case_id, str(error), sources))
    discovery.drop_duplicate_ids()
    return registry_spec(chosen, require_lesion, ignore_label), discovery


@dataclass(frozen=True)
class _RowRules:
    """What every row of one manifest is read with."""

    base: Path
    channels: tuple[str, ...]
    target_b: float
    columns: ManifestColumns
    votes: int | None


def _case(row: dict[str, str], rules: _RowRules, where: str) -> CaseSource:
    if not row["case_id"]:
        raise InputDataError(f"{where}: empty case_id")
    case_id = safe_case_id(row["case_id"])
    split = normalise_split(row.get("split"), where)
    metadata = _metadata(row, rules.columns, where)
    if case_id != row["case_id"]:
        metadata["original_id"] = row["case_id"]
    readings = [(column, _path(rules.base, row.get(column, ""))) for column in rules.columns.readings]
    masks = tuple(mask for _, mask in readings if mask is not None)
    if not masks and split != SPLIT_TEST:
        raise InputDataError(f"{where}: no mask given for a training case (missing modality)")
    votes = _votes(len(masks), rules, where) if masks and len(rules.columns.readings) > 1 else None
    extra = {name: _path(rules.base, row.get(column, "")) for name, column in rules.columns.extra_masks.items()}
    extra_masks = {name: mask for name, mask in extra.items() if mask is not None}
    mask_files: list[tuple[str, Path | None]] = [(column, mask) for column, mask in readings if mask is not None]
    mask_files += [(f"{name} mask", mask) for name, mask in extra_masks.items()]
    dicom_dir = _path(rules.base, row.get("dicom", "")) if not row.get("dwi") else None
    if dicom_dir is not None:
        unavailable = [name for name in rules.channels if name not in DICOM_CHANNELS]
        problems = missing_files(mask_files)
        if not dicom_dir.is_dir():
            problems.append(f"DICOM folder {dicom_dir} does not exist")
        if unavailable:
            problems.append(f"channel(s) {', '.join(unavailable)} cannot come from DICOM (use NIfTI columns)")
        if problems:
            raise InputDataError(f"{where}: {'; '.join(problems)}")
        prepare = functools.partial(resolve_dicom_case, dicom_dir=dicom_dir, channels=rules.channels,
                                    target_b=rules.target_b)
        return CaseSource(case_id, split, (), masks, {**metadata, "source_dicom": str(dicom_dir)}, prepare,
                          (dicom_dir,), votes, extra_masks)
    column_of = {channel: column for column, channel in CHANNEL_COLUMNS.items()}
    sources = [(f"{name} image", _path(rules.base, row.get(column_of[name], ""))) for name in rules.channels]
    problems = missing_files(sources + mask_files)
    if problems:
        raise InputDataError(f"{where}: {'; '.join(problems)} (missing modality or file)")
    first = ACQUISITIONS[rules.channels[0]]
    channel_sources = tuple(ChannelSource(name, path, register=ACQUISITIONS[name] != first)
                            for name, (_, path) in zip(rules.channels, sources, strict=True) if path is not None)
    return CaseSource(case_id, split, channel_sources, masks,
                      _with_sidecar(case_id, metadata, channel_sources[0].path), votes=votes, extra_masks=extra_masks)


def _votes(readings: int, rules: _RowRules, where: str) -> int:
    """Votes a voxel needs among a row's ``readings`` (``rules.votes``, else a strict majority).

    Raises:
        InputDataError: the row has fewer readings than ``rules.votes``.
    """
    if rules.votes is None:
        return default_votes(readings)
    if rules.votes > readings:
        raise InputDataError(f"{where}: {readings} reading(s) given but --votes {rules.votes} needs at least "
                             f"{rules.votes} (fill the mask columns {', '.join(rules.columns.readings)})")
    return rules.votes


def _with_sidecar(case_id: str, metadata: dict[str, Any], image: Path) -> dict[str, Any]:
    """``metadata`` (the manifest's) completed from the first channel's JSON sidecar, as the DICOM path does;
    without a ``DiffusionBValue`` in the sidecar, the b-value comes from a ``.bval`` beside the image that holds
    one b.

    Raises:
        InputDataError: the sidecar exists but is not a JSON object; the ``.bval`` holds something else than
            numbers.
    """
    sidecar = sidecar_path(image)
    values = sidecar_metadata(read_sidecar(sidecar))
    bval = sidecar.with_suffix(".bval")
    if "b_value" not in values and bval.is_file():
        b_values = set(read_bval(bval))
        if len(b_values) == 1:  # a 3-D trace image: its one b (several b-values say nothing about this image)
            values["b_value"] = b_values.pop()
    merged = merge_with_sidecar(metadata, values)
    report_conflicts(case_id, f"sidecar {sidecar}", merged.conflicts)
    return {**merged.values, CONFLICTS_COLUMN: "; ".join(merged.conflicts)} if merged.conflicts else merged.values


def _metadata(row: dict[str, str], columns: ManifestColumns, where: str) -> dict[str, Any]:
    """cases.csv values of a manifest row: typed known columns, further columns as text."""
    values: dict[str, Any] = {}
    for column, text in row.items():
        if column in (*columns.paths, "case_id", "split") or text == "":
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
