"""What strokeseg's preprocessor does before nnU-Net's crop/resample/normalize, as stored in the plans.

Planners write these settings into every configuration under ``strokeseg_preprocessing``; the preprocessor
reads them back, during ``nnUNetv2_plan_and_preprocess`` and again inside ``nnUNetv2_predict``, so that both
run the very same steps with the very same numbers even if strokeseg's defaults change later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from strokeseg.defaults import (
    N4_CONVERGENCE_THRESHOLD,
    N4_FITTING_LEVELS,
    N4_MAX_FIELD_RATIO,
    N4_MAX_ITERATIONS,
    N4_SHRINK_SPACING_MM,
    SKULL_STRIP_MIN_BRAIN_ML,
    SKULL_STRIP_SIGMA_MM,
)
from strokeseg.errors import ConfigurationError
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR, CHANNEL_T1W
from strokeseg.preprocessing.bias_field import N4Parameters

#: Key of the settings inside a plans configuration.
PLANS_KEY = "strokeseg_preprocessing"
#: Channels the skull-strip mask is computed from, in order of preference (ADC is never preferred: its bright
#: CSF and dark infarcts make a poor Otsu foreground).
MASK_CHANNEL_PREFERENCE: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_B0, CHANNEL_FLAIR, CHANNEL_T1W)
#: Channels that get N4 (magnitude images; an ADC map is a ratio in which the receive bias cancels).
BIAS_CORRECTED_CHANNELS: frozenset[str] = frozenset(name.casefold() for name in MASK_CHANNEL_PREFERENCE)


@dataclass(frozen=True)
class CasePreparation:
    """Steps run on every case before nnU-Net's own preprocessing (array axes as read, spacing in mm).

    Attributes:
        foreground_mask: zero every voxel outside the skull-strip mask (Gaussian blur + Otsu, largest
            component, holes filled). On DWI this is the brain; on T1w/FLAIR with skull it is the head.
        mask_channel: channel index the mask is computed from.
        n4_channels: channel indices that get N4 bias-field correction inside the mask.
        adc_channels: channel indices holding ADC maps; their unit is detected and converted to 10⁻⁶ mm²/s.
        skull_strip_sigma_mm: Gaussian blur before the Otsu threshold (mm).
        min_brain_ml: a mask smaller than this (mL) means that skull stripping found no brain.
        n4_shrink_spacing_mm, n4_levels, n4_iterations, n4_convergence_threshold, n4_max_field_ratio: N4
            settings (see ``N4Parameters``).
    """

    foreground_mask: bool = True
    mask_channel: int = 0
    n4_channels: tuple[int, ...] = (0,)
    adc_channels: tuple[int, ...] = ()
    skull_strip_sigma_mm: float = SKULL_STRIP_SIGMA_MM
    min_brain_ml: float = SKULL_STRIP_MIN_BRAIN_ML
    n4_shrink_spacing_mm: float = N4_SHRINK_SPACING_MM
    n4_levels: int = N4_FITTING_LEVELS
    n4_iterations: int = N4_MAX_ITERATIONS
    n4_convergence_threshold: float = N4_CONVERGENCE_THRESHOLD
    n4_max_field_ratio: float = N4_MAX_FIELD_RATIO

    def __post_init__(self) -> None:
        if self.skull_strip_sigma_mm < 0 or self.min_brain_ml < 0 or self.n4_shrink_spacing_mm <= 0:
            raise ConfigurationError(f"{PLANS_KEY}: sigma, minimum brain volume and N4 shrink spacing must be "
                                     f"positive, got {self}")
        if self.n4_levels < 1 or self.n4_iterations < 1 or self.n4_max_field_ratio <= 1:
            raise ConfigurationError(f"{PLANS_KEY}: N4 needs at least 1 level and 1 iteration and a field ratio "
                                     f"limit above 1, got {self}")

    @property
    def n4_parameters(self) -> N4Parameters:
        """The N4 settings as the bias-field module takes them."""
        return N4Parameters(self.n4_shrink_spacing_mm, self.n4_levels, self.n4_iterations,
                            self.n4_convergence_threshold, self.n4_max_field_ratio)

    @property
    def needs_mask(self) -> bool:
        """Whether the skull-strip mask has to be computed (for masking, N4, or judging ADC units in the brain)."""
        return self.foreground_mask or bool(self.n4_channels) or bool(self.adc_channels)

    def to_plans(self) -> dict[str, Any]:
        """JSON-ready dict for the plans."""
        data = asdict(self)
        for key in ("n4_channels", "adc_channels"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_plans(cls, value: Mapping[str, Any]) -> CasePreparation:
        """Settings from a plans dict; missing keys take strokeseg's defaults.

        Raises:
            ConfigurationError: unknown keys or values of the wrong type.
        """
        known = {field.name for field in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ConfigurationError(f"plans key {PLANS_KEY!r} has unknown entries {sorted(unknown)}; known: "
                                     f"{sorted(known)}")
        try:
            arguments = dict(value)
            for key in ("n4_channels", "adc_channels"):
                if key in arguments:
                    arguments[key] = tuple(int(index) for index in arguments[key])
            return cls(**arguments)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"plans key {PLANS_KEY!r} is malformed ({error}): {dict(value)}") from None

    @classmethod
    def for_channels(cls, channel_names: Sequence[str], foreground_mask: bool = True,
                     bias_correction: bool = True) -> CasePreparation:
        """Settings for a dataset with these channel names (in channel order).

        The mask comes from the first channel named DWI, else b0, FLAIR, T1w (case-insensitive), else from
        the first channel that is not an ADC map, else channel 0. N4 corrects the DWI/b0/FLAIR/T1w channels.
        """
        folded = [name.casefold() for name in channel_names]
        mask_channel = next((folded.index(name.casefold()) for name in MASK_CHANNEL_PREFERENCE
                             if name.casefold() in folded), None)
        if mask_channel is None:
            mask_channel = next((i for i, name in enumerate(folded) if name != CHANNEL_ADC.casefold()), 0)
        n4 = tuple(i for i, name in enumerate(folded) if name in BIAS_CORRECTED_CHANNELS) if bias_correction else ()
        adc = tuple(i for i, name in enumerate(folded) if name == CHANNEL_ADC.casefold())
        return cls(foreground_mask=foreground_mask, mask_channel=mask_channel, n4_channels=n4, adc_channels=adc)
