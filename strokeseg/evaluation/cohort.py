"""The cohort characteristics table ("Table 1") of cases.csv columns across case sets (docs/evaluation.md).

Pure: a cases table in, a table out. Every paper has one: per variable and set (training, internal test,
external test, ...) the summary of a continuous variable — mean ± SD when Shapiro–Wilk keeps normality in every
set, median (IQR) otherwise — or the counts (%) of each category, with one test across the sets: ANOVA (all sets
normal) or Kruskal–Wallis for continuous variables, Pearson's χ² for categorical ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from strokeseg.defaults import NORMALITY_ALPHA
from strokeseg.evaluation.group_tests import chi_square, omnibus_test, shapiro_wilk
from strokeseg.evaluation.strata import category_label
from strokeseg.volumes import UNKNOWN

#: Columns of ``cohort.csv``: one row per variable and level (``level`` empty for a continuous variable).
COHORT_COLUMNS_PREFIX: tuple[str, ...] = ("variable", "level", "kind")
COHORT_TEST_COLUMNS: tuple[str, ...] = ("comparison", "statistic", "p_value")
#: cases.csv columns never described: identifiers and file paths.
NOT_DESCRIBED: frozenset[str] = frozenset({"case_id", "split"})
#: Columns with more distinct text values than this are identifiers, not categories (left out).
MAX_CATEGORIES = 20
TOTAL = "total"


def cohort_columns(sets: Sequence[str]) -> list[str]:
    """Column order of the table for the given set names: variable, level, kind, one column per set,
    ``total``, then comparison (the test), statistic, p_value. A set named like a fixed column gets the
    prefix ``set `` (``set total``)."""
    return [*COHORT_COLUMNS_PREFIX, *map(set_column, sets), TOTAL, *COHORT_TEST_COLUMNS]


def set_column(name: str) -> str:
    """The column of a set: its name, or ``set <name>`` when the name is a fixed column."""
    return f"set {name}" if name in {*COHORT_COLUMNS_PREFIX, TOTAL, *COHORT_TEST_COLUMNS} else name


def describable_columns(cases: pd.DataFrame, group_column: str) -> list[str]:
    """cases.csv columns the table describes: numeric, boolean, or text with at most :data:`MAX_CATEGORIES`
    values; never the case id, the group column or path-like text."""
    columns = []
    for column in cases.columns:
        if column in NOT_DESCRIBED or column == group_column or cases[column].notna().sum() == 0:
            continue
        if _is_continuous(cases[column]):
            columns.append(column)
            continue
        text = cases[column].dropna().astype(str)
        if text.nunique() <= MAX_CATEGORIES and not text.str.contains("/").any():
            columns.append(column)
    return columns


def cohort_table(cases: pd.DataFrame, group_column: str, columns: Sequence[str] | None = None,
                 alpha: float = NORMALITY_ALPHA, digits: int = 2) -> pd.DataFrame:
    """Table 1 of ``cases`` grouped by ``group_column`` (schema :func:`cohort_columns`).

    Continuous variable (numeric column): one row, ``kind`` ``mean ± SD`` or ``median (IQR)``; each cell is the
    summary of that set (IQR written Q1–Q3); comparison ``anova`` or ``kruskal`` over the sets with values.
    Categorical variable: one row per category, cells ``count (percent %)`` of the set's cases with a value
    (missing values are left out of the percentages and counted in the row ``unknown``); ``chi_square``
    over the known categories. Rows with a missing group are left out.

    Raises:
        KeyError: ``group_column`` or a column of ``columns`` is not in ``cases``.
    """
    for column in (group_column, *(columns or ())):
        if column not in cases.columns:
            raise KeyError(column)
    table = cases[cases[group_column].notna()].copy()
    table[group_column] = table[group_column].astype(str)
    sets = list(dict.fromkeys(table[group_column]))
    rows: list[dict[str, object]] = []
    for column in columns if columns is not None else describable_columns(cases, group_column):
        if _is_continuous(table[column]):
            rows.append(_continuous_row(table, column, group_column, sets, alpha, digits))
        else:
            rows += _categorical_rows(table, column, group_column, sets)
    return pd.DataFrame(rows, columns=cohort_columns(sets))


def _is_continuous(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _continuous_row(table: pd.DataFrame, column: str, group_column: str, sets: Sequence[str], alpha: float,
                    digits: int) -> dict[str, object]:
    values = {name: table.loc[table[group_column] == name, column].to_numpy(dtype=float, na_value=np.nan)
              for name in sets}
    everything = table[column].to_numpy(dtype=float, na_value=np.nan)
    normal = all(shapiro_wilk(array, alpha).normal for array in values.values() if np.isfinite(array).any())
    result = omnibus_test({name: array for name, array in values.items() if np.isfinite(array).any()},
                          "anova" if normal else "kruskal")
    row: dict[str, object] = {"variable": column, "level": "", "kind": "mean ± SD" if normal else "median (IQR)"}
    row |= {set_column(name): _continuous_cell(array, normal, digits) for name, array in values.items()}
    row[TOTAL] = _continuous_cell(everything, normal, digits)
    return row | {"comparison": result.test, "statistic": result.statistic,
                  "p_value": result.p_value}


def _continuous_cell(values: np.ndarray, normal: bool, digits: int) -> str:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "–"
    if normal:
        sd = np.std(finite, ddof=1) if finite.size > 1 else math.nan
        return f"{finite.mean():.{digits}f} ± {sd:.{digits}f}"
    q1, median, q3 = np.percentile(finite, [25.0, 50.0, 75.0])
    return f"{median:.{digits}f} ({q1:.{digits}f}–{q3:.{digits}f})"


def _categorical_rows(table: pd.DataFrame, column: str, group_column: str,
                      sets: Sequence[str]) -> list[dict[str, object]]:
    labels = table[column].map(category_label)
    levels = sorted(set(labels) - {UNKNOWN}, key=str)
    counts = pd.crosstab(labels, table[group_column]).reindex(index=[*levels, UNKNOWN], columns=sets, fill_value=0)
    known = counts.loc[levels]
    test = chi_square(known.to_numpy())
    rows = []
    for level in [*levels, *([UNKNOWN] if counts.loc[UNKNOWN].sum() else [])]:
        row: dict[str, object] = {"variable": column, "level": level, "kind": "n (%)"}
        for name in sets:
            row[set_column(name)] = _count_cell(int(counts.at[level, name]), int(known[name].sum()), level)
        row[TOTAL] = _count_cell(int(counts.loc[level].sum()), int(known.to_numpy().sum()), level)
        first = level == levels[0] if levels else False
        rows.append(row | {"comparison": "chi_square" if first else "",
                           "statistic": test.statistic if first else math.nan,
                           "p_value": test.p_value if first else math.nan})
    return rows


def _count_cell(count: int, known: int, level: str) -> str:
    if level == UNKNOWN or known == 0:
        return str(count)
    return f"{count} ({100.0 * count / known:.1f} %)"

