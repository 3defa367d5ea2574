"""The experiment tables' statistics added for the papers: learning-curve slope tests and plateau, families and
adjusted p-values of every table of tests, the uncertainty–DSC correlation of the ensemble table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from strokeseg.evaluation import adjust_p_values
from strokeseg.experiments import tables


def _per_case(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["model", "case_id", "dice"])
    table["status"] = "ok"
    for column in ("sensitivity", "precision"):
        table[column] = table["dice"]
    return table


def test_learning_curve_fit_has_slope_tests_and_plateau() -> None:
    means = {"n10": 0.50, "n30": 0.62, "n100": 0.70, "n300": 0.705}
    sizes = {"n10": 10, "n30": 30, "n100": 100, "n300": 300}
    rows = [(model, f"c{i}", mean + 0.01 * (i - 1.5)) for model, mean in means.items() for i in range(4)]
    _, fits = tables.learning_curve_tables(_per_case(rows), sizes)
    assert list(fits.columns) == list(tables.LEARNING_CURVE_FIT_COLUMNS)
    fit = fits[fits["metric"] == "dice"].iloc[0]
    x, y = np.array(list(sizes.values()), dtype=float), np.array(list(means.values()))
    on_log, linear = stats.linregress(np.log(x), y), stats.linregress(x, y)
    assert fit["slope"] == pytest.approx(on_log.slope) and fit["p_value"] == pytest.approx(on_log.pvalue)
    assert fit["linear_slope"] == pytest.approx(linear.slope) and fit["linear_r2"] == pytest.approx(
        linear.rvalue**2)
    assert fit["plateau_training_cases"] == 100  # 0.70 is within 0.01 of the best mean, 0.705
    assert fit["family"] == "dice"  # one family per metric: the fits of all strata
    family = fits[fits["family"] == fit["family"]]
    assert family["p_value_adjusted"].to_numpy() == pytest.approx(
        adjust_p_values(family["p_value"].to_numpy(float), "holm"))


def test_adaptation_table_adjusts_over_the_grid_cells() -> None:
    rows = [("pre", f"c{i}", 0.5) for i in range(6)]
    rows += [("ft4", f"c{i}", 0.6 + 0.01 * i) for i in range(6)] + [("ft8", f"c{i}", 0.5 + 0.02 * (i - 2.5))
                                                                     for i in range(6)]
    grid = tables.adaptation_table({"test": _per_case(rows)},
                                   [{"pretraining_cases": 10, "adaptation_cases": a, "before": "pre", "after": f"ft{a}"}
                                    for a in (4, 8)], adjustment="bonferroni")
    dice = grid[grid["metric"] == "dice"]
    assert list(grid.columns) == list(tables.ADAPTATION_COLUMNS)
    assert set(dice["family"]) == {"test/dice"} and set(dice["p_adjustment"]) == {"bonferroni"}
    assert dice["t_pvalue_adjusted"].to_numpy() == pytest.approx(np.minimum(1.0, 2 * dice["t_pvalue"].to_numpy()))


def test_ensemble_table_correlates_uncertainty_with_dice() -> None:
    dice = [0.9, 0.8, 0.6, 0.4, 0.3]
    index = [0.1, 0.2, 0.3, 0.5, 0.6]
    table = _per_case([("ensemble", f"c{i}", d) for i, d in enumerate(dice)]
                      + [("member", f"c{i}", d - 0.05) for i, d in enumerate(dice)])
    table["vol_ref_ml"] = table["vol_pred_ml"] = 1.0
    table["uncertainty_index"] = index * 2
    result = tables.ensemble_table(table, "ensemble", ["member"],
                                   bootstrap=tables.BootstrapSettings(resamples=20)).set_index("model")
    expected = stats.pearsonr(index, dice)
    assert result.loc["ensemble", "uncertainty_dice_r"] == pytest.approx(expected.statistic)
    assert result.loc["ensemble", "uncertainty_dice_p"] == pytest.approx(expected.pvalue)
    assert result.loc["ensemble", "share_at_or_below_review_cut"] == pytest.approx(3 / 5)
    assert math.isnan(result.loc["ensemble", "wilcoxon_p_vs_ensemble_adjusted"])
    assert result.loc["member", "family"] == "members vs ensemble"


def test_config_takes_the_evaluation_statistics(tmp_path: Path) -> None:
    from test_experiments_units import write_config

    from strokeseg.errors import ConfigurationError
    from strokeseg.experiments.config import load_config

    base = {"kind": "learning-curve", "dataset": 1, "trainer": "T"}
    config = load_config(write_config(tmp_path, {**base, "evaluation": {
        "p_adjust": "bh", "bootstrap_method": "bca", "group_test": "kruskal", "cohort_by": "cohort"}}))
    assert (config.evaluation.p_adjust, config.evaluation.bootstrap_method, config.evaluation.group_test,
            config.evaluation.cohort_by) == ("bh", "bca", "kruskal", "cohort")
    with pytest.raises(ConfigurationError, match="p_adjust: 'sidak' is not one of holm"):
        load_config(write_config(tmp_path, {**base, "evaluation": {"p_adjust": "sidak"}}))
