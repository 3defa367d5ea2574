"""Affine registration of a case image to the MNI template, with a quality check.

SimpleITK, Mattes mutual information (so DWI, b0, FLAIR or T1w all register to the T1 template),
multi-resolution, a 12-parameter affine transform initialised from the centres of the brain masks (a retry
that fails the QC starts from the masks' moments). The
fixed image is the template (cached at ``ATLAS_TEMPLATE_SPACING_MM``), the moving image the case; the
resulting transform maps template points to case points (ITK's convention), its inverse case points to
template points.

Quality check: the case's head mask (Gaussian blur + Otsu, largest component, holes filled) is mapped to the
template and compared with the template brain mask by Dice, inside the case's field of view. A failed
registration (a wrong local optimum, an image that is no brain, a heavily misaligned or corrupted input)
gives a low Dice; below ``REGISTRATION_QC_MIN_DICE`` the registration is reported as failed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.defaults import (
    REGISTRATION_ATTEMPTS,
    REGISTRATION_HISTOGRAM_BINS,
    REGISTRATION_ITERATIONS,
    REGISTRATION_QC_MIN_DICE,
    REGISTRATION_SAMPLING_FRACTION,
    REGISTRATION_SHRINK_FACTORS,
)
from strokeseg.errors import InputDataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrationSettings:
    """Knobs of the affine registration (defaults from ``strokeseg.defaults``).

    Attributes:
        shrink_factors: per resolution level, how much the template is shrunk (coarsest first).
        iterations: at most this many gradient-descent iterations at every level.
        histogram_bins: Mattes mutual-information bins.
        sampling_fraction: fraction of the template's brain voxels sampled at every iteration.
        seed: seed of the random metric sampling, so that results are reproducible.
        moving_min_spacing_mm: case images with finer voxels are smoothed and resampled to this spacing first
            (registration accuracy is limited by the template's spacing anyway; this keeps 0.45 mm FLAIR fast).
        attempts: optimisations tried until one passes the QC (the first from the mask centres, the others
            from the masks' moments with other sampling seeds).
    """

    shrink_factors: tuple[int, ...] = REGISTRATION_SHRINK_FACTORS
    iterations: int = REGISTRATION_ITERATIONS
    histogram_bins: int = REGISTRATION_HISTOGRAM_BINS
    sampling_fraction: float = REGISTRATION_SAMPLING_FRACTION
    seed: int = 0
    moving_min_spacing_mm: float = 1.5
    attempts: int = REGISTRATION_ATTEMPTS

    def __post_init__(self) -> None:
        if not self.shrink_factors or self.iterations < 1 or self.attempts < 1:
            raise ValueError("registration needs at least one resolution level and one iteration")


#: A quicker setting for tests and large cohorts: two levels, fewer iterations.
FAST_REGISTRATION = RegistrationSettings(shrink_factors=(4, 2), iterations=60, sampling_fraction=0.1)


@dataclass(frozen=True)
class AffineRegistration:
    """Result of ``register_affine``.

    Attributes:
        template_to_case: affine transform mapping template points (mm, LPS) to case points.
        qc_dice: head-mask Dice with the template brain mask inside the case's field of view (0..1).
        qc_threshold: the threshold ``qc_dice`` was compared with.
        metric_value: final Mattes MI value (negative; lower is better).
        seconds: wall time of the registration.
    """

    template_to_case: sitk.AffineTransform
    qc_dice: float
    qc_threshold: float
    metric_value: float
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the registration passed the quality check."""
        return bool(np.isfinite(self.qc_dice) and self.qc_dice >= self.qc_threshold)

    def case_to_template(self) -> sitk.Transform:
        """The inverse transform: case points to template points."""
        return self.template_to_case.GetInverse()


def head_mask(image: sitk.Image, sigma_mm: float = 2.0) -> sitk.Image:
    """Foreground (head) mask: Gaussian blur, Otsu threshold, largest 3D component, holes filled per volume.

    Raises:
        InputDataError: the image is constant (nothing to register).
    """
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), sigma_mm)
    array = sitk.GetArrayFromImage(smooth)
    if float(array.max()) <= float(array.min()):
        raise InputDataError("the image is constant; there is no head to register")
    otsu = sitk.OtsuThreshold(smooth, 0, 1)
    components, count = ndimage.label(sitk.GetArrayViewFromImage(otsu))
    if count == 0:
        raise InputDataError("no foreground found in the image; is it an MR image of a head?")
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    largest = components == int(sizes.argmax())
    filled = ndimage.binary_fill_holes(largest)
    for z in range(filled.shape[0]):  # slice-wise too: thick-slice stacks leave ventricles open at the top
        filled[z] = ndimage.binary_fill_holes(filled[z])
    mask = sitk.GetImageFromArray(filled.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def _coarsen_in_plane(image: sitk.Image, min_spacing_mm: float) -> sitk.Image:
    """Smooth and resample axes finer than ``min_spacing_mm`` to that spacing (coarser axes are kept)."""
    spacing = np.asarray(image.GetSpacing(), dtype=float)
    if np.all(spacing >= min_spacing_mm - 1e-6):
        return image
    new_spacing = np.maximum(spacing, min_spacing_mm)
    sigmas = [float(np.sqrt(max(n**2 - o**2, 0.0)) / 2.0) for n, o in zip(new_spacing, spacing, strict=True)]
    smooth = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigmas])
    size = [max(1, round(n * o / s)) for n, o, s in zip(image.GetSize(), spacing, new_spacing, strict=True)]
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    origin = np.asarray(image.GetOrigin()) + direction @ ((new_spacing - spacing) / 2.0)
    return sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear, tuple(origin), tuple(new_spacing),
                         image.GetDirection(), 0.0, sitk.sitkFloat32)


