"""The papers' intensity normalizations as nnU-Net ``ImageNormalization`` schemes.

nnU-Net runs a scheme per channel after cropping and before resampling, on arrays in the plans' transposed
axis order, whose first axis is the coarsest one (the acquisition's slice axis for thick-slice data);
"per slice" therefore means per index of axis 0 here. Under strokeseg's preprocessor ``seg >= 0`` marks the
brain (the nonzero region after skull stripping), identically in training and prediction.

Change a number the nnU-Net way: subclass and override a class attribute, e.g.
``class HistogramPeak128(HistogramPeakNormalization): histogram = PeakHistogram(bins=128)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from nnunetv2.preprocessing.normalization.default_normalization_schemes import ImageNormalization
from nnunetv2.preprocessing.normalization.map_channel_name_to_normalization import get_normalization_scheme

from strokeseg.defaults import (
    ADC_PLAUSIBLE_P99_1E6_MM2_S,
    ADC_RANGE_1E6_MM2_S,
    ADC_SCALED_MAX,
    HISTOGRAM_CLIP_MAX,
    HISTOGRAM_PEAK_TARGET,
    WINDOW_FALLBACK_PERCENTILES,
    WMH_BRAIN_THRESHOLD,
    WMH_HISTOGRAM_BINS,
    WMH_PEAK_MIN_INTENSITY,
    WMH_SLICE_MIN_MAX_FRACTION,
    WMH_SLICE_RESCALE_MAX,
)
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR, CHANNEL_T1W
from strokeseg.preprocessing.intensity import (
    PeakHistogram,
    adc_normalize,
    masked_zscore,
    slicewise_peak_normalize,
    wmh_flair_normalize,
)
from strokeseg.preprocessing.windows import PROPERTY_WINDOW, apply_window, percentile_window

__all__ = ["ADCRangeNormalization", "BrainZScoreNormalization", "HistogramPeakNormalization",
           "SiteWindowNormalization", "WMHFlairNormalization"]

#: Axis of nnU-Net's transposed arrays along which "per slice" steps work.
SLICE_AXIS = 0


def nonzero_seg(data: np.ndarray) -> np.ndarray:
    """nnU-Net-style mask for the normalizations from the image alone: 0 where any channel is nonzero, else -1.

    Shape ``(1, *spatial)``, int8. strokeseg's preprocessor passes it instead of the cropped label map, whose
    lesion voxels outside the nonzero region would count as "inside" during training only.
    """
    return np.where(np.any(data != 0, axis=0), np.int8(0), np.int8(-1))[None]


def brain_mask(image: np.ndarray, seg: np.ndarray | None, use_mask_for_norm: bool | None) -> np.ndarray:
    """``seg >= 0`` when the plans use a mask for this channel (nnU-Net's convention), else every voxel."""
    if use_mask_for_norm and seg is not None:
        return np.asarray(seg >= 0)
    return np.ones(image.shape, dtype=bool)


class HistogramPeakNormalization(ImageNormalization):
    """DWI/b0 (Noh et al.): per slice, the brain-histogram peak goes to 150; clipped to [0, 255]; 0 outside brain."""

    leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true = True
    histogram: ClassVar[PeakHistogram] = PeakHistogram()
    target: ClassVar[float] = HISTOGRAM_PEAK_TARGET
    clip_max: ClassVar[float] = HISTOGRAM_CLIP_MAX

    def run(self, image: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        mask = brain_mask(image, seg, self.use_mask_for_norm)
        out = slicewise_peak_normalize(image, mask, SLICE_AXIS, self.target, self.clip_max, self.histogram)
        return out.astype(self.target_dtype, copy=False)


class ADCRangeNormalization(ImageNormalization):
    """ADC (10⁻⁶ mm²/s): clipped to 0-3000 and scaled onto 0-255, the DWI channel's range; 0 outside the brain."""

    leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true = True
    value_range: ClassVar[tuple[float, float]] = ADC_RANGE_1E6_MM2_S
    scaled_max: ClassVar[float] = ADC_SCALED_MAX
    plausible_p99: ClassVar[tuple[float, float]] = ADC_PLAUSIBLE_P99_1E6_MM2_S

    def run(self, image: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        mask = brain_mask(image, seg, self.use_mask_for_norm)
        out = adc_normalize(image, mask, self.value_range, self.scaled_max, self.plausible_p99)
        return out.astype(self.target_dtype, copy=False)


class WMHFlairNormalization(ImageNormalization):
    """FLAIR (Kim et al.): per-slice 0-255, 32-bin histogram peak to 150, mask = intensity > 30, z-score in it.

    The scheme builds its own brain mask, so the plans' ``use_mask_for_norm`` is ignored; voxels outside the
    mask become 0 (the mask's mean).
    """

    leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true = False
    rescale_max: ClassVar[float] = WMH_SLICE_RESCALE_MAX
    bins: ClassVar[int] = WMH_HISTOGRAM_BINS
    target: ClassVar[float] = HISTOGRAM_PEAK_TARGET
    threshold: ClassVar[float] = WMH_BRAIN_THRESHOLD
    peak_min_intensity: ClassVar[float] = WMH_PEAK_MIN_INTENSITY
    slice_min_max_fraction: ClassVar[float] = WMH_SLICE_MIN_MAX_FRACTION

    def run(self, image: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        out, _ = wmh_flair_normalize(image, SLICE_AXIS, self.rescale_max, self.bins, self.target, self.threshold,
                                     self.peak_min_intensity, self.slice_min_max_fraction)
        return out.astype(self.target_dtype, copy=False)


class BrainZScoreNormalization(ImageNormalization):
    """T1w (ATLAS): z-score with the mean and SD of the brain (or head) mask, 0 outside it.

    Unlike nnU-Net's ZScoreNormalization it refuses an empty mask or a constant image instead of dividing by a
    tiny epsilon.
    """

    leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true = True

    def run(self, image: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        mask = brain_mask(image, seg, self.use_mask_for_norm)
        return masked_zscore(image, mask).astype(self.target_dtype, copy=False)


class SiteWindowNormalization(ImageNormalization):
    """0-1 (Alis et al.): the case's site window ``[low, high]`` maps onto [0, 1], clipped.

    The window comes from the dataset metadata through the plans (``strokeseg.preprocessing.windows``; the
    preprocessor hands it over in the channel's intensity properties); without one, the
    ``fallback_percentiles`` (0.5 and 99.5 %) of the channel's nonzero voxels are the window. No mask: the
    whole image is windowed, so background stays near 0 only where it is dark.
    """

    leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true = False
    fallback_percentiles: ClassVar[tuple[float, float]] = WINDOW_FALLBACK_PERCENTILES

    def run(self, image: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        window = (self.intensityproperties or {}).get(PROPERTY_WINDOW)
        if window is None:
            window = percentile_window(image, self.fallback_percentiles)
        return apply_window(image, window).astype(self.target_dtype, copy=False)


#: strokeseg's scheme per dataset.json channel name (case-insensitive).
NORMALIZATION_BY_CHANNEL: dict[str, type[ImageNormalization]] = {
    CHANNEL_DWI.casefold(): HistogramPeakNormalization,
    CHANNEL_B0.casefold(): HistogramPeakNormalization,
    CHANNEL_ADC.casefold(): ADCRangeNormalization,
    CHANNEL_FLAIR.casefold(): WMHFlairNormalization,
    CHANNEL_T1W.casefold(): BrainZScoreNormalization,
}


def normalization_for_channel(channel_name: str) -> type[ImageNormalization]:
    """strokeseg's scheme for a channel name; unknown names fall back to nnU-Net's own mapping (e.g. CT, zscore)."""
    return NORMALIZATION_BY_CHANNEL.get(channel_name.casefold()) or get_normalization_scheme(channel_name)
