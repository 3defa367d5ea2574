"""The papers' further statistics against published and textbook answers: multiple-comparison corrections,
Shapiro–Wilk, ANOVA / Kruskal–Wallis with post-hoc pairs, χ², regressions, correlations, the certainty curve,
the learning-curve plateau and the BCa bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strokeseg.evaluation.group_tests import (
    chi_square,
    choose_group_test,
    omnibus_test,
    post_hoc_pairs,
    shapiro_wilk,
    summary_text,
)
from strokeseg.evaluation.multiple_testing import adjust_p_values
from strokeseg.evaluation.regression import (
    certainty_curve,
    correlation,
    linear_regression,
    log10_regression,
    plateau_size,
    share_below,
    within_case_cases,
    within_case_regression,
)
from strokeseg.evaluation.statistics import describe

#: Benjamini & Hochberg (1995), J R Stat Soc B 57:289-300, section 4.3: the 15 p-values of the myocardial
#: infarction trial.
BH_1995_P = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
             0.6528, 0.7590, 1.000]
#: Anscombe (1973), Am Stat 27:17-21, data set I: y = 3.00 + 0.500 x, r = 0.816, R² = 0.667.
ANSCOMBE_X = [10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5]
ANSCOMBE_Y1 = [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68]
#: McDonald, Handbook of Biological Statistics (3rd ed., 2014), one-way ANOVA: the AAM length / total length of
#: Mytilus trossulus at five locations, F(4, 34) = 7.12, P = 2.8 × 10⁻⁴.
MUSSELS = {
    "Tillamook": [0.0571, 0.0813, 0.0831, 0.0976, 0.0817, 0.0859, 0.0735, 0.0659, 0.0923, 0.0836],
    "Newport": [0.0873, 0.0662, 0.0672, 0.0819, 0.0749, 0.0649, 0.0835, 0.0725],
    "Petersburg": [0.0974, 0.1352, 0.0817, 0.1016, 0.0968, 0.1064, 0.105],
    "Magadan": [0.1033, 0.0915, 0.0781, 0.0685, 0.0677, 0.0697, 0.0764, 0.0689],
    "Tvarminne": [0.0703, 0.1026, 0.0956, 0.0973, 0.1039, 0.1045],
}
#: Shapiro & Wilk (1965), Biometrika 52:591-611, the weights (lb) of 11 men: W = 0.79, p < 0.01.
SHAPIRO_WILK_1965 = [148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236]


def test_benjamini_hochberg_1995_example() -> None:
    """BH at q = 0.05 rejects the four smallest p-values; Bonferroni and Holm reject three (the paper's
    comparison with the Bonferroni-type procedures)."""
    for method, rejected in (("bh", 4), ("bonferroni", 3), ("holm", 3)):
        adjusted = adjust_p_values(BH_1995_P, method)
        assert int(np.sum(adjusted <= 0.05)) == rejected, method
    bonferroni = adjust_p_values(BH_1995_P, "bonferroni")
    assert bonferroni[:3] == pytest.approx([0.0015, 0.006, 0.0285])
    assert adjust_p_values(BH_1995_P, "bh")[3] == pytest.approx(0.0095 * 15 / 4)
    # Holm by hand: p(i) · (m − i + 1), made monotone
    assert adjust_p_values(BH_1995_P, "holm")[:4] == pytest.approx([0.0015, 0.0056, 0.0247, 0.114])


def test_adjustment_keeps_nan_and_order_and_none_is_raw() -> None:
    # unsorted input: Holm 0.01·3, max(0.03, 0.02·2), max(0.04, 0.03·1), returned in the input's order
    assert adjust_p_values([0.03, 0.01, 0.02], "holm") == pytest.approx([0.04, 0.03, 0.04])
    assert adjust_p_values([0.03, 0.01, 0.02], "bh") == pytest.approx([0.03, 0.03, 0.03])
    p = [0.04, math.nan, 0.01]
    adjusted = adjust_p_values(p, "bonferroni")  # m = 2 finite p-values
    assert adjusted[0] == pytest.approx(0.08) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)
    assert np.array_equal(adjust_p_values(p, "none"), np.asarray(p), equal_nan=True)
    with pytest.raises(ValueError, match="holm"):
        adjust_p_values(p, "sidak")


def test_shapiro_wilk_1965_weights() -> None:
    """The paper's worked example: W = 0.79, significant at the 1 % level."""
    result = shapiro_wilk(SHAPIRO_WILK_1965)
    assert result.w == pytest.approx(0.79, abs=0.005)
    assert result.p_value < 0.01 and not result.normal
    assert summary_text(SHAPIRO_WILK_1965, digits=0) == "162 (159–176)"  # median (Q1 at rank 3.5, Q3 at 8.5)
    normal = np.random.default_rng(1).normal(10.0, 2.0, 40)
    assert shapiro_wilk(normal).normal
    assert summary_text(normal, digits=1) == f"{normal.mean():.1f} ± {normal.std(ddof=1):.1f}"
    assert math.isnan(shapiro_wilk([1.0, 2.0]).w) and not shapiro_wilk([3.0, 3.0, 3.0]).normal


