"""One phantom case: a plan (what to put where), the subject anatomy, the pathology and the images.

``make_phantom(index, seed, site, kind)`` is deterministic in (seed, index): the same case comes out whatever
the number of workers. Kinds:
    "acute"    DWI b=1000 + ADC + b0 (+ FLAIR on its own grid), label 1 = acute infarct(s) (registry, ISLES'22).
    "chronic"  T1w in MNI space, label 1 = chronic infarct(s) (ATLAS R2.0).
    "wmh"      FLAIR + T1w on one grid, label 1 = WMH, label 2 = an infarct (MICCAI 2017 WMH).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.defaults import (
    LOCATION_MIN_FRACTION,
    PHANTOM_COVERAGE_MM,
    PHANTOM_FIELD_OF_VIEW_MM,
    PHANTOM_LESION_VOLUME_RANGES_ML,
)
from strokeseg.errors import ConfigurationError
from strokeseg.location.atlas import LOCATION_CLASSES, VENTRICLE_CODE
from strokeseg.location.lookup import LOCATION_NO_LESION, classify_fractions, fractions_from_counts
from strokeseg.masks import bounding_box
from strokeseg.synthetic.anatomy import (
    PhantomTemplate,
    SubjectMaps,
    acquisition_grid,
    load_phantom_template,
    sample_subject,
    subject_transform,
)
from strokeseg.synthetic.contrast import (
    ADC_MAX,
    Pathology,
    adc_map,
    bias_field,
    diffusion_signals,
    fat_ghost,
    flair_signal,
    onset_adc_factor,
    onset_flair_factor,
    onset_t2_factor,
    reconstruction_blur,
    rician,
    t1_signal,
)
from strokeseg.synthetic.lesions import grow_lesion, interior, random_seed_voxel, smooth_blobs
from strokeseg.synthetic.sites import SiteProfile

PHANTOM_KINDS: tuple[str, ...] = ("acute", "chronic", "wmh")

#: Largest single lesion (mL) each class can hold in a phantom (small structures hold small lesions only).
CLASS_CAPACITY_ML: dict[str, float] = {
    "cortex": 70.0, "corona radiata": 20.0, "basal ganglia & internal capsule": 16.0, "thalamus": 5.0,
    "midbrain": 2.0, "pons": 6.0, "medulla": 1.2, "cerebellum": 35.0,
}
#: How often a single-class lesion lands in each class (all classes occur; cortex and deep white matter most).
CLASS_WEIGHTS: dict[str, float] = {
    "cortex": 0.24, "corona radiata": 0.16, "basal ganglia & internal capsule": 0.16, "thalamus": 0.1,
    "midbrain": 0.05, "pons": 0.1, "medulla": 0.05, "cerebellum": 0.14,
}
#: Adjacent class pairs/triples a territorial infarct spans.
TERRITORIES: tuple[tuple[str, ...], ...] = (
    ("cortex", "corona radiata"), ("corona radiata", "basal ganglia & internal capsule"),
    ("cortex", "corona radiata", "basal ganglia & internal capsule"), ("thalamus", "midbrain"),
    ("pons", "cerebellum"),
)


@dataclass(frozen=True)
class LesionSpec:
    """One lesion to place: the class(es) it may occupy and its target volume, mL."""

    classes: tuple[str, ...]
    volume_ml: float


@dataclass(frozen=True)
class CasePlan:
    """Everything random about a case except the voxel noise, drawn first from the case's generator."""

    site: SiteProfile
    in_plane_mm: float
    slice_mm: float
    onset_h: float
    chronic_infarct: bool
    wmh_severity: float
    lesions: tuple[LesionSpec, ...]
    n_shine_through: int
    susceptibility: float


@dataclass
class PhantomCase:
    """A generated case.

    Attributes:
        index: case number in the cohort (0-based).
        plan: what was drawn for it.
        images: name -> image; names: "dwi", "adc", "b0", "flair", "t1" (what the kind produces).
        label: the label map on the grid of the primary image (DWI, T1w or FLAIR).
        metadata: site, vendor, manufacturer, model, field_strength_t, b_value, slice_thickness_mm,
            onset_to_imaging_h, chronic_infarct, wmh_volume_ml, lesion_volume_ml, n_lesions, location.
    """

    index: int
    plan: CasePlan
    images: dict[str, sitk.Image]
    label: sitk.Image
    metadata: dict[str, Any] = field(default_factory=dict)


def case_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of case ``index`` of a cohort with ``seed`` (independent of the worker count)."""
    return np.random.default_rng([int(seed), int(index)])


def _volume_for_class(rng: np.random.Generator, classes: Sequence[str]) -> float:
    capacity = sum(CLASS_CAPACITY_ML[name] for name in classes)
    strata = [(low, min(high, capacity)) for low, high in PHANTOM_LESION_VOLUME_RANGES_ML if low < capacity]
    low, high = strata[int(rng.integers(len(strata)))]
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _draw_class(rng: np.random.Generator) -> str:
    weights = np.asarray([CLASS_WEIGHTS[name] for name in LOCATION_CLASSES])
    return LOCATION_CLASSES[int(rng.choice(len(LOCATION_CLASSES), p=weights / weights.sum()))]


def sample_lesions(rng: np.random.Generator, lesion_classes: Sequence[str] | None = None) -> tuple[LesionSpec, ...]:
    """Draw the lesions of a case: single (60 %), multifocal (25 %) or territorial (15 %).

    ``lesion_classes`` forces one lesion per named class (volume drawn from that class's strata).
    """
    if lesion_classes is not None:
        unknown = [name for name in lesion_classes if name not in LOCATION_CLASSES]
        if unknown:
            raise ConfigurationError(f"unknown location class(es) {unknown}; choose from {list(LOCATION_CLASSES)}")
        return tuple(LesionSpec((name,), _volume_for_class(rng, (name,))) for name in lesion_classes)
    pattern = rng.choice(3, p=[0.6, 0.25, 0.15])
    if pattern == 0:
        name = _draw_class(rng)
        return (LesionSpec((name,), _volume_for_class(rng, (name,))),)
    if pattern == 1:
        count = int(rng.integers(2, 5))
        first = _draw_class(rng)
        names = [first if rng.random() < 0.5 else _draw_class(rng) for _ in range(count)]
        return tuple(LesionSpec((name,), float(np.exp(rng.uniform(np.log(0.1), np.log(
            min(3.0, CLASS_CAPACITY_ML[name])))))) for name in names)
    territory = TERRITORIES[int(rng.integers(len(TERRITORIES)))]
    capacity = sum(CLASS_CAPACITY_ML[name] for name in territory)
    return (LesionSpec(territory, float(rng.uniform(0.3, 0.9) * capacity)),)


def sample_plan(rng: np.random.Generator, site: SiteProfile, kind: str,
                lesion_classes: Sequence[str] | None = None) -> CasePlan:
    """Draw the plan of one case at ``site``."""
    if kind not in PHANTOM_KINDS:
        raise ConfigurationError(f"unknown phantom kind {kind!r}; choose one of {', '.join(PHANTOM_KINDS)}")
    in_plane = float(rng.uniform(*site.in_plane_mm))
    slice_mm = float(site.slice_thickness_mm[int(rng.integers(len(site.slice_thickness_mm)))])
    stratum = rng.choice(3, p=[0.3, 0.5, 0.2])
    onset = float(np.exp(rng.uniform(*np.log([(0.5, 3.0), (3.0, 24.0), (24.0, 168.0)][stratum]))))
    lesions = sample_lesions(rng, lesion_classes)
    return CasePlan(site=site, in_plane_mm=in_plane, slice_mm=slice_mm, onset_h=round(onset, 1),
                    chronic_infarct=bool(rng.random() < (0.5 if kind == "wmh" else 0.25)),
                    wmh_severity=float(rng.beta(1.3, 2.5) if kind == "wmh" else rng.beta(1.0, 3.0)),
                    lesions=lesions, n_shine_through=int(rng.choice(3, p=[0.35, 0.4, 0.25])) if kind == "acute" else 0,
                    susceptibility=float(site.susceptibility * rng.uniform(0.5, 1.5)) if kind == "acute" else 0.0)


def _grid_for(plan: CasePlan, in_plane_mm: float, slice_mm: float, rng: np.random.Generator) -> sitk.Image:
    fov = PHANTOM_FIELD_OF_VIEW_MM * rng.uniform(0.95, 1.05)
    size_xy = round(fov / in_plane_mm)
    size_z = int(np.ceil(PHANTOM_COVERAGE_MM / slice_mm))
    return acquisition_grid((size_xy, size_xy, size_z), (in_plane_mm, in_plane_mm, slice_mm), plan.site.orientation)


def place_lesions(maps: SubjectMaps, specs: Sequence[LesionSpec], rng: np.random.Generator,
                  avoid: np.ndarray | None = None, seed_margin_mm: float = 2.0) -> np.ndarray:
    """Boolean mask of the lesions of ``specs`` grown inside their classes on the subject grid."""
    mask = np.zeros(maps.classes.shape, dtype=bool)
    spacing = maps.spacing_zyx
    for spec in specs:
        regions = [maps.class_region(name) for name in spec.classes]
        allowed = np.logical_or.reduce(regions)
        if avoid is not None:
            allowed &= ~avoid
        if len(regions) == 1:
            seeds = interior(regions[0], spacing, min(seed_margin_mm, 0.5 * min(spacing) + 1.0))
        else:  # a territorial infarct starts on the border of its first two classes
            near_second = ndimage.binary_dilation(regions[1], iterations=2)
            seeds = regions[0] & near_second
        seeds &= allowed
        seed = random_seed_voxel(seeds if seeds.any() else allowed, rng)
        if seed is None:
            continue
        mask |= grow_lesion(allowed, seed, spec.volume_ml, spacing, rng).mask
    return mask


def _wmh_map(maps: SubjectMaps, severity: float, rng: np.random.Generator) -> np.ndarray:
    """Periventricular caps/bands and deep punctate WMH (0..1), more with ``severity`` (0..1)."""
    if severity < 0.05:
        return np.zeros(maps.classes.shape, dtype=np.float32)
    spacing = maps.spacing_zyx
    shape = maps.classes.shape
    ventricles = maps.classes == VENTRICLE_CODE
    band = np.zeros(shape, dtype=np.float32)
    if ventricles.any():
        reach = 1.0 + 9.0 * severity
        box = bounding_box(ventricles, pad=int(np.ceil(2.0 * reach / min(spacing))) + 2)
        distance = ndimage.distance_transform_edt(~ventricles[box], sampling=spacing)
        noise = ndimage.gaussian_filter(rng.standard_normal(distance.shape).astype(np.float32),
                                        sigma=[3.0 / s for s in spacing])
        noise /= max(float(np.abs(noise).max()), 1e-6)
        band[box] = np.clip((reach * (1.0 + 0.6 * noise) - distance) / 1.5, 0.0, 1.0) * (distance > 0)
    white = np.clip(maps.wm * 1.5 - 0.5, 0.0, 1.0)
    deep_region = maps.class_region("corona radiata") & (maps.wm > 0.6)
    deep = smooth_blobs(shape, spacing, deep_region, int(rng.poisson(1 + 10 * severity)), (1.0, 3.5), rng)
    return np.clip(np.maximum(band, deep) * white, 0.0, 1.0).astype(np.float32)


def _chronic_maps(maps: SubjectMaps, rng: np.random.Generator, avoid: np.ndarray,
                  volume_ml: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(core, rim, mask) of one chronic infarct (cortex, cerebellum or deep grey matter)."""
    name = ("cortex", "cerebellum", "basal ganglia & internal capsule", "corona radiata")[int(rng.integers(4))]
    volume = volume_ml if volume_ml is not None else float(np.exp(rng.uniform(np.log(0.3), np.log(15.0))))
    mask = place_lesions(maps, (LesionSpec((name,), volume),), rng, avoid=avoid)
    core, rim = _core_and_rim(mask)
    return core, rim, mask


def _core_and_rim(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft fluid core and gliotic rim (0..1) of a chronic infarct mask, computed around the mask only."""
    core = np.zeros(mask.shape, np.float32)
    rim = np.zeros(mask.shape, np.float32)
    if mask.any():
        box = bounding_box(mask, pad=5)
        core[box] = ndimage.gaussian_filter(mask[box].astype(np.float32), (0.3, 0.7, 0.7))
        grown = ndimage.binary_dilation(mask[box], iterations=2).astype(np.float32)
        rim[box] = np.clip(ndimage.gaussian_filter(grown, 0.8) - core[box], 0.0, 1.0)
    return core, rim


def build_pathology(maps: SubjectMaps, plan: CasePlan, rng: np.random.Generator, kind: str
                    ) -> tuple[Pathology, np.ndarray, np.ndarray, np.ndarray]:
    """Pathology maps on the subject grid and the masks (acute lesions, WMH, chronic infarct)."""
    shape = maps.classes.shape
    spacing = maps.spacing_zyx
    lesion = place_lesions(maps, plan.lesions, rng) if kind in ("acute", "chronic") else np.zeros(shape, bool)
    soft = np.zeros(shape, np.float32)
    adc_factor = np.full(shape, onset_adc_factor(plan.onset_h), dtype=np.float32)
    occupied = np.zeros(shape, bool)
    if lesion.any():  # soft edges and heterogeneity are computed around the lesions only
        box = bounding_box(lesion, pad=4)
        soft[box] = np.maximum(ndimage.gaussian_filter(lesion[box].astype(np.float32), (0.0, 0.6, 0.6)),
                               lesion[box] * 0.85)
        heterogeneity = ndimage.gaussian_filter(rng.standard_normal(soft[box].shape).astype(np.float32),
                                                sigma=[2.0 / s for s in spacing])
        heterogeneity /= max(float(np.abs(heterogeneity).max()), 1e-6)
        adc_factor[box] *= 1.0 + 0.12 * heterogeneity
        occupied[box] = ndimage.binary_dilation(lesion[box], iterations=2)
    wmh = _wmh_map(maps, plan.wmh_severity, rng)
    wmh[lesion] = 0.0
    core = rim = np.zeros(shape, np.float32)
    chronic_mask = np.zeros(shape, bool)
    if kind == "chronic":  # the labelled lesion itself is the chronic infarct
        core, rim = _core_and_rim(lesion)
        soft = np.zeros(shape, np.float32)
    elif plan.chronic_infarct:
        core, rim, chronic_mask = _chronic_maps(maps, rng, occupied)
    tissue = maps.tissue & ~occupied
    if chronic_mask.any():
        tissue &= ~ndimage.binary_dilation(chronic_mask, iterations=2)
    shine = smooth_blobs(shape, spacing, tissue & (maps.wm > 0.5), plan.n_shine_through, (2.5, 6.0), rng)
    susceptibility = (maps.susceptibility * plan.susceptibility).astype(np.float32)
    pathology = Pathology(acute=soft, acute_adc_factor=adc_factor, acute_t2_factor=onset_t2_factor(plan.onset_h),
                          flair_factor=onset_flair_factor(plan.onset_h), shine_through=shine, wmh=wmh,
                          chronic_core=core.astype(np.float32), chronic_rim=rim.astype(np.float32),
                          susceptibility=susceptibility)
    return pathology, lesion, wmh >= 0.5, chronic_mask


def _image(array: np.ndarray, like: sitk.Image, pixel: int) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    return sitk.Cast(image, pixel) if image.GetPixelID() != pixel else image


def _acquire(signal: np.ndarray, maps: SubjectMaps, plan: CasePlan, rng: np.random.Generator,
             noise_scale: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    biased = signal * (bias if bias is not None else bias_field(signal.shape, plan.site.bias_field_strength, rng))
    noisy = rician(biased, plan.site.noise_level * noise_scale, rng)
    return reconstruction_blur(noisy, plan.site.blur_mm, maps.spacing_zyx)


def _stored_int16(signal: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(signal * scale), 0, 32767).astype(np.int16)


def location_truth(classes: np.ndarray, lesion: np.ndarray, min_fraction: float = LOCATION_MIN_FRACTION) -> str:
    """The location rule (docs/location.md) applied to the lesions as placed (class map in subject space)."""
    if not lesion.any():
        return LOCATION_NO_LESION
    counts = np.bincount(classes[lesion].ravel(), minlength=len(LOCATION_CLASSES) + 2)
    return classify_fractions(fractions_from_counts(counts), min_fraction)


def make_phantom(index: int, seed: int, site: SiteProfile, kind: str = "acute", *, flair: bool = False,
                 lesion_classes: Sequence[str] | None = None, empty: bool = False,
                 template: PhantomTemplate | None = None, cache_dir: Path | None = None) -> PhantomCase:
    """Generate case ``index`` of a cohort (deterministic in ``seed`` and ``index``).

    Args:
        index: case number; with ``seed`` it fixes every random draw.
        seed: cohort seed.
        site: acquisition site.
        kind: "acute", "chronic" or "wmh" (module docstring).
        flair: also make a FLAIR on its own grid ("acute" only; "wmh" always has one).
        lesion_classes: force one lesion per named location class (tests, location benchmarks).
        empty: no labelled lesion (a negative case).
        template: preloaded template maps (default: ``load_phantom_template(cache_dir)``).
        cache_dir: cache root of the location atlas.
    """
    rng = case_rng(seed, index)
    plan = sample_plan(rng, site, kind, lesion_classes)
    if empty:
        plan = replace(plan, lesions=())
    template = template if template is not None else load_phantom_template(cache_dir)
    if kind == "chronic":  # ATLAS R2.0 images are already in MNI space: only residual anatomical variation
        grid = _mni_grid(template)
        transform = subject_transform(rng, template, max_rotation_deg=2.0, scale_range=(0.97, 1.03),
                                      max_shift_mm=2.0, warp_mm=1.5, centred=False)
    else:
        in_plane, thickness = (plan.in_plane_mm, plan.slice_mm)
        grid = _grid_for(plan, in_plane, thickness, rng)
        transform = subject_transform(rng, template)
    maps = sample_subject(template, grid, transform)
    pathology, lesion, wmh_mask, chronic_mask = build_pathology(maps, plan, rng, kind)
    voxel_ml = float(np.prod(grid.GetSpacing())) / 1000.0
    images: dict[str, sitk.Image] = {}
    scale = site.intensity_scale
    if kind == "acute":
        b0, dwi = diffusion_signals(maps.gm, maps.wm, maps.csf, maps.scalp, pathology, site)
        if site.fat_ghost > 0:
            ghost = fat_ghost(maps.scalp, site, maps.spacing_zyx)
            b0, dwi = b0 + ghost, dwi + ghost
        bias = bias_field(b0.shape, site.bias_field_strength, rng)
        b0_acquired = _acquire(b0, maps, plan, rng, bias=bias)
        dwi_acquired = _acquire(dwi, maps, plan, rng, noise_scale=1.0 / np.sqrt(3.0), bias=bias)
        adc = adc_map(b0_acquired, dwi_acquired, site.b_value, site.noise_level)
        if site.adc_scale != 1.0:
            adc = np.clip(adc * np.float32(site.adc_scale), 0.0, ADC_MAX).astype(np.float32)
        images["dwi"] = _image(_stored_int16(dwi_acquired, scale), grid, sitk.sitkInt16)
        images["adc"] = _image(_stored_int16(adc, 1e6), grid, sitk.sitkInt16)
        images["b0"] = _image(_stored_int16(b0_acquired, scale), grid, sitk.sitkInt16)
        if flair:
            images["flair"] = _secondary_flair(template, transform, plan, pathology, grid, rng)
        label = lesion.astype(np.uint8)
    elif kind == "chronic":
        t1 = t1_signal(maps.t1, maps.gm, maps.wm, maps.scalp, pathology, site)
        images["t1"] = _image(_acquire(t1, maps, plan, rng, noise_scale=0.6) * scale, grid, sitk.sitkFloat32)
        label = lesion.astype(np.uint8)
    else:
        flair_image = flair_signal(maps.gm, maps.wm, maps.csf, maps.scalp, pathology, site)
        bias = bias_field(flair_image.shape, site.bias_field_strength, rng)
        images["flair"] = _image(_acquire(flair_image, maps, plan, rng, bias=bias) * scale, grid, sitk.sitkFloat32)
        t1 = t1_signal(maps.t1, maps.gm, maps.wm, maps.scalp, pathology, site)
        images["t1"] = _image(_acquire(t1, maps, plan, rng, noise_scale=0.6, bias=bias) * scale, grid,
                              sitk.sitkFloat32)
        label = np.where(chronic_mask, 2, np.where(wmh_mask, 1, 0)).astype(np.uint8)
    n_lesions = int(ndimage.label(lesion, structure=np.ones((3, 3, 3)))[1])
    metadata = {
        "site": site.name, "vendor": site.vendor, "manufacturer": site.manufacturer, "model": site.model,
        "field_strength_t": site.field_strength_t, "b_value": site.b_value if kind == "acute" else None,
        "in_plane_mm": float(grid.GetSpacing()[0]), "slice_thickness_mm": float(grid.GetSpacing()[2]),
        "onset_to_imaging_h": plan.onset_h if kind == "acute" else None,
        "chronic_infarct": bool(chronic_mask.any()) if kind != "chronic" else True,
        "wmh_volume_ml": round(float(wmh_mask.sum()) * voxel_ml, 3),
        "lesion_volume_ml": round(float(lesion.sum()) * voxel_ml, 3), "n_lesions": n_lesions,
        "location": location_truth(maps.classes, lesion),
        "placed_classes": ";".join(sorted({name for spec in plan.lesions for name in spec.classes})),
    }
    return PhantomCase(index, plan, images, _image(label, grid, sitk.sitkUInt8), metadata)


def _mni_grid(template: PhantomTemplate) -> sitk.Image:
    reference = sitk.Image(template.classes.GetSize(), sitk.sitkUInt8)
    reference.CopyInformation(template.classes)
    return reference


def _secondary_flair(template: PhantomTemplate, transform: sitk.Transform, plan: CasePlan, pathology: Pathology,
                     dwi_grid: sitk.Image, rng: np.random.Generator) -> sitk.Image:
    """FLAIR on its own, finer in-plane grid in the same scanner space (as ISLES'22 ships it)."""
    grid = _grid_for(plan, 0.9 * plan.in_plane_mm, plan.slice_mm, rng)
    maps = sample_subject(template, grid, transform)

    def moved(array: np.ndarray) -> np.ndarray:  # same scanner space: an identity resampling
        return sitk.GetArrayFromImage(sitk.Resample(_image(array.astype(np.float32), dwi_grid, sitk.sitkFloat32),
                                                    grid, sitk.Transform(), sitk.sitkLinear, 0.0))

    secondary = Pathology(acute=moved(pathology.acute), acute_adc_factor=moved(pathology.acute_adc_factor),
                          acute_t2_factor=pathology.acute_t2_factor, flair_factor=pathology.flair_factor,
                          shine_through=moved(pathology.shine_through), wmh=moved(pathology.wmh),
                          chronic_core=moved(pathology.chronic_core), chronic_rim=moved(pathology.chronic_rim),
                          susceptibility=np.zeros(maps.classes.shape, np.float32))
    signal = flair_signal(maps.gm, maps.wm, maps.csf, maps.scalp, secondary, plan.site)
    acquired = _acquire(signal, maps, plan, rng, noise_scale=0.8)
    return _image(_stored_int16(acquired, plan.site.intensity_scale), grid, sitk.sitkInt16)
