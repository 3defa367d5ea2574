"""BIDS file names and JSON sidecars (ISLES'22, ATLAS R2.0, dcm2niix output).

A BIDS file name is ``key-value`` entities joined by ``_``, then a suffix and an extension:
``sub-strokecase0009_ses-0001_dwi.nii.gz`` has entities ``sub=strokecase0009, ses=0001``, suffix ``dwi``.
Files are found by these entities, never by fixed paths, because releases differ in sub-folders
(``dwi/``, ``anat/``) and in the case of suffixes (``FLAIR``/``flair``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.cases import canonical_vendor
from strokeseg.errors import InputDataError

logger = logging.getLogger(__name__)

NIFTI_EXTENSIONS: tuple[str, ...] = (".nii.gz", ".nii")
#: Nominal clinical/research field strengths (T); reported values within 5 % snap to these (Siemens 3 T
#: scanners report 2.89362, Avanto 1.5 T reports 1.494).
NOMINAL_FIELD_STRENGTHS_T: tuple[float, ...] = (0.2, 0.35, 0.5, 0.55, 1.0, 1.2, 1.5, 3.0, 5.0, 7.0, 9.4, 10.5, 11.7)


@dataclass(frozen=True)
class BidsFile:
    """A parsed BIDS file name."""

    path: Path
    entities: tuple[tuple[str, str], ...]
    suffix: str
    extension: str

    def entity(self, key: str) -> str | None:
        """Value of entity ``key`` (e.g. ``sub``), or None."""
        return dict(self.entities).get(key)

    def sibling(self, extension: str) -> Path:
        """The file with the same name and another extension (``.json`` sidecar, ``.bval``)."""
        return self.path.with_name(self.path.name[: -len(self.extension)] + extension)


def parse_bids_name(path: Path) -> BidsFile | None:
    """Parse ``path``'s name; None when it is not ``key-value_..._suffix.ext`` with a NIfTI/JSON extension."""
    name = path.name
    extension = next((ext for ext in (*NIFTI_EXTENSIONS, ".json") if name.lower().endswith(ext)), None)
    if extension is None:
        return None
    parts = name[: -len(extension)].split("_")
    if len(parts) < 2:
        return None
    entities = []
    for part in parts[:-1]:
        key, separator, value = part.partition("-")
        if not separator or not key or not value:
            return None
        entities.append((key, value))
    return BidsFile(path, tuple(entities), parts[-1], extension)


def find_bids_images(root: Path) -> list[BidsFile]:
    """Every NIfTI file below ``root`` with a BIDS name, in path order."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name.lower().endswith(NIFTI_EXTENSIONS):
            parsed = parse_bids_name(path)
            if parsed is not None:
                found.append(parsed)
    return found


def sidecar_path(image: Path) -> Path:
    """The JSON sidecar beside an image file, BIDS-named or not: ``x.nii.gz`` / ``x.nii`` -> ``x.json``."""
    name = image.name
    extension = next((ext for ext in NIFTI_EXTENSIONS if name.lower().endswith(ext)), image.suffix)
    return image.with_name(name[: len(name) - len(extension)] + ".json")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The JSON sidecar at ``path``; ``{}`` when there is none.

    Raises:
        InputDataError: the file exists but is not a JSON object.
    """
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputDataError(f"sidecar {path} could not be read as JSON ({error})") from None
    if not isinstance(content, dict):
        raise InputDataError(f"sidecar {path} is not a JSON object")
    return content


def sidecar_metadata(sidecar: Mapping[str, Any]) -> dict[str, Any]:
    """cases.csv values from a BIDS/dcm2niix sidecar.

    ``Manufacturer`` -> ``vendor`` (canonical name), ``MagneticFieldStrength`` -> ``field_strength_t`` (snapped to
    the nominal value, :func:`nominal_field_strength`),
    ``ManufacturerModelName`` (dcm2niix: ``ManufacturersModelName``) -> ``scanner_model``,
    ``DiffusionBValue`` -> ``b_value`` (s/mm²), ``SliceThickness`` -> ``slice_thickness_mm``,
    ``InstitutionName`` -> ``institution``. Absent keys are left out.
    """
    values: dict[str, Any] = {}
    vendor = canonical_vendor(sidecar.get("Manufacturer"))
    if vendor:
        values["vendor"] = vendor
    field_strength = _number(sidecar.get("MagneticFieldStrength"))
    if field_strength is not None:
        values["field_strength_t"] = nominal_field_strength(field_strength)
    for key, column in (("DiffusionBValue", "b_value"), ("SliceThickness", "slice_thickness_mm")):
        number = _number(sidecar.get(key))
        if number is not None:
            values[column] = number
    for keys, column in ((("ManufacturerModelName", "ManufacturersModelName"), "scanner_model"),
                         (("InstitutionName",), "institution")):
        text = next((sidecar[key] for key in keys if isinstance(sidecar.get(key), str) and sidecar[key].strip()), None)
        if text is not None:
            values[column] = text.strip()
    return values


#: Column of cases.csv that lists the values a manifest and a sidecar disagree on (the manifest's were kept).
CONFLICTS_COLUMN = "metadata_conflicts"


@dataclass(frozen=True)
class MergedMetadata:
    """Manifest values merged with a sidecar's (see :func:`merge_with_sidecar`).

    Attributes:
        values: the merged cases.csv values.
        conflicts: ``"column: manifest X, sidecar Y"`` for every column on which the two disagree.
    """

    values: dict[str, Any]
    conflicts: tuple[str, ...]


def merge_with_sidecar(given: Mapping[str, Any], sidecar: Mapping[str, Any]) -> MergedMetadata:
    """Sidecar values (from :func:`sidecar_metadata`) fill the gaps of ``given`` (a manifest's values); where both
    have a value, the manifest's is kept and a disagreement is listed as a conflict (numbers are compared as
    numbers, texts without regard to case or surrounding spaces). Empty manifest values (None, NaN, "") are gaps.
    """
    values = dict(given)
    conflicts = []
    for key, value in sidecar.items():
        if _is_empty(given.get(key)):
            values[key] = value
        elif not _same_value(given[key], value):
            conflicts.append(f"{key}: manifest {given[key]}, sidecar {value}")
    return MergedMetadata(values, tuple(conflicts))


def report_conflicts(case_id: str, sidecar: str, conflicts: Sequence[str]) -> None:
    """Log one warning for a case whose manifest and sidecar disagree (the values are also in cases.csv)."""
    if conflicts:
        logger.warning("case %s: the manifest and the %s disagree (%s); kept the manifest's value(s), listed in "
                       "cases.csv column %s", case_id, sidecar, "; ".join(conflicts), CONFLICTS_COLUMN)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def _same_value(first: Any, second: Any) -> bool:
    first_number, second_number = _number(first), _number(second)
    if first_number is not None and second_number is not None:
        return math.isclose(first_number, second_number, rel_tol=1e-6, abs_tol=1e-9)
    return str(first).strip().lower() == str(second).strip().lower()


def nominal_field_strength(tesla: float) -> float:
    """The nominal field strength (T) within 5 % of ``tesla`` (values above 100 are read as gauss); else ``tesla``."""
    value = tesla / 10000.0 if tesla > 100 else tesla
    nearest = min(NOMINAL_FIELD_STRENGTHS_T, key=lambda nominal: abs(nominal - value))
    return nearest if abs(nearest - value) <= 0.05 * nearest else round(value, 3)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
