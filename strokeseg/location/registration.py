"""All SimpleITK registration of strokeseg: one channel onto another of the same session, and a case onto MNI.

Both use Mattes mutual information (the contrasts differ), random metric sampling with a fixed nonzero seed
(SimpleITK reads seed 0 as "seed from the clock"), a multi-resolution regular-step gradient descent with
physical-shift scales, and linear interpolation; ``_mattes_mi_method`` sets that up once. The optimisation
runs on a fixed number of threads (``REGISTRATION_THREADS``, default 1; ``_fixed_threads``): with several
threads the Mattes-MI sums change in their last bits from run to run and with the machine's core count.
Same inputs and settings therefore give bit-identical transforms, QC values and locations.

Intra-session (``register_and_resample``; the converters, e.g. ISLES'22 FLAIR -> DWI): both series come from
one session, so scanner coordinates are the starting point (identity transform); a rigid (default) or affine
registration corrects patient motion between the series, and the moving image is resampled onto the
reference grid with linear interpolation. A QC step measures how far the found transform moves the
reference's foreground voxels; a result above ``max_mean_shift_mm`` is rejected (a failed registration) and
the channel is resampled by scanner coordinates only. The method actually used is reported so converters can
flag it in cases.csv.

Case to MNI template (``register_affine``; the location atlas): a 12-parameter affine transform initialised
from the centres of the brain masks (a retry that fails the QC starts from the masks' moments). The fixed
image is the template (cached at ``ATLAS_TEMPLATE_SPACING_MM``), the moving image the case; the resulting
transform maps template points to case points (ITK's convention), its inverse case points to template points.
Quality check: the case's head mask (``head_mask``: Gaussian blur + Otsu, largest component, holes filled) is
mapped to the template and compared with the template brain mask by Dice, inside the case's field of view. A
failed registration (a wrong local optimum, an image that is no brain, a heavily misaligned or corrupted
input) gives a low Dice; below ``REGISTRATION_QC_MIN_DICE`` the registration is reported as failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from strokeseg.defaults import (
    DEFAULT_SEED,
    REGISTRATION_ATTEMPTS,
    REGISTRATION_HISTOGRAM_BINS,
    REGISTRATION_ITERATIONS,
    REGISTRATION_MAX_MEAN_SHIFT_MM,
    REGISTRATION_QC_MIN_DICE,
    REGISTRATION_SAMPLING_FRACTION,
    REGISTRATION_SHRINK_FACTORS,
    REGISTRATION_THREADS,
)
from strokeseg.errors import InputDataError
from strokeseg.location.choices import RegistrationMethod
from strokeseg.masks import fill_holes, largest_component

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# Shared helpers: the Mattes-MI method, resampling, the head mask
# ----------------------------------------------------------------------------------------------------------
def _mattes_mi_method(*, histogram_bins: int, sampling_fraction: float, seed: int, iterations: int,
                      shrink_factors: Sequence[int], smoothing_sigmas: Sequence[float], sigmas_in_mm: bool,
                      relaxation_factor: float = 0.5,
                      threads: int = REGISTRATION_THREADS) -> sitk.ImageRegistrationMethod:
    """A multi-resolution Mattes-MI registration method (random sampling, regular-step gradient descent).

    Args:
        histogram_bins: Mattes mutual-information bins.
        sampling_fraction: fraction of the fixed image's voxels sampled at every iteration.
        seed: seed of the random metric sampling; must not be 0 (SimpleITK would seed from the clock).
        iterations: at most this many gradient-descent iterations at every level.
        shrink_factors: per resolution level, how much the fixed image is shrunk (coarsest first).
        smoothing_sigmas: per level, Gaussian smoothing sigma (mm when ``sigmas_in_mm``, else voxels).
        sigmas_in_mm: whether ``smoothing_sigmas`` are physical (mm) or voxel units.
        relaxation_factor: step-length reduction of the optimiser after a direction change.
        threads: threads of the registration (a fixed number, for bit-identical results on every machine).
    """
    if seed == 0:
        raise ValueError("seed 0 makes SimpleITK sample from the clock; use a nonzero seed")
    method = sitk.ImageRegistrationMethod()
    method.SetNumberOfThreads(threads)
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling_fraction, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=iterations,
                                                    relaxationFactor=relaxation_factor,
                                                    gradientMagnitudeTolerance=1e-6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(smoothing_sigmas))
    if sigmas_in_mm:
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    else:
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


@contextlib.contextmanager
def _fixed_threads(threads: int) -> Iterator[None]:
    """Run the block with ITK's default thread count set to ``threads``, then restore it.

    The metric of a SimpleITK registration takes its threads from ITK's process-wide default, not from the
    method's ``SetNumberOfThreads``, so the default is what makes registrations reproducible. The setting is
    process-wide: strokeseg runs registrations in worker processes, never in concurrent threads.
    """
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)


def resample_to_spacing(image: sitk.Image, spacing_mm: Sequence[float] | float,
                        interpolator: int = sitk.sitkLinear) -> sitk.Image:
    """``image`` on a grid of ``spacing_mm`` (one value per axis, or one for all) over the same extent.

    The direction and pixel type are kept; the origin moves so that the outer voxel edges stay in place.
    No smoothing: smooth first when coarsening intensities.
    """
    old_spacing = np.asarray(image.GetSpacing(), dtype=float)
    new_spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), old_spacing.shape)
    size = [max(1, round(n * o / s)) for n, o, s in zip(image.GetSize(), old_spacing, new_spacing, strict=True)]
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    origin = np.asarray(image.GetOrigin()) + direction @ ((new_spacing - old_spacing) / 2.0)
    return sitk.Resample(image, size, sitk.Transform(), interpolator, tuple(origin), tuple(new_spacing),
                         image.GetDirection(), 0.0, image.GetPixelID())


def head_mask(image: sitk.Image, sigma_mm: float = 2.0) -> sitk.Image:
    """Foreground (head) mask: Gaussian blur, Otsu threshold, largest 3D component, holes filled per volume.

    Holes are filled in 3D and in every axial (array z) slice: thick-slice stacks leave the ventricles open
    at the top of the field of view.

    Raises:
        InputDataError: the image is constant (nothing to register), or Otsu finds no foreground.
    """
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), sigma_mm)
    array = sitk.GetArrayFromImage(smooth)
    if float(array.max()) <= float(array.min()):
        raise InputDataError("the image is constant; there is no head to register")
    foreground = sitk.GetArrayViewFromImage(sitk.OtsuThreshold(smooth, 0, 1)) > 0
    if not foreground.any():
        raise InputDataError("no foreground found in the image; is it an MR image of a head?")
    filled = fill_holes(largest_component(foreground), slice_axis=0)
    mask = sitk.GetImageFromArray(filled.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


# ----------------------------------------------------------------------------------------------------------
# Intra-session: one channel onto the reference channel's grid (converters)
# ----------------------------------------------------------------------------------------------------------
#: Intra-session Mattes-MI setting: histogram bins, fraction of voxels sampled, multi-resolution schedule
#: (shrink factor and smoothing sigma in mm per level, coarsest first) and iterations per level.
_SESSION_MI_BINS = 32
_SESSION_SAMPLING_FRACTION = 0.05
_SESSION_SHRINK_FACTORS = (4, 2, 1)
_SESSION_SMOOTHING_SIGMAS_MM = (4.0, 2.0, 0.0)
_SESSION_ITERATIONS = 100
#: A pyramid level is used only when the shrunk fixed image keeps at least this many voxels along every axis.
_MIN_LEVEL_SIZE = 16


@dataclass(frozen=True)
class RegistrationResult:
    """A channel resampled onto the reference grid.

    Attributes:
        image: the resampled image (float32) on the reference grid.
        method: ``rigid`` or ``affine`` (registration accepted) or ``scanner`` (scanner coordinates only:
            registration switched off or rejected by QC).
        mean_shift_mm: mean displacement (mm) of the reference's foreground voxels under the accepted
            transform (0 for ``scanner``); ``rejected_shift_mm`` holds the value of a rejected result.
    """

    image: sitk.Image
    method: str
    mean_shift_mm: float
    rejected_shift_mm: float | None = None


def register_and_resample(moving: sitk.Image, fixed: sitk.Image, method: RegistrationMethod = "rigid",
                          max_mean_shift_mm: float = REGISTRATION_MAX_MEAN_SHIFT_MM,
                          seed: int = DEFAULT_SEED) -> RegistrationResult:
    """Register ``moving`` to ``fixed`` (``rigid``, ``affine`` or ``none``) and resample it onto ``fixed``'s grid."""
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_f = sitk.Cast(moving, sitk.sitkFloat32)
    if method == "none":
        return RegistrationResult(_resample_onto(moving_f, fixed_f, sitk.Transform()), "scanner", 0.0)
    transform = _register_session(_match_resolution(moving_f, fixed_f), fixed_f, method, seed)
    shift = mean_foreground_shift_mm(transform, fixed_f)
    if not np.isfinite(shift) or shift > max_mean_shift_mm:
        logger.warning("%s registration moved the reference foreground by %.1f mm on average (limit %.1f mm); "
                       "rejected, resampling by scanner coordinates instead", method, shift, max_mean_shift_mm)
        return RegistrationResult(_resample_onto(moving_f, fixed_f, sitk.Transform()), "scanner", 0.0, float(shift))
    return RegistrationResult(_resample_onto(moving_f, fixed_f, transform), method, float(shift))