def test_anova_of_mcdonalds_mussels_with_bonferroni_post_hoc() -> None:
    """F = 7.12, P = 2.8e-4 (McDonald 2014); post hoc: Student t of every pair, Bonferroni over the 10 pairs."""
    result = omnibus_test(MUSSELS, "anova")
    assert result.test == "anova" and result.sizes == (10, 8, 7, 8, 6)
    assert result.statistic == pytest.approx(7.12, abs=0.005)
    assert result.p_value == pytest.approx(2.8e-4, rel=0.02)
    pairs = post_hoc_pairs(MUSSELS, "anova", "bonferroni")
    assert len(pairs) == 10 and {pair.test for pair in pairs} == {"student_t"}
    newport_petersburg = next(p for p in pairs if (p.group_a, p.group_b) == ("Newport", "Petersburg"))
    expected = stats.ttest_ind(MUSSELS["Newport"], MUSSELS["Petersburg"]).pvalue
    assert newport_petersburg.p_value == pytest.approx(expected)
    assert newport_petersburg.p_adjusted == pytest.approx(min(1.0, 10 * expected))


def test_kruskal_wallis_by_hand_and_auto_choice() -> None:
    """Three groups of ranks 1-3, 4-6, 7-9: H = 12/(9·10)·(6² + 15² + 24²)/3 − 3·10 = 7.2, p = exp(−3.6)."""
    groups = {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0], "c": [7.0, 8.0, 9.0]}
    result = omnibus_test(groups, "kruskal")
    assert result.statistic == pytest.approx(7.2)
    assert result.p_value == pytest.approx(math.exp(-3.6))
    assert {pair.test for pair in post_hoc_pairs(groups, "kruskal")} == {"mann_whitney_u"}
    skewed = {"a": SHAPIRO_WILK_1965, "b": [150.0, 160.0, 161.0, 163.0, 170.0]}
    assert choose_group_test(skewed) == "kruskal"
    rng = np.random.default_rng(2)
    assert choose_group_test({name: rng.normal(0.7, 0.1, 40) for name in "abc"}) == "anova"
    assert math.isnan(omnibus_test({"a": [1.0, 2.0], "b": []}, "anova").p_value)  # one group with values


def test_chi_square_by_hand() -> None:
    """[[10, 20], [20, 10]]: every expected count 15, χ² = 4 · 5²/15 = 6.667 with 1 df (no Yates correction)."""
    result = chi_square([[10, 20], [20, 10]])
    assert result.statistic == pytest.approx(20.0 / 3.0) and result.dof == 1
    assert result.p_value == pytest.approx(stats.chi2.sf(20.0 / 3.0, 1))
    assert chi_square([[3, 0], [5, 0]]).dof == 0  # an empty column leaves one column: undefined
    assert math.isnan(chi_square([[3, 0], [5, 0]]).p_value)


