"""Skull stripping by Gaussian blur and Otsu threshold (Noh et al.).

On diffusion-weighted images the skull and fat-suppressed scalp are dark and the brain is bright, so the
Otsu threshold of a blurred image separates brain from everything else. The largest connected component is
kept and its holes (ventricles, dark infarct cores on ADC-like contrasts) are filled. On T1w or FLAIR with
skull the same steps give a *head* mask; strokeseg uses it there as a foreground mask only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from strokeseg.defaults import SKULL_STRIP_MIN_BRAIN_ML, SKULL_STRIP_SIGMA_MM
from strokeseg.errors import InputDataError
from strokeseg.masks import bounding_box, fill_holes, largest_component, slice_axis_of
from strokeseg.volumes import voxel_volume_ml


def skull_strip_mask(image: np.ndarray, spacing: Sequence[float], sigma_mm: float = SKULL_STRIP_SIGMA_MM,
                     min_brain_ml: float = SKULL_STRIP_MIN_BRAIN_ML) -> np.ndarray:
    """Brain mask of a 3D image: Gaussian blur, Otsu threshold, largest component, holes filled.

    Args:
        image: 3D intensities, any array axis order matching ``spacing``.
        spacing: voxel size per array axis in mm; the blur is isotropic in mm (so 5 mm slices are barely
            blurred across slices) and holes are also filled slice by slice along the coarsest axis.
        sigma_mm: standard deviation of the Gaussian blur in mm.
        min_brain_ml: the mask must hold at least this volume (mL), otherwise no brain was found.

    Raises:
        InputDataError: the image is not 3D, holds NaN/inf, is constant, or no brain of at least
            ``min_brain_ml`` was found.
    """
    if image.ndim != 3 or len(spacing) != 3:
        raise InputDataError(f"skull stripping needs a 3D image and a 3-element spacing, got shape {image.shape} "
                             f"and spacing {tuple(spacing)}")
    if not np.all(np.isfinite(image)):
        raise InputDataError("image contains NaN or infinite voxels; skull stripping is impossible")
    low, high = float(np.min(image)), float(np.max(image))
    if low == high:
        raise InputDataError(f"image is constant (every voxel = {low:g}); there is no brain to strip")
    sigma_voxels = [sigma_mm / float(s) for s in spacing]
    blurred = ndimage.gaussian_filter(image.astype(np.float32, copy=False), sigma_voxels, mode="nearest")
    threshold = float(threshold_otsu(blurred))
    mask = largest_component(blurred > threshold)
    if mask.any():  # fill holes inside the component's bounding box only (same result, less work)
        box = bounding_box(mask)
        mask[box] = fill_holes(mask[box], slice_axis_of(spacing))
    volume_ml = float(mask.sum()) * voxel_volume_ml(spacing)
    if volume_ml < min_brain_ml:
        raise InputDataError(
            f"skull stripping found no brain: the largest bright component holds {volume_ml:.1f} mL, less than "
            f"{min_brain_ml:g} mL (Otsu threshold {threshold:.4g}); check that the channel used for the mask is "
            "a DWI/b0/FLAIR/T1w image of a head, or plan with a planner that does not strip the skull")
    return mask