def _match_resolution(moving: sitk.Image, fixed: sitk.Image) -> sitk.Image:
    """``moving`` block-averaged along axes where it is finer than ``fixed`` (a 0.45 mm FLAIR against a 2 mm DWI):
    registering at the fixed image's resolution loses nothing and is several times faster."""
    factors = [max(1, int(fixed_spacing // moving_spacing))
               for moving_spacing, fixed_spacing in zip(moving.GetSpacing(), fixed.GetSpacing(), strict=True)]
    return moving if factors == [1, 1, 1] else sitk.BinShrink(moving, factors)


def _register_session(moving: sitk.Image, fixed: sitk.Image, method: str, seed: int) -> sitk.Transform:
    """Rigid or affine transform (fixed points -> moving points) from the identity about the fixed image's centre."""
    centre = fixed.TransformContinuousIndexToPhysicalPoint([(size - 1) / 2.0 for size in fixed.GetSize()])
    initial: sitk.Transform
    if method == "affine":
        affine = sitk.AffineTransform(3)
        affine.SetCenter(centre)
        initial = affine
    else:
        rigid = sitk.Euler3DTransform()
        rigid.SetCenter(centre)
        initial = rigid
    schedule = zip(_SESSION_SHRINK_FACTORS, _SESSION_SMOOTHING_SIGMAS_MM, strict=True)
    levels = [(factor, sigma) for factor, sigma in schedule
              if factor == 1 or min(fixed.GetSize()) // factor >= _MIN_LEVEL_SIZE]
    registration = _mattes_mi_method(histogram_bins=_SESSION_MI_BINS, sampling_fraction=_SESSION_SAMPLING_FRACTION,
                                     seed=seed, iterations=_SESSION_ITERATIONS,
                                     shrink_factors=[factor for factor, _ in levels],
                                     smoothing_sigmas=[sigma for _, sigma in levels], sigmas_in_mm=True)
    registration.SetInitialTransform(initial, inPlace=False)
    with _fixed_threads(REGISTRATION_THREADS):
        result = registration.Execute(fixed, moving)
    logger.debug("%s registration: metric %.4f after %d iterations (%s)", method, registration.GetMetricValue(),
                 registration.GetOptimizerIteration(), registration.GetOptimizerStopConditionDescription())
    return result


def mean_foreground_shift_mm(transform: sitk.Transform, fixed: sitk.Image) -> float:
    """Mean distance (mm) by which ``transform`` moves the voxels of ``fixed`` above its mean intensity.

    Evaluated on a grid coarsened to about 4 mm so that it stays cheap.
    """
    factor = [max(1, round(4.0 / spacing)) for spacing in fixed.GetSpacing()]
    coarse = sitk.Shrink(fixed, factor)
    values = sitk.GetArrayViewFromImage(coarse)
    foreground = values > values.mean()
    if not foreground.any():
        foreground = np.ones_like(values, dtype=bool)
    field = sitk.TransformToDisplacementField(transform, sitk.sitkVectorFloat64, coarse.GetSize(),
                                              coarse.GetOrigin(), coarse.GetSpacing(), coarse.GetDirection())
    displacement = sitk.GetArrayFromImage(field)
    return float(np.linalg.norm(displacement[foreground], axis=-1).mean())


def _resample_onto(moving: sitk.Image, fixed: sitk.Image, transform: sitk.Transform) -> sitk.Image:
    """``moving`` on ``fixed``'s grid through ``transform`` (fixed points -> moving points), linear, float32."""
    return sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)


# ----------------------------------------------------------------------------------------------------------
# Case to MNI template: affine with a head-mask QC (location atlas)
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistrationSettings:
    """Knobs of the affine registration to the template (defaults from ``strokeseg.defaults``).

    Attributes:
        shrink_factors: per resolution level, how much the template is shrunk (coarsest first).
        iterations: at most this many gradient-descent iterations at every level.
        histogram_bins: Mattes mutual-information bins.
        sampling_fraction: fraction of the template's brain voxels sampled at every iteration.
        seed: seed of the random metric sampling (nonzero: SimpleITK seeds 0 from the clock), so that results
            are reproducible.
        threads: threads of the registration, fixed so that results are bit-identical on every machine.
        moving_min_spacing_mm: case images with finer voxels are smoothed and resampled to this spacing first
            (registration accuracy is limited by the template's spacing anyway; this keeps 0.45 mm FLAIR fast).
        attempts: optimisations tried until one passes the QC (the first from the mask centres, the others
            from the masks' moments with other sampling seeds).
    """

    shrink_factors: tuple[int, ...] = REGISTRATION_SHRINK_FACTORS
    iterations: int = REGISTRATION_ITERATIONS
    histogram_bins: int = REGISTRATION_HISTOGRAM_BINS
    sampling_fraction: float = REGISTRATION_SAMPLING_FRACTION
    seed: int = DEFAULT_SEED
    moving_min_spacing_mm: float = 1.5
    attempts: int = REGISTRATION_ATTEMPTS
    threads: int = REGISTRATION_THREADS

    def __post_init__(self) -> None:
        if not self.shrink_factors or self.iterations < 1 or self.attempts < 1:
            raise ValueError("registration needs at least one resolution level and one iteration")
        if self.seed <= 0 or self.threads < 1:
            raise ValueError(f"registration needs a positive seed (0 seeds from the clock) and at least one thread, "
                             f"got seed {self.seed}, threads {self.threads}")


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


def _coarsen_in_plane(image: sitk.Image, min_spacing_mm: float) -> sitk.Image:
    """Smooth and resample axes finer than ``min_spacing_mm`` to that spacing (coarser axes are kept)."""
    spacing = np.asarray(image.GetSpacing(), dtype=float)
    if np.all(spacing >= min_spacing_mm - 1e-6):
        return image
    new_spacing = np.maximum(spacing, min_spacing_mm)
    sigmas = [float(np.sqrt(max(n**2 - o**2, 0.0)) / 2.0) for n, o in zip(new_spacing, spacing, strict=True)]
    smooth = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigmas])
    return resample_to_spacing(smooth, new_spacing)


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
    method = _mattes_mi_method(histogram_bins=settings.histogram_bins, sampling_fraction=settings.sampling_fraction,
                               seed=seed, iterations=settings.iterations, shrink_factors=settings.shrink_factors,
                               smoothing_sigmas=[max(f / 2.0, 0.0) if f > 1 else 0.0 for f in settings.shrink_factors],
                               sigmas_in_mm=False, relaxation_factor=0.6, threads=settings.threads)
    method.SetMetricFixedMask(sitk.BinaryDilate(template_mask, (2, 2, 2)))
    method.SetInitialTransform(transform, inPlace=True)
    try:
        with _fixed_threads(settings.threads):
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
