"""Case preparation before nnU-Net's steps: checks, skull strip, N4, ADC units; and its plans settings."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.preprocessing.pipeline import prepare_case
from strokeseg.preprocessing.settings import CasePreparation
from strokeseg.synthetic.analytic_head import coefficient_of_variation, head_phantom

SHAPE, SPACING = (16, 72, 64), (5.0, 2.0, 2.0)
NAMES = ["DWI", "ADC"]


@pytest.fixture(scope="module")
def dwi_adc() -> tuple[np.ndarray, object]:
    phantom = head_phantom(SHAPE, SPACING, bias_strength=0.4)
    adc_in_1e3 = phantom.image("ADC") / 1000.0  # ISLES'22 ships ADC in 10⁻³ mm²/s
    return np.stack([phantom.image("DWI"), adc_in_1e3]), phantom


def test_dwi_adc_case_is_stripped_corrected_and_converted(dwi_adc) -> None:
    data, phantom = dwi_adc
    prepared = prepare_case(data, SPACING, CasePreparation.for_channels(NAMES), NAMES)
    assert np.all(prepared.data[:, phantom.skull] == 0.0), "skull and scalp are zeroed in every channel"
    assert prepared.n4_channels == (0,), "ADC is never bias-corrected"
    before = coefficient_of_variation(data[0], phantom.white_matter)
    assert coefficient_of_variation(prepared.data[0], phantom.white_matter) < 0.5 * before
    assert prepared.adc_unit_factors == {1: 1000.0}
    assert np.median(prepared.data[1][phantom.white_matter]) == pytest.approx(750.0, rel=0.05)
    assert any("10⁻³ mm²/s" in warning for warning in prepared.warnings)
    assert prepared.brain_volume_ml == pytest.approx(phantom.brain.sum() * np.prod(SPACING) / 1000, rel=0.1)
    assert np.array_equal(data, dwi_adc[0]), "the input is not modified"


def test_constant_channel_is_refused_by_name(dwi_adc) -> None:
    data = dwi_adc[0].copy()
    data[1] = 0.0
    with pytest.raises(InputDataError, match=r"channel 1 \(ADC\) is constant"):
        prepare_case(data, SPACING, CasePreparation.for_channels(NAMES), NAMES)


def test_nan_channel_is_refused_by_name(dwi_adc) -> None:
    data = dwi_adc[0].copy()
    data[0, 2, 3, 4] = np.nan
    with pytest.raises(InputDataError, match=r"channel 0 \(DWI\) contains 1 NaN"):
        prepare_case(data, SPACING, CasePreparation.for_channels(NAMES), NAMES)


def test_implausible_adc_is_refused_by_name(dwi_adc) -> None:
    data = dwi_adc[0].copy()
    data[1] *= 50.0  # neither 10⁻⁶, 10⁻³ nor mm²/s
    with pytest.raises(InputDataError, match=r"channel 1 \(ADC\).*implausible"):
        prepare_case(data, SPACING, CasePreparation.for_channels(NAMES), NAMES)


def test_failing_n4_falls_back_with_a_warning() -> None:
    phantom = head_phantom((1, 96, 96), (999.0, 2.0, 2.0), bias_strength=0.3)  # nnU-Net's view of a 2D image
    settings = CasePreparation.for_channels(["DWI"], foreground_mask=True)
    prepared = prepare_case(phantom.image("DWI")[None], (999.0, 2.0, 2.0), settings, ["DWI"])
    assert prepared.n4_channels == ()
    assert len(prepared.warnings) == 1 and "N4 failed on channel 0 (DWI)" in prepared.warnings[0]


def test_no_brain_is_an_error_naming_the_mask_channel() -> None:
    image = np.zeros((12, 48, 48), dtype=np.float32)
    image[6, 20:23, 20:23] = 100.0
    with pytest.raises(InputDataError, match=r"channel 0 \(DWI\): skull stripping found no brain"):
        prepare_case(image[None], (5.0, 3.0, 3.0), CasePreparation.for_channels(["DWI"]), ["DWI"])


def test_without_mask_or_n4_only_the_checks_run() -> None:
    image = head_phantom((12, 48, 48), (5.0, 3.0, 3.0)).image("FLAIR")
    settings = CasePreparation.for_channels(["FLAIR"], foreground_mask=False, bias_correction=False)
    prepared = prepare_case(image[None], (5.0, 3.0, 3.0), settings, ["FLAIR"])
    assert np.array_equal(prepared.data[0], image) and prepared.brain_volume_ml is None


@pytest.mark.parametrize(("names", "mask_channel", "n4", "adc"), [
    (["DWI", "ADC"], 0, (0,), (1,)),
    (["ADC", "b0", "DWI"], 2, (1, 2), (0,)),
    (["flair", "T1w"], 0, (0, 1), ()),
    (["ADC"], 0, (), (0,)),
    (["CT", "ADC"], 0, (), (1,)),
])
def test_settings_follow_the_channel_names(names: list[str], mask_channel: int, n4: tuple[int, ...],
                                           adc: tuple[int, ...]) -> None:
    settings = CasePreparation.for_channels(names)
    assert (settings.mask_channel, settings.n4_channels, settings.adc_channels) == (mask_channel, n4, adc)


def test_settings_round_trip_through_the_plans_and_reject_unknown_keys() -> None:
    settings = CasePreparation.for_channels(["DWI", "ADC"], bias_correction=False)
    assert CasePreparation.from_plans(settings.to_plans()) == settings
    assert CasePreparation.from_plans({}) == CasePreparation()
    with pytest.raises(ConfigurationError, match="unknown entries"):
        CasePreparation.from_plans({"n4_levelz": 3})
    with pytest.raises(ConfigurationError, match="at least 1 level"):
        CasePreparation.from_plans({"n4_levels": 0})


def test_settings_naming_missing_channels_are_refused(dwi_adc) -> None:
    settings = CasePreparation(n4_channels=(0, 3))
    with pytest.raises(InputDataError, match=r"use channels \[0, 3\], but the case has 2"):
        prepare_case(dwi_adc[0], SPACING, settings, NAMES)
