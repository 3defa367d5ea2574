"""Run a plans' preprocessing on one case and keep what the network will see, on the case's own grid.

Everything nnU-Net's preprocessor does except resampling: strokeseg's case preparation (skull strip, N4, ADC
units), then nnU-Net's transpose and crop to the nonzero region, the plans' normalization schemes (with the
same label-free mask as StrokesegPreprocessor), and the way back to the original axis order and grid. For
reviewing skull strips, bias fields and normalizations in a viewer (``strokeseg preprocess``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from acvl_utils.cropping_and_padding.bounding_boxes import bounding_box_to_slice
from nnunetv2.preprocessing.cropping.cropping import crop_to_nonzero
from nnunetv2.preprocessing.normalization.default_normalization_schemes import ImageNormalization

from strokeseg.preprocessing.normalization import nonzero_seg
from strokeseg.preprocessing.pipeline import PreparedCase, prepare_case
from strokeseg.preprocessing.settings import CasePreparation


@dataclass(frozen=True)
class NormalizationPlan:
    """The normalization part of a plans configuration: scheme per channel, mask use, axis order."""

    schemes: tuple[type[ImageNormalization], ...]
    use_mask_for_norm: tuple[bool, ...]
    transpose_forward: tuple[int, ...]


@dataclass(frozen=True)
class ReviewedCase:
    """A case after preparation and normalization, both ``(channels, *spatial)`` on the input grid."""

    prepared: PreparedCase
    normalized: np.ndarray


def normalize_like_nnunet(data: np.ndarray, plan: NormalizationPlan) -> np.ndarray:
    """nnU-Net's transpose -> crop to nonzero -> normalize, mapped back to the input grid (0 outside the crop)."""
    axes = (0, *(axis + 1 for axis in plan.transpose_forward))
    transposed = np.ascontiguousarray(data.transpose(axes), dtype=np.float32)
    cropped, _, bbox = crop_to_nonzero(transposed)
    seg = nonzero_seg(cropped)
    for channel, (scheme, masked) in enumerate(zip(plan.schemes, plan.use_mask_for_norm, strict=True)):
        normalizer = scheme(use_mask_for_norm=masked, intensityproperties={})
        cropped[channel] = normalizer.run(cropped[channel], seg[0])
    out = np.zeros_like(transposed)
    out[(slice(None), *bounding_box_to_slice(bbox))] = cropped
    return out.transpose(np.argsort(axes))


def review_case(data: np.ndarray, spacing: Sequence[float], preparation: CasePreparation, plan: NormalizationPlan,
                channel_names: Sequence[str]) -> ReviewedCase:
    """Prepare and normalize one case (see the module docstring); errors as ``prepare_case`` and the schemes."""
    prepared = prepare_case(data, spacing, preparation, channel_names)
    return ReviewedCase(prepared, normalize_like_nnunet(prepared.data, plan))
