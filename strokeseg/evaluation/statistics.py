"""Summary statistics and tests of the evaluation reports (definitions: docs/evaluation.md, "Definitions").

Pure functions on 1-D arrays of per-case values. NaN values (undefined metrics, e.g. hd with one empty
mask) are never silently averaged: :func:`describe` drops them and counts them in ``n_nan``; paired tests
drop the pairs in which either value is NaN. Tests that cannot be computed (too few values, all differences
zero) return NaN statistics instead of raising.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from strokeseg.defaults import BLAND_ALTMAN_Z, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE_LEVEL
from strokeseg.evaluation.choices import BOOTSTRAP_METHODS

ArrayLike = Sequence[float] | np.ndarray

#: Resampled index rows drawn at once by the bootstrap (bounds memory for large case sets).
_BOOTSTRAP_BLOCK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one metric over a set of cases.

    ``n`` counts the finite values used, ``n_nan`` the NaN values left out. ``sd`` is the sample SD
    (ddof = 1), ``se`` = sd/√n, quartiles by linear interpolation, ``ci_low``/``ci_high`` the bootstrap
    percentile interval of the mean.
    """

    n: int
    n_nan: int
    mean: float
    sd: float
    se: float
    median: float
    q1: float
    q3: float
    ci_low: float
    ci_high: float

    def as_row(self) -> dict[str, float | int]:
        """Field name -> value."""
        return asdict(self)


def finite_values(values: ArrayLike) -> tuple[np.ndarray, int]:
    """(non-NaN values as float64, number of NaN values). Infinite values are an error."""
    array = np.asarray(values, dtype=np.float64).ravel()
    nan = np.isnan(array)
    if np.isinf(array).any():
        raise ValueError("infinite values cannot be summarised; the metric functions never produce them")
    return array[~nan], int(np.count_nonzero(nan))


def bootstrap_interval(n: int, estimator: Callable[[np.ndarray], np.ndarray], *,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                       confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic of ``n`` cases.

    Args:
        n: number of cases; each resample draws ``n`` case indices with replacement.
        estimator: maps an integer array of resampled indices (resamples × n) to one value per row.
        resamples, seed, confidence: number of resamples, random seed, interval coverage.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"the bootstrap needs at least one resample, got {resamples}")
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, _BOOTSTRAP_BLOCK_ENTRIES // n)
    estimates = []
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        estimates.append(np.asarray(estimator(rng.integers(0, n, size=(rows, n))), dtype=np.float64))
    values = np.concatenate(estimates)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(low), float(high)


def bca_interval(values: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa, Efron 1987) bootstrap interval of the mean (scipy's ``bootstrap``).

    Falls back to the percentile interval where BCa is undefined (fewer than 2 values, constant values: the
    jackknife acceleration divides by zero).
    """
    if values.size < 2 or np.ptp(values) == 0:
        return bootstrap_interval(values.size, lambda rows: values[rows].mean(axis=1), resamples=resamples,
                                  seed=seed, confidence=confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on degenerate resample distributions
        result = stats.bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                                 method="BCa", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def describe(values: ArrayLike, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
             confidence: float = CONFIDENCE_LEVEL, method: str = "percentile") -> Summary:
    """n, n_nan, mean, SD, SE, median, Q1, Q3 and the bootstrap CI of the mean (NaN values left out).

    ``method``: ``percentile`` (default) or ``bca`` (see :data:`BOOTSTRAP_METHODS`).
    """
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"unknown bootstrap method {method!r}; choose one of {', '.join(BOOTSTRAP_METHODS)}")
    finite, n_nan = finite_values(values)
    n = finite.size
    if n == 0:
        return Summary(0, n_nan, *(math.nan,) * 8)
    sd = float(np.std(finite, ddof=1)) if n > 1 else math.nan
    q1, median, q3 = (float(v) for v in np.percentile(finite, [25.0, 50.0, 75.0]))
    if method == "bca":
        ci_low, ci_high = bca_interval(finite, resamples=resamples, seed=seed, confidence=confidence)
    else:
        ci_low, ci_high = bootstrap_interval(n, lambda rows: finite[rows].mean(axis=1), resamples=resamples,
                                             seed=seed, confidence=confidence)
    return Summary(n=n, n_nan=n_nan, mean=float(finite.mean()), sd=sd, se=sd / math.sqrt(n), median=median,
                   q1=q1, q3=q3, ci_low=ci_low, ci_high=ci_high)


def micro_dice_interval(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, *, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Bootstrap percentile interval of the micro Dice (cases resampled with replacement)."""
    tp_array = np.asarray(tp, dtype=np.float64)
    denominator = 2.0 * tp_array + np.asarray(fp, dtype=np.float64) + np.asarray(fn, dtype=np.float64)

    def estimator(rows: np.ndarray) -> np.ndarray:
        totals = denominator[rows].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals == 0, 1.0, 2.0 * tp_array[rows].sum(axis=1) / totals)

    return bootstrap_interval(tp_array.size, estimator, resamples=resamples, seed=seed, confidence=confidence)


