"""Subject anatomy of a phantom: the MNI template's tissue maps moved into a scanner grid.

Each subject is the template under a random affine (head size, tilt, position) and a smooth nonlinear warp
(B-spline, a few mm), sampled on the acquisition grid of its site. Maps come back as numpy arrays in
SimpleITK's (z, y, x) order on that grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.location.atlas import (
    LOCATION_CLASSES,
    brain_masks,
    load_location_atlas,
    load_tissue_maps,
    nilearn_template_path,
)
from strokeseg.location.choices import DEFAULT_ATLAS_SOURCE

#: Channels of the template vector image, in order.
TEMPLATE_CHANNELS: tuple[str, ...] = ("gm", "wm", "csf", "t1", "scalp", "susceptibility")
#: Orientation code -> SimpleITK direction (LPS physical space) of the voxel axes.
_DIRECTIONS = {"LPS": (1, 1, 1), "LAS": (1, -1, 1), "RAS": (-1, -1, 1)}


@dataclass(frozen=True)
class PhantomTemplate:
    """Template maps the phantoms are made from (1 mm MNI152 2009a grid).

    Attributes:
        maps: vector image with ``TEMPLATE_CHANNELS`` (float32, 0..1).
        classes: location-atlas codes (uint8; 0 none, 1..8 classes, 9 ventricles).
        brain_centre: centre of the brain mask, mm (LPS).
        atlas_source: the location atlas the classes come from.
    """

    maps: sitk.Image
    classes: sitk.Image
    brain_centre: tuple[float, float, float]
    atlas_source: str


@functools.lru_cache(maxsize=2)
def load_phantom_template(cache_dir: Path | None = None,
                          atlas_source: str = DEFAULT_ATLAS_SOURCE) -> PhantomTemplate:
    """Build the template maps (a few seconds; cached per process)."""
    atlas = load_location_atlas(cache_dir, atlas_source)
    grid, t1, gm, wm = load_tissue_maps()
    brain, _ = brain_masks(t1, gm, wm)
    csf = np.clip(brain.astype(np.float32) - gm - wm, 0.0, 1.0)
    outside_mm = ndimage.distance_transform_edt(~brain)
    scalp = ndimage.gaussian_filter(((outside_mm >= 4.0) & (outside_mm <= 11.0)).astype(np.float32), 1.0)
    depth_mm = ndimage.distance_transform_edt(brain)
    i, j, k = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij", sparse=True)
    x = grid.affine[0, 0] * i + grid.affine[0, 3]
    y = grid.affine[1, 1] * j + grid.affine[1, 3]
    z = grid.affine[2, 2] * k + grid.affine[2, 3]
    # air-tissue interfaces where EPI piles signal up: orbitofrontal cortex and the temporal base (MNI, mm)
    region = ((y > 5) & (z < 2)) | ((np.abs(x) > 25) & (y > -45) & (y < 15) & (z < -8))
    susceptibility = np.where(brain & region, np.exp(-depth_mm / 3.0), 0.0)
    susceptibility = ndimage.gaussian_filter(susceptibility.astype(np.float32), 1.5)
    reference = sitk.ReadImage(str(nilearn_template_path("t1")), sitk.sitkFloat32)
    channels = []
    for array in (gm, wm, csf, t1, scalp, susceptibility):
        image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(array, dtype=np.float32).transpose(2, 1, 0)))
        image.CopyInformation(reference)
        channels.append(image)
    maps = sitk.Compose(channels)
    classes = sitk.Resample(atlas.class_map, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                            sitk.sitkUInt8)
    centre_index = np.argwhere(brain).mean(axis=0)  # (i, j, k) = SimpleITK (x, y, z) index
    centre = reference.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in centre_index))
    return PhantomTemplate(maps, classes, (float(centre[0]), float(centre[1]), float(centre[2])), atlas.source)


def acquisition_grid(size_xyz: tuple[int, int, int], spacing_xyz: tuple[float, float, float],
                     orientation: str) -> sitk.Image:
    """An empty image whose grid is centred on the scanner origin (0, 0, 0) with the given axis orientation."""
    signs = np.asarray(_DIRECTIONS[orientation], dtype=float)
    direction = np.diag(signs)
    extent = (np.asarray(size_xyz) - 1) * np.asarray(spacing_xyz) / 2.0
    origin = -direction @ extent
    image = sitk.Image([int(n) for n in size_xyz], sitk.sitkUInt8)
    image.SetSpacing(tuple(float(s) for s in spacing_xyz))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def subject_transform(rng: np.random.Generator, template: PhantomTemplate, *, max_rotation_deg: float = 10.0,
                      scale_range: tuple[float, float] = (0.92, 1.08), max_shift_mm: float = 8.0,
                      warp_mm: float = 1.5, centred: bool = True) -> sitk.Transform:
    """Random scanner-to-MNI transform: an affine (rotation, scaling, shift) followed by a smooth B-spline warp.

    Args:
        rng: random generator.
        template: the template (its brain centre is where the scanner origin lands when ``centred``).
        max_rotation_deg: largest rotation about each axis (pitch gets 1.5x: heads nod more than they roll).
        scale_range: range of the isotropic scale (head size); each axis adds up to 3 % more.
        max_shift_mm: largest shift of the head from the grid centre.
        warp_mm: standard deviation of the B-spline control-point displacements (clipped at 2x).
        centred: map the scanner origin to the brain centre (False: to the MNI origin, as for MNI-space data).
    """
    angles = np.deg2rad(rng.uniform(-1.0, 1.0, 3) * max_rotation_deg * np.array([1.0, 1.5, 1.0]))
    rotation = sitk.Euler3DTransform((0.0, 0.0, 0.0), *[float(a) for a in angles])
    matrix = np.asarray(rotation.GetMatrix()).reshape(3, 3)
    scale = rng.uniform(*scale_range) * rng.uniform(0.97, 1.03, 3)
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(tuple(float(v) for v in (matrix @ np.diag(1.0 / scale)).ravel()))
    centre = np.asarray(template.brain_centre) if centred else np.zeros(3)
    affine.SetTranslation(tuple(float(v) for v in centre + rng.uniform(-1.0, 1.0, 3) * max_shift_mm))
    reference = sitk.VectorIndexSelectionCast(template.maps, 0)
    warp = sitk.BSplineTransformInitializer(reference, [4, 4, 4])
    parameters = np.clip(rng.normal(0.0, warp_mm, len(warp.GetParameters())), -2 * warp_mm, 2 * warp_mm)
    warp.SetParameters(tuple(float(v) for v in parameters))
    return sitk.CompositeTransform([warp, affine])  # the affine is applied first


def coarse_displacement(transform: sitk.Transform, like: sitk.Image, spacing_mm: float = 4.0) -> sitk.Transform:
    """The transform as a displacement field sampled every ``spacing_mm`` over the grid of ``like``.

    Evaluating a B-spline per voxel is slow; the field of a smooth transform interpolates it to well under a
    tenth of a millimetre.
    """
    direction = np.asarray(like.GetDirection()).reshape(3, 3)
    extent = (np.asarray(like.GetSize()) - 1) * np.asarray(like.GetSpacing())
    size = [int(np.ceil(e / spacing_mm)) + 3 for e in extent]
    origin = np.asarray(like.GetOrigin()) - direction @ np.full(3, spacing_mm)
    field = sitk.TransformToDisplacementField(transform, sitk.sitkVectorFloat64, size, tuple(origin),
                                              (spacing_mm,) * 3, like.GetDirection())
    return sitk.DisplacementFieldTransform(field)


@dataclass(frozen=True)
class SubjectMaps:
    """Template maps on a subject grid, arrays in (z, y, x) order.

    Attributes:
        grid: the (empty) reference image; its geometry is the subject grid's.
        gm, wm, csf: tissue fractions (0..1).
        t1: the template's T1 contrast (0..1).
        scalp: extra-cerebral soft tissue (0..1).
        susceptibility: propensity for susceptibility artefacts (0..1).
        classes: location-atlas codes.
    """

    grid: sitk.Image
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    t1: np.ndarray
    scalp: np.ndarray
    susceptibility: np.ndarray
    classes: np.ndarray

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        """Voxel spacing, mm, in array order."""
        x, y, z = self.grid.GetSpacing()
        return float(z), float(y), float(x)

    @property
    def tissue(self) -> np.ndarray:
        """Brain parenchyma: GM + WM >= 0.5."""
        return (self.gm + self.wm) >= 0.5

    def class_region(self, name: str) -> np.ndarray:
        """Voxels of one location class that are parenchyma."""
        return (self.classes == LOCATION_CLASSES.index(name) + 1) & self.tissue


def sample_subject(template: PhantomTemplate, grid: sitk.Image, scanner_to_mni: sitk.Transform) -> SubjectMaps:
    """Resample every template map onto ``grid`` through ``scanner_to_mni``."""
    field = coarse_displacement(scanner_to_mni, grid)
    maps = sitk.GetArrayFromImage(sitk.Resample(template.maps, grid, field, sitk.sitkLinear, 0.0,
                                                sitk.sitkVectorFloat32))
    classes = sitk.GetArrayFromImage(sitk.Resample(template.classes, grid, field, sitk.sitkNearestNeighbor, 0,
                                                   sitk.sitkUInt8))
    channels = {name: np.ascontiguousarray(maps[..., index]) for index, name in enumerate(TEMPLATE_CHANNELS)}
    return SubjectMaps(grid=grid, classes=classes, **channels)
