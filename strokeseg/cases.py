"""``cases.csv``: the one table of per-case metadata.

Converters write it next to ``dataset.json``; evaluation reads it to stratify results. One row per case;
``case_id`` is the nnU-Net case identifier (file name without ``_0000.nii.gz``). Missing values are empty
cells. Columns beyond ``CASE_COLUMNS`` are allowed and kept (evaluation can stratify by any column with
``--by``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strokeseg.errors import InputDataError
from strokeseg.io import PathLike, atomic_path

CASES_FILE = "cases.csv"
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CaseColumn:
    """One documented column of cases.csv."""

    name: str
    dtype: str  # pandas dtype used when reading: "string", "Float64", "Int64", "boolean"
    description: str


CASE_COLUMNS: tuple[CaseColumn, ...] = (
    CaseColumn("case_id", "string", "nnU-Net case identifier (required, unique)"),
    CaseColumn("split", "string", "where the case lives: 'train' (imagesTr) or 'test' (imagesTs)"),
    CaseColumn("site", "string", "acquisition site / hospital"),
    CaseColumn("vendor", "string", "scanner manufacturer, canonical: Siemens, GE, Philips, Canon, Hitachi, other"),
    CaseColumn("field_strength_t", "Float64", "magnetic field strength in tesla"),
    CaseColumn("onset_to_imaging_h", "Float64", "hours from last-known-well to imaging"),
    CaseColumn("chronic_infarct", "boolean", "an old (chronic) infarct is also present"),
    CaseColumn("wmh_volume_ml", "Float64", "white-matter hyperintensity volume in mL"),
    CaseColumn("location", "string", "infarct location class (see strokeseg.location.lookup), if known"),
    CaseColumn("lesion_volume_ml", "Float64", "reference lesion volume in mL (label > 0, ignore label excluded)"),
    CaseColumn("n_lesions", "Int64", "number of reference lesions (26-connected components)"),
    CaseColumn("b_value", "Float64", "diffusion b-value of the DWI channel in s/mm²"),
    CaseColumn("n_readings", "Int64", "number of repeated readings (masks) the reference was voted from"),
    CaseColumn("votes", "Int64", "readings that had to mark a voxel for it to be lesion (k of n_readings)"),
)

_DTYPES = {column.name: column.dtype for column in CASE_COLUMNS}

_VENDOR_PREFIXES: tuple[tuple[str, str], ...] = (
    ("siemens", "Siemens"), ("ge ", "GE"), ("ge_", "GE"), ("general electric", "GE"), ("gehc", "GE"),
    ("philips", "Philips"), ("canon", "Canon"), ("toshiba", "Canon"), ("hitachi", "Hitachi"),
)


def canonical_vendor(manufacturer: str | None) -> str | None:
    """Map a DICOM/BIDS ``Manufacturer`` string to a canonical vendor name.

    ``"SIEMENS"`` -> Siemens, ``"GE MEDICAL SYSTEMS"`` -> GE, ``"Philips Medical Systems"`` -> Philips,
    ``"TOSHIBA_MEC"`` -> Canon; anything else non-empty is returned stripped; empty -> None.
    """
    if manufacturer is None or not str(manufacturer).strip():
        return None
    text = str(manufacturer).strip()
    lowered = text.lower()
    if lowered == "ge":
        return "GE"
    for prefix, vendor in _VENDOR_PREFIXES:
        if lowered.startswith(prefix):
            return vendor
    return text


def safe_case_id(identifier: str) -> str:
    """``identifier`` with every run of characters other than letters, digits, ``-``, ``_`` replaced by ``_``."""
    cleaned = _UNSAFE_ID_CHARACTERS.sub("_", str(identifier).strip()).strip("_")
    return cleaned


def read_cases(path: PathLike) -> pd.DataFrame:
    """Read cases.csv with the documented dtypes, indexed by nothing (``case_id`` is a column).

    Raises:
        InputDataError: the file is missing, lacks ``case_id``, or repeats a case_id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"cases table {path} does not exist")
    table = pd.read_csv(path, dtype={"case_id": "string"}, keep_default_na=True)
    if "case_id" not in table.columns:
        raise InputDataError(f"{path} has no 'case_id' column (columns: {', '.join(table.columns)})")
    duplicated = table["case_id"][table["case_id"].duplicated()].tolist()
    if duplicated:
        raise InputDataError(f"{path} repeats case_id {', '.join(map(str, duplicated[:5]))}; case ids must be unique")
    for name, dtype in _DTYPES.items():
        if name in table.columns:
            try:
                table[name] = _coerce(table[name], dtype)
            except (TypeError, ValueError) as error:
                raise InputDataError(f"{path}: column {name!r} must be {dtype} ({error})") from None
    return table


_BOOLEAN_TEXT = {"yes": True, "no": False, "true": True, "false": False, "y": True, "n": False,
                 "1": True, "0": False, "1.0": True, "0.0": False}


def parse_yes_no(value: Any, column: str = "value") -> bool | None:
    """A yes/no cell as a bool (``None`` when missing); accepts bools, 0/1 and yes/no/true/false text.

    Raises:
        ValueError: the text is not one of the accepted spellings.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text == "":
        return None
    if text not in _BOOLEAN_TEXT:
        raise ValueError(f"{column} {value!r} is not yes/no (accepted: {', '.join(_BOOLEAN_TEXT)})")
    return _BOOLEAN_TEXT[text]


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "boolean":
        return series.map(lambda v: parse_yes_no(v, str(series.name))).astype("boolean")
    if dtype in ("Float64", "Int64"):
        return pd.to_numeric(series, errors="raise").astype(dtype)
    return series.astype(dtype)


def write_cases(table: pd.DataFrame, path: PathLike, overwrite: bool = False) -> Path:
    """Write cases.csv atomically: documented columns first (in order), other columns after; booleans yes/no."""
    if "case_id" not in table.columns:
        raise InputDataError("cases table has no 'case_id' column")
    documented = [c.name for c in CASE_COLUMNS if c.name in table.columns]
    ordered = table[documented + [c for c in table.columns if c not in documented]].copy()
    for name in ordered.columns:
        if _DTYPES.get(name) == "boolean":
            try:
                flags = [parse_yes_no(value, name) for value in ordered[name].tolist()]
            except ValueError as error:
                raise InputDataError(f"cases table for {path}: {error}") from None
            ordered[name] = ["" if flag is None else ("yes" if flag else "no") for flag in flags]
    with atomic_path(path, overwrite=overwrite) as temporary:
        ordered.to_csv(temporary, index=False)
    return Path(path)
