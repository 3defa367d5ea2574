"""Strata of the evaluation reports (definitions: docs/evaluation.md, "Definitions", "Strata").

Each stratification is a column of the per-case table whose values are stratum labels, with a fixed
display order. Built-in stratifications come from the reference volume (always), from ``cases.csv``
columns when present (onset, location, vendor, site, field strength, chronic infarct, WMH decile) and from
any further ``cases.csv`` column named with ``--by``. Missing values become the stratum ``"unknown"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from strokeseg.defaults import (
    ONSET_EARLY_BELOW_H,
    ONSET_LATE_ABOVE_H,
    VOLUME_LARGE_ABOVE_ML,
    VOLUME_SMALL_BELOW_ML,
    WMH_QUANTILE_GROUPS,
)
from strokeseg.errors import ConfigurationError
from strokeseg.volumes import NO_LESION, UNKNOWN, VOLUME_LEVELS, volume_stratum

#: Location classes of the atlas (docs/location.md), in display order.
LOCATION_LEVELS: tuple[str, ...] = ("cortex", "corona radiata", "basal ganglia & internal capsule", "thalamus",
                                    "midbrain", "pons", "medulla", "cerebellum", "multiple", NO_LESION, UNKNOWN)

#: Stratification names (per-case columns) of the built-in strata, in report order.
VOLUME = "volume_stratum"
ONSET = "onset_stratum"
LOCATION = "location"
WMH_DECILE = "wmh_decile"
#: cases.csv columns used as they are (categorical strata) when present.
CATEGORICAL_CASE_COLUMNS: tuple[str, ...] = ("vendor", "site", "field_strength_t", "chronic_infarct")


@dataclass(frozen=True)
class StrataSettings:
    """Cut-offs of the derived strata (defaults from ``strokeseg.defaults``)."""

    volume_small_below_ml: float = VOLUME_SMALL_BELOW_ML
    volume_large_above_ml: float = VOLUME_LARGE_ABOVE_ML
    onset_early_below_h: float = ONSET_EARLY_BELOW_H
    onset_late_above_h: float = ONSET_LATE_ABOVE_H
    wmh_groups: int = WMH_QUANTILE_GROUPS

    def __post_init__(self) -> None:
        if not 0 <= self.volume_small_below_ml <= self.volume_large_above_ml:
            raise ConfigurationError(f"volume cut-offs must satisfy 0 ≤ small ({self.volume_small_below_ml}) ≤ "
                                     f"large ({self.volume_large_above_ml}) mL")
        if not 0 <= self.onset_early_below_h <= self.onset_late_above_h:
            raise ConfigurationError(f"onset cut-offs must satisfy 0 ≤ early ({self.onset_early_below_h}) ≤ "
                                     f"late ({self.onset_late_above_h}) h")
        if self.wmh_groups < 2:
            raise ConfigurationError(f"WMH quantile groups must be at least 2, got {self.wmh_groups}")

    def onset_levels(self) -> tuple[str, str, str, str]:
        """Onset stratum labels in display order (they name the cut-offs in hours)."""
        early, late = f"{self.onset_early_below_h:g}", f"{self.onset_late_above_h:g}"
        return f"<{early} h", f"{early}-{late} h", f">{late} h", UNKNOWN


def onset_stratum(onset_h: float | None, settings: StrataSettings = StrataSettings()) -> str:
    """< 3 h, 3–24 h (both ends inclusive), > 24 h from ``onset_to_imaging_h``; missing -> "unknown"."""
    if onset_h is None or pd.isna(onset_h):
        return UNKNOWN
    levels = settings.onset_levels()
    if onset_h < settings.onset_early_below_h:
        return levels[0]
    if onset_h > settings.onset_late_above_h:
        return levels[2]
    return levels[1]


def quantile_group_labels(groups: int) -> tuple[str, ...]:
    """Labels of quantile groups, lowest first: D1..D10 for deciles, Q1..Qk otherwise, then "unknown"."""
    prefix = "D" if groups == 10 else "Q"
    return (*(f"{prefix}{k}" for k in range(1, groups + 1)), UNKNOWN)


def quantile_groups(values: Sequence[float] | np.ndarray, groups: int = WMH_QUANTILE_GROUPS) -> list[str]:
    """Quantile group of each value among the given values (WMH deciles over the evaluated cases).

    Group k of g holds the values in (q_{(k-1)/g}, q_{k/g}] of the empirical quantiles (linear
    interpolation), the lowest group also holds the minimum; equal values always share a group, so ties
    may leave some groups empty. Missing values -> "unknown".
    """
    array = np.asarray(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce"), dtype=np.float64)
    labels = quantile_group_labels(groups)
    finite = array[~np.isnan(array)]
    if finite.size == 0:
        return [UNKNOWN] * array.size
    edges = np.quantile(finite, np.linspace(0.0, 1.0, groups + 1)[1:-1])
    indices = np.searchsorted(edges, array, side="left")
    return [UNKNOWN if math.isnan(value) else labels[index] for value, index in zip(array, indices, strict=True)]


def category_label(value: object) -> str:
    """A cases.csv value as a stratum label: booleans yes/no, numbers without trailing zeros; missing "unknown"."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    text = str(value).strip()
    return text if text else UNKNOWN


