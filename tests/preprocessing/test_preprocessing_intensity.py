"""The papers' normalizations as pure functions: histogram peak, Kim's FLAIR pipeline, ADC, masked z-score."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.errors import InputDataError
from strokeseg.modalities import adc_reference_value, adc_unit_factor
from strokeseg.preprocessing.intensity import (
    PeakHistogram,
    adc_normalize,
    masked_zscore,
    rescale_slices,
    slice_peak_scales,
    slicewise_peak_normalize,
    wmh_flair_normalize,
    wmh_histogram_peak,
)
from strokeseg.synthetic.analytic_head import head_phantom


def test_histogram_peak_finds_the_mode() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(40.0, 4.0, 3000), rng.normal(120.0, 6.0, 10000), rng.uniform(0, 400, 200)])
    assert PeakHistogram().peak(values) == pytest.approx(120.0, abs=2.0)


def test_histogram_peak_needs_positive_values() -> None:
    with pytest.raises(InputDataError, match="positive"):
        PeakHistogram().peak(np.zeros(10))


@pytest.fixture(scope="module")
def dwi() -> tuple[np.ndarray, np.ndarray]:
    """A bias-free DWI phantom and its brain mask (image zero outside the brain)."""
    phantom = head_phantom((24, 96, 96), (5.0, 2.0, 2.0), bias_strength=0.0)
    return np.where(phantom.brain, phantom.image("DWI"), 0.0).astype(np.float32), phantom.brain


def test_brain_histogram_peak_sits_at_150_and_nothing_exceeds_255(dwi) -> None:
    image, brain = dwi
    histogram = PeakHistogram()
    normalized = slicewise_peak_normalize(image * 7.3, brain, histogram=histogram)  # any input scale
    values = normalized[brain & (normalized > 0)]
    bin_width = np.percentile(values, histogram.upper_percentile) / histogram.bins
    assert abs(histogram.peak(values) - 150.0) <= bin_width
    assert normalized.max() <= 255.0 and normalized.min() >= 0.0
    assert np.all(normalized[~brain] == 0.0)


def test_each_slice_peak_moves_to_150_under_a_slice_varying_gain(dwi) -> None:
    image, brain = dwi
    gain = np.linspace(0.5, 2.0, image.shape[0], dtype=np.float32)[:, None, None]  # e.g. slice-wise receive gain
    normalized = slicewise_peak_normalize(image * gain, brain)
    scales, own = slice_peak_scales(image * gain, brain)
    for index in np.flatnonzero(own):
        values = normalized[index][brain[index]]
        assert PeakHistogram().peak(values) == pytest.approx(150.0, abs=6.0), f"slice {index}"
    assert scales[own][0] > scales[own][-1], "the brighter slices get the smaller factors"


def test_small_brain_slices_use_the_case_wide_peak(dwi) -> None:
    image, brain = dwi
    scales, own = slice_peak_scales(image, brain)
    counts = brain.sum(axis=(1, 2))
    assert not own[counts < 0.1 * counts.max()].any()
    assert own[counts == counts.max()].all()
    case_scale = 150.0 / PeakHistogram().peak(image[brain & (image > 0)])
    assert np.allclose(scales[~own], case_scale)


def test_empty_brain_mask_is_refused() -> None:
    with pytest.raises(InputDataError, match="no voxel"):
        slice_peak_scales(np.ones((4, 8, 8)), np.zeros((4, 8, 8), dtype=bool))


def test_rescale_slices_spans_0_to_255_and_zeroes_constant_slices() -> None:
    ramps = [np.arange(16, dtype=np.float32).reshape(4, 4) * (k + 1) for k in range(3)]
    rescaled = rescale_slices(np.stack([*ramps, np.full((4, 4), 5.0)]), axis=0)
    for k in range(3):
        assert rescaled[k].min() == 0.0 and rescaled[k].max() == pytest.approx(255.0)
    assert np.all(rescaled[3] == 0.0)


def test_noise_only_slices_are_not_stretched_to_full_range() -> None:
    image = np.stack([np.linspace(0, 1000, 16).reshape(4, 4), np.linspace(0, 20, 16).reshape(4, 4)])
    rescaled = rescale_slices(image, axis=0, min_max_fraction=0.1)
    assert rescaled[1].max() == pytest.approx(255.0 * 20 / 100)


def test_flair_pipeline_gives_zero_mean_unit_sd_inside_its_mask() -> None:
    phantom = head_phantom((24, 64, 64), (3.0, 3.0, 3.0), bias_strength=0.1)
    normalized, mask = wmh_flair_normalize(phantom.image("FLAIR"))
    assert normalized[mask].mean() == pytest.approx(0.0, abs=1e-5)
    assert normalized[mask].std() == pytest.approx(1.0, abs=1e-5)
    assert np.all(normalized[~mask] == 0.0)
    assert mask[phantom.brain].mean() > 0.99, "the brain (ventricles filled) is inside the > 30 mask"
    assert not mask[phantom.skull.shape[0] // 2, 0, 0], "air stays outside"


def test_flair_histogram_peak_ignores_the_air_bin() -> None:
    image = np.zeros((4, 20, 20), dtype=np.float32)
    image[:, 5:15, 5:15] = 100.0  # 400 head voxels at 100, 1200 air voxels at 0
    assert wmh_histogram_peak(image) == pytest.approx(99.6, abs=4.0)


def test_flair_pipeline_refuses_an_empty_image() -> None:
    with pytest.raises(InputDataError, match="empty"):
        wmh_flair_normalize(np.zeros((4, 20, 20), dtype=np.float32))


def test_masked_zscore_refuses_constant_and_empty_masks() -> None:
    with pytest.raises(InputDataError, match="constant"):
        masked_zscore(np.ones((3, 3, 3)), np.ones((3, 3, 3), dtype=bool))
    with pytest.raises(InputDataError, match="0 voxel"):
        masked_zscore(np.ones((3, 3, 3)), np.zeros((3, 3, 3), dtype=bool))


def test_adc_is_clipped_to_the_physical_range_and_scaled() -> None:
    image = np.array([[[-50.0, 0.0, 750.0, 1500.0, 3000.0, 4200.0]]], dtype=np.float32)  # 99th pct: ~4100
    mask = np.ones(image.shape, dtype=bool)
    assert np.allclose(adc_normalize(image, mask), [[[0.0, 0.0, 63.75, 127.5, 255.0, 255.0]]])
    mask[..., 0] = False
    assert adc_normalize(image, mask)[0, 0, 0] == 0.0


def test_adc_in_the_wrong_unit_is_refused_by_the_normalization() -> None:
    image = np.full((2, 4, 4), 0.8, dtype=np.float32)  # 10⁻³ mm²/s
    with pytest.raises(InputDataError, match="10⁻⁶"):
        adc_normalize(image, np.ones(image.shape, dtype=bool))


@pytest.mark.parametrize(("reference", "unit", "factor"), [(3100.0, "10⁻⁶ mm²/s", 1.0), (3.1, "10⁻³ mm²/s", 1e3),
                                                           (0.0031, "mm²/s", 1e6), (900.0, "10⁻⁶ mm²/s", 1.0)])
def test_adc_units_are_recognised(reference: float, unit: str, factor: float) -> None:
    assert adc_unit_factor(reference) == (unit, factor)


def test_adc_reference_ignores_dark_background() -> None:
    values = np.concatenate([np.zeros(5000), np.full(3000, 3.0), np.full(800, 800.0), np.full(200, 3100.0)])
    assert adc_reference_value(values) == pytest.approx(3100.0)


def test_an_implausible_adc_median_is_refused() -> None:
    with pytest.raises(InputDataError, match="implausible"):
        adc_unit_factor(40.0)  # between 10⁻³ and 10⁻⁶ mm²/s scales
