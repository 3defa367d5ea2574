"""The papers' tables, computed from evaluation reports (pure: per-case DataFrames in, DataFrames out).

Every function takes the ``per_case.csv`` table(s) of ``strokeseg evaluate`` (rows with status ``ok`` enter
the statistics) and the statistics of ``strokeseg.evaluation.statistics`` (bootstrap CIs, paired tests,
Mann–Whitney U, the learning-curve log fit, Lin's CCC). Column lists are part of the contract (docs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from strokeseg.cases import parse_yes_no
from strokeseg.evaluation import (
    ALL,
    DEFAULT_P_ADJUSTMENT,
    BootstrapSettings,
    adjust_p_values,
    concordance_correlation,
    correlation,
    describe,
    evaluated,
    learning_curve_fit,
    linear_regression,
    mann_whitney,
    micro_dice,
    micro_dice_interval,
    paired_comparison,
    plateau_size,
    share_below,
)

#: Metrics of Noh's learning curves and adaptation grid (DSC, sensitivity, precision).
CURVE_METRICS: tuple[str, ...] = ("dice", "sensitivity", "precision")
#: Metrics of Tomita's Table 5 besides the micro Dice (TPR = sensitivity).
ZOOM_METRICS: tuple[str, ...] = ("dice", "hd", "assd", "sensitivity", "precision")
#: Metrics of Alis's vendor-transfer table.
VENDOR_METRICS: tuple[str, ...] = ("dice", "sensitivity", "precision")

LEARNING_CURVE_COLUMNS = ("stratification", "stratum", "metric", "model", "training_cases", "n", "mean", "sd",
                          "ci_low", "ci_high")
#: Every table of tests names the family its p-values are adjusted in, the method, and adds ``<p column>_adjusted``.
FAMILY_COLUMNS = ("family", "p_adjustment")
LEARNING_CURVE_FIT_COLUMNS = ("stratification", "stratum", "metric", "n_models", "slope", "intercept", "r2", "p_value",
                              "linear_slope", "linear_r2", "linear_p_value", "plateau_training_cases", *FAMILY_COLUMNS,
                              "p_value_adjusted", "linear_p_value_adjusted")
#: One row per metric and training-set size: the reference arm (e.g. the U-Net) and the comparison arm (e.g. Swin
#: UNETR) on the same test cases; differences are comparison − reference.
COMPARISON_COLUMNS = ("metric", "training_cases", "reference", "comparison", "n", "reference_mean", "comparison_mean",
                      "mean_diff", "diff_ci_low", "diff_ci_high", "t_pvalue", "wilcoxon_pvalue", *FAMILY_COLUMNS,
                      "t_pvalue_adjusted", "wilcoxon_pvalue_adjusted")
ADAPTATION_COLUMNS = ("test_set", "metric", "pretraining_cases", "adaptation_cases", "before", "after", "n",
                      "before_mean", "before_sd", "after_mean", "after_sd", "mean_diff", "t_pvalue",
                      "wilcoxon_pvalue", *FAMILY_COLUMNS, "t_pvalue_adjusted", "wilcoxon_pvalue_adjusted")
VENDOR_COLUMNS = ("source", "target", "metric", "n_internal", "internal_median", "internal_q1", "internal_q3",
                  "n_external", "external_median", "external_q1", "external_q3", "n_finetuned", "finetuned_median",
                  "finetuned_q1", "finetuned_q3", "internal_vs_external_mwu_p", "external_vs_finetuned_wilcoxon_p",
                  *FAMILY_COLUMNS, "internal_vs_external_mwu_p_adjusted", "external_vs_finetuned_wilcoxon_p_adjusted")
ZOOM_COLUMNS = ("model", "metric", "n", "mean", "ci_low", "ci_high")
ENSEMBLE_COLUMNS = ("model", "n", "dice_mean", "dice_sd", "dice_ci_low", "dice_ci_high", "volume_ccc",
                    "uncertainty_index_mean", "needs_review_fraction", "wilcoxon_p_vs_ensemble", "t_p_vs_ensemble",
                    "uncertainty_dice_r", "uncertainty_dice_p", "share_at_or_below_review_cut", *FAMILY_COLUMNS,
                    "wilcoxon_p_vs_ensemble_adjusted", "t_p_vs_ensemble_adjusted")


def adjust_p_columns(table: pd.DataFrame, p_columns: Sequence[str], family_columns: Sequence[str],
                     method: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """``table`` with ``family`` (the values of ``family_columns`` joined by ``/``), ``p_adjustment`` and
    ``<p column>_adjusted``: each p column is adjusted within each family (NaN p-values stay NaN)."""
    result = table.copy()
    result["family"] = result[list(family_columns)].astype(str).agg("/".join, axis=1) if len(result) else ""
    result["p_adjustment"] = method
    for column in p_columns:
        result[f"{column}_adjusted"] = np.nan
        for _, rows in result.groupby("family", sort=False):
            result.loc[rows.index, f"{column}_adjusted"] = adjust_p_values(rows[column].to_numpy(dtype=float), method)
    return result


def model_values(per_case: pd.DataFrame, model: str, metric: str) -> pd.Series:
    """A model's values of ``metric`` by case id (status ok only)."""
    ok = evaluated(per_case)
    mine = ok[ok["model"] == model].set_index("case_id")
    return mine[metric].astype(float) if metric in mine.columns else pd.Series(dtype=float)