def unpaired_difference_estimates(a: ArrayLike, b: ArrayLike, rng: np.random.Generator,
                                  resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """Bootstrap estimates (``resamples`` values) of mean(a) − mean(b) for two independent sets, each resampled
    on its own (NaN left out); empty when either set is empty."""
    first, _ = finite_values(a)
    second, _ = finite_values(b)
    if not first.size or not second.size:
        return np.empty(0)
    return (first[rng.integers(0, first.size, size=(resamples, first.size))].mean(axis=1)
            - second[rng.integers(0, second.size, size=(resamples, second.size))].mean(axis=1))


def percentile_interval(estimates: np.ndarray, confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap ``estimates`` (NaN, NaN when there are none)."""
    if not estimates.size:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(estimates, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(low), float(high)


def unpaired_difference_interval(a: ArrayLike, b: ArrayLike, *, resamples: int = BOOTSTRAP_RESAMPLES,
                                 seed: int = BOOTSTRAP_SEED,
                                 confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(a) − mean(b) for two independent sets (each resampled on its own;
    NaN left out); NaN when either set is empty."""
    return percentile_interval(unpaired_difference_estimates(a, b, np.random.default_rng(seed), resamples),
                               confidence)


def stratified_difference_interval(groups: Sequence[tuple[ArrayLike, ArrayLike]], *,
                                   resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                                   confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over strata of mean(a) − mean(b), each ``(a, b)`` pair of
    ``groups`` one stratum (e.g. one test set) resampled on its own; NaN when any stratum lacks a or b."""
    rng = np.random.default_rng(seed)
    estimates = [unpaired_difference_estimates(a, b, rng, resamples) for a, b in groups]
    if not estimates or any(not values.size for values in estimates):
        return math.nan, math.nan
    return percentile_interval(np.mean(estimates, axis=0), confidence)


@dataclass(frozen=True)
class PairedComparison:
    """Two models on the same cases (pairs with a NaN on either side left out); differences are b − a."""

    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    median_diff: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float


def paired_comparison(a: ArrayLike, b: ArrayLike) -> PairedComparison:
    """Paired t-test and Wilcoxon signed-rank test (both two-sided) of b against a, case by case.

    Wilcoxon: zero differences are dropped (Wilcoxon's method); exact p-values for up to 50 pairs without
    zeros or ties, the normal approximation otherwise. t-test undefined (NaN) when all differences are
    equal; Wilcoxon undefined when all are zero.
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"paired values must have one length, got {first.shape} and {second.shape}")
    keep = ~(np.isnan(first) | np.isnan(second))
    first, second = first[keep], second[keep]
    n = first.size
    if n == 0:
        return PairedComparison(0, *(math.nan,) * 8)
    difference = second - first
    t_statistic = t_pvalue = w_statistic = w_pvalue = math.nan
    if n >= 2 and np.ptp(difference) > 0:
        t_statistic, t_pvalue = quiet_test(lambda: stats.ttest_rel(second, first))
    if np.any(difference != 0):
        w_statistic, w_pvalue = quiet_test(lambda: stats.wilcoxon(second, first, alternative="two-sided",
                                                                   method=_wilcoxon_method(difference)))
    return PairedComparison(n=n, mean_a=float(first.mean()), mean_b=float(second.mean()),
                            mean_diff=float(difference.mean()), median_diff=float(np.median(difference)),
                            t_statistic=t_statistic, t_pvalue=t_pvalue, wilcoxon_statistic=w_statistic,
                            wilcoxon_pvalue=w_pvalue)


@dataclass(frozen=True)
class GroupComparison:
    """Two independent case sets (e.g. internal vs external): Mann–Whitney U of set a, two-sided."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    median_a: float
    median_b: float
    u_statistic: float
    p_value: float


def mann_whitney(a: ArrayLike, b: ArrayLike) -> GroupComparison:
    """Mann–Whitney U test (two-sided) between two independent sets of values (NaN left out)."""
    first, _ = finite_values(a)
    second, _ = finite_values(b)
    u_statistic = p_value = math.nan
    if first.size and second.size:
        u_statistic, p_value = quiet_test(lambda: stats.mannwhitneyu(first, second, alternative="two-sided"))
    return GroupComparison(n_a=first.size, n_b=second.size, mean_a=_mean(first), mean_b=_mean(second),
                           median_a=_median(first), median_b=_median(second), u_statistic=u_statistic,
                           p_value=p_value)


@dataclass(frozen=True)
class LinearFit:
    """Ordinary least squares y = intercept + slope · x, with its coefficient of determination."""

    n: int
    slope: float
    intercept: float
    r2: float


def ordinary_least_squares(x: ArrayLike, y: ArrayLike) -> LinearFit:
    """OLS of y on x (pairs with a NaN left out); fewer than two distinct x -> NaN coefficients."""
    xs, ys = paired_finite(x, y)
    if xs.size < 2 or np.ptp(xs) == 0:
        return LinearFit(xs.size, math.nan, math.nan, math.nan)
    slope, intercept = np.polyfit(xs, ys, 1)
    residual = ys - (intercept + slope * xs)
    total = float(np.sum((ys - ys.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else math.nan
    return LinearFit(xs.size, float(slope), float(intercept), r2)


@dataclass(frozen=True)
class VolumeAgreement:
    """Agreement of predicted with reference volumes (mL); see docs/evaluation.md, "Summaries and statistics"."""

    n: int
    pearson_r: float
    r2: float
    pearson_p: float
    ols_slope: float
    ols_intercept: float
    ba_bias_ml: float
    ba_sd_ml: float
    ba_loa_low_ml: float
    ba_loa_high_ml: float
    ccc: float
    cb: float

    def as_row(self) -> dict[str, float | int]:
        """Field name -> value."""
        return asdict(self)


def concordance_correlation(x: ArrayLike, y: ArrayLike) -> float:
    """Lin's CCC = 2·s_xy / (s_x² + s_y² + (x̄ − ȳ)²) with 1/n moments (NaN pairs left out)."""
    xs, ys = paired_finite(x, y)
    if xs.size == 0:
        return math.nan
    covariance = float(np.mean((xs - xs.mean()) * (ys - ys.mean())))
    denominator = float(xs.var() + ys.var() + (xs.mean() - ys.mean()) ** 2)
    return 2.0 * covariance / denominator if denominator > 0 else math.nan


def volume_agreement(predicted_ml: ArrayLike, reference_ml: ArrayLike,
                     loa_z: float = BLAND_ALTMAN_Z) -> VolumeAgreement:
    """Pearson r/r², OLS of predicted on reference, Bland–Altman and Lin's CCC/Cb of volume pairs.

    Bland–Altman: bias = mean(pred − ref), limits = bias ± ``loa_z`` · SD (sample SD, ddof = 1).
    Cb = CCC / r. Undefined quantities (fewer than 2 or 3 cases, constant volumes) are NaN.
    """
    predicted, reference = paired_finite(predicted_ml, reference_ml)
    n = predicted.size
    r = p = math.nan
    if n >= 2 and np.ptp(predicted) > 0 and np.ptp(reference) > 0:
        result = stats.pearsonr(reference, predicted)
        r = float(result.statistic)
        p = float(result.pvalue) if n >= 3 else math.nan
    fit = ordinary_least_squares(reference, predicted)
    difference = predicted - reference
    bias = float(difference.mean()) if n else math.nan
    sd = float(np.std(difference, ddof=1)) if n >= 2 else math.nan
    ccc = concordance_correlation(reference, predicted)
    return VolumeAgreement(n=n, pearson_r=r, r2=r * r, pearson_p=p, ols_slope=fit.slope,
                           ols_intercept=fit.intercept, ba_bias_ml=bias, ba_sd_ml=sd,
                           ba_loa_low_ml=bias - loa_z * sd, ba_loa_high_ml=bias + loa_z * sd, ccc=ccc,
                           cb=ccc / r if not math.isnan(r) and r != 0 else math.nan)


def learning_curve_fit(training_sizes: ArrayLike, mean_dsc: ArrayLike) -> LinearFit:
    """OLS fit of mean DSC on ln(training-set size), one point per model.

    Definition: docs/evaluation.md, "Summaries and statistics".
    """
    sizes = np.asarray(training_sizes, dtype=np.float64)
    if np.any(sizes <= 0):
        raise ValueError(f"training-set sizes must be positive, got {sizes.tolist()}")
    return ordinary_least_squares(np.log(sizes), mean_dsc)


def _wilcoxon_method(difference: np.ndarray) -> str:
    """Exact null distribution for up to 50 pairs without zero or tied differences, else the normal
    approximation (scipy would fall back to a slow permutation test)."""
    nonzero = difference[difference != 0]
    untied = np.unique(np.abs(nonzero)).size == nonzero.size
    return "exact" if difference.size <= 50 and nonzero.size == difference.size and untied else "asymptotic"


def paired_finite(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape:
        raise ValueError(f"paired values must have one length, got {xs.shape} and {ys.shape}")
    keep = ~(np.isnan(xs) | np.isnan(ys))
    return xs[keep], ys[keep]


def quiet_test(test: Callable[[], object]) -> tuple[float, float]:
    """(statistic, p-value) of a scipy test, NaN when scipy finds it undefined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            result = test()
        except ValueError:
            return math.nan, math.nan
    return float(result.statistic), float(result.pvalue)  # type: ignore[attr-defined]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan
