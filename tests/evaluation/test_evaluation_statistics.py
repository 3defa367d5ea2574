"""Summary statistics and tests against scipy and hand computations (docs/evaluation.md, "Summaries and statistics")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strokeseg.evaluation.statistics import (
    bootstrap_interval,
    concordance_correlation,
    describe,
    learning_curve_fit,
    mann_whitney,
    micro_dice_interval,
    ordinary_least_squares,
    paired_comparison,
    volume_agreement,
)


def test_describe_matches_numpy_and_counts_nan() -> None:
    values = np.array([0.1, 0.5, np.nan, 0.9, 0.4, np.nan, 0.7])
    summary = describe(values, resamples=200, seed=1)
    finite = values[~np.isnan(values)]
    assert (summary.n, summary.n_nan) == (5, 2)
    assert summary.mean == pytest.approx(0.52)
    assert summary.sd == pytest.approx(np.std(finite, ddof=1))
    assert summary.se == pytest.approx(stats.sem(finite))
    assert (summary.q1, summary.median, summary.q3) == pytest.approx((0.4, 0.5, 0.7))
    assert summary.ci_low <= summary.mean <= summary.ci_high


def test_bootstrap_is_the_percentile_method_with_a_fixed_seed() -> None:
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    summary = describe(values, resamples=500, seed=42, confidence=0.9)
    rows = np.random.default_rng(42).integers(0, values.size, size=(500, values.size))
    expected = np.percentile(values[rows].mean(axis=1), [5.0, 95.0])
    assert (summary.ci_low, summary.ci_high) == pytest.approx(tuple(expected))
    assert describe(values, resamples=500, seed=42, confidence=0.9) == summary  # reproducible
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval(3, lambda rows: rows.mean(axis=1), confidence=1.5)


def test_describe_edge_cases() -> None:
    nothing = describe([np.nan, np.nan])
    assert (nothing.n, nothing.n_nan) == (0, 2) and math.isnan(nothing.mean) and math.isnan(nothing.ci_low)
    single = describe([0.8])
    assert single.mean == 0.8 and math.isnan(single.sd) and (single.ci_low, single.ci_high) == (0.8, 0.8)
    with pytest.raises(ValueError, match="infinite"):
        describe([1.0, np.inf])


def test_micro_dice_interval_brackets_the_value() -> None:
    tp, fp, fn = np.array([10, 0, 30, 5]), np.array([2, 4, 3, 0]), np.array([1, 0, 6, 5])
    low, high = micro_dice_interval(tp, fp, fn, resamples=300, seed=0)
    value = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum())
    assert low <= value <= high


def test_paired_comparison_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(30)
    b = a + rng.normal(0.05, 0.1, 30)
    a[3] = np.nan  # the pair is left out
    result = paired_comparison(a, b)
    keep = ~np.isnan(a)
    t = stats.ttest_rel(b[keep], a[keep])
    w = stats.wilcoxon(b[keep], a[keep])
    assert result.n == 29
    assert (result.t_statistic, result.t_pvalue) == pytest.approx((t.statistic, t.pvalue))
    assert (result.wilcoxon_statistic, result.wilcoxon_pvalue) == pytest.approx((w.statistic, w.pvalue))
    assert result.mean_diff == pytest.approx(np.mean(b[keep] - a[keep]))
    assert result.median_diff == pytest.approx(np.median(b[keep] - a[keep]))


def test_paired_comparison_undefined_cases_are_nan() -> None:
    same = paired_comparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same.n == 3 and same.mean_diff == 0.0
    assert math.isnan(same.t_pvalue) and math.isnan(same.wilcoxon_pvalue)
    assert paired_comparison([np.nan], [1.0]).n == 0
    with pytest.raises(ValueError, match="one length"):
        paired_comparison([1.0, 2.0], [1.0])


def test_wilcoxon_with_ties_uses_the_normal_approximation() -> None:
    a = np.zeros(12)
    b = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.0, 0.1, 0.4, 0.2, 0.1, 0.3, 0.5])
    result = paired_comparison(a, b)
    expected = stats.wilcoxon(b, a, method="asymptotic")
    assert result.wilcoxon_pvalue == pytest.approx(expected.pvalue)


def test_mann_whitney_matches_scipy() -> None:
    a, b = [0.9, 0.8, 0.85, np.nan, 0.7], [0.6, 0.75, 0.5, 0.65]
    result = mann_whitney(a, b)
    expected = stats.mannwhitneyu([0.9, 0.8, 0.85, 0.7], b, alternative="two-sided")
    assert (result.n_a, result.n_b) == (4, 4)
    assert (result.u_statistic, result.p_value) == pytest.approx((expected.statistic, expected.pvalue))
    assert math.isnan(mann_whitney([], [1.0]).p_value)


def test_volume_agreement_by_hand() -> None:
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.5, 2.0, 3.5, 5.0])
    agreement = volume_agreement(predicted, reference, loa_z=1.96)
    difference = predicted - reference  # 0.5, 0, 0.5, 1
    assert agreement.ba_bias_ml == pytest.approx(0.5)
    assert agreement.ba_sd_ml == pytest.approx(math.sqrt(((0) + 0.25 + 0 + 0.25) / 3))
    assert agreement.ba_loa_high_ml == pytest.approx(0.5 + 1.96 * np.std(difference, ddof=1))
    # CCC with 1/n moments: s_xy = 1.5, s_x² = 1.25, s_y² = 1.875, (x̄ − ȳ)² = 0.25
    assert agreement.ccc == pytest.approx(2 * 1.5 / (1.25 + 1.875 + 0.25))
    r = stats.pearsonr(reference, predicted)
    assert (agreement.pearson_r, agreement.pearson_p) == pytest.approx((r.statistic, r.pvalue))
    assert agreement.r2 == pytest.approx(r.statistic**2)
    assert agreement.cb == pytest.approx(agreement.ccc / r.statistic)
    assert (agreement.ols_slope, agreement.ols_intercept) == pytest.approx((1.2, 0.0), abs=1e-12)
    assert concordance_correlation(reference, reference) == pytest.approx(1.0)


def test_volume_agreement_small_samples_are_nan() -> None:
    one = volume_agreement([1.0], [2.0])
    assert one.n == 1 and one.ba_bias_ml == -1.0
    assert all(math.isnan(v) for v in (one.pearson_r, one.ba_sd_ml, one.ols_slope, one.cb))


def test_ols_and_learning_curve_fit() -> None:
    fit = ordinary_least_squares([0, 1, 2, 3], [1, 3, 5, 7.5])
    slope, intercept = np.polyfit([0, 1, 2, 3], [1, 3, 5, 7.5], 1)
    assert (fit.slope, fit.intercept) == pytest.approx((slope, intercept))
    sizes = np.array([50, 100, 200, 500])
    dsc = 0.4 + 0.05 * np.log(sizes)
    curve = learning_curve_fit(sizes, dsc)
    assert (curve.slope, curve.intercept, curve.r2) == pytest.approx((0.05, 0.4, 1.0))
    assert math.isnan(ordinary_least_squares([1, 1], [2, 3]).slope)
    with pytest.raises(ValueError, match="positive"):
        learning_curve_fit([0, 10], [0.5, 0.6])
