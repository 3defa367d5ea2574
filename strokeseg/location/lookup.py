"""Infarct location of a case: register to MNI, read the 8-class location atlas, apply the location rule.

Rule (docs/location.md, "The rule"): a class counts when it holds at least ``min_fraction`` (default 20 %) of the
lesion volume; one class -> that class, more -> "multiple". Fractions are taken over the lesion voxels that
fall on a brain class after registration (voxels mapped into the ventricles or outside the brain are left
out); a lesion none of whose classes reaches ``min_fraction`` is spread over five or more classes and is
"multiple" as well. A registration that fails the quality check gives "unknown", never a guess; a lesion
that maps entirely outside the brain classes is "unknown" too; an empty mask gives "no lesion" (the
stratum evaluation uses for an empty reference). The mask must be binary: 0 and one positive value; NaN or
infinite values, negative values or several lesion values are an ``InputDataError`` (nothing is guessed).

Pure computation (``location_from_counts``, ``classify_fractions``) is separate from the image work
(``locate_case``) so that the rule is testable on numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.defaults import LESION_CONNECTIVITY, LOCATION_MIN_FRACTION, REGISTRATION_QC_MIN_DICE
from strokeseg.errors import GeometryError, InputDataError
from strokeseg.io import Geometry, PathLike, count_nonfinite_voxels, read_image
from strokeseg.location.atlas import LOCATION_CLASSES, VENTRICLE_CODE, LocationAtlas, load_location_atlas
from strokeseg.location.registration import AffineRegistration, RegistrationSettings, register_affine

__all__ = [
    "LOCATION_CLASSES",
    "LOCATION_MULTIPLE",
    "LOCATION_NO_LESION",
    "LOCATION_UNKNOWN",
    "CaseLocation",
    "LesionLocation",
    "LocationAtlas",
    "classify_fractions",
    "load_location_atlas",
    "locate_case",
    "locate_lesions",
    "ventricles_on_case_grid",
]

LOCATION_MULTIPLE = "multiple"
LOCATION_UNKNOWN = "unknown"
LOCATION_NO_LESION = "no lesion"


@dataclass(frozen=True)
class LesionLocation:
    """Location of one lesion (a connected component of the mask).

    Attributes:
        lesion_index: 1 for the largest lesion, 2 for the next, ... (components by decreasing volume).
        volume_ml: lesion volume in mL (case grid).
        label: a class of ``LOCATION_CLASSES``, "multiple" or "unknown".
        class_fractions: fraction of the lesion's in-brain voxels in each class (empty when unknown).
    """

    lesion_index: int
    volume_ml: float
    label: str
    class_fractions: dict[str, float]


@dataclass(frozen=True)
class CaseLocation:
    """Location of a case's lesion mask.

    Attributes:
        label: a class of ``LOCATION_CLASSES``, "multiple", "unknown" (failed registration QC) or "no lesion".
        class_volumes_ml: lesion volume (mL, case grid) in each class; NaN when the registration failed.
        lesions: per-lesion locations, largest first.
        registration_qc: the registration quality value (head-mask Dice with the template, 0..1).
        registration_ok: whether it passed the threshold.
        atlas: name of the location atlas used (``LocationAtlas.source``).
        atlas_version: its version (``LocationAtlas.version``: packages, recipe, class-map hash).
    """

    label: str
    class_volumes_ml: dict[str, float]
    lesions: tuple[LesionLocation, ...]
    registration_qc: float
    registration_ok: bool
    atlas: str
    atlas_version: str


def classify_fractions(fractions: Mapping[str, float], min_fraction: float = LOCATION_MIN_FRACTION) -> str:
    """The location rule on class fractions (summing to 1, or all zero): a class, "multiple" or "unknown"."""
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if not any(value > 0 for value in fractions.values()):
        return LOCATION_UNKNOWN
    counted = [name for name in LOCATION_CLASSES if fractions.get(name, 0.0) >= min_fraction]
    return counted[0] if len(counted) == 1 else LOCATION_MULTIPLE


def fractions_from_counts(counts: np.ndarray) -> dict[str, float]:
    """Per-class fractions from voxel counts indexed by class code (index 0 and codes > 8 are ignored)."""
    in_classes = np.asarray(counts[1:len(LOCATION_CLASSES) + 1], dtype=float)
    total = float(in_classes.sum())
    if total == 0:
        return {}
    return {name: float(value / total) for name, value in zip(LOCATION_CLASSES, in_classes, strict=True)}


def locate_lesions(lesion: np.ndarray, class_codes: np.ndarray, voxel_ml: float,
                   min_fraction: float = LOCATION_MIN_FRACTION,
                   connectivity: int = LESION_CONNECTIVITY) -> tuple[str, dict[str, float], tuple[LesionLocation, ...]]:
    """Case label, per-class volumes (mL) and per-lesion locations from arrays on one grid.

    Args:
        lesion: boolean lesion mask.
        class_codes: location-atlas codes on the same grid (0 none, 1..8 classes, 9 ventricles).
        voxel_ml: volume of one voxel in mL.
        min_fraction: the rule's class threshold.
        connectivity: 6, 18 or 26 (lesions are connected components).
    """
    if lesion.shape != class_codes.shape:
        raise GeometryError(f"lesion mask {lesion.shape} and class map {class_codes.shape} differ in shape")
    structure = _structure(connectivity)
    components, count = ndimage.label(lesion, structure=structure)
    n_codes = len(LOCATION_CLASSES) + 2
    case_counts = np.bincount(class_codes[lesion].ravel(), minlength=n_codes)
    class_volumes = {name: float(case_counts[i + 1]) * voxel_ml for i, name in enumerate(LOCATION_CLASSES)}
    if count == 0:
        return LOCATION_NO_LESION, class_volumes, ()
    sizes = np.bincount(components.ravel())[1:]
    order = np.argsort(-sizes, kind="stable")
    lesions = []
    for rank, component_index in enumerate(order, start=1):
        voxels = components == component_index + 1
        fractions = fractions_from_counts(np.bincount(class_codes[voxels].ravel(), minlength=n_codes))
        lesions.append(LesionLocation(rank, float(sizes[component_index]) * voxel_ml,
                                      classify_fractions(fractions, min_fraction), fractions))
    label = classify_fractions(fractions_from_counts(case_counts), min_fraction)
    return label, class_volumes, tuple(lesions)


def _structure(connectivity: int) -> np.ndarray:
    ranks = {6: 1, 18: 2, 26: 3}
    if connectivity not in ranks:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    return ndimage.generate_binary_structure(3, ranks[connectivity])


def class_map_on_case_grid(atlas: LocationAtlas, registration: AffineRegistration, like: sitk.Image) -> np.ndarray:
    """The atlas codes resampled (nearest neighbour) onto the grid of ``like`` through the registration."""
    resampled = sitk.Resample(atlas.class_map, like, registration.case_to_template(), sitk.sitkNearestNeighbor, 0,
                              sitk.sitkUInt8)
    return sitk.GetArrayFromImage(resampled)


def locate_case(image: PathLike | sitk.Image, lesion_mask: PathLike | sitk.Image, *,
                min_fraction: float = LOCATION_MIN_FRACTION, atlas: LocationAtlas | None = None,
                cache_dir: Path | None = None, settings: RegistrationSettings = RegistrationSettings(),
                qc_threshold: float = REGISTRATION_QC_MIN_DICE,
                connectivity: int = LESION_CONNECTIVITY,
                registration: AffineRegistration | None = None) -> CaseLocation:
    """Locate the lesions of one case (see the module docstring for the rule).

    Args:
        image: the case image the mask was drawn on (DWI, b0, ADC, FLAIR or T1w), file or SimpleITK image.
        lesion_mask: the lesion mask on the same grid (every non-zero voxel is lesion).
        min_fraction: a class counts when it holds at least this fraction of the lesion.
        atlas: a loaded atlas (default: ``load_location_atlas(cache_dir)``).
        cache_dir: cache root used when ``atlas`` is not given.
        settings: registration settings.
        qc_threshold: registration QC threshold (head-mask Dice).
        connectivity: lesion connectivity (6, 18, 26).
        registration: the case image's registration to ``atlas`` when the caller has made it already (e.g. to
            also map the mask to MNI space); default: registered here with ``settings`` and ``qc_threshold``.

    Raises:
        InputDataError: a file is missing or unreadable; the mask is not binary (``binary_lesion``).
        GeometryError: the mask is not on the image's grid.
    """
    case_image = image if isinstance(image, sitk.Image) else read_image(image, "case image")
    mask_image = lesion_mask if isinstance(lesion_mask, sitk.Image) else read_image(lesion_mask, "lesion mask")
    problems = Geometry.of(case_image).differences(Geometry.of(mask_image), tolerance=1e-3)
    if problems:
        raise GeometryError(f"lesion mask {_describe(lesion_mask)} is not on the grid of the case image "
                            f"{_describe(image)}: {'; '.join(problems)}")
    if case_image.GetNumberOfComponentsPerPixel() != 1 or case_image.GetDimension() != 3:
        raise InputDataError(f"case image {_describe(image)} must be a single-channel 3D image")
    mask_values = sitk.GetArrayFromImage(mask_image)
    if not isinstance(lesion_mask, sitk.Image) and count_nonfinite_voxels(lesion_mask, mask_values):
        # SimpleITK reads NaN and inf in NIfTI files as 0: count them in the file as stored
        raise InputDataError(f"lesion mask {lesion_mask} holds NaN or infinite values; expected a binary mask "
                             "(0 = background)")
    lesion = binary_lesion(mask_values, f"lesion mask {_describe(lesion_mask)}")
    voxel_ml = float(np.prod(case_image.GetSpacing())) / 1000.0
    atlas = atlas if atlas is not None else load_location_atlas(cache_dir)
    if registration is None:
        registration = register_affine(case_image, atlas.template, atlas.brain_mask, settings, qc_threshold)
    if not registration.ok:
        label = LOCATION_NO_LESION if not lesion.any() else LOCATION_UNKNOWN
        return CaseLocation(label, dict.fromkeys(LOCATION_CLASSES, float("nan")),
                            _unknown_lesions(lesion, voxel_ml, connectivity), registration.qc_dice, False,
                            atlas.source, atlas.version)
    codes = class_map_on_case_grid(atlas, registration, case_image)
    label, volumes, lesions = locate_lesions(lesion, codes, voxel_ml, min_fraction, connectivity)
    return CaseLocation(label, volumes, lesions, registration.qc_dice, True, atlas.source, atlas.version)


def ventricles_on_case_grid(image: PathLike | sitk.Image, *, atlas: LocationAtlas | None = None,
                            cache_dir: Path | None = None, settings: RegistrationSettings = RegistrationSettings(),
                            qc_threshold: float = REGISTRATION_QC_MIN_DICE) -> sitk.Image | None:
    """The atlas's ventricles (lateral, third and fourth; code ``VENTRICLE_CODE``) on the grid of a case image.

    The case is registered affinely to the MNI template as for ``locate_case`` and the atlas's class map is
    carried onto the case grid by nearest neighbour; the result is a uint8 mask (1 = ventricle) with the case
    image's geometry. None when the registration fails its quality check (no ventricles are guessed).

    Raises:
        InputDataError: the image is missing, unreadable or not a single-channel 3D image.
    """
    case_image = image if isinstance(image, sitk.Image) else read_image(image, "case image")
    if case_image.GetNumberOfComponentsPerPixel() != 1 or case_image.GetDimension() != 3:
        raise InputDataError(f"case image {_describe(image)} must be a single-channel 3D image")
    atlas = atlas if atlas is not None else load_location_atlas(cache_dir)
    registration = register_affine(case_image, atlas.template, atlas.brain_mask, settings, qc_threshold)
    if not registration.ok:
        return None
    codes = class_map_on_case_grid(atlas, registration, case_image)
    mask = sitk.GetImageFromArray((codes == VENTRICLE_CODE).astype(np.uint8))
    mask.CopyInformation(case_image)
    return mask


def binary_lesion(values: np.ndarray, what: str) -> np.ndarray:
    """The boolean lesion of a binary mask array: 0 is background and one positive value (1, 255, ...) lesion.

    Raises:
        InputDataError: ``values`` holds NaN or infinite values, negative values or more than one non-zero value
            (a probability map or a multi-label map is not a lesion mask); ``what`` names the mask.
    """
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise InputDataError(f"{what} holds NaN or infinite values; expected a binary mask (0 = background)")
    lesion_values = np.unique(values[values != 0])
    if lesion_values.size and (lesion_values.size > 1 or lesion_values[0] < 0):
        shown = ", ".join(f"{value:g}" for value in lesion_values[:5].tolist())
        raise InputDataError(f"{what} is not a binary mask: its non-zero values are {shown}"
                             f"{', ...' if lesion_values.size > 5 else ''}; expected 0 and one positive value")
    return values != 0


def _unknown_lesions(lesion: np.ndarray, voxel_ml: float, connectivity: int) -> tuple[LesionLocation, ...]:
    components, count = ndimage.label(lesion, structure=_structure(connectivity))
    sizes = np.bincount(components.ravel())[1:] if count else np.zeros(0, dtype=np.int64)
    return tuple(LesionLocation(rank, float(size) * voxel_ml, LOCATION_UNKNOWN, {})
                 for rank, size in enumerate(sorted(sizes.tolist(), reverse=True), start=1))


def _describe(source: PathLike | sitk.Image) -> str:
    return "(in memory)" if isinstance(source, sitk.Image) else str(source)
