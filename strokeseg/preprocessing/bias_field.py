"""N4 bias-field correction (SimpleITK), estimated on a shrunk image and applied at full resolution (Noh et al.).

The multiplicative bias field is smooth on a scale of centimetres, so N4 fits it on a copy of the image
shrunk (bin-averaged) towards ``shrink_spacing_mm`` voxels and evaluates the fitted B-spline field on the
full-resolution grid. Only the bounding box of the mask is processed: voxels outside it keep their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from strokeseg.defaults import (
    N4_CONVERGENCE_THRESHOLD,
    N4_FITTING_LEVELS,
    N4_MAX_FIELD_RATIO,
    N4_MAX_ITERATIONS,
    N4_SHRINK_SPACING_MM,
)
from strokeseg.errors import InputDataError
from strokeseg.masks import bounding_box

#: N4 needs this many mask voxels on the shrunk grid to fit a B-spline field.
MIN_SHRUNK_MASK_VOXELS = 64


class BiasFieldError(InputDataError):
    """N4 could not estimate a usable bias field for an image."""


def shrink_factors(spacing: Sequence[float], shrink_spacing_mm: float = N4_SHRINK_SPACING_MM) -> tuple[int, ...]:
    """Integer shrink factor per axis: round(shrink_spacing_mm / spacing), at least 1 (8 mm, 5x1x1 mm -> 2, 8, 8)."""
    return tuple(max(1, round(shrink_spacing_mm / float(s))) for s in spacing)


def _to_sitk(array: np.ndarray, spacing: Sequence[float]) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing)))  # numpy (z, y, x) -> SimpleITK (x, y, z)
    return image


@dataclass(frozen=True)
class N4Parameters:
    """N4 settings.

    Attributes:
        shrink_spacing_mm: the field is fitted on a copy shrunk by ``shrink_factors(spacing, shrink_spacing_mm)``.
        levels: B-spline resolution levels, each with at most ``iterations`` iterations.
        convergence_threshold: a level stops early when the field changes less than this.
        max_field_ratio: the largest plausible ratio between the field's maximum and minimum inside the mask.
    """

    shrink_spacing_mm: float = N4_SHRINK_SPACING_MM
    levels: int = N4_FITTING_LEVELS
    iterations: int = N4_MAX_ITERATIONS
    convergence_threshold: float = N4_CONVERGENCE_THRESHOLD
    max_field_ratio: float = N4_MAX_FIELD_RATIO


def n4_log_bias_field(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float],
                      parameters: N4Parameters = N4Parameters()) -> tuple[tuple[slice, ...], np.ndarray]:
    """Estimate the log bias field of ``image`` inside the bounding box of ``mask``.

    Args:
        image: 3D intensities (array axes in the order of ``spacing``).
        mask: voxels N4 learns from (e.g. the brain mask); voxels <= 0 are left out automatically.
        spacing: voxel size per array axis in mm.
        parameters: shrinking, levels, iterations and the plausibility limit.

    Returns:
        ``(box, log_field)``: the bounding box of the mask (a tuple of slices) and the log bias field
        (float32) on the full-resolution voxels of that box, with zero mean inside the mask (so correction
        keeps the mean log intensity). Corrected intensities are ``image[box] / exp(log_field)``.

    Raises:
        BiasFieldError: the mask is too small, SimpleITK fails, or the field is not finite or implausible.
    """
    learn = mask & (image > 0) & np.isfinite(image)
    if not learn.any():
        raise BiasFieldError("N4 has no positive voxels inside the mask to learn from")
    box = bounding_box(learn)
    # never shrink an axis by more than the box is long (BinShrink needs at least one whole bin per axis)
    wanted = shrink_factors(spacing, parameters.shrink_spacing_mm)
    factors = tuple(min(f, s.stop - s.start) for f, s in zip(wanted, box, strict=True))
    full = _to_sitk(np.ascontiguousarray(image[box], dtype=np.float32), spacing)
    full_mask = _to_sitk(learn[box].astype(np.float32), spacing)
    factors_xyz = [int(f) for f in reversed(factors)]
    shrunk = sitk.BinShrink(full, factors_xyz)
    shrunk_mask = sitk.Cast(sitk.BinShrink(full_mask, factors_xyz) > 0.5, sitk.sitkUInt8)
    mask_voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(shrunk_mask)))
    if mask_voxels < MIN_SHRUNK_MASK_VOXELS:
        raise BiasFieldError(f"N4 needs at least {MIN_SHRUNK_MASK_VOXELS} mask voxels on the grid shrunk by "
                             f"{factors}, the mask has {mask_voxels}")
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(parameters.iterations)] * int(parameters.levels))
    corrector.SetConvergenceThreshold(float(parameters.convergence_threshold))
    try:
        corrector.Execute(shrunk, shrunk_mask)
        # The B-spline is evaluated on the shrunk grid, where N4 fitted it, and resampled linearly onto the full
        # grid in physical space; evaluating it directly on the full grid would stretch the fitted domain (the
        # bin centres of the shrunk grid do not span the full grid's extent).
        shrunk_field = corrector.GetLogBiasFieldAsImage(shrunk)
        field = sitk.Resample(shrunk_field, full, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32,
                              True)
        log_field = sitk.GetArrayFromImage(field)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown reason"
        raise BiasFieldError(f"SimpleITK N4 failed: {reason}") from None
    if not np.all(np.isfinite(log_field)):
        raise BiasFieldError("N4 returned a bias field with NaN or infinite values")
    inside = log_field[learn[box]]
    log_field -= np.float32(inside.mean())  # N4 leaves the field's scale free: keep the mask's mean intensity
    ratio = float(np.exp(inside.max() - inside.min()))
    if ratio > parameters.max_field_ratio:
        raise BiasFieldError(f"N4 estimated a field that varies by a factor of {ratio:.3g} inside the mask (more "
                             f"than {parameters.max_field_ratio:g}), which no receive coil produces")
    return box, log_field


def n4_correct(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float],
               parameters: N4Parameters = N4Parameters()) -> np.ndarray:
    """Bias-corrected copy of ``image`` (float32); see ``n4_log_bias_field`` for the arguments and errors."""
    box, log_field = n4_log_bias_field(image, mask, spacing, parameters)
    corrected = image.astype(np.float32, copy=True)
    corrected[box] /= np.exp(log_field)
    return corrected
