"""Location strata from the location atlas, with a cache so that registrations run once per case.

The atlas lookup itself (registration to MNI, class volumes, QC) lives in ``strokeseg.location.lookup``
(``locate_case``); it is imported only when atlas locations are requested. Registration takes seconds per
case, and many models are evaluated on one test set, so results are kept in a CSV cache
(``locations.csv`` in the report folder unless ``--location-cache`` names another file) keyed by the
case, the size and modification time of its image and reference files, the minimum class fraction and the
atlas (name and version), so that a row located with another atlas is never reused. Every row records the
atlas it was located with (``atlas``, ``atlas_version``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import atomic_path
from strokeseg.location.choices import DEFAULT_ATLAS_SOURCE
from strokeseg.volumes import NO_LESION, UNKNOWN

logger = logging.getLogger(__name__)

LOCATION_CACHE_COLUMNS: tuple[str, ...] = ("case_id", "location", "registration_ok", "class_volumes_ml", "note",
                                           "atlas", "atlas_version", "image_file", "reference_file", "key")

_ATLAS_COLUMNS = ("atlas", "atlas_version")


@dataclass(frozen=True)
class LocationAtlasId:
    """Name and version of a location atlas (``LocationAtlas.source``, ``LocationAtlas.version``)."""

    name: str
    version: str


@dataclass(frozen=True)
class LocationTask:
    """One case to locate: its image (for registration), reference lesion mask and the atlas to use."""

    case_id: str
    image: Path
    reference: Path
    min_fraction: float
    atlas: LocationAtlasId

    def key(self) -> str:
        """Cache key: file identities (size, mtime), the minimum class fraction, the atlas name and version."""
        return (f"{_stamp(self.image)}|{_stamp(self.reference)}|{self.min_fraction:g}|{self.atlas.name}|"
                f"{self.atlas.version}")


def _stamp(path: Path) -> str:
    status = path.stat()
    return f"{status.st_size}:{status.st_mtime_ns}"


def require_location_atlas() -> None:
    """Raise ConfigurationError unless ``strokeseg.location.lookup`` can be imported."""
    try:
        import strokeseg.location.lookup  # noqa: F401
    except ImportError as error:
        raise ConfigurationError(f"atlas locations need strokeseg.location.lookup, which cannot be imported "
                                 f"({error}); use --location cases or --location none") from None


def current_atlas(source: str = DEFAULT_ATLAS_SOURCE, cache_dir: Path | None = None) -> LocationAtlasId:
    """The name and version of ``source``'s atlas in the cache (built first when missing)."""
    from strokeseg.location.atlas import atlas_identity

    return LocationAtlasId(*atlas_identity(cache_dir, source))


def locate(task: LocationTask, cache_dir: Path | None = None) -> dict[str, Any]:
    """Locate one case with the task's atlas (from ``cache_dir``); a cache row. Cases whose files cannot be used
    get "unknown" and the reason in ``note``.

    Raises:
        ConfigurationError: the atlas in the cache is not the task's (another version was installed meanwhile).
    """
    from strokeseg.location.atlas import load_location_atlas
    from strokeseg.location.lookup import locate_case

    atlas = load_location_atlas(cache_dir, task.atlas.name)
    if atlas.version != task.atlas.version:
        raise ConfigurationError(f"the {atlas.source} location atlas changed from {task.atlas.version!r} to "
                                 f"{atlas.version!r} during the run; run again")
    row = {"case_id": task.case_id, "image_file": str(task.image), "reference_file": str(task.reference),
           "key": task.key(), "note": "", "class_volumes_ml": "{}", "atlas": atlas.source,
           "atlas_version": atlas.version}
    try:
        result = locate_case(task.image, task.reference, min_fraction=task.min_fraction, atlas=atlas)
    except InputDataError as error:
        return {**row, "location": UNKNOWN, "registration_ok": False, "note": str(error)}
    volumes = {str(name): float(value) for name, value in dict(result.class_volumes_ml).items()}
    return {**row, "location": result.label, "registration_ok": bool(result.registration_ok),
            "class_volumes_ml": json.dumps(volumes, sort_keys=True),
            "note": "" if result.registration_ok else "registration QC failed"}


def read_location_cache(path: Path) -> dict[str, dict[str, Any]]:
    """case_id -> cached row (empty when the cache does not exist)."""
    if not path.is_file():
        return {}
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in _ATLAS_COLUMNS:  # caches written before the atlas was recorded: their keys are stale anyway
        if column not in table.columns:
            table[column] = ""
    missing = [c for c in LOCATION_CACHE_COLUMNS if c not in table.columns]
    if missing:
        raise InputDataError(f"location cache {path} lacks column(s) {', '.join(missing)}; delete it to rebuild")
    return {row["case_id"]: dict(row) for row in table.to_dict("records")}


def write_location_cache(path: Path, rows: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write the cache atomically (one row per case, sorted by case_id)."""
    table = pd.DataFrame([dict(rows[case]) for case in sorted(rows)], columns=list(LOCATION_CACHE_COLUMNS))
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path


def pending_tasks(tasks: list[LocationTask], cache: Mapping[str, Mapping[str, Any]]) -> list[LocationTask]:
    """The tasks whose cached row is missing or stale."""
    return [task for task in tasks if cache.get(task.case_id, {}).get("key") != task.key()]


def location_labels(case_ids: list[str], cache: Mapping[str, Mapping[str, Any]],
                    empty_reference: set[str]) -> dict[str, str]:
    """case_id -> location label: "no lesion" for empty references, cached labels, else "unknown"."""
    labels = {}
    for case in case_ids:
        if case in empty_reference:
            labels[case] = NO_LESION
        else:
            labels[case] = str(cache.get(case, {}).get("location") or UNKNOWN)
    return labels