def test_regression_of_anscombes_quartet() -> None:
    """Anscombe's set I: intercept 3.00, slope 0.500, r = 0.816, R² = 0.667; slope p = 0.00217."""
    fit = linear_regression(ANSCOMBE_X, ANSCOMBE_Y1)
    assert (fit.n, round(fit.intercept, 2), round(fit.slope, 3)) == (11, 3.0, 0.5)
    assert fit.r == pytest.approx(0.816, abs=5e-4) and fit.r2 == pytest.approx(0.667, abs=5e-4)
    assert fit.p_value == pytest.approx(0.00217, abs=1e-5)
    assert fit.slope_se == pytest.approx(0.118, abs=5e-4)
    on_log = log10_regression([10.0 ** x for x in ANSCOMBE_X] + [0.0], [*ANSCOMBE_Y1, 0.9])  # x = 0 left out
    assert on_log.n == 11 and on_log.slope == pytest.approx(fit.slope)
    assert math.isnan(linear_regression([1.0, 2.0], [1.0, 2.0]).slope)  # fewer than 3 pairs


def test_within_case_regression_equals_dummy_variable_ols() -> None:
    """Three models scored on the same nine cases, a large case effect and a small rise with ln(size): the
    case fixed-effects slope, SE and p equal those of OLS with one indicator per case; the pooled line has
    the same slope but drowns it in the case spread."""
    rng = np.random.default_rng(7)
    cases = np.repeat([f"case_{i}" for i in range(9)], 3)
    x = np.tile(np.log([7.0, 14.0, 27.0]), 9)
    y = 0.5 + np.repeat(rng.normal(0, 0.2, 9), 3) + 0.03 * x + rng.normal(0, 0.02, x.size)
    extra_x, extra_y, extra_case = [2.0, math.nan], [0.9, 0.4], ["alone", "case_0"]  # one result; a NaN pair
    fit = within_case_regression([*x, *extra_x], [*y, *extra_y], [*cases, *extra_case])
    design = np.column_stack([x, *((cases == name).astype(float) for name in np.unique(cases))])
    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    residual = y - design @ coefficients
    degrees = x.size - design.shape[1]
    se = math.sqrt(residual @ residual / degrees * np.linalg.inv(design.T @ design)[0, 0])
    assert fit.n == 27 and fit.slope == pytest.approx(coefficients[0], rel=1e-9)
    assert fit.slope_se == pytest.approx(se, rel=1e-9)
    assert fit.p_value == pytest.approx(2 * stats.t.sf(abs(coefficients[0] / se), degrees), rel=1e-9)
    assert fit.p_value < 1e-3 < 0.05 < linear_regression(x, y).p_value
    assert fit.r2 > 0.5 and fit.r == pytest.approx(math.sqrt(fit.r2))
    assert math.isnan(within_case_regression([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], ["a", "b", "c"]).slope)
    assert math.isnan(within_case_regression([1.0, 2.0, 1.0], [0.1, 0.2, 0.3], ["a", "a", "b"]).slope)  # 0 df
    exact = within_case_regression([1.0, 2.0, 1.0, 2.0], [0.1, 0.2, 0.3, 0.4], ["a", "a", "b", "b"])
    assert exact.slope == pytest.approx(0.1) and exact.r2 == pytest.approx(1.0)  # n − k − 1 = 1 df
    with pytest.raises(ValueError, match="one length"):
        within_case_regression([1.0, 2.0], [0.1, 0.2], ["a"])
    assert within_case_cases([*x, *extra_x], [*y, *extra_y], [*cases, *extra_case]) == sorted(set(cases))
    # a case scored under one size only, or whose second score is missing, carries no within-case information
    assert within_case_cases([4.0, 8.0, 4.0, 4.0, 4.0, 8.0], [0.1, 0.2, 0.3, 0.4, 0.5, math.nan],
                             ["a", "a", "b", "b", "c", "c"]) == ["a"]


