"""The papers' intensity normalizations as pure functions on numpy arrays (no nnU-Net, no files).

Conventions: arrays are 3D; "slices" are the planes perpendicular to ``axis`` (nnU-Net's transposed arrays put
the coarsest, i.e. the acquisition's slice axis first, so strokeseg's normalizations use ``axis=0``). Masks
are boolean arrays of the image's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokeseg.defaults import (
    ADC_PLAUSIBLE_P99_1E6_MM2_S,
    ADC_RANGE_1E6_MM2_S,
    ADC_SCALED_MAX,
    DWI_HISTOGRAM_BINS,
    DWI_HISTOGRAM_SMOOTHING_BINS,
    DWI_HISTOGRAM_UPPER_PERCENTILE,
    DWI_MIN_SLICE_BRAIN_FRACTION,
    DWI_MIN_SLICE_BRAIN_VOXELS,
    HISTOGRAM_CLIP_MAX,
    HISTOGRAM_PEAK_TARGET,
    WMH_BRAIN_THRESHOLD,
    WMH_HISTOGRAM_BINS,
    WMH_PEAK_MIN_INTENSITY,
    WMH_SLICE_MIN_MAX_FRACTION,
    WMH_SLICE_RESCALE_MAX,
)
from strokeseg.errors import InputDataError
from strokeseg.masks import fill_holes
from strokeseg.modalities import adc_reference_value


# ------------------------------------------------------------------------------------------------------
# histogram-peak normalization (Noh et al.)
# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakHistogram:
    """How the brain-intensity histogram of a slice is built and when a slice is trusted (Noh et al.'s open choices).

    Attributes:
        bins: equal bins from 0 to the ``upper_percentile`` of the positive brain voxels.
        upper_percentile: upper end of the histogram range (hot voxels beyond it are ignored).
        smoothing_bins: SD (bins) of the Gaussian that smooths the histogram before the peak is taken.
        min_slice_fraction: a slice uses its own peak only with at least this fraction of the brain voxels of
            the case's largest brain slice...
        min_slice_voxels: ...and at least this many brain voxels; other slices use the case-wide peak.
    """

    bins: int = DWI_HISTOGRAM_BINS
    upper_percentile: float = DWI_HISTOGRAM_UPPER_PERCENTILE
    smoothing_bins: float = DWI_HISTOGRAM_SMOOTHING_BINS
    min_slice_fraction: float = DWI_MIN_SLICE_BRAIN_FRACTION
    min_slice_voxels: int = DWI_MIN_SLICE_BRAIN_VOXELS

    def peak(self, values: np.ndarray) -> float:
        """Intensity at the peak (mode) of the histogram of the positive ``values``.

        The peak bin of the smoothed histogram is refined to sub-bin precision by a parabola through it and its
        neighbours.

        Raises:
            InputDataError: there are no positive values.
        """
        positive = values[values > 0]
        if positive.size == 0:
            raise InputDataError("no positive intensities to build a histogram from")
        upper = float(np.percentile(positive, self.upper_percentile))
        if upper <= 0:
            upper = float(positive.max())
        counts, edges = np.histogram(positive, bins=self.bins, range=(0.0, upper))
        smoothed = counts.astype(np.float64)
        if self.smoothing_bins > 0:
            smoothed = ndimage.gaussian_filter1d(smoothed, self.smoothing_bins, mode="constant")
        index = int(np.argmax(smoothed))
        offset = 0.0
        if 0 < index < self.bins - 1:
            left, centre, right = smoothed[index - 1 : index + 2]
            curvature = left - 2.0 * centre + right
            if curvature < 0:
                offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
        width = (edges[-1] - edges[0]) / self.bins
        return float(edges[0] + (index + 0.5 + offset) * width)


def slice_peak_scales(image: np.ndarray, mask: np.ndarray, axis: int = 0, target: float = HISTOGRAM_PEAK_TARGET,
                      histogram: PeakHistogram = PeakHistogram()) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice factors that move each slice's brain-histogram peak to ``target``.

    Only positive voxels inside ``mask`` count. Slices with too few of them (see ``PeakHistogram``) get the
    case-wide factor, computed from all brain voxels of the case.

    Returns:
        ``(scales, own_peak)``: the factor per slice and whether the slice used its own histogram (False:
        case-wide fallback).

    Raises:
        InputDataError: the mask holds no positive voxel.
    """
    valid = mask & (image > 0)
    if not valid.any():
        raise InputDataError("the brain mask holds no voxel with a positive intensity; cannot normalize")
    case_scale = target / histogram.peak(image[valid])
    moved_image, moved_valid = np.moveaxis(image, axis, 0), np.moveaxis(valid, axis, 0)
    counts = moved_valid.reshape(moved_valid.shape[0], -1).sum(axis=1)
    minimum = max(float(histogram.min_slice_voxels), histogram.min_slice_fraction * float(counts.max()))
    own = counts >= minimum
    scales = np.full(counts.shape, case_scale, dtype=np.float64)
    for index in np.flatnonzero(own):
        scales[index] = target / histogram.peak(moved_image[index][moved_valid[index]])
    return scales, own


def slicewise_peak_normalize(image: np.ndarray, mask: np.ndarray, axis: int = 0,
                             target: float = HISTOGRAM_PEAK_TARGET, clip_max: float = HISTOGRAM_CLIP_MAX,
                             histogram: PeakHistogram = PeakHistogram()) -> np.ndarray:
    """Noh et al.'s normalization: scale each slice so its brain-histogram peak is ``target``, clip to [0, clip_max].

    Voxels outside ``mask`` become 0; see ``slice_peak_scales`` for the per-slice factors.
    """
    scales, _ = slice_peak_scales(image, mask, axis, target, histogram)
    shape = [1] * image.ndim
    shape[axis] = -1
    out = image.astype(np.float32, copy=True)
    out *= scales.reshape(shape).astype(np.float32)
    out[~mask] = 0.0
    np.clip(out, 0.0, clip_max, out=out)
    return out


# ------------------------------------------------------------------------------------------------------
# FLAIR WMH pipeline (Kim et al.)
# ------------------------------------------------------------------------------------------------------
def rescale_slices(image: np.ndarray, axis: int = 0, maximum: float = WMH_SLICE_RESCALE_MAX,
                   min_max_fraction: float = WMH_SLICE_MIN_MAX_FRACTION) -> np.ndarray:
    """Min-max rescale every slice to [0, maximum]; constant slices become 0.

    A slice whose own maximum is below ``min_max_fraction`` of the case maximum (air or noise beyond the head)
    is divided by that fraction of the case maximum instead, so its noise is not stretched to full range.
    """
    out = np.moveaxis(image.astype(np.float32, copy=True), axis, 0)
    flat = out.reshape(out.shape[0], -1)
    low = flat.min(axis=1)
    high = np.maximum(flat.max(axis=1), min_max_fraction * float(flat.max()))
    span = high - low
    flat -= low[:, None]
    flat *= (np.where(span > 0, maximum / np.where(span > 0, span, 1.0), 0.0))[:, None].astype(np.float32)
    return np.moveaxis(flat.reshape(out.shape), 0, axis)


def wmh_histogram_peak(image: np.ndarray, bins: int = WMH_HISTOGRAM_BINS, maximum: float = WMH_SLICE_RESCALE_MAX,
                       min_intensity: float = WMH_PEAK_MIN_INTENSITY) -> float:
    """Centre of the highest bin of the case-wise ``bins``-bin histogram over [0, maximum].

    Bins starting below ``min_intensity`` (air, noise floor, CSF) are not candidates.

    Raises:
        InputDataError: no voxel falls into the candidate bins.
    """
    counts, edges = np.histogram(image, bins=bins, range=(0.0, maximum))
    first = int(np.searchsorted(edges[:-1], min_intensity, side="left"))
    candidates = counts[first:]
    if candidates.sum() == 0:
        raise InputDataError(f"no voxel reaches the histogram bins at or above {min_intensity:g}; the image is empty")
    index = first + int(np.argmax(candidates))
    return float(0.5 * (edges[index] + edges[index + 1]))


def masked_zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Z-score with the mean and SD of the voxels in ``mask``; voxels outside the mask become 0.

    Raises:
        InputDataError: the mask holds fewer than 2 voxels or the image is constant inside it.
    """
    values = image[mask].astype(np.float64)
    if values.size < 2:
        raise InputDataError(f"the normalization mask holds {values.size} voxel(s); cannot compute a z-score")
    mean, sd = float(values.mean()), float(values.std())
    if not sd > 0:
        raise InputDataError(f"the image is constant ({mean:g}) inside the normalization mask; cannot z-score")
    values -= mean  # in place: the same float64 arithmetic as (values - mean) / sd without two temporaries
    values /= sd
    out = np.zeros(image.shape, dtype=np.float32)
    out[mask] = values
    return out


def wmh_flair_normalize(image: np.ndarray, axis: int = 0, rescale_max: float = WMH_SLICE_RESCALE_MAX,
                        bins: int = WMH_HISTOGRAM_BINS, target: float = HISTOGRAM_PEAK_TARGET,
                        threshold: float = WMH_BRAIN_THRESHOLD,
                        peak_min_intensity: float = WMH_PEAK_MIN_INTENSITY,
                        slice_min_max_fraction: float = WMH_SLICE_MIN_MAX_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Kim et al.'s FLAIR pipeline; returns ``(normalized, brain_mask)``.

    1. every slice is min-max rescaled to [0, rescale_max] (see ``rescale_slices``);
    2. the case-wise ``bins``-bin histogram's highest peak (bins from ``peak_min_intensity`` up) is moved to
       ``target`` by scaling (0 stays 0), and intensities are clipped to [0, rescale_max];
    3. brain mask = intensity > ``threshold``, holes filled (3D, then per slice);
    4. z-score inside the mask, 0 outside.

    Raises:
        InputDataError: the image is empty, or no voxel exceeds ``threshold``.
    """
    rescaled = rescale_slices(image, axis, rescale_max, slice_min_max_fraction)
    peak = wmh_histogram_peak(rescaled, bins, rescale_max, peak_min_intensity)
    shifted = np.clip(rescaled * np.float32(target / peak), 0.0, rescale_max)
    mask = fill_holes(shifted > threshold, axis)
    if not mask.any():
        raise InputDataError(f"no voxel exceeds the WMH brain threshold {threshold:g} after the histogram shift")
    return masked_zscore(shifted, mask), mask


# ------------------------------------------------------------------------------------------------------
# ADC
# ------------------------------------------------------------------------------------------------------
def adc_normalize(image: np.ndarray, mask: np.ndarray, value_range: tuple[float, float] = ADC_RANGE_1E6_MM2_S,
                  scaled_max: float = ADC_SCALED_MAX,
                  plausible: tuple[float, float] = ADC_PLAUSIBLE_P99_1E6_MM2_S) -> np.ndarray:
    """Clip an ADC map (10⁻⁶ mm²/s) to ``value_range`` and scale it linearly onto [0, scaled_max]; 0 outside ``mask``.

    Raises:
        InputDataError: no positive ADC inside the mask, or its ``adc_reference_value`` is implausible for
            10⁻⁶ mm²/s (e.g. a map in 10⁻³ mm²/s that was not converted).
    """
    reference = adc_reference_value(image[mask])
    if reference == 0.0:
        raise InputDataError("the ADC map has no positive value inside the brain mask")
    low, high = plausible
    if not low <= reference <= high:
        raise InputDataError(f"the 99th percentile of the ADC inside the brain is {reference:.4g}, outside "
                             f"{low:g}-{high:g}: the map is not in 10⁻⁶ mm²/s (strokeseg's preprocessor converts "
                             "10⁻³ mm²/s and mm²/s automatically; convert the map or check the channel name)")
    lower, upper = value_range
    out = np.clip(image.astype(np.float32), lower, upper) - np.float32(lower)
    out *= np.float32(scaled_max / (upper - lower))
    out[~mask] = 0.0
    return out
