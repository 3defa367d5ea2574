"""Ventricle masks of the cases from the registered location atlas (for periventricular / deep WMH subregions).

Each case image is registered affinely to the MNI template (as for the atlas locations) and the atlas's
ventricles are carried onto the case grid (``strokeseg.location.lookup.ventricles_on_case_grid``). The masks
are written to a folder, one ``<case_id>.nii.gz`` per case, with ``atlas.json`` naming the atlas and its
version. A later run reuses a mask that is newer than its image and was made with the same atlas, so
registrations run once per case; a case whose registration fails its quality check gets no mask and a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import read_json, write_image_atomic, write_json_atomic
from strokeseg.location.cache import LocationAtlasId

#: File beside the masks naming the atlas they come from.
VENTRICLE_ATLAS_FILE = "atlas.json"


@dataclass(frozen=True)
class VentricleTask:
    """One case whose atlas ventricles to write: its image (for registration) and the mask file to write."""

    case_id: str
    image: Path
    mask_file: Path
    atlas: LocationAtlasId

    def is_done(self) -> bool:
        """The mask exists and is newer than the image (the atlas is checked once per folder)."""
        return self.mask_file.is_file() and self.mask_file.stat().st_mtime_ns >= self.image.stat().st_mtime_ns


def prepare_ventricle_folder(folder: Path, atlas: LocationAtlasId) -> None:
    """Create ``folder``; masks made with another atlas (``atlas.json``) are removed so that they are redone."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / VENTRICLE_ATLAS_FILE
    current = {"atlas": atlas.name, "atlas_version": atlas.version}
    if record.is_file() and read_json(record) == current:
        return
    for mask in folder.glob("*.nii.gz"):
        mask.unlink()
    write_json_atomic(record, current)


def write_atlas_ventricles(task: VentricleTask, cache_dir: Path | None = None) -> dict[str, Any]:
    """Write one case's atlas ventricle mask; a row ``{case_id, mask_file, note}`` (note empty when written).

    Raises:
        ConfigurationError: the atlas in the cache is not the task's (another version was installed meanwhile).
    """
    from strokeseg.location.atlas import load_location_atlas
    from strokeseg.location.lookup import ventricles_on_case_grid

    row = {"case_id": task.case_id, "mask_file": str(task.mask_file), "note": ""}
    if task.is_done():
        return row
    atlas = load_location_atlas(cache_dir, task.atlas.name)
    if atlas.version != task.atlas.version:
        raise ConfigurationError(f"the {atlas.source} location atlas changed from {task.atlas.version!r} to "
                                 f"{atlas.version!r} during the run; run again")
    try:
        mask = ventricles_on_case_grid(task.image, atlas=atlas)
    except InputDataError as error:
        return {**row, "mask_file": "", "note": str(error)}
    if mask is None:
        return {**row, "mask_file": "", "note": f"registration of {task.image} to the MNI template failed its "
                                                "quality check; no atlas ventricles"}
    write_image_atomic(mask, task.mask_file)
    return row