def test_correlation_of_anscombe_and_certainty_curve() -> None:
    result = correlation(ANSCOMBE_X, ANSCOMBE_Y1)
    assert result.pearson_r == pytest.approx(0.816, abs=5e-4) and result.pearson_p == pytest.approx(0.00217,
                                                                                                     abs=1e-5)
    uncertainty = [0.1, 0.5, 0.2, 0.9, 0.3, math.nan]
    dice = [0.9, 0.5, 0.8, 0.1, 0.7, 0.2]
    curve = certainty_curve(uncertainty, dice, step_percent=20)
    assert [point.n for point in curve] == [1, 2, 3, 4, 5]  # ⌈x·5/100⌉ of the 5 finite pairs
    assert curve[1].mean_dice == pytest.approx(0.85) and curve[2].max_uncertainty == pytest.approx(0.3)
    assert curve[-1].mean_dice == pytest.approx(np.mean([0.9, 0.5, 0.8, 0.1, 0.7]))
    assert curve[-1].n_below_cut == 3  # 0.1, 0.2, 0.3 ≤ 0.35
    assert share_below(uncertainty) == pytest.approx(3 / 5)


def test_learning_curve_plateau() -> None:
    assert plateau_size([25, 50, 100, 200, 400], [0.50, 0.62, 0.70, 0.705, 0.71]) == 100
    assert plateau_size([25, 50, 100], [0.5, 0.6, 0.7], tolerance=0.15) == 50
    assert math.isnan(plateau_size([], []))


def test_bca_interval_matches_scipy_and_differs_from_percentile_on_skewed_data() -> None:
    """BCa (Efron 1987, JASA 82:171-185) corrects the percentile interval for bias and skewness: on right-skewed
    values its bounds lie further right; the numbers are scipy.stats.bootstrap's with the same seed."""
    values = np.random.default_rng(3).lognormal(0.0, 1.0, 30)
    bca = describe(values, resamples=2000, seed=4, method="bca")
    percentile = describe(values, resamples=2000, seed=4)
    expected = stats.bootstrap((values,), np.mean, n_resamples=2000, method="BCa", confidence_level=0.95,
                               rng=np.random.default_rng(4)).confidence_interval
    assert (bca.ci_low, bca.ci_high) == pytest.approx((expected.low, expected.high))
    assert bca.ci_high > percentile.ci_high and bca.ci_low > percentile.ci_low
    assert bca.mean == percentile.mean
    with pytest.raises(ValueError, match="percentile"):
        describe(values, method="student")


def test_cohort_table_of_mussels_and_a_categorical_column() -> None:
    """Table 1: a continuous column across sets gets the test the sets' normality allows (the mussel data are
    not all normal, so Kruskal–Wallis and medians); a categorical column counts (%) and Pearson's χ²."""
    import pandas as pd

    from strokeseg.evaluation.cohort import cohort_columns, cohort_table

    sets = [name for name, values in MUSSELS.items() for _ in values]
    ratio = [value for values in MUSSELS.values() for value in values]
    sex = (["F"] * 5 + ["M"] * 5 + ["F"] * 2 + ["M"] * 6 + ["F"] * 7 + ["F"] * 8 + ["M"] * 6)
    cases = pd.DataFrame({"case_id": [f"c{i}" for i in range(len(sets))], "location": sets, "ratio": ratio,
                          "sex": sex, "path": [f"/data/c{i}.nii.gz" for i in range(len(sets))]})
    table = cohort_table(cases, "location", digits=4)
    assert list(table.columns) == cohort_columns(list(MUSSELS))
    assert list(table["variable"]) == ["ratio", "sex", "sex"]  # the path column is not described
    ratio_row = table.iloc[0]
    assert ratio_row["kind"] == "median (IQR)" and ratio_row["comparison"] == "kruskal"
    assert ratio_row["p_value"] == pytest.approx(stats.kruskal(*MUSSELS.values()).pvalue)
    assert ratio_row["Newport"].startswith("0.0737 (")  # (0.0725 + 0.0749) / 2, then Q1–Q3
    female = table[(table["variable"] == "sex") & (table["level"] == "F")].iloc[0]
    assert female["Tillamook"] == "5 (50.0 %)" and female["total"] == "22 (56.4 %)"
    counts = [[5, 2, 7, 8, 0], [5, 6, 0, 0, 6]]
    assert female["p_value"] == pytest.approx(stats.chi2_contingency(counts, correction=False).pvalue)
    normal = cohort_table(pd.DataFrame({"case_id": [f"x{i}" for i in range(60)],
                                        "set": ["train"] * 30 + ["test"] * 30,
                                        "age": np.random.default_rng(5).normal(65, 10, 60)}), "set")
    assert normal.iloc[0]["kind"] == "mean ± SD" and normal.iloc[0]["comparison"] == "anova"
    assert list(normal.columns[3:6]) == ["train", "test", "total"]
    assert cohort_columns(["total", "x"])[3:6] == ["set total", "x", "total"]