def _mask_centre(mask: sitk.Image) -> np.ndarray:
    indices = np.argwhere(sitk.GetArrayViewFromImage(mask) > 0)
    centre_index = indices.mean(axis=0)[::-1]  # (z, y, x) -> (x, y, z)
    return np.asarray(mask.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in centre_index)))


def register_affine(image: sitk.Image, template: sitk.Image, template_mask: sitk.Image,
                    settings: RegistrationSettings = RegistrationSettings(),
                    qc_threshold: float = REGISTRATION_QC_MIN_DICE) -> AffineRegistration:
    """Register ``image`` (moving) to ``template`` (fixed) with an affine transform; see the module docstring.

    A registration that fails the QC is retried (up to ``settings.attempts`` in all) from the moments of the
    two masks (centre and principal axes) with another sampling seed; the attempt with the best QC Dice wins.

    Args:
        image: the case image (DWI, b0, FLAIR or T1w), any grid and orientation.
        template: the MNI template (e.g. ``LocationAtlas.template``).
        template_mask: the template's brain mask on the template grid.
        settings: resolution levels, iterations, sampling, attempts.
        qc_threshold: minimum head-mask Dice for ``AffineRegistration.ok``.
    """
    start = time.perf_counter()
    moving = sitk.Cast(image, sitk.sitkFloat32)
    if moving.GetDimension() != 3:
        raise InputDataError(f"expected a 3D image, got {moving.GetDimension()}D")
    moving = _coarsen_in_plane(moving, min_spacing_mm=settings.moving_min_spacing_mm)
    case_mask = head_mask(moving)
    best: AffineRegistration | None = None
    for attempt in range(settings.attempts):
        initial = _centre_initialisation(case_mask, template_mask) if attempt == 0 \
            else _moments_initialisation(case_mask, template_mask)
        transform, qc, metric = _optimise(template, moving, template_mask, case_mask, initial,
                                          settings, seed=settings.seed + attempt)
        if best is None or (np.isfinite(qc) and not qc <= best.qc_dice):
            best = AffineRegistration(transform, qc, qc_threshold, metric, 0.0)
        if best.ok:
            break
        logger.debug("registration attempt %d failed its QC (Dice %.3f)", attempt + 1, qc)
    assert best is not None  # settings.attempts >= 1
    best = dataclasses.replace(best, seconds=time.perf_counter() - start)
    logger.debug("affine registration: MI %.4f, QC Dice %.3f, %.1f s", best.metric_value, best.qc_dice, best.seconds)
    return best


def _centre_initialisation(case_mask: sitk.Image, template_mask: sitk.Image) -> sitk.AffineTransform:
    """Identity matrix, translation between the centres of the two masks."""
    transform = sitk.AffineTransform(3)
    template_centre = _mask_centre(template_mask)
    transform.SetCenter(tuple(template_centre))
    transform.SetTranslation(tuple(_mask_centre(case_mask) - template_centre))
    return transform


def _moments_initialisation(case_mask: sitk.Image, template_mask: sitk.Image) -> sitk.AffineTransform:
    """Centres and principal axes of the two masks (ITK's MOMENTS initialiser), as an affine transform."""
    rigid = sitk.CenteredTransformInitializer(sitk.Cast(template_mask, sitk.sitkFloat32),
                                              sitk.Cast(case_mask, sitk.sitkFloat32), sitk.VersorRigid3DTransform(),
                                              sitk.CenteredTransformInitializerFilter.MOMENTS)
    rigid = sitk.VersorRigid3DTransform(rigid)
    transform = sitk.AffineTransform(3)
    transform.SetCenter(rigid.GetCenter())
    transform.SetMatrix(rigid.GetMatrix())
    transform.SetTranslation(rigid.GetTranslation())
    return transform


def _optimise(template: sitk.Image, moving: sitk.Image, template_mask: sitk.Image, case_mask: sitk.Image,
              transform: sitk.AffineTransform, settings: RegistrationSettings,
              seed: int) -> tuple[sitk.AffineTransform, float, float]:
    """One multi-resolution Mattes-MI optimisation from ``transform``: (transform, QC Dice, final metric)."""
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, seed)
    method.SetMetricFixedMask(sitk.BinaryDilate(template_mask, (2, 2, 2)))
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3,
                                                    numberOfIterations=settings.iterations,
                                                    relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    method.SetSmoothingSigmasPerLevel([max(f / 2.0, 0.0) if f > 1 else 0.0 for f in settings.shrink_factors])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(transform, inPlace=True)
    try:
        method.Execute(template, moving)
    except RuntimeError as error:
        logger.warning("registration failed inside SimpleITK: %s", str(error).strip().splitlines()[-1])
        return transform, float("nan"), float("nan")
    return transform, head_mask_dice(case_mask, transform, template_mask), float(method.GetMetricValue())


def head_mask_dice(case_mask: sitk.Image, template_to_case: sitk.Transform, template_mask: sitk.Image) -> float:
    """Dice of the case head mask mapped onto the template grid with the template brain mask, within the FOV."""
    warped = sitk.Resample(case_mask, template_mask, template_to_case, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    fov_image = sitk.Image(case_mask.GetSize(), sitk.sitkUInt8) + 1
    fov_image.CopyInformation(case_mask)
    fov = sitk.GetArrayViewFromImage(
        sitk.Resample(fov_image, template_mask, template_to_case, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    reference = (sitk.GetArrayViewFromImage(template_mask) > 0) & fov
    moved = (sitk.GetArrayViewFromImage(warped) > 0) & fov
    total = int(reference.sum()) + int(moved.sum())
    if total == 0:
        return 0.0
    return 2.0 * float((reference & moved).sum()) / total
