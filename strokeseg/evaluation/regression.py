"""Regressions and correlations of the papers' figures (definitions: docs/evaluation.md, "Regressions").

Pure functions on arrays: least-squares lines with slope p-value and R² (Noh et al.'s DSC against training-set
size; Tomita et al.'s DSC against log10 lesion voxel count, R² = 0.34), the learning-curve plateau, Pearson's
correlation of the uncertainty index with DSC (Kim et al., r = −0.753) and the cumulative "mean DSC of the most
certain x % of cases" curve. Pairs with a NaN are left out; undefined quantities are NaN.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from strokeseg.defaults import CERTAINTY_CURVE_PERCENT_STEP, LEARNING_CURVE_PLATEAU_DSC, UNCERTAINTY_REVIEW_CUT
from strokeseg.evaluation.statistics import ArrayLike, paired_finite, quiet_test


@dataclass(frozen=True)
class Regression:
    """y = intercept + slope · x by least squares: n pairs, slope and its standard error, Pearson r, R² = r²,
    and the two-sided p-value of the slope (t-test of slope = 0 with n − 2 degrees of freedom)."""

    n: int
    slope: float
    slope_se: float
    intercept: float
    r: float
    r2: float
    p_value: float

    def as_row(self) -> dict[str, float | int]:
        """Field name -> value."""
        return asdict(self)


def linear_regression(x: ArrayLike, y: ArrayLike) -> Regression:
    """Least-squares line of y on x (scipy's ``linregress``); fewer than 3 pairs or constant x or y: NaN."""
    xs, ys = paired_finite(x, y)
    n = xs.size
    if n < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return Regression(n, *(math.nan,) * 6)
    result = stats.linregress(xs, ys)
    return Regression(n, float(result.slope), float(result.stderr), float(result.intercept), float(result.rvalue),
                      float(result.rvalue) ** 2, float(result.pvalue))


def _within_case_pairs(x: ArrayLike, y: ArrayLike, cases: Sequence[str],
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, case ids) of the finite pairs and the mask of those a within-case fit uses: pairs of cases with two
    or more finite pairs of distinct x."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ids = np.asarray(cases, dtype=object)
    if not xs.shape == ys.shape == ids.shape:
        raise ValueError(f"x, y and cases must have one length, got {xs.shape}, {ys.shape} and {ids.shape}")
    keep = ~(np.isnan(xs) | np.isnan(ys))
    xs, ys, ids = xs[keep], ys[keep], ids[keep]
    codes = np.unique(ids, return_inverse=True)[1].reshape(-1)
    groups = int(codes.max(initial=-1)) + 1
    low, high = np.full(groups, np.inf), np.full(groups, -np.inf)
    np.minimum.at(low, codes, xs)
    np.maximum.at(high, codes, xs)
    return xs, ys, ids, (high > low)[codes]


def within_case_cases(x: ArrayLike, y: ArrayLike, cases: Sequence[str]) -> list[str]:
    """The cases :func:`within_case_regression` uses (sorted): two or more finite pairs with distinct x."""
    _, _, ids, use = _within_case_pairs(x, y, cases)
    return sorted({str(case) for case in ids[use]})


def within_case_regression(x: ArrayLike, y: ArrayLike, cases: Sequence[str]) -> Regression:
    """Least-squares slope of y on x within cases (case fixed effects): for designs where every case is measured
    under several x, e.g. one test set scored by models trained on different numbers of cases.

    x and y are centred on each case's mean, so the case-to-case spread (an easy case scores high under every
    model) leaves the error term; cases with fewer than two finite pairs or one distinct x carry no information
    and are left out. ``n`` counts the pairs used, ``intercept`` = ȳ − slope·x̄ over them, ``r2`` (and ``r``,
    signed like the slope) is the within-case R², and the two-sided t-test of slope = 0 has n − k − 1 degrees of
    freedom for k cases (the dummy-variable OLS of y on x and one indicator per case gives the same slope, SE
    and p). Fewer than k + 2 pairs, no spread of x within cases or y constant within every case: NaN.
    """
    xs, ys, ids, use = _within_case_pairs(x, y, cases)
    xs, ys, codes = xs[use], ys[use], np.unique(ids[use], return_inverse=True)[1].reshape(-1)
    n, k = xs.size, (int(codes.max()) + 1 if xs.size else 0)
    counts = np.bincount(codes, minlength=k)
    x_within = xs - (np.bincount(codes, weights=xs, minlength=k) / np.maximum(counts, 1))[codes]
    y_within = ys - (np.bincount(codes, weights=ys, minlength=k) / np.maximum(counts, 1))[codes]
    sxx, syy = float(np.sum(x_within**2)), float(np.sum(y_within**2))
    degrees = n - k - 1
    if degrees < 1 or sxx == 0 or syy == 0:
        return Regression(n, *(math.nan,) * 6)
    slope = float(np.sum(x_within * y_within)) / sxx
    residual = float(np.sum((y_within - slope * x_within) ** 2))
    slope_se = math.sqrt(residual / degrees / sxx)
    r2 = 1.0 - residual / syy
    p_value = float(2 * stats.t.sf(abs(slope / slope_se), degrees)) if slope_se > 0 else 0.0
    return Regression(n, slope, slope_se, float(ys.mean() - slope * xs.mean()), math.copysign(math.sqrt(max(r2, 0.0)),
                      slope), r2, p_value)


def log10_regression(x: ArrayLike, y: ArrayLike) -> Regression:
    """Least-squares line of y on log10(x); pairs with x ≤ 0 are left out (empty lesions have no log size)."""
    xs, ys = paired_finite(x, y)
    keep = xs > 0
    return linear_regression(np.log10(xs[keep]), ys[keep])


@dataclass(frozen=True)
class Correlation:
    """Pearson r with its two-sided p-value, and Spearman ρ with its p-value, of n pairs."""

    n: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float

    def as_row(self) -> dict[str, float | int]:
        """Field name -> value."""
        return asdict(self)


def correlation(x: ArrayLike, y: ArrayLike) -> Correlation:
    """Pearson's r and Spearman's ρ with p-values (scipy); fewer than 3 pairs or constant values: NaN."""
    xs, ys = paired_finite(x, y)
    if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return Correlation(xs.size, *(math.nan,) * 4)
    r, r_p = quiet_test(functools.partial(stats.pearsonr, xs, ys))
    rho, rho_p = quiet_test(functools.partial(stats.spearmanr, xs, ys))
    return Correlation(xs.size, r, r_p, rho, rho_p)


def plateau_size(training_sizes: ArrayLike, mean_dsc: ArrayLike,
                 tolerance: float = LEARNING_CURVE_PLATEAU_DSC) -> float:
    """The smallest training-set size whose mean DSC is within ``tolerance`` of the best mean DSC.

    Beyond this size more training cases improved the mean DSC by at most ``tolerance`` (default 0.01). NaN
    without a finite point.
    """
    sizes, dsc = paired_finite(training_sizes, mean_dsc)
    if sizes.size == 0:
        return math.nan
    return float(sizes[dsc >= dsc.max() - tolerance].min())


@dataclass(frozen=True)
class CertaintyPoint:
    """The most certain ``percent`` % of cases (lowest uncertainty index): how many, their mean DSC, the
    largest uncertainty index among them, and how many of them lie at or below the review cut."""

    percent: float
    n: int
    mean_dice: float
    max_uncertainty: float
    n_below_cut: int


def certainty_curve(uncertainty: ArrayLike, dice: ArrayLike, step_percent: int = CERTAINTY_CURVE_PERCENT_STEP,
                    review_cut: float = UNCERTAINTY_REVIEW_CUT) -> list[CertaintyPoint]:
    """Kim et al.'s cumulative curve: cases sorted by uncertainty index (ascending, ties by DSC order of input),
    the first ⌈x·n/100⌉ of them for x = step, 2·step, …, 100 %; pairs with a NaN are left out."""
    if not 0 < step_percent <= 100:
        raise ValueError(f"the certainty-curve step must lie in (0, 100] %, got {step_percent}")
    index, values = paired_finite(uncertainty, dice)
    order = np.argsort(index, kind="stable")
    index, values = index[order], values[order]
    points = []
    for percent in range(step_percent, 101, step_percent):
        count = math.ceil(percent * index.size / 100)
        chosen = slice(0, count)
        points.append(CertaintyPoint(float(percent), count,
                                     float(values[chosen].mean()) if count else math.nan,
                                     float(index[chosen].max()) if count else math.nan,
                                     int(np.count_nonzero(index[chosen] <= review_cut))))
    return points


def share_below(values: ArrayLike, cut: float = UNCERTAINTY_REVIEW_CUT) -> float:
    """Share of the finite values at or below ``cut`` (Kim et al.: cases that need no review); none: NaN."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[~np.isnan(array)]
    return float(np.mean(finite <= cut)) if finite.size else math.nan
