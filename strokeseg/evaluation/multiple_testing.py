"""Multiple-comparison correction of a family of p-values (definitions: docs/evaluation.md, "Multiple comparisons").

Pure: p-values in, adjusted p-values out. Benjamini–Hochberg is scipy's ``false_discovery_control``; Bonferroni
and Holm are one line each (statsmodels' ``multipletests`` runs a full garbage collection on every Holm call,
about 0.4 s in a report process, and a report adjusts hundreds of families). NaN p-values (tests that could not
be computed) are left out of the family and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from strokeseg.evaluation.choices import DEFAULT_P_ADJUSTMENT, P_ADJUSTMENTS


def check_adjustment(method: str) -> str:
    """``method`` if it is one of :data:`~strokeseg.evaluation.choices.P_ADJUSTMENTS`, else ValueError."""
    if method not in P_ADJUSTMENTS:
        raise ValueError(f"unknown p-value adjustment {method!r}; choose one of {', '.join(P_ADJUSTMENTS)}")
    return method


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = DEFAULT_P_ADJUSTMENT) -> np.ndarray:
    """Adjusted p-values of one family (same order; NaN in, NaN out; ``none`` returns the raw values).

    With the m finite p-values sorted, p₍₁₎ ≤ … ≤ p₍ₘ₎: Bonferroni min(1, m·p); Holm (step-down)
    max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎); BH (Benjamini–Hochberg step-up, false discovery rate)
    min over j ≥ i of min(1, m·p₍ⱼ₎ / j).
    """
    check_adjustment(method)
    values = np.asarray(p_values, dtype=np.float64).ravel()
    adjusted = values.copy()
    finite = ~np.isnan(values)
    if method == "none" or not finite.any():
        return adjusted
    p = values[finite]
    m = p.size
    if method == "bonferroni":
        adjusted[finite] = np.minimum(1.0, m * p)
    elif method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
        result = np.empty(m)
        result[order] = stepped
        adjusted[finite] = result
    else:
        adjusted[finite] = stats.false_discovery_control(p, method="bh")
    return adjusted