def test_derived_strata_quartiles_tertiles_uncertainty_and_infarct_volume() -> None:
    from strokeseg.evaluation.derived_strata import derived_strata

    cases = [f"c{i}" for i in range(9)]
    voxels = [0, 10, 20, 30, 40, 50, 60, 70, 80]
    table, strata = derived_strata(cases, voxels, uncertainty=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, math.nan],
                                   wmh_volume_ml=list(range(9)), infarct_volume_ml=[0, 1, 2, 20, *[math.nan] * 5])
    names = [s.name for s in strata]
    assert names == ["lesion_size_quartile", "wmh_tertile", "infarct_volume_stratum", "uncertainty_stratum",
                     "uncertainty_review"]
    # quartiles of the 8 cases with a lesion (10..80): two cases each, the empty reference apart
    assert list(table["lesion_size_quartile"]) == ["no lesion", "Q1", "Q1", "Q2", "Q2", "Q3", "Q3", "Q4", "Q4"]
    assert list(table["wmh_tertile"]) == ["Q1"] * 3 + ["Q2"] * 3 + ["Q3"] * 3
    assert list(table["infarct_volume_stratum"][:4]) == ["no lesion", "small", "medium", "large"]
    assert list(table["uncertainty_stratum"]) == ["low"] * 3 + ["medium"] * 2 + ["high"] * 3 + ["unknown"]
    assert list(table["uncertainty_review"][2:5]) == ["≤0.35", ">0.35", ">0.35"]
    two, strata = derived_strata(cases[:2], [5, 7])
    assert [s.name for s in strata] == ["lesion_size_quartile"] and list(two["lesion_size_quartile"]) == ["Q1", "Q4"]


def test_location_atlas_covers_kims_infarct_location_classes() -> None:
    """Kim et al. list cortex, corona radiata, basal ganglia/internal capsule, thalamus, midbrain, pons, medulla
    and cerebellum: each is a class of the location atlas and a level of the location strata, in that order."""
    from strokeseg.evaluation.strata import LOCATION_LEVELS
    from strokeseg.location.atlas import LOCATION_CLASSES

    kim = ("cortex", "corona radiata", "basal ganglia & internal capsule", "thalamus", "midbrain", "pons", "medulla",
           "cerebellum")
    assert kim == LOCATION_CLASSES and LOCATION_LEVELS[:8] == kim


def test_periventricular_region_and_subregion_metrics_by_hand() -> None:
    """A ventricle slab at x = 0 on a 2 mm grid: voxels up to 10 mm away (x ≤ 5) are periventricular."""
    from strokeseg.evaluation.subregions import periventricular_region, subregion_metrics

    ventricles = np.zeros((1, 1, 12), dtype=bool)
    ventricles[..., 0] = True
    region = periventricular_region(ventricles, (2.0, 2.0, 2.0), 10.0)
    assert region[0, 0].tolist() == [True] * 6 + [False] * 6
    reference = np.zeros_like(ventricles)
    prediction = np.zeros_like(ventricles)
    reference[..., [2, 3, 8, 9]] = True
    prediction[..., [3, 8, 10]] = True
    values = subregion_metrics(reference, prediction, ventricles, (2.0, 2.0, 2.0), 10.0)
    assert values["dice_periventricular"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert values["dice_deep"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    assert values["vol_ref_ml_periventricular"] == pytest.approx(2 * 0.008)  # 2 voxels of 8 mm³
    assert values["vol_pred_ml_deep"] == pytest.approx(2 * 0.008)
    assert not periventricular_region(np.zeros((2, 2, 2), dtype=bool), (1.0, 1.0, 1.0)).any()
