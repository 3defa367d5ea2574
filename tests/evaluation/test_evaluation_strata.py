"""Strata definitions (docs/evaluation.md, "Definitions", "Strata")."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from strokeseg.errors import ConfigurationError
from strokeseg.evaluation.strata import StrataSettings, assign_strata, category_label, onset_stratum, quantile_groups
from strokeseg.volumes import NO_LESION, UNKNOWN, volume_stratum


@pytest.mark.parametrize(("volume", "stratum"), [
    (0.0, NO_LESION), (0.001, "small"), (1.6999, "small"), (1.7, "medium"), (14.0, "medium"), (14.0001, "large"),
    (math.nan, UNKNOWN)])
def test_volume_strata_of_noh(volume: float, stratum: str) -> None:
    assert volume_stratum(volume) == stratum


@pytest.mark.parametrize(("hours", "stratum"), [
    (0.5, "<3 h"), (2.999, "<3 h"), (3.0, "3-24 h"), (24.0, "3-24 h"), (24.5, ">24 h"), (None, UNKNOWN),
    (pd.NA, UNKNOWN)])
def test_onset_strata(hours: float | None, stratum: str) -> None:
    assert onset_stratum(hours) == stratum


def test_cut_offs_are_settable() -> None:
    settings = StrataSettings(volume_small_below_ml=5.0, volume_large_above_ml=50.0, onset_early_below_h=4.5,
                              onset_late_above_h=6.0)
    assert volume_stratum(4.0, settings.volume_small_below_ml, settings.volume_large_above_ml) == "small"
    assert onset_stratum(5.0, settings) == "4.5-6 h"
    with pytest.raises(ConfigurationError, match="volume cut-offs"):
        StrataSettings(volume_small_below_ml=20.0, volume_large_above_ml=10.0)


def test_quantile_groups() -> None:
    values = [float(v) for v in range(1, 21)] + [math.nan]
    deciles = quantile_groups(values, 10)
    assert deciles[:2] == ["D1", "D1"] and deciles[18:20] == ["D10", "D10"] and deciles[-1] == UNKNOWN
    assert all(deciles.count(f"D{k}") == 2 for k in range(1, 11))
    assert quantile_groups([1.0, 1.0, 1.0, 2.0], 2) == ["Q1", "Q1", "Q1", "Q2"]  # ties share a group


def test_category_labels() -> None:
    assert [category_label(v) for v in (True, False, pd.NA, 3.0, 1.5, " GE ", "", None)] == [
        "yes", "no", UNKNOWN, "3", "1.5", "GE", UNKNOWN, UNKNOWN]


def test_assign_strata_uses_available_columns_and_by() -> None:
    cases = pd.DataFrame({"case_id": ["a", "b", "c"], "vendor": ["GE", "Siemens", None],
                          "onset_to_imaging_h": [1.0, None, 30.0], "scanner": ["X", "Y", "X"],
                          "location": ["pons", None, "cortex"]})
    table, strata = assign_strata(["a", "b", "c", "d"], [0.0, 2.0, 20.0, 1.0], cases, by=["scanner"])
    assert [s.name for s in strata] == ["volume_stratum", "onset_stratum", "location", "vendor", "scanner"]
    assert table["volume_stratum"].tolist() == [NO_LESION, "medium", "large", "small"]
    assert table["onset_stratum"].tolist() == ["<3 h", UNKNOWN, ">24 h", UNKNOWN]
    assert table["vendor"].tolist() == ["GE", "Siemens", UNKNOWN, UNKNOWN]  # d has no cases.csv row
    assert strata[2].levels == ("cortex", "pons", UNKNOWN)  # atlas order, then unknown
    assert strata[0].levels == ("small", "medium", "large", NO_LESION)  # only levels that occur
    atlas, _ = assign_strata(["a"], [1.0], cases, locations={"a": "thalamus"})
    assert atlas["location"].tolist() == ["thalamus"]
    _, strata_without = assign_strata(["a"], [1.0], cases, case_locations=False)
    assert "location" not in [s.name for s in strata_without]
    with pytest.raises(ConfigurationError, match="--by age: no such column"):
        assign_strata(["a"], [1.0], cases, by=["age"])
    with pytest.raises(ConfigurationError, match=r"no cases\.csv was given"):
        assign_strata(["a"], [1.0], None, by=["vendor"])
