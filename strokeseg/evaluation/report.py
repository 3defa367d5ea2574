"""Report tables built from the per-case table (pure: DataFrames in, DataFrames out).

Table schemas (column order is part of the contract and pinned by tests):

* ``by_<stratification>.csv`` — :data:`STRATUM_COLUMNS`: one row per model, stratum and metric with
  n, n_nan, mean, sd, se, median, q1, q3, ci_low, ci_high, the Shapiro–Wilk p and ``display``: mean ± SD
  when Shapiro–Wilk keeps normality, else median (Q1–Q3). The metric ``micro_dice`` (dataset-level Dice
  of the stratum's cases) has its value in ``mean``, its bootstrap interval in ``ci_low``/``ci_high`` and
  no spread columns.
* ``comparison.csv`` — :data:`COMPARISON_COLUMNS`: every hypothesis test. ``paired_t`` and ``wilcoxon``
  compare two models on the same cases (``model_a`` = baseline, ``model_b`` = other model, differences
  b − a, within all cases and within every stratum); ``mann_whitney_u`` compares two strata of one
  stratification for one model (``stratum_a`` vs ``stratum_b``, independent case sets; "unknown" and
  empty strata left out).
* ``volume_agreement.csv`` — :data:`AGREEMENT_COLUMNS`: predicted vs reference volume per model and stratum.

Only cases with status ``ok`` enter statistics; the stratification ``all`` with stratum ``all`` is the
whole evaluated set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from strokeseg.defaults import BLAND_ALTMAN_Z, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE_LEVEL
from strokeseg.evaluation.group_tests import shapiro_wilk, summary_text
from strokeseg.evaluation.overlap import micro_dice
from strokeseg.evaluation.statistics import (
    Summary,
    describe,
    learning_curve_fit,
    mann_whitney,
    micro_dice_interval,
    paired_comparison,
    volume_agreement,
)
from strokeseg.evaluation.strata import Stratification
from strokeseg.evaluation.worker import STATUS_OK
from strokeseg.volumes import UNKNOWN

ALL = "all"
#: The whole evaluated set as a stratification.
OVERALL = Stratification(ALL, (ALL,), "every evaluated case")

#: Metrics summarised per stratum (those present in the per-case table).
SUMMARY_METRICS: tuple[str, ...] = (
    "dice", "sensitivity", "precision", "vol_ref_ml", "vol_pred_ml", "vol_diff_ml", "avd_ml", "hd", "hd95",
    "assd", "nsd", "lesion_f1", "lesion_tp", "lesion_fp", "lesion_fn", "n_lesions_ref", "n_lesions_pred",
    "lesion_count_diff", "max_dice", "uncertainty_index",
)
#: Metrics compared between models and between strata.
TEST_METRICS: tuple[str, ...] = (
    "dice", "sensitivity", "precision", "avd_ml", "hd", "hd95", "assd", "nsd", "lesion_f1", "lesion_count_diff",
    "max_dice", "uncertainty_index",
)
MICRO_DICE = "micro_dice"

STRATUM_COLUMNS: tuple[str, ...] = ("model", "stratum", "metric", *Summary.__dataclass_fields__, "shapiro_p",
                                     "display")
COMPARISON_COLUMNS: tuple[str, ...] = (
    "test", "stratification", "metric", "model_a", "model_b", "stratum_a", "stratum_b", "n_a", "n_b",
    "mean_a", "mean_b", "median_a", "median_b", "mean_diff", "median_diff", "statistic", "p_value",
)
AGREEMENT_COLUMNS: tuple[str, ...] = (
    "model", "stratification", "stratum", "n", "pearson_r", "r2", "pearson_p", "ols_slope", "ols_intercept",
    "ba_bias_ml", "ba_sd_ml", "ba_loa_low_ml", "ba_loa_high_ml", "ccc", "cb",
)
LEARNING_CURVE_COLUMNS: tuple[str, ...] = ("model", "training_cases", "n", "mean_dice", "ci_low", "ci_high")


@dataclass(frozen=True)
class BootstrapSettings:
    """Bootstrap of the confidence intervals of the means: ``method`` ``percentile`` (default) or ``bca``."""

    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    confidence: float = CONFIDENCE_LEVEL
    method: str = "percentile"


def evaluated(per_case: pd.DataFrame) -> pd.DataFrame:
    """The rows that enter statistics (status ``ok``)."""
    return per_case[per_case["status"] == STATUS_OK]


def metrics_present(per_case: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """The metrics of ``metrics`` that are columns of ``per_case`` with at least one value."""
    return [m for m in metrics if m in per_case.columns and per_case[m].notna().any()]


def models_of(per_case: pd.DataFrame) -> list[str]:
    """Model names in order of first appearance."""
    return list(dict.fromkeys(per_case["model"]))


def stratum_groups(table: pd.DataFrame, stratification: Stratification) -> list[tuple[str, pd.DataFrame]]:
    """(stratum, rows) of every level of ``stratification`` (the whole table for :data:`OVERALL`)."""
    if stratification.name == ALL:
        return [(ALL, table)]
    return [(level, table[table[stratification.name] == level]) for level in stratification.levels]


def stratum_summary(per_case: pd.DataFrame, stratification: Stratification,
                    bootstrap: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """The ``by_<stratification>.csv`` table (schema :data:`STRATUM_COLUMNS`)."""
    ok = evaluated(per_case)
    metrics = metrics_present(ok, SUMMARY_METRICS)
    rows = []
    for model in models_of(per_case):
        for level, group in stratum_groups(ok[ok["model"] == model], stratification):
            for metric in metrics:
                values = group[metric].to_numpy(dtype=float)
                summary = describe(values, resamples=bootstrap.resamples, seed=bootstrap.seed,
                                   confidence=bootstrap.confidence, method=bootstrap.method)
                rows.append({"model": model, "stratum": level, "metric": metric, **summary.as_row(),
                             "shapiro_p": shapiro_wilk(values).p_value, "display": summary_text(values)})
            rows.append({"model": model, "stratum": level, "metric": MICRO_DICE,
                         **_micro_dice_summary(group, bootstrap)})
    return pd.DataFrame(rows, columns=list(STRATUM_COLUMNS))


def _micro_dice_summary(group: pd.DataFrame, bootstrap: BootstrapSettings) -> dict[str, float | int | str]:
    tp, fp, fn = (group[c].to_numpy(dtype=float) for c in ("tp", "fp", "fn"))
    n = len(group)
    value = micro_dice(tp, fp, fn) if n else math.nan
    low, high = micro_dice_interval(tp, fp, fn, resamples=bootstrap.resamples, seed=bootstrap.seed,
                                    confidence=bootstrap.confidence)
    return {"n": n, "n_nan": 0, "mean": value, "sd": math.nan, "se": math.nan, "median": math.nan,
            "q1": math.nan, "q3": math.nan, "ci_low": low, "ci_high": high, "shapiro_p": math.nan,
            "display": "–" if math.isnan(value) else f"{value:.3f}"}


def model_comparisons(per_case: pd.DataFrame, stratifications: Sequence[Stratification],
                      baseline: str | None = None) -> pd.DataFrame:
    """Paired t-test and Wilcoxon of every model against the baseline (default: the first model)."""
    ok = evaluated(per_case)
    models = models_of(per_case)
    baseline = baseline or (models[0] if models else None)
    metrics = metrics_present(ok, TEST_METRICS)
    rows = []
    for other in (m for m in models if m != baseline):
        a_all = ok[ok["model"] == baseline].set_index("case_id")
        b_all = ok[ok["model"] == other].set_index("case_id")
        shared = a_all.index.intersection(b_all.index)
        a_all, b_all = a_all.loc[shared], b_all.loc[shared]
        for stratification in (OVERALL, *stratifications):
            for level, a in stratum_groups(a_all, stratification):
                b = b_all.loc[a.index]
                for metric in metrics:
                    result = paired_comparison(a[metric].to_numpy(dtype=float), b[metric].to_numpy(dtype=float))
                    common = {"stratification": stratification.name, "metric": metric, "model_a": baseline,
                              "model_b": other, "stratum_a": level, "stratum_b": level, "n_a": result.n,
                              "n_b": result.n, "mean_a": result.mean_a, "mean_b": result.mean_b,
                              "median_a": math.nan, "median_b": math.nan, "mean_diff": result.mean_diff,
                              "median_diff": result.median_diff}
                    rows.append({"test": "paired_t", **common, "statistic": result.t_statistic,
                                 "p_value": result.t_pvalue})
                    rows.append({"test": "wilcoxon", **common, "statistic": result.wilcoxon_statistic,
                                 "p_value": result.wilcoxon_pvalue})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def stratum_comparisons(per_case: pd.DataFrame, stratifications: Sequence[Stratification]) -> pd.DataFrame:
    """Mann–Whitney U between every pair of strata of every stratification, per model.

    Strata without evaluated cases and the stratum "unknown" (missing metadata) are left out.
    """
    ok = evaluated(per_case)
    metrics = metrics_present(ok, TEST_METRICS)
    rows = []
    for model in models_of(per_case):
        mine = ok[ok["model"] == model]
        for stratification in stratifications:
            groups = {level: group for level, group in stratum_groups(mine, stratification)
                      if level != UNKNOWN and len(group)}
            for level_a, level_b in itertools.combinations(groups, 2):
                for metric in metrics:
                    result = mann_whitney(groups[level_a][metric].to_numpy(dtype=float),
                                          groups[level_b][metric].to_numpy(dtype=float))
                    rows.append({"test": "mann_whitney_u", "stratification": stratification.name, "metric": metric,
                                 "model_a": model, "model_b": model, "stratum_a": level_a, "stratum_b": level_b,
                                 "n_a": result.n_a, "n_b": result.n_b, "mean_a": result.mean_a,
                                 "mean_b": result.mean_b, "median_a": result.median_a, "median_b": result.median_b,
                                 "mean_diff": result.mean_b - result.mean_a,
                                 "median_diff": result.median_b - result.median_a,
                                 "statistic": result.u_statistic, "p_value": result.p_value})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def volume_agreement_table(per_case: pd.DataFrame, stratifications: Sequence[Stratification],
                           loa_z: float = BLAND_ALTMAN_Z) -> pd.DataFrame:
    """The ``volume_agreement.csv`` table (schema :data:`AGREEMENT_COLUMNS`)."""
    ok = evaluated(per_case)
    rows = []
    for model in models_of(per_case):
        mine = ok[ok["model"] == model]
        for stratification in (OVERALL, *stratifications):
            for level, group in stratum_groups(mine, stratification):
                agreement = volume_agreement(group["vol_pred_ml"].to_numpy(dtype=float),
                                             group["vol_ref_ml"].to_numpy(dtype=float), loa_z)
                rows.append({"model": model, "stratification": stratification.name, "stratum": level,
                             **agreement.as_row()})
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


def learning_curve(per_case: pd.DataFrame, training_cases: dict[str, int],
                   bootstrap: BootstrapSettings = BootstrapSettings()) -> tuple[pd.DataFrame, dict[str, float]]:
    """Mean DSC with CI per model against its training-set size, and the OLS fit of DSC on ln(n).

    Returns:
        (one row per model with a known size, sorted by size; fit as {"n_models", "slope", "intercept", "r2"}).
    """
    ok = evaluated(per_case)
    rows = []
    for model, size in training_cases.items():
        summary = describe(ok.loc[ok["model"] == model, "dice"].to_numpy(dtype=float),
                           resamples=bootstrap.resamples, seed=bootstrap.seed, confidence=bootstrap.confidence,
                           method=bootstrap.method)
        rows.append({"model": model, "training_cases": size, "n": summary.n, "mean_dice": summary.mean,
                     "ci_low": summary.ci_low, "ci_high": summary.ci_high})
    table = pd.DataFrame(rows, columns=list(LEARNING_CURVE_COLUMNS)).sort_values("training_cases", kind="stable")
    fit = learning_curve_fit(table["training_cases"].to_numpy(dtype=float), table["mean_dice"].to_numpy(dtype=float))
    fit_row = asdict(fit)
    return table.reset_index(drop=True), {"n_models": fit_row["n"], "slope": fit_row["slope"],
                                          "intercept": fit_row["intercept"], "r2": fit_row["r2"]}