def _natural_order(labels: Iterable[str]) -> list[str]:
    """Sorted labels: numbers numerically, then text alphabetically, "unknown" last."""
    unique = sorted(set(labels) - {UNKNOWN})

    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    ordered = sorted(unique, key=key)
    return [*ordered, UNKNOWN] if UNKNOWN in set(labels) else ordered


@dataclass(frozen=True)
class Stratification:
    """One stratification: its per-case column and the display order of its levels."""

    name: str
    levels: tuple[str, ...]
    source: str  # what the labels come from, for summary.json


def assign_strata(case_ids: Sequence[str], vol_ref_ml: Sequence[float], cases: pd.DataFrame | None,
                  by: Sequence[str] = (), locations: Mapping[str, str] | None = None,
                  settings: StrataSettings = StrataSettings(),
                  case_locations: bool = True) -> tuple[pd.DataFrame, list[Stratification]]:
    """Stratum labels of every case and the stratifications in report order.

    Args:
        case_ids: evaluated cases.
        vol_ref_ml: their reference volumes in mL (volume strata).
        cases: the ``cases.csv`` table (``read_cases``) or None.
        by: further ``cases.csv`` columns to stratify by.
        locations: case_id -> location label when computed with the atlas (overrides cases.csv).
        settings: cut-offs.
        case_locations: use the cases.csv ``location`` column when ``locations`` is None.

    Returns:
        A table with ``case_id`` and one column per stratification, and the stratifications.

    Raises:
        ConfigurationError: a ``--by`` column is not in ``cases.csv`` (or no ``cases.csv`` was given).
    """
    table = pd.DataFrame({"case_id": list(case_ids)})
    rows = _case_rows(table["case_id"], cases)
    strata: list[Stratification] = []

    def add(name: str, labels: list[str], levels: Sequence[str] | None, source: str) -> None:
        table[name] = labels
        order = [level for level in levels if level in set(labels)] if levels else _natural_order(labels)
        strata.append(Stratification(name, tuple(order), source))

    small, large = settings.volume_small_below_ml, settings.volume_large_above_ml
    add(VOLUME, [volume_stratum(v, small, large) for v in vol_ref_ml], VOLUME_LEVELS, "vol_ref_ml")
    if _has_values(cases, "onset_to_imaging_h"):
        add(ONSET, [onset_stratum(v, settings) for v in rows["onset_to_imaging_h"]], settings.onset_levels(),
            "cases.csv onset_to_imaging_h")
    if locations is not None:
        add(LOCATION, [locations.get(case, UNKNOWN) for case in table["case_id"]], LOCATION_LEVELS, "atlas")
    elif case_locations and _has_values(cases, "location"):
        labels = [category_label(v) for v in rows["location"]]
        known = [level for level in LOCATION_LEVELS if level in set(labels)]
        add(LOCATION, labels, [*known, *_natural_order(set(labels) - set(known))], "cases.csv location")
    for column in CATEGORICAL_CASE_COLUMNS:
        if _has_values(cases, column):
            add(column, [category_label(v) for v in rows[column]], None, f"cases.csv {column}")
    if _has_values(cases, "wmh_volume_ml"):
        add(WMH_DECILE, quantile_groups(rows["wmh_volume_ml"].to_numpy(dtype=float, na_value=np.nan),
                                        settings.wmh_groups),
            quantile_group_labels(settings.wmh_groups), "cases.csv wmh_volume_ml")
    for column in by:
        if cases is None or column not in cases.columns:
            available = ", ".join(cases.columns) if cases is not None else "no cases.csv was given"
            raise ConfigurationError(f"--by {column}: no such column in cases.csv ({available})")
        if column in table.columns:
            continue
        add(column, [category_label(v) for v in rows[column]], None, f"cases.csv {column}")
    return table, strata


def _case_rows(case_ids: pd.Series, cases: pd.DataFrame | None) -> pd.DataFrame:
    """cases.csv rows aligned with ``case_ids`` (all missing where a case has no row)."""
    if cases is None:
        return pd.DataFrame(index=range(len(case_ids)))
    indexed = cases.set_index(cases["case_id"].astype(str))
    return indexed.reindex(case_ids.astype(str).tolist()).reset_index(drop=True)


def _has_values(cases: pd.DataFrame | None, column: str) -> bool:
    return cases is not None and column in cases.columns and bool(cases[column].notna().any())
