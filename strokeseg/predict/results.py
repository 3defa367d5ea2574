"""The report of one predicted case: volume, lesions, location, MNI mask and QC montage.

The pieces are ``strokeseg report``'s and ``strokeseg location``'s: :func:`strokeseg.location.lookup.locate_case`
(the location rule and per-class volumes, with the atlas named), :func:`strokeseg.postprocessing.lesion_report.
lesion_records` (the lesions, largest first) and :func:`strokeseg.postprocessing.qc_figure.write_qc_png`. The case
image is registered to the MNI template once; with ``mni`` the mask is carried onto the atlas grid with the same
transform (nearest neighbour). A registration that fails its quality check gives location "unknown" and no MNI
mask, and the report says so.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from strokeseg.defaults import LESION_CONNECTIVITY, LOCATION_MIN_FRACTION, REGISTRATION_QC_MIN_DICE
from strokeseg.errors import StrokesegError
from strokeseg.io import Geometry, array_to_image, write_image_atomic
from strokeseg.location.atlas import LOCATION_CLASSES, LocationAtlas
from strokeseg.location.lookup import LOCATION_UNKNOWN, locate_case
from strokeseg.location.registration import AffineRegistration, RegistrationSettings, register_affine
from strokeseg.postprocessing.lesion_report import LOCATION_NOT_COMPUTED, lesion_records
from strokeseg.postprocessing.qc_figure import write_qc_png
from strokeseg.predict.layout import CaseFiles
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)


def class_column(name: str) -> str:
    """Cohort-table column of a location class's lesion volume (``basal ganglia & internal capsule`` ->
    ``volume_ml_basal_ganglia_internal_capsule``)."""
    return "volume_ml_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


#: Columns of the per-case CSV and of the cohort table (``predictions.csv``).
PREDICT_COLUMNS: tuple[str, ...] = (
    "case_id", "status", "note", "input_kind", "total_volume_ml", "n_lesions", "largest_lesion_ml", "location",
    "location_atlas", "location_atlas_version", "registration_qc", "registration_ok",
    *(class_column(name) for name in LOCATION_CLASSES), "uncertainty_index", "flagged", "n_members",
    "postprocessing_applied", "mask_file", "mni_mask_file", "probability_file", "qc_png", "report_json", "seconds")


@dataclass(frozen=True)
class ReportSettings:
    """How a case is reported.

    Attributes:
        location: locate lesions with the location atlas (an MNI registration, seconds per case).
        mni: also write the mask in MNI space (needs ``location``).
        min_fraction: the location rule's class threshold.
        connectivity: lesion connectivity (6, 18, 26).
        qc_threshold: registration QC threshold (head-mask Dice).
        registration: registration settings.
    """

    location: bool = True
    mni: bool = False
    min_fraction: float = LOCATION_MIN_FRACTION
    connectivity: int = LESION_CONNECTIVITY
    qc_threshold: float = REGISTRATION_QC_MIN_DICE
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)

    def key(self) -> list[Any]:
        """The settings that change a report (for resuming)."""
        return [self.location, self.mni, self.min_fraction, self.connectivity, self.qc_threshold,
                repr(self.registration)]


def report_case(image: sitk.Image, mask: np.ndarray, files: CaseFiles, atlas: LocationAtlas | None,
                settings: ReportSettings, title_extra: str = "") -> dict[str, Any]:
    """Locate, count and draw the lesions of one case whose mask (z, y, x, on ``image``'s grid) is written.

    Returns:
        ``{"summary": cohort-table values, "class_volumes_ml": {...}, "lesions": [...], "files": {...}}``.
    """
    geometry = Geometry.of(image)
    voxel_ml = voxel_volume_ml(geometry.spacing)
    summary: dict[str, Any] = {"total_volume_ml": float(np.count_nonzero(mask)) * voxel_ml,
                               "location": LOCATION_NOT_COMPUTED, "location_atlas": "", "location_atlas_version": "",
                               "registration_qc": math.nan, "registration_ok": None}
    class_volumes: dict[str, float] = {}
    notes, written = [], {"mask_file": str(files.mask)}
    locations = None
    if settings.location and atlas is not None:
        mask_image = array_to_image(mask.astype(np.uint8), image)
        try:
            registration = register_affine(image, atlas.template, atlas.brain_mask, settings.registration,
                                           settings.qc_threshold)
            located = locate_case(image, mask_image, min_fraction=settings.min_fraction, atlas=atlas,
                                  connectivity=settings.connectivity, registration=registration)
        except StrokesegError as error:  # the volumes are still right; the location is not known
            logger.warning("case %s: location unknown (%s)", files.prefix, error)
            summary.update(location=LOCATION_UNKNOWN, registration_ok=False)
            notes.append(f"atlas location failed: {error}")
        else:
            locations = [lesion.label for lesion in located.lesions]
            class_volumes = dict(located.class_volumes_ml)
            summary.update(location=located.label, registration_qc=located.registration_qc,
                           registration_ok=located.registration_ok, location_atlas=located.atlas,
                           location_atlas_version=located.atlas_version)
            if not located.registration_ok:
                notes.append(f"registration to MNI failed its QC (head-mask Dice {located.registration_qc:.2f} < "
                             f"{settings.qc_threshold}): location unknown")
            if settings.mni and located.registration_ok:
                written["mni_mask_file"] = str(write_mni_mask(mask_image, registration, atlas, files))
            elif settings.mni:
                notes.append("no MNI-space mask: the registration failed its QC")
    lesions = lesion_records(mask, geometry, locations=locations, connectivity=settings.connectivity)
    summary.update(n_lesions=len(lesions), largest_lesion_ml=lesions[0].volume_ml if lesions else 0.0,
                   **{class_column(name): class_volumes.get(name, math.nan) for name in LOCATION_CLASSES})
    title = (f"{files.prefix}: {summary['total_volume_ml']:.2f} mL, {len(lesions)} lesion(s), "
             f"location: {summary['location']}{title_extra}")
    written["qc_png"] = str(write_qc_png(image, mask, files.qc_png, title=title))
    lesion_rows = [{"lesion_index": lesion.lesion_index, "volume_ml": lesion.volume_ml, "location": lesion.location,
                    "centre_x_mm": lesion.centre_mm[0], "centre_y_mm": lesion.centre_mm[1],
                    "centre_z_mm": lesion.centre_mm[2]} for lesion in lesions]
    return {"summary": summary, "notes": notes, "class_volumes_ml": class_volumes, "lesions": lesion_rows,
            "files": written}


def write_mni_mask(mask_image: sitk.Image, registration: AffineRegistration, atlas: LocationAtlas,
                   files: CaseFiles) -> Path:
    """The mask resampled (nearest neighbour) onto the atlas's 1 mm MNI grid through the case's registration."""
    resampled = sitk.Resample(mask_image, atlas.class_map, registration.template_to_case, sitk.sitkNearestNeighbor,
                              0, sitk.sitkUInt8)
    return write_image_atomic(resampled, files.mni_mask)
