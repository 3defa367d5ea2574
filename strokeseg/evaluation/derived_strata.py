"""Strata derived from the evaluated set itself (definitions: docs/evaluation.md, "Strata").

Beside the fixed cut-offs of :mod:`strokeseg.evaluation.strata`, the papers stratify by the distribution of
the evaluated cases: Tomita et al.'s lesion-size quartiles by reference voxel count (Table 4), Kim et al.'s
WMH-volume tertiles and uncertainty-index strata (low / medium / high tertiles and the 0.35 review cut), and
Kim et al.'s infarct-volume strata of a WMH model, computed from each case's *infarct* mask (a second label
source) rather than from the WMH mask being evaluated. Pure: per-case values in, labels out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from strokeseg.defaults import (
    LESION_SIZE_QUANTILE_GROUPS,
    UNCERTAINTY_REVIEW_CUT,
    WMH_TERTILE_GROUPS,
)
from strokeseg.evaluation.strata import StrataSettings, Stratification, quantile_group_labels, quantile_groups
from strokeseg.volumes import UNKNOWN, VOLUME_LEVELS, volume_stratum

LESION_SIZE_QUARTILE = "lesion_size_quartile"
WMH_TERTILE = "wmh_tertile"
UNCERTAINTY_TERTILE = "uncertainty_stratum"
UNCERTAINTY_REVIEW = "uncertainty_review"
INFARCT_VOLUME = "infarct_volume_stratum"
#: Labels of the uncertainty tertiles, lowest index (most certain) first.
UNCERTAINTY_LEVELS: tuple[str, ...] = ("low", "medium", "high", UNKNOWN)


def review_levels(cut: float = UNCERTAINTY_REVIEW_CUT) -> tuple[str, str, str]:
    """Labels of the review strata: index at most the cut, above it, unknown."""
    return f"≤{cut:g}", f">{cut:g}", UNKNOWN


def review_stratum(index: float, cut: float = UNCERTAINTY_REVIEW_CUT) -> str:
    """``≤cut`` or ``>cut`` of an uncertainty index (Kim et al.: above the cut needs human review); NaN: unknown."""
    levels = review_levels(cut)
    if index is None or math.isnan(index):
        return levels[2]
    return levels[0] if index <= cut else levels[1]


def derived_strata(case_ids: Sequence[str], reference_voxels: Sequence[float],
                   uncertainty: Sequence[float] | None = None, wmh_volume_ml: Sequence[float] | None = None,
                   infarct_volume_ml: Sequence[float] | None = None, settings: StrataSettings = StrataSettings(),
                   review_cut: float = UNCERTAINTY_REVIEW_CUT) -> tuple[pd.DataFrame, list[Stratification]]:
    """Stratum labels of the derived stratifications, and the stratifications in report order.

    Args:
        case_ids: evaluated cases.
        reference_voxels: each case's reference lesion voxel count (quartiles over the cases with a lesion;
            cases without a lesion are ``no lesion``).
        uncertainty: each case's uncertainty index (of the baseline model), or None.
        wmh_volume_ml: each case's WMH volume in mL (cases.csv), or None.
        infarct_volume_ml: each case's infarct volume in mL from a second label source, or None.
        settings: the volume cut-offs of the infarct strata.
        review_cut: the uncertainty review cut.

    Returns:
        A table with ``case_id`` and one column per stratification, and the stratifications.
    """
    table = pd.DataFrame({"case_id": list(case_ids)})
    strata: list[Stratification] = []

    def add(name: str, labels: list[str], levels: Sequence[str], source: str) -> None:
        table[name] = labels
        strata.append(Stratification(name, tuple(level for level in levels if level in set(labels)), source))

    voxels = np.asarray(reference_voxels, dtype=np.float64)
    with_lesion = np.where(voxels > 0, voxels, np.nan)
    size_labels = quantile_groups(with_lesion, LESION_SIZE_QUANTILE_GROUPS)
    size_labels = ["no lesion" if v == 0 else label for v, label in zip(voxels, size_labels, strict=True)]
    add(LESION_SIZE_QUARTILE, size_labels, (*quantile_group_labels(LESION_SIZE_QUANTILE_GROUPS)[:-1], "no lesion",
                                            UNKNOWN), "reference voxel count (tp + fn)")
    if wmh_volume_ml is not None and _any_finite(wmh_volume_ml):
        add(WMH_TERTILE, quantile_groups(np.asarray(wmh_volume_ml, dtype=float), WMH_TERTILE_GROUPS),
            quantile_group_labels(WMH_TERTILE_GROUPS), "cases.csv wmh_volume_ml")
    if infarct_volume_ml is not None and _any_finite(infarct_volume_ml):
        add(INFARCT_VOLUME, [volume_stratum(v, settings.volume_small_below_ml, settings.volume_large_above_ml)
                             for v in np.asarray(infarct_volume_ml, dtype=float)], VOLUME_LEVELS,
            "infarct volume (second label source)")
    if uncertainty is not None and _any_finite(uncertainty):
        index = np.asarray(uncertainty, dtype=np.float64)
        tertiles = quantile_groups(index, 3)
        names = dict(zip(quantile_group_labels(3), UNCERTAINTY_LEVELS, strict=True))
        add(UNCERTAINTY_TERTILE, [names[label] for label in tertiles], UNCERTAINTY_LEVELS,
            "tertiles of the baseline model's uncertainty_index")
        add(UNCERTAINTY_REVIEW, [review_stratum(float(v), review_cut) for v in index], review_levels(review_cut),
            "baseline model's uncertainty_index against the review cut")
    return table, strata


def values_by_case(case_ids: Sequence[str], values: Mapping[str, float]) -> list[float]:
    """``values`` in the order of ``case_ids`` (NaN where a case has none)."""
    return [float(values.get(case, math.nan)) for case in case_ids]


def _any_finite(values: Sequence[float] | np.ndarray) -> bool:
    return bool(np.isfinite(np.asarray(values, dtype=np.float64)).any())
