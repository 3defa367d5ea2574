"""Bring an extra channel on another grid into the reference channel's space (e.g. ISLES'22 FLAIR -> DWI).

Both series come from one session, so scanner coordinates are the starting point (identity transform); a
rigid (default) or affine SimpleITK registration with Mattes mutual information (contrasts differ) corrects
patient motion between the series, and the moving image is resampled onto the reference grid with linear
interpolation. A QC step measures how far the found transform moves the reference's foreground voxels; a
result above ``max_mean_shift_mm`` is rejected (a failed registration) and the channel is resampled by
scanner coordinates only. The method actually used is reported so converters can flag it in cases.csv.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import SimpleITK as sitk

from strokeseg.defaults import DEFAULT_SEED, REGISTRATION_MAX_MEAN_SHIFT_MM

logger = logging.getLogger(__name__)

RegistrationMethod = Literal["rigid", "affine", "none"]
REGISTRATION_METHODS: tuple[str, ...] = ("rigid", "affine", "none")

#: Mattes mutual information histogram bins, fraction of voxels sampled, multi-resolution schedule.
_MI_BINS = 32
_SAMPLING_FRACTION = 0.05
_SHRINK_FACTORS = (4, 2, 1)
_SMOOTHING_SIGMAS_MM = (4.0, 2.0, 0.0)
_ITERATIONS = 100
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
        return RegistrationResult(_resample(moving_f, fixed_f, sitk.Transform()), "scanner", 0.0)
    transform = _register(_match_resolution(moving_f, fixed_f), fixed_f, method, seed)
    shift = mean_foreground_shift_mm(transform, fixed_f)
    if not np.isfinite(shift) or shift > max_mean_shift_mm:
        logger.warning("%s registration moved the reference foreground by %.1f mm on average (limit %.1f mm); "
                       "rejected, resampling by scanner coordinates instead", method, shift, max_mean_shift_mm)
        return RegistrationResult(_resample(moving_f, fixed_f, sitk.Transform()), "scanner", 0.0, float(shift))
    return RegistrationResult(_resample(moving_f, fixed_f, transform), method, float(shift))


def _match_resolution(moving: sitk.Image, fixed: sitk.Image) -> sitk.Image:
    """``moving`` block-averaged along axes where it is finer than ``fixed`` (a 0.45 mm FLAIR against a 2 mm DWI):
    registering at the fixed image's resolution loses nothing and is several times faster."""
    factors = [max(1, int(fixed_spacing // moving_spacing))
               for moving_spacing, fixed_spacing in zip(moving.GetSpacing(), fixed.GetSpacing(), strict=True)]
    return moving if factors == [1, 1, 1] else sitk.BinShrink(moving, factors)


def _register(moving: sitk.Image, fixed: sitk.Image, method: str, seed: int) -> sitk.Transform:
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
    registration = sitk.ImageRegistrationMethod()
    registration.SetMetricAsMattesMutualInformation(numberOfHistogramBins=_MI_BINS)
    registration.SetMetricSamplingStrategy(registration.RANDOM)
    registration.SetMetricSamplingPercentage(_SAMPLING_FRACTION, seed)
    registration.SetInterpolator(sitk.sitkLinear)
    registration.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3,
                                                          numberOfIterations=_ITERATIONS,
                                                          gradientMagnitudeTolerance=1e-6)
    registration.SetOptimizerScalesFromPhysicalShift()
    levels = [(factor, sigma) for factor, sigma in zip(_SHRINK_FACTORS, _SMOOTHING_SIGMAS_MM, strict=True)
              if factor == 1 or min(fixed.GetSize()) // factor >= _MIN_LEVEL_SIZE]
    registration.SetShrinkFactorsPerLevel([factor for factor, _ in levels])
    registration.SetSmoothingSigmasPerLevel([sigma for _, sigma in levels])
    registration.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    registration.SetInitialTransform(initial, inPlace=False)
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


def _resample(moving: sitk.Image, fixed: sitk.Image, transform: sitk.Transform) -> sitk.Image:
    return sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
