"""Normality, summaries chosen by normality, and tests of several groups (docs/evaluation.md, "Group tests").

Pure functions on arrays (scipy's tests): Shapiro–Wilk decides how a summary is shown (mean ± SD or median
(IQR), as Alis et al. did), one-way ANOVA or Kruskal–Wallis compares more than two groups with pairwise post-hoc
tests under a multiple-comparison correction (Kim et al.: ANOVA with Bonferroni post hoc), and Pearson's χ²
compares categorical variables. NaN values are left out; undefined tests give NaN, never an error.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from strokeseg.defaults import NORMALITY_ALPHA
from strokeseg.evaluation.choices import DEFAULT_P_ADJUSTMENT, GROUP_TESTS
from strokeseg.evaluation.multiple_testing import adjust_p_values
from strokeseg.evaluation.statistics import ArrayLike, finite_values, quiet_test

#: Shapiro–Wilk needs at least this many values (scipy's limit).
SHAPIRO_MIN_N = 3


@dataclass(frozen=True)
class Normality:
    """Shapiro–Wilk W and p of the finite values; ``normal`` = p ≥ alpha (fewer than 3 values: NaN, not normal)."""

    n: int
    w: float
    p_value: float
    normal: bool


def shapiro_wilk(values: ArrayLike, alpha: float = NORMALITY_ALPHA) -> Normality:
    """Shapiro–Wilk test of normality (scipy); constant values are not normal (W undefined)."""
    finite, _ = finite_values(values)
    if finite.size < SHAPIRO_MIN_N or np.ptp(finite) == 0:
        return Normality(finite.size, math.nan, math.nan, False)
    w, p = quiet_test(lambda: stats.shapiro(finite))
    return Normality(finite.size, w, p, not math.isnan(p) and p >= alpha)


def summary_text(values: ArrayLike, alpha: float = NORMALITY_ALPHA, digits: int = 3) -> str:
    """"mean ± SD" when Shapiro–Wilk keeps normality, else "median (Q1–Q3)"; no values: "–"."""
    finite, _ = finite_values(values)
    if finite.size == 0:
        return "–"
    if shapiro_wilk(finite, alpha).normal:
        return f"{finite.mean():.{digits}f} ± {np.std(finite, ddof=1):.{digits}f}"
    q1, median, q3 = np.percentile(finite, [25.0, 50.0, 75.0])
    return f"{median:.{digits}f} ({q1:.{digits}f}–{q3:.{digits}f})"


@dataclass(frozen=True)
class OmnibusResult:
    """An omnibus test of k groups: which test, its statistic (F or H), p, and the group sizes."""

    test: str
    statistic: float
    p_value: float
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class PostHocPair:
    """One post-hoc pair: raw p and the p adjusted within the family of all pairs of the omnibus test."""

    group_a: str
    group_b: str
    test: str
    statistic: float
    p_value: float
    p_adjusted: float


def choose_group_test(groups: Mapping[str, ArrayLike], test: str = "auto",
                      alpha: float = NORMALITY_ALPHA) -> str:
    """``anova`` or ``kruskal``: ``auto`` takes ANOVA only when every group passes Shapiro–Wilk."""
    if test not in GROUP_TESTS:
        raise ValueError(f"unknown group test {test!r}; choose one of {', '.join(GROUP_TESTS)}")
    if test != "auto":
        return test
    return "anova" if all(shapiro_wilk(values, alpha).normal for values in groups.values()) else "kruskal"


def omnibus_test(groups: Mapping[str, ArrayLike], test: str = "auto",
                 alpha: float = NORMALITY_ALPHA) -> OmnibusResult:
    """One-way ANOVA (F) or Kruskal–Wallis (H, tie-corrected) of the groups with values; NaN below 2 groups."""
    chosen = choose_group_test(groups, test, alpha)
    arrays = [finite_values(values)[0] for values in groups.values()]
    present = [array for array in arrays if array.size]
    statistic = p_value = math.nan
    if len(present) >= 2:
        function = stats.f_oneway if chosen == "anova" else stats.kruskal
        statistic, p_value = quiet_test(functools.partial(function, *present))
    return OmnibusResult(chosen, statistic, p_value, tuple(array.size for array in arrays))


def post_hoc_pairs(groups: Mapping[str, ArrayLike], test: str,
                   adjustment: str = DEFAULT_P_ADJUSTMENT) -> list[PostHocPair]:
    """Every pair of groups: Student t (after ANOVA) or Mann–Whitney U (after Kruskal–Wallis), two-sided,
    p adjusted over all pairs (``adjustment``: see :mod:`strokeseg.evaluation.multiple_testing`)."""
    pairs = []
    for (name_a, a), (name_b, b) in itertools.combinations(groups.items(), 2):
        first, second = finite_values(a)[0], finite_values(b)[0]
        statistic = p_value = math.nan
        if test == "anova" and first.size >= 2 and second.size >= 2:
            statistic, p_value = quiet_test(functools.partial(stats.ttest_ind, first, second))
        elif test == "kruskal" and first.size and second.size:
            statistic, p_value = quiet_test(functools.partial(stats.mannwhitneyu, first, second,
                                                              alternative="two-sided"))
        pairs.append((name_a, name_b, statistic, p_value))
    adjusted = adjust_p_values([pair[3] for pair in pairs], adjustment)
    post_hoc = "student_t" if test == "anova" else "mann_whitney_u"
    return [PostHocPair(a, b, post_hoc, s, p, float(q)) for (a, b, s, p), q in zip(pairs, adjusted, strict=True)]


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's χ² test of independence of a contingency table (no continuity correction)."""

    statistic: float
    dof: int
    p_value: float


def chi_square(table: Sequence[Sequence[float]] | np.ndarray) -> ChiSquare:
    """χ² = Σ (O − E)² / E over the cells, E from the margins; rows or columns without counts are dropped.

    No Yates correction (also for 2 × 2 tables), so the statistic is the textbook Pearson χ². Fewer than two
    non-empty rows or columns: NaN.
    """
    counts = np.asarray(table, dtype=np.float64)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0] if counts.size else counts
    if counts.ndim != 2 or min(counts.shape) < 2:
        return ChiSquare(math.nan, 0, math.nan)
    result = stats.chi2_contingency(counts, correction=False)
    return ChiSquare(float(result.statistic), int(result.dof), float(result.pvalue))
