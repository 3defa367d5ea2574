"""Report tables of the papers' further analyses (pure: the per-case table in, DataFrames out).

Table schemas (column order is part of the contract and pinned by tests; docs/evaluation.md):

* ``group_tests.csv`` — :data:`GROUP_TEST_COLUMNS`: an omnibus test (ANOVA or Kruskal–Wallis) over the strata
  of every stratification with three or more known strata, per model, and over the models (three or more) on
  all cases; each followed by its post-hoc pairs. Omnibus rows have empty ``group_a``/``group_b``.
* ``regressions.csv`` — :data:`REGRESSION_COLUMNS`: per model, DSC against log10 reference voxel count and
  against log10 reference volume (Tomita et al.), and DSC against the uncertainty index (Kim et al.).
* ``certainty_curve.csv`` — :data:`CERTAINTY_COLUMNS`: per model with an uncertainty index, Kim et al.'s
  cumulative mean DSC of the most certain x % of cases.
* ``subregions.csv`` / ``by_subregion.csv`` — with ventricle masks: per case and summarised, Dice and volumes of
  periventricular and deep WMH (:mod:`strokeseg.evaluation.subregions`, :data:`SUBREGION_SUMMARY_COLUMNS`).
* ``learning_curve_fit.csv`` — :data:`LEARNING_FIT_COLUMNS`: per-case DSC against training-set size, linear
  and on ln(size), pooled and within cases, with the plateau size.

Every p-value column comes with its family and adjusted value (:func:`adjust_families`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from strokeseg.defaults import LEARNING_CURVE_PLATEAU_DSC, NORMALITY_ALPHA, UNCERTAINTY_REVIEW_CUT
from strokeseg.evaluation.choices import DEFAULT_P_ADJUSTMENT
from strokeseg.evaluation.group_tests import omnibus_test, post_hoc_pairs
from strokeseg.evaluation.multiple_testing import adjust_p_values
from strokeseg.evaluation.regression import (
    certainty_curve,
    linear_regression,
    log10_regression,
    plateau_size,
    within_case_cases,
    within_case_regression,
)
from strokeseg.evaluation.report import (
    COMPARISON_COLUMNS,
    OVERALL,
    TEST_METRICS,
    BootstrapSettings,
    evaluated,
    metrics_present,
    models_of,
    stratum_groups,
)
from strokeseg.evaluation.statistics import Summary, describe, mann_whitney
from strokeseg.evaluation.strata import Stratification
from strokeseg.evaluation.subregions import SUBREGIONS
from strokeseg.volumes import UNKNOWN

#: Columns added to every table of tests: the family a p-value is adjusted in, the method, the adjusted p.
ADJUSTMENT_COLUMNS: tuple[str, ...] = ("family", "p_adjustment", "p_adjusted")
GROUP_TEST_COLUMNS: tuple[str, ...] = (
    "test", "stratification", "metric", "model", "group_a", "group_b", "n_groups", "n_a", "n_b", "statistic",
    "p_value", *ADJUSTMENT_COLUMNS,
)
REGRESSION_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "x", "y", "n", "slope", "slope_se", "intercept", "r", "r2", "p_value", *ADJUSTMENT_COLUMNS,
)
CERTAINTY_COLUMNS: tuple[str, ...] = ("model", "percent", "n", "mean_dice", "max_uncertainty", "n_below_cut",
                                      "review_cut")
LEARNING_FIT_COLUMNS: tuple[str, ...] = (
    "design", "scale", "n_models", "n_cases", "n", "slope", "slope_se", "intercept", "r2", "p_value",
    "plateau_training_cases", "plateau_tolerance", *ADJUSTMENT_COLUMNS,
)
#: Columns of ``comparison.csv``: the tests and their families with adjusted p-values.
COMPARISON_REPORT_COLUMNS: tuple[str, ...] = (*COMPARISON_COLUMNS, *ADJUSTMENT_COLUMNS)
SUBREGION_SUMMARY_COLUMNS: tuple[str, ...] = ("model", "subregion", "metric", *Summary.__dataclass_fields__)
#: Metrics compared across more than two groups.
GROUP_TEST_METRICS: tuple[str, ...] = TEST_METRICS
MODELS = "models"


def adjust_families(table: pd.DataFrame, family_columns: Sequence[str], method: str = DEFAULT_P_ADJUSTMENT,
                    p_column: str = "p_value") -> pd.DataFrame:
    """``table`` with :data:`ADJUSTMENT_COLUMNS` added: the family of a row is the values of ``family_columns``
    joined by ``/``; p-values are adjusted within each family (``method``: holm, bonferroni, bh, none)."""
    result = table.copy()
    if result.empty:
        for column in ADJUSTMENT_COLUMNS:
            result[column] = pd.Series(dtype=object if column != "p_adjusted" else float)
        return result
    result["family"] = result[list(family_columns)].astype(str).agg("/".join, axis=1)
    result["p_adjustment"] = method
    result["p_adjusted"] = math.nan
    for _, rows in result.groupby("family", sort=False):
        result.loc[rows.index, "p_adjusted"] = adjust_p_values(rows[p_column].to_numpy(dtype=float), method)
    return result


def adjust_comparisons(comparisons: pd.DataFrame, method: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """``comparison.csv`` with families and adjusted p: one family per test, stratification and metric (all
    model pairs and strata pairs of that test there)."""
    return adjust_families(comparisons, ("test", "stratification", "metric"), method)[
        list(COMPARISON_REPORT_COLUMNS)]


def subregion_summary(subregions: pd.DataFrame, bootstrap: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Per model, WMH subregion and metric (dice, vol_ref_ml, vol_pred_ml) over the cases with status ``ok``: the
    ``by_<stratification>.csv`` statistics (schema :data:`SUBREGION_SUMMARY_COLUMNS`)."""
    ok = subregions[subregions["status"] == "ok"]
    rows = []
    for model in dict.fromkeys(ok["model"]):
        mine = ok[ok["model"] == model]
        for region in SUBREGIONS:
            for metric in ("dice", "vol_ref_ml", "vol_pred_ml"):
                summary = describe(mine[f"{metric}_{region}"].to_numpy(dtype=float), resamples=bootstrap.resamples,
                                   seed=bootstrap.seed, confidence=bootstrap.confidence, method=bootstrap.method)
                rows.append({"model": model, "subregion": region, "metric": metric, **summary.as_row()})
    return pd.DataFrame(rows, columns=list(SUBREGION_SUMMARY_COLUMNS))


def reader_comparisons(per_case: pd.DataFrame, readers: Sequence[str],
                       stratifications: Sequence[Stratification]) -> pd.DataFrame:
    """Every model against every second reader (Alis et al.): Mann–Whitney U (two-sided) of the per-case values,
    within all cases and within every stratum (schema ``COMPARISON_COLUMNS``, test ``reader_mann_whitney_u``,
    ``model_a`` = the model, ``model_b`` = the reader, ``mean_diff`` = reader − model)."""
    ok = evaluated(per_case)
    metrics = metrics_present(ok, TEST_METRICS)
    rows = []
    for model in (m for m in models_of(per_case) if m not in readers):
        for reader in readers:
            for stratification in (OVERALL, *stratifications):
                for level, a in stratum_groups(ok[ok["model"] == model], stratification):
                    b = ok[ok["model"] == reader]
                    b = b if stratification.name == OVERALL.name else b[b[stratification.name] == level]
                    if level == UNKNOWN or not (len(a) and len(b)):
                        continue
                    for metric in metrics:
                        result = mann_whitney(a[metric].to_numpy(dtype=float), b[metric].to_numpy(dtype=float))
                        rows.append({"test": "reader_mann_whitney_u", "stratification": stratification.name,
                                     "metric": metric, "model_a": model, "model_b": reader, "stratum_a": level,
                                     "stratum_b": level, "n_a": result.n_a, "n_b": result.n_b,
                                     "mean_a": result.mean_a, "mean_b": result.mean_b, "median_a": result.median_a,
                                     "median_b": result.median_b, "mean_diff": result.mean_b - result.mean_a,
                                     "median_diff": result.median_b - result.median_a,
                                     "statistic": result.u_statistic, "p_value": result.p_value})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def group_tests(per_case: pd.DataFrame, stratifications: Sequence[Stratification], test: str = "auto",
                adjustment: str = DEFAULT_P_ADJUSTMENT, alpha: float = NORMALITY_ALPHA) -> pd.DataFrame:
    """The ``group_tests.csv`` table (schema :data:`GROUP_TEST_COLUMNS`).

    Omnibus rows form the family ``omnibus/<metric>``; the post-hoc pairs of one omnibus test form their own
    family ``<stratification>/<metric>/<model>`` (their ``p_adjusted`` is computed by
    :func:`~strokeseg.evaluation.group_tests.post_hoc_pairs` with ``adjustment``).
    """
    ok = evaluated(per_case)
    metrics = metrics_present(ok, GROUP_TEST_METRICS)
    models = models_of(per_case)
    rows: list[dict[str, object]] = []
    cases: list[tuple[str, str, str, dict[str, np.ndarray]]] = []
    for model in models:
        mine = ok[ok["model"] == model]
        for stratification in stratifications:
            groups = {level: mine[mine[stratification.name] == level] for level in stratification.levels
                      if level != UNKNOWN}
            groups = {level: group for level, group in groups.items() if len(group)}
            if len(groups) >= 3:
                cases += [(stratification.name, model, metric,
                           {level: group[metric].to_numpy(dtype=float) for level, group in groups.items()})
                          for metric in metrics]
    if len(models) >= 3:
        cases += [(MODELS, "", metric, {model: ok.loc[ok["model"] == model, metric].to_numpy(dtype=float)
                                        for model in models}) for metric in metrics]
    for name, model, metric, groups in cases:
        result = omnibus_test(groups, test, alpha)
        rows.append({"test": result.test, "stratification": name, "metric": metric, "model": model,
                     "group_a": "", "group_b": "", "n_groups": sum(size > 0 for size in result.sizes),
                     "n_a": math.nan, "n_b": math.nan, "statistic": result.statistic, "p_value": result.p_value,
                     "family": f"omnibus/{metric}", "p_adjustment": adjustment, "p_adjusted": math.nan})
        for pair in post_hoc_pairs(groups, result.test, adjustment):
            rows.append({"test": pair.test, "stratification": name, "metric": metric, "model": model,
                         "group_a": pair.group_a, "group_b": pair.group_b, "n_groups": 2,
                         "n_a": int(np.isfinite(groups[pair.group_a]).sum()),
                         "n_b": int(np.isfinite(groups[pair.group_b]).sum()), "statistic": pair.statistic,
                         "p_value": pair.p_value, "family": f"{name}/{metric}/{model}",
                         "p_adjustment": adjustment, "p_adjusted": pair.p_adjusted})
    table = pd.DataFrame(rows, columns=list(GROUP_TEST_COLUMNS))
    omnibus = table["group_a"] == ""
    for _, family in table[omnibus].groupby("family", sort=False):
        table.loc[family.index, "p_adjusted"] = adjust_p_values(family["p_value"].to_numpy(dtype=float), adjustment)
    return table


