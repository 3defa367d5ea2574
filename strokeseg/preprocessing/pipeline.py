"""The steps strokeseg runs on a case before nnU-Net's crop/resample/normalize: checks, skull strip, N4, ADC units.

Pure computation on a ``(channels, *spatial)`` array and its spacing; no files, no nnU-Net. Failures raise
InputDataError without a case name (the preprocessor adds it); documented fallbacks are returned as
warnings for the caller to log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from strokeseg.errors import InputDataError
from strokeseg.modalities import adc_reference_value, adc_unit_factor
from strokeseg.preprocessing.bias_field import BiasFieldError, n4_correct
from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation
from strokeseg.preprocessing.skull_strip import skull_strip_mask
from strokeseg.volumes import voxel_volume_ml


@dataclass(frozen=True)
class PreparedCase:
    """A case after ``prepare_case``.

    Attributes:
        data: float32 ``(channels, *spatial)`` intensities.
        brain_mask: the skull-strip mask (None when no mask was needed).
        brain_volume_ml: volume of the skull-strip mask (None when no mask was needed).
        n4_channels: channels that were bias-corrected.
        adc_unit_factors: channel -> factor that converted it to 10⁻⁶ mm²/s.
        warnings: documented fallbacks that were taken (e.g. N4 failed and a channel stayed uncorrected).
    """

    data: np.ndarray
    brain_mask: np.ndarray | None
    brain_volume_ml: float | None
    n4_channels: tuple[int, ...]
    adc_unit_factors: dict[int, float]
    warnings: tuple[str, ...]

    def provenance(self) -> dict[str, Any]:
        """Plain-type summary stored with the preprocessed case (nnU-Net's properties)."""
        return {"brain_volume_ml": self.brain_volume_ml, "n4_channels": list(self.n4_channels),
                "adc_unit_factors": {str(k): v for k, v in self.adc_unit_factors.items()},
                "warnings": list(self.warnings)}


def channel_label(index: int, channel_names: Sequence[str]) -> str:
    """``channel 0 (DWI)`` for messages."""
    name = channel_names[index] if index < len(channel_names) else "?"
    return f"channel {index} ({name})"


def check_channels(data: np.ndarray, channel_names: Sequence[str]) -> None:
    """Refuse NaN/inf and constant (e.g. all-zero) channels.

    Raises:
        InputDataError: naming the channel and what is wrong with it.
    """
    for index, channel in enumerate(data):
        bad = int(channel.size - np.count_nonzero(np.isfinite(channel)))
        if bad:
            raise InputDataError(f"{channel_label(index, channel_names)} contains {bad} NaN or infinite voxels; fix "
                                 "or exclude this case")
        low, high = float(channel.min()), float(channel.max())
        if low == high:
            raise InputDataError(f"{channel_label(index, channel_names)} is constant (every voxel = {low:g}): an "
                                 "empty or corrupt image; fix or exclude this case")


def prepare_case(data: np.ndarray, spacing: Sequence[float], settings: CasePreparation,
                 channel_names: Sequence[str]) -> PreparedCase:
    """Check the channels, strip the skull, correct the bias field and harmonize ADC units.

    Args:
        data: ``(channels, *spatial)`` intensities; not modified.
        spacing: voxel size of the spatial axes in mm (nnU-Net's ``properties['spacing']``).
        settings: what to run (written into the plans by strokeseg's planners).
        channel_names: the dataset's channel names in channel order (for messages).

    Raises:
        InputDataError: a bad channel, a skull strip that finds no brain, an implausible ADC map, or settings
            that name channels the case does not have.
    """
    check_channels(data, channel_names)
    _check_channel_indices(settings, data.shape[0])
    out = data.astype(np.float32, copy=True)
    if not settings.needs_mask:
        return PreparedCase(out, None, None, (), {}, ())
    try:
        mask = skull_strip_mask(out[settings.mask_channel], spacing, settings.skull_strip_sigma_mm,
                                settings.min_brain_ml)
    except InputDataError as error:
        raise InputDataError(f"{channel_label(settings.mask_channel, channel_names)}: {error}") from None
    if settings.foreground_mask:
        np.copyto(out, np.float32(0.0), where=~mask)  # broadcast over channels; out[:, ~mask] is ~10x slower
    warnings: list[str] = []
    corrected = _correct_bias(out, mask, spacing, settings, channel_names, warnings)
    factors = _harmonize_adc_units(out, mask, settings.adc_channels, channel_names, warnings)
    volume = float(mask.sum()) * voxel_volume_ml(spacing)
    return PreparedCase(out, mask, volume, corrected, factors, tuple(warnings))


def _check_channel_indices(settings: CasePreparation, channels: int) -> None:
    used = {settings.mask_channel, *settings.n4_channels, *settings.adc_channels}
    if min(used) < 0 or max(used) >= channels:
        raise InputDataError(f"the plans' {PLANS_KEY} use channels {sorted(used)}, but the case has {channels} "
                             "channel(s)")


def _correct_bias(out: np.ndarray, mask: np.ndarray, spacing: Sequence[float], settings: CasePreparation,
                  channel_names: Sequence[str], warnings: list[str]) -> tuple[int, ...]:
    """N4 on ``settings.n4_channels`` of ``out`` in place; failures become warnings. Returns the corrected ones."""
    corrected = []
    for index in settings.n4_channels:
        try:
            out[index] = n4_correct(out[index], mask, spacing, settings.n4_parameters)
            corrected.append(index)
        except BiasFieldError as error:
            warnings.append(f"N4 failed on {channel_label(index, channel_names)} ({error}); the channel is used "
                            "without bias-field correction")
    return tuple(corrected)


def _harmonize_adc_units(out: np.ndarray, mask: np.ndarray, adc_channels: Sequence[int],
                         channel_names: Sequence[str], warnings: list[str]) -> dict[int, float]:
    """Convert the ADC channels of ``out`` to 10⁻⁶ mm²/s in place; returns channel -> factor applied."""
    factors = {}
    for index in adc_channels:
        label = channel_label(index, channel_names)
        reference = adc_reference_value(out[index][mask])
        if reference == 0.0:
            raise InputDataError(f"{label} has no positive ADC inside the brain mask")
        try:
            unit, factor = adc_unit_factor(reference)
        except InputDataError as error:
            raise InputDataError(f"{label}: {error}") from None
        factors[index] = factor
        if factor != 1.0:
            out[index] *= np.float32(factor)
            warnings.append(f"{label} looks like an ADC map in {unit}; converted to 10⁻⁶ mm²/s (x{factor:g})")
    return factors