def _paired(per_case_a: pd.DataFrame, model_a: str, per_case_b: pd.DataFrame, model_b: str,
            metric: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = model_values(per_case_a, model_a, metric), model_values(per_case_b, model_b, metric)
    shared = a.index.intersection(b.index)
    return a.loc[shared].to_numpy(), b.loc[shared].to_numpy()


def learning_curve_tables(per_case: pd.DataFrame, training_cases: Mapping[str, int],
                          stratifications: Sequence[str] = (), metrics: Sequence[str] = CURVE_METRICS,
                          bootstrap: BootstrapSettings = BootstrapSettings(),
                          adjustment: str = DEFAULT_P_ADJUSTMENT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metric vs training-set size with bootstrap CIs, overall and per stratum, and the fits on size.

    Returns:
        (points: :data:`LEARNING_CURVE_COLUMNS`; fits: :data:`LEARNING_CURVE_FIT_COLUMNS`, least squares of the
        stratum's mean metric on ln(training cases) — slope, intercept, R², slope p — and on training cases
        (``linear_*``), one point per model, and the plateau (the smallest size within 0.01 of the best mean);
        p-values adjusted within each metric's family of strata).
    """
    ok = evaluated(per_case)
    rows = []
    for stratification in (ALL, *stratifications):
        levels = [ALL] if stratification == ALL else sorted(ok[stratification].dropna().astype(str).unique())
        for level in levels:
            group = ok if stratification == ALL else ok[ok[stratification].astype(str) == level]
            for metric in metrics:
                for model, size in training_cases.items():
                    summary = describe(group.loc[group["model"] == model, metric].to_numpy(dtype=float),
                                       resamples=bootstrap.resamples, seed=bootstrap.seed,
                                       confidence=bootstrap.confidence, method=bootstrap.method)
                    rows.append({"stratification": stratification, "stratum": level, "metric": metric, "model": model,
                                 "training_cases": size, "n": summary.n, "mean": summary.mean, "sd": summary.sd,
                                 "ci_low": summary.ci_low, "ci_high": summary.ci_high})
    points = pd.DataFrame(rows, columns=list(LEARNING_CURVE_COLUMNS))
    fits = []
    for (stratification, stratum, metric), group in points.groupby(["stratification", "stratum", "metric"], sort=False):
        sizes, means = group["training_cases"].to_numpy(float), group["mean"].to_numpy(float)
        fit = learning_curve_fit(sizes, means)
        on_log, linear = linear_regression(np.log(sizes), means), linear_regression(sizes, means)
        fits.append({"stratification": stratification, "stratum": stratum, "metric": metric, "n_models": fit.n,
                     "slope": fit.slope, "intercept": fit.intercept, "r2": fit.r2, "p_value": on_log.p_value,
                     "linear_slope": linear.slope, "linear_r2": linear.r2, "linear_p_value": linear.p_value,
                     "plateau_training_cases": plateau_size(sizes, means)})
    fit_table = pd.DataFrame(fits, columns=[c for c in LEARNING_CURVE_FIT_COLUMNS if c not in FAMILY_COLUMNS
                                            and not c.endswith("_adjusted")])
    fit_table = adjust_p_columns(fit_table, ("p_value", "linear_p_value"), ("metric",), adjustment)
    return points, fit_table[list(LEARNING_CURVE_FIT_COLUMNS)]


def learning_curve_comparison_table(per_case: pd.DataFrame, pairs: Sequence[Mapping[str, Any]],
                                    metrics: Sequence[str] = CURVE_METRICS,
                                    bootstrap: BootstrapSettings = BootstrapSettings(),
                                    adjustment: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """Two arms of a learning curve compared per training-set size on the same test cases.

    Args:
        per_case: the evaluation's ``per_case.csv`` holding both arms' models.
        pairs: one mapping per size: ``training_cases``, ``reference`` and ``comparison`` (model names).

    Returns:
        :data:`COMPARISON_COLUMNS`: paired means (cases both models were evaluated on), the mean difference
        (comparison − reference) with the bootstrap CI of the mean of the case-wise differences, paired t and
        Wilcoxon p-values, adjusted over the sizes of one metric.
    """
    rows = []
    for metric in metrics:
        for pair in pairs:
            reference, comparison = _paired(per_case, pair["reference"], per_case, pair["comparison"], metric)
            result = paired_comparison(reference, comparison)
            difference = describe(comparison - reference, resamples=bootstrap.resamples, seed=bootstrap.seed,
                                  confidence=bootstrap.confidence, method=bootstrap.method)
            rows.append({"metric": metric, "training_cases": pair["training_cases"], "reference": pair["reference"],
                         "comparison": pair["comparison"], "n": result.n, "reference_mean": result.mean_a,
                         "comparison_mean": result.mean_b, "mean_diff": result.mean_diff,
                         "diff_ci_low": difference.ci_low, "diff_ci_high": difference.ci_high,
                         "t_pvalue": result.t_pvalue, "wilcoxon_pvalue": result.wilcoxon_pvalue})
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS[:COMPARISON_COLUMNS.index("family")]))
    return adjust_p_columns(table, ("t_pvalue", "wilcoxon_pvalue"), ("metric",), adjustment)[list(COMPARISON_COLUMNS)]


def adaptation_table(per_case_by_test_set: Mapping[str, pd.DataFrame], grid: Sequence[Mapping[str, Any]],
                     metrics: Sequence[str] = CURVE_METRICS, adjustment: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """Noh's Table 2: per test set, pre-training and adaptation size, the metric before (pre-trained model) and
    after fine-tuning: means, SDs, mean difference (after − before) and paired t / Wilcoxon p-values (adjusted
    over the grid cells of one test set and metric)."""
    rows = []
    for test_set, per_case in per_case_by_test_set.items():
        for metric in metrics:
            for cell in grid:
                before, after = _paired(per_case, cell["before"], per_case, cell["after"], metric)
                result = paired_comparison(before, after)
                keep = ~(np.isnan(before) | np.isnan(after))
                rows.append({"test_set": test_set, "metric": metric, "pretraining_cases": cell["pretraining_cases"],
                             "adaptation_cases": cell["adaptation_cases"], "before": cell["before"],
                             "after": cell["after"], "n": result.n, "before_mean": result.mean_a,
                             "before_sd": _sd(before[keep]), "after_mean": result.mean_b, "after_sd": _sd(after[keep]),
                             "mean_diff": result.mean_diff, "t_pvalue": result.t_pvalue,
                             "wilcoxon_pvalue": result.wilcoxon_pvalue})
    table = pd.DataFrame(rows, columns=list(ADAPTATION_COLUMNS[:ADAPTATION_COLUMNS.index("family")]))
    return adjust_p_columns(table, ("t_pvalue", "wilcoxon_pvalue"), ("test_set", "metric"), adjustment)[
        list(ADAPTATION_COLUMNS)]


def vendor_table(per_case_by_vendor: Mapping[str, pd.DataFrame], directions: Sequence[Mapping[str, str]],
                 metrics: Sequence[str] = VENDOR_METRICS, adjustment: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """Alis's table: per direction (source → target vendor), medians and IQR of the model on its own vendor's
    test set (internal), on the other vendor's (external) and of the fine-tuned model there; Mann–Whitney U
    internal vs external (different cases), Wilcoxon signed-rank external vs fine-tuned (same cases); p-values
    adjusted over the directions of one metric."""
    rows = []
    for direction in directions:
        source, target = per_case_by_vendor[direction["source"]], per_case_by_vendor[direction["target"]]
        for metric in metrics:
            internal = model_values(source, direction["model"], metric).to_numpy()
            external, tuned = _paired(target, direction["model"], target, direction["finetuned"], metric)
            row: dict[str, Any] = {"source": direction["source"], "target": direction["target"], "metric": metric}
            for label, values in (("internal", internal),
                                  ("external", model_values(target, direction["model"], metric)),
                                  ("finetuned", model_values(target, direction["finetuned"], metric))):
                summary = describe(np.asarray(values, dtype=float), resamples=1)  # medians only
                row |= {f"n_{label}": summary.n, f"{label}_median": summary.median, f"{label}_q1": summary.q1,
                        f"{label}_q3": summary.q3}
            row["internal_vs_external_mwu_p"] = mann_whitney(internal, external).p_value
            row["external_vs_finetuned_wilcoxon_p"] = paired_comparison(external, tuned).wilcoxon_pvalue
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(VENDOR_COLUMNS[:VENDOR_COLUMNS.index("family")]))
    return adjust_p_columns(table, ("internal_vs_external_mwu_p", "external_vs_finetuned_wilcoxon_p"), ("metric",),
                            adjustment)[list(VENDOR_COLUMNS)]


def zoom_table(per_case: pd.DataFrame, models: Sequence[str], metrics: Sequence[str] = ZOOM_METRICS,
               bootstrap: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Tomita's Table 5: micro Dice and the per-case means of ``metrics`` per model, with bootstrap CIs."""
    ok = evaluated(per_case)
    rows = []
    for model in models:
        mine = ok[ok["model"] == model]
        tp, fp, fn = (mine[column].to_numpy(dtype=float) for column in ("tp", "fp", "fn"))
        low, high = micro_dice_interval(tp, fp, fn, resamples=bootstrap.resamples, seed=bootstrap.seed,
                                        confidence=bootstrap.confidence)
        rows.append({"model": model, "metric": "micro_dice", "n": len(mine),
                     "mean": micro_dice(tp, fp, fn) if len(mine) else math.nan, "ci_low": low, "ci_high": high})
        for metric in metrics:
            summary = describe(mine[metric].to_numpy(dtype=float), resamples=bootstrap.resamples,
                               seed=bootstrap.seed, confidence=bootstrap.confidence, method=bootstrap.method)
            rows.append({"model": model, "metric": metric, "n": summary.n, "mean": summary.mean,
                         "ci_low": summary.ci_low, "ci_high": summary.ci_high})
    return pd.DataFrame(rows, columns=list(ZOOM_COLUMNS))


def ensemble_table(per_case: pd.DataFrame, ensemble: str, members: Sequence[str],
                   bootstrap: BootstrapSettings = BootstrapSettings(),
                   adjustment: str = DEFAULT_P_ADJUSTMENT) -> pd.DataFrame:
    """Kim's comparison: DSC with CI, CCC of lesion volumes, uncertainty index and review share of the ensemble
    and each member; paired Wilcoxon and t-test p-values of each member against the ensemble (adjusted over the
    members); Pearson's r of the uncertainty index with DSC and the share of cases at or below the review cut."""
    ok = evaluated(per_case)
    rows = []
    for model in (ensemble, *members):
        mine = ok[ok["model"] == model]
        summary = describe(mine["dice"].to_numpy(dtype=float), resamples=bootstrap.resamples, seed=bootstrap.seed,
                           confidence=bootstrap.confidence, method=bootstrap.method)
        comparison = paired_comparison(*_paired(per_case, ensemble, per_case, model, "dice")) \
            if model != ensemble else None
        rows.append({"model": model, "n": summary.n, "dice_mean": summary.mean, "dice_sd": summary.sd,
                     "dice_ci_low": summary.ci_low, "dice_ci_high": summary.ci_high,
                     "volume_ccc": concordance_correlation(mine["vol_ref_ml"].to_numpy(float),
                                                           mine["vol_pred_ml"].to_numpy(float)),
                     "uncertainty_index_mean": _mean_of(mine, "uncertainty_index"),
                     "needs_review_fraction": _review_fraction(mine),
                     "wilcoxon_p_vs_ensemble": comparison.wilcoxon_pvalue if comparison else math.nan,
                     "t_p_vs_ensemble": comparison.t_pvalue if comparison else math.nan,
                     **_uncertainty_columns(mine)})
    table = pd.DataFrame(rows, columns=list(ENSEMBLE_COLUMNS[:ENSEMBLE_COLUMNS.index("family")]))
    return adjust_p_columns(table.assign(_family="members vs ensemble"), ("wilcoxon_p_vs_ensemble", "t_p_vs_ensemble"),
                            ("_family",), adjustment)[list(ENSEMBLE_COLUMNS)]


def _uncertainty_columns(table: pd.DataFrame) -> dict[str, float]:
    """Pearson r and p of the uncertainty index with DSC (Kim et al.: r = −0.753) and the share at or below the
    review cut (NaN without an uncertainty index)."""
    if "uncertainty_index" not in table.columns:
        return {"uncertainty_dice_r": math.nan, "uncertainty_dice_p": math.nan,
                "share_at_or_below_review_cut": math.nan}
    index = table["uncertainty_index"].to_numpy(dtype=float)
    result = correlation(index, table["dice"].to_numpy(dtype=float))
    return {"uncertainty_dice_r": result.pearson_r, "uncertainty_dice_p": result.pearson_p,
            "share_at_or_below_review_cut": share_below(index)}


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if values.size >= 2 else math.nan


def _review_fraction(table: pd.DataFrame) -> float:
    """Share of cases flagged for review; ``per_case.csv`` writes the flag as yes/no (empty: no probabilities)."""
    if "needs_review" not in table.columns:
        return math.nan
    flags = [flag for flag in (parse_yes_no(value, "needs_review") for value in table["needs_review"])
             if flag is not None]
    return float(np.mean(flags)) if flags else math.nan


def _mean_of(table: pd.DataFrame, column: str) -> float:
    if column not in table.columns or table[column].notna().sum() == 0:
        return math.nan
    return float(table[column].astype(float).mean())