def regressions(per_case: pd.DataFrame, adjustment: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """The ``regressions.csv`` table (schema :data:`REGRESSION_COLUMNS`); family: one per analysis.

    Analyses per model: ``dice_vs_log10_lesion_voxels`` (x = log10 reference voxel count tp + fn),
    ``dice_vs_log10_volume_ml`` (x = log10 reference volume), cases with a lesion only; and, with probability
    maps, ``dice_vs_uncertainty_index`` (x = uncertainty index; r is Pearson's r of the two).
    """
    ok = evaluated(per_case)
    rows = []
    for model in models_of(per_case):
        mine = ok[ok["model"] == model]
        dice = mine["dice"].to_numpy(dtype=float)
        voxels = (mine["tp"] + mine["fn"]).to_numpy(dtype=float)
        analyses = [("dice_vs_log10_lesion_voxels", "log10(tp + fn)", log10_regression(voxels, dice)),
                    ("dice_vs_log10_volume_ml", "log10(vol_ref_ml)",
                     log10_regression(mine["vol_ref_ml"].to_numpy(dtype=float), dice))]
        if "uncertainty_index" in mine.columns and mine["uncertainty_index"].notna().any():
            analyses.append(("dice_vs_uncertainty_index", "uncertainty_index",
                             linear_regression(mine["uncertainty_index"].to_numpy(dtype=float), dice)))
        rows += [{"model": model, "analysis": analysis, "x": x, "y": "dice", **fit.as_row()}
                 for analysis, x, fit in analyses]
    table = pd.DataFrame(rows, columns=[c for c in REGRESSION_COLUMNS if c not in ADJUSTMENT_COLUMNS])
    return adjust_families(table, ("analysis",), adjustment)[list(REGRESSION_COLUMNS)]


def certainty_curves(per_case: pd.DataFrame, review_cut: float = UNCERTAINTY_REVIEW_CUT) -> pd.DataFrame:
    """The ``certainty_curve.csv`` table (schema :data:`CERTAINTY_COLUMNS`); empty without uncertainty index."""
    ok = evaluated(per_case)
    rows = []
    if "uncertainty_index" in ok.columns:
        for model in models_of(per_case):
            mine = ok[ok["model"] == model]
            if not mine["uncertainty_index"].notna().any():
                continue
            for point in certainty_curve(mine["uncertainty_index"].to_numpy(dtype=float),
                                         mine["dice"].to_numpy(dtype=float), review_cut=review_cut):
                rows.append({"model": model, "percent": point.percent, "n": point.n, "mean_dice": point.mean_dice,
                             "max_uncertainty": point.max_uncertainty, "n_below_cut": point.n_below_cut,
                             "review_cut": review_cut})
    return pd.DataFrame(rows, columns=list(CERTAINTY_COLUMNS))


def learning_curve_fits(per_case: pd.DataFrame, training_cases: Mapping[str, int],
                        adjustment: str = DEFAULT_P_ADJUSTMENT,
                        plateau_tolerance: float = LEARNING_CURVE_PLATEAU_DSC) -> pd.DataFrame:
    """The ``learning_curve_fit.csv`` table (schema :data:`LEARNING_FIT_COLUMNS`).

    Least-squares lines of per-case DSC on training-set size (``scale`` ``linear``) and on ln(size) (``ln``)
    over every evaluated case of every model with a size (Noh et al.'s test that DSC rises with training size:
    slope > 0 with its p-value), in two designs: ``pooled`` treats every (model, case) result as independent;
    ``within_case`` centres each case's results on the case (:func:`within_case_regression`), the paired test
    when the models share test cases, which removes the case-to-case spread from the error (NaN when no case is
    scored by two models of different size). The plateau is the smallest size whose mean DSC is within
    ``plateau_tolerance`` of the best model's. Each design's two lines form one family.
    """
    ok = evaluated(per_case)
    mine = ok[ok["model"].isin(list(training_cases))]
    sizes = mine["model"].map(training_cases).to_numpy(dtype=float)
    dice = mine["dice"].to_numpy(dtype=float)
    cases = mine["case_id"].astype(str).tolist()
    means = mine.groupby("model")["dice"].mean()
    plateau = plateau_size([training_cases[m] for m in means.index], means.to_numpy(dtype=float), plateau_tolerance)
    n_cases = {"pooled": mine["case_id"].nunique(), "within_case": len(within_case_cases(sizes, dice, cases))}
    rows = []
    for design in ("pooled", "within_case"):
        for scale, x in (("linear", sizes), ("ln", np.log(sizes) if sizes.size else sizes)):
            fit = linear_regression(x, dice) if design == "pooled" else within_case_regression(x, dice, cases)
            rows.append({"design": design, "scale": scale, "n_models": len(means), "n_cases": n_cases[design],
                         "n": fit.n, "slope": fit.slope, "slope_se": fit.slope_se, "intercept": fit.intercept,
                         "r2": fit.r2, "p_value": fit.p_value, "plateau_training_cases": plateau,
                         "plateau_tolerance": plateau_tolerance, "_family": f"learning_curve_{design}"})
    table = pd.DataFrame(rows, columns=[*(c for c in LEARNING_FIT_COLUMNS if c not in ADJUSTMENT_COLUMNS), "_family"])
    return adjust_families(table, ("_family",), adjustment)[list(LEARNING_FIT_COLUMNS)]
