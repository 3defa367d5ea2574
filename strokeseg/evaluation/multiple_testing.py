"""Multiple-comparison correction of a family of p-values (definitions: docs/evaluation.md, "Multiple comparisons").

Pure: p-values in, adjusted p-values out. The adjustments are statsmodels' ``multipletests``; NaN p-values
(tests that could not be computed) are left out of the family and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from strokeseg.evaluation.choices import DEFAULT_P_ADJUSTMENT, P_ADJUSTMENTS

#: Adjustment name (CLI and report, :data:`~strokeseg.evaluation.choices.P_ADJUSTMENTS`) -> statsmodels'
#: ``multipletests`` method.
STATSMODELS_METHODS: dict[str, str | None] = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh", "none": None}


def check_adjustment(method: str) -> str:
    """``method`` if it is one of :data:`P_ADJUSTMENTS`, else ValueError naming the choices."""
    if method not in P_ADJUSTMENTS:
        raise ValueError(f"unknown p-value adjustment {method!r}; choose one of {', '.join(P_ADJUSTMENTS)}")
    return method


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = DEFAULT_P_ADJUSTMENT) -> np.ndarray:
    """Adjusted p-values of one family (same order; NaN in, NaN out; ``none`` returns the raw values).

    Bonferroni: min(1, m·p). Holm: step-down, p₍ᵢ₎ · (m − i + 1) made monotone. BH (Benjamini–Hochberg):
    step-up, p₍ᵢ₎ · m / i made monotone, controls the false discovery rate. m counts the finite p-values.
    """
    statsmodels_method = STATSMODELS_METHODS[check_adjustment(method)]
    values = np.asarray(p_values, dtype=np.float64).ravel()
    adjusted = values.copy()
    finite = ~np.isnan(values)
    if statsmodels_method is None or not finite.any():
        return adjusted
    from statsmodels.stats.multitest import multipletests  # statsmodels loads only when a family is adjusted

    adjusted[finite] = multipletests(values[finite], method=statsmodels_method)[1]
    return adjusted
