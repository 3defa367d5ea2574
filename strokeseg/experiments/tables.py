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
    BootstrapSettings,
    concordance_correlation,
    describe,
    evaluated,
    learning_curve_fit,
    mann_whitney,
    micro_dice,
    micro_dice_interval,
    paired_comparison,
)

#: Metrics of Noh's learning curves and adaptation grid (DSC, sensitivity, precision).
CURVE_METRICS: tuple[str, ...] = ("dice", "sensitivity", "precision")
#: Metrics of Tomita's Table 5 besides the micro Dice (TPR = sensitivity).
ZOOM_METRICS: tuple[str, ...] = ("dice", "hd", "assd", "sensitivity", "precision")
#: Metrics of Alis's vendor-transfer table.
VENDOR_METRICS: tuple[str, ...] = ("dice", "sensitivity", "precision")

LEARNING_CURVE_COLUMNS = ("stratification", "stratum", "metric", "model", "training_cases", "n", "mean", "sd",
                          "ci_low", "ci_high")
LEARNING_CURVE_FIT_COLUMNS = ("stratification", "stratum", "metric", "n_models", "slope", "intercept", "r2")
ADAPTATION_COLUMNS = ("test_set", "metric", "pretraining_cases", "adaptation_cases", "before", "after", "n",
                      "before_mean", "before_sd", "after_mean", "after_sd", "mean_diff", "t_pvalue",
                      "wilcoxon_pvalue")
VENDOR_COLUMNS = ("source", "target", "metric", "n_internal", "internal_median", "internal_q1", "internal_q3",
                  "n_external", "external_median", "external_q1", "external_q3", "n_finetuned", "finetuned_median",
                  "finetuned_q1", "finetuned_q3", "internal_vs_external_mwu_p", "external_vs_finetuned_wilcoxon_p")
ZOOM_COLUMNS = ("model", "metric", "n", "mean", "ci_low", "ci_high")
ENSEMBLE_COLUMNS = ("model", "n", "dice_mean", "dice_sd", "dice_ci_low", "dice_ci_high", "volume_ccc",
                    "uncertainty_index_mean", "needs_review_fraction", "wilcoxon_p_vs_ensemble", "t_p_vs_ensemble")


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
                          bootstrap: BootstrapSettings = BootstrapSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metric vs training-set size with bootstrap CIs, overall and per stratum, and the fit on ln(size).

    Returns:
        (points: :data:`LEARNING_CURVE_COLUMNS`; fits: :data:`LEARNING_CURVE_FIT_COLUMNS`, OLS of the stratum's
        mean metric on ln(training cases), one point per model).
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
        fit = learning_curve_fit(group["training_cases"].to_numpy(float), group["mean"].to_numpy(float))
        fits.append({"stratification": stratification, "stratum": stratum, "metric": metric, "n_models": fit.n,
                     "slope": fit.slope, "intercept": fit.intercept, "r2": fit.r2})
    return points, pd.DataFrame(fits, columns=list(LEARNING_CURVE_FIT_COLUMNS))


def adaptation_table(per_case_by_test_set: Mapping[str, pd.DataFrame], grid: Sequence[Mapping[str, Any]],
                     metrics: Sequence[str] = CURVE_METRICS) -> pd.DataFrame:
    """Noh's Table 2: per test set, pre-training and adaptation size, the metric before (pre-trained model) and
    after fine-tuning: means, SDs, mean difference (after − before) and paired t / Wilcoxon p-values."""
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
    return pd.DataFrame(rows, columns=list(ADAPTATION_COLUMNS))


def vendor_table(per_case_by_vendor: Mapping[str, pd.DataFrame], directions: Sequence[Mapping[str, str]],
                 metrics: Sequence[str] = VENDOR_METRICS) -> pd.DataFrame:
    """Alis's table: per direction (source → target vendor), medians and IQR of the model on its own vendor's
    test set (internal), on the other vendor's (external) and of the fine-tuned model there; Mann–Whitney U
    internal vs external (different cases), Wilcoxon signed-rank external vs fine-tuned (same cases)."""
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
    return pd.DataFrame(rows, columns=list(VENDOR_COLUMNS))


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
                   bootstrap: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Kim's comparison: DSC with CI, CCC of lesion volumes, uncertainty index and review share of the ensemble
    and each member; paired Wilcoxon and t-test p-values of each member against the ensemble."""
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
                     "t_p_vs_ensemble": comparison.t_pvalue if comparison else math.nan})
    return pd.DataFrame(rows, columns=list(ENSEMBLE_COLUMNS))


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
