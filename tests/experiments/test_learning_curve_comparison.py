"""A learning curve's comparison arm (Swin UNETR beside the U-Net) and draws: the config, the jobs of both arms on
the same subsamples (every draw), the paired table per training-set size on hand-made per-case values, and the
results files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from strokeseg.errors import ConfigurationError
from strokeseg.evaluation import adjust_p_values, describe
from strokeseg.experiments import tables
from strokeseg.experiments.aggregate import aggregate
from strokeseg.experiments.config import ComparisonArm, load_config
from strokeseg.experiments.recipes import build_graph
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.synthetic.toy import write_toy_dataset

UNET, SWIN = "nnUNetTrainer_strokeseg_Noh2023_Tiny", "nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny"
#: Hand-made DSC per test case: the U-Net at 10 and 20 training cases, Swin UNETR = U-Net + DIFFERENCES.
REFERENCE = {10: [0.50, 0.60, 0.70, 0.80, 0.40], 20: [0.70, 0.75, 0.80, 0.85, 0.60]}
DIFFERENCES = {10: [0.10, 0.20, 0.30, 0.40, 0.25], 20: [-0.10, 0.05, -0.20, -0.15, -0.05]}


def write_config(tmp_path: Path, content: dict) -> Path:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    base = {"nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed), "results": str(paths.results)},
            "output": "out", "kind": "learning-curve", "dataset": 1, "trainer": UNET}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({**base, **content}))
    return path


def known_per_case() -> pd.DataFrame:
    """Both arms at both sizes on cases c0-c4; the Swin model of size 20 has no result for c4 (left out of the
    pair)."""
    rows = []
    for size, values in REFERENCE.items():
        for case, (value, difference) in enumerate(zip(values, DIFFERENCES[size], strict=True)):
            rows.append((f"n{size}", f"c{case}", value))
            if not (size == 20 and case == 4):
                rows.append((f"swin_n{size}", f"c{case}", value + difference))
    table = pd.DataFrame(rows, columns=["model", "case_id", "dice"])
    table["status"] = "ok"
    table["sensitivity"] = table["precision"] = table["dice"]
    return table


PAIRS = [{"training_cases": size, "reference": f"n{size}", "comparison": f"swin_n{size}"} for size in (10, 20)]


def test_the_comparison_arm_is_read_and_checked(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"comparison": {"trainer": SWIN, "name": "swin_unetr"}}))
    assert config.comparison == ComparisonArm(SWIN, "swin_unetr")
    assert load_config(write_config(tmp_path, {})).comparison is None
    with pytest.raises(ConfigurationError, match=r"comparison\.trainer: the comparison arm trains"):
        load_config(write_config(tmp_path, {"comparison": {"trainer": UNET}}))
    with pytest.raises(ConfigurationError, match=r"comparison\.name: expected a model-name prefix"):
        load_config(write_config(tmp_path, {"comparison": {"trainer": SWIN, "name": "swin unetr"}}))
    with pytest.raises(ConfigurationError, match=r"comparison\.epochs: unknown key"):
        load_config(write_config(tmp_path, {"comparison": {"trainer": SWIN, "epochs": 3}}))
    with pytest.raises(ConfigurationError, match="comparison: unknown key"):  # learning curves only
        load_config(write_config(tmp_path, {"kind": "ensemble", "comparison": {"trainer": SWIN}}))


def test_both_arms_train_on_the_same_subsamples_and_share_one_evaluation(tmp_path: Path) -> None:
    config_file = write_config(tmp_path, {"comparison": {"trainer": SWIN, "name": "swin"},
                                          "split": {"fractions": [0.5, 1.0]}})
    write_toy_dataset(NnunetPaths.under(tmp_path).raw, 1, "Toy", num_training=12, num_test=2, shape=(4, 8, 8))
    graph = build_graph(load_config(config_file))
    trains = {job.id: job.step for job in graph if job.id.startswith("train/")}
    assert sorted(trains) == ["train/n12", "train/n6", "train/swin_n12", "train/swin_n6"]
    for size in (6, 12):
        unet, swin = trains[f"train/n{size}"], trains[f"train/swin_n{size}"]
        assert (unet.model.trainer, swin.model.trainer) == (UNET, SWIN)  # type: ignore[attr-defined]
        assert unet.fold == swin.fold  # type: ignore[attr-defined]  # the same subsample
        assert unet.model.plans == swin.model.plans  # type: ignore[attr-defined]
    evaluate = graph.jobs["evaluate/test"].step
    assert [m.name for m in evaluate.models] == ["n6", "n12", "swin_n6", "swin_n12"]  # type: ignore[attr-defined]
    spec = graph.jobs["aggregate"].step.spec  # type: ignore[attr-defined]
    assert spec["models"] == ["n6", "n12"]  # the U-Net's curve is the learning curve
    assert spec["comparison"] == {"reference_trainer": UNET, "comparison_trainer": SWIN, "pairs": [
        {"training_cases": 6, "reference": "n6", "comparison": "swin_n6"},
        {"training_cases": 12, "reference": "n12", "comparison": "swin_n12"}]}


def test_the_comparison_table_pairs_the_same_cases_per_size() -> None:
    table = tables.learning_curve_comparison_table(known_per_case(), PAIRS, adjustment="holm")
    assert list(table.columns) == list(tables.COMPARISON_COLUMNS)
    dice = table[table["metric"] == "dice"].set_index("training_cases")
    assert dice.loc[10, "n"] == 5 and dice.loc[20, "n"] == 4  # c4 has no Swin result at 20: left out of the pair
    for size, n in ((10, 5), (20, 4)):
        reference = np.array(REFERENCE[size][:n])
        difference = np.array(DIFFERENCES[size][:n])
        assert dice.loc[size, "reference_mean"] == pytest.approx(reference.mean())
        assert dice.loc[size, "comparison_mean"] == pytest.approx((reference + difference).mean())
        assert dice.loc[size, "mean_diff"] == pytest.approx(difference.mean())
        assert dice.loc[size, "t_pvalue"] == pytest.approx(stats.ttest_rel(reference + difference, reference).pvalue)
        interval = describe(difference)  # bootstrap CI of the mean case-wise difference, the project's settings
        assert (dice.loc[size, "diff_ci_low"], dice.loc[size, "diff_ci_high"]) == pytest.approx(
            (interval.ci_low, interval.ci_high))
        assert dice.loc[size, "diff_ci_low"] <= difference.mean() <= dice.loc[size, "diff_ci_high"]
    # five positive differences, exact Wilcoxon: 2 / 2**5
    assert dice.loc[10, "wilcoxon_pvalue"] == pytest.approx(2 / 32)
    assert dice.loc[10, "diff_ci_low"] > 0 > dice.loc[20, "mean_diff"]
    # adjusted over the sizes of one metric (Holm)
    assert set(dice["family"]) == {"dice"} and set(dice["p_adjustment"]) == {"holm"}
    assert dice["wilcoxon_pvalue_adjusted"].to_numpy() == pytest.approx(
        adjust_p_values(dice["wilcoxon_pvalue"].to_numpy(float), "holm"))
    assert dice.loc[10, "wilcoxon_pvalue_adjusted"] > dice.loc[10, "wilcoxon_pvalue"]


def test_aggregate_writes_the_comparison_table_figure_and_summary(tmp_path: Path) -> None:
    report = tmp_path / "evaluation"
    report.mkdir()
    known_per_case().to_csv(report / "per_case.csv", index=False)
    (report / "summary.json").write_text(json.dumps({"settings": {"bootstrap": {"resamples": 200, "seed": 0,
                                                                                "confidence": 0.95}},
                                                     "stratifications": []}))
    spec = {"evaluation": str(report), "models": ["n10", "n20"], "training_cases": [10, 20],
            "comparison": {"reference_trainer": UNET, "comparison_trainer": SWIN, "pairs": PAIRS}}
    written = [path.name for path in aggregate("learning-curve", "swin", spec, tmp_path / "results")]
    assert "learning_curve_comparison.csv" in written and "learning_curve_comparison.png" in written
    table = pd.read_csv(tmp_path / "results" / "learning_curve_comparison.csv")
    assert table[table["metric"] == "dice"]["mean_diff"].tolist() == pytest.approx([0.25, -0.1])
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert f"{SWIN} (comparison) vs {UNET} (reference)" in summary
    assert "![learning_curve_comparison](learning_curve_comparison.png)" in summary
    # without a comparison arm: no comparison files
    del spec["comparison"]
    assert not any("comparison" in path.name for path in aggregate("learning-curve", "unet", spec, tmp_path / "one"))


def test_draws_train_one_model_per_distinct_subsample_in_both_arms(tmp_path: Path) -> None:
    write_toy_dataset(NnunetPaths.under(tmp_path).raw, 1, "Toy", num_training=12, num_test=2, shape=(4, 8, 8))
    assert "draws" not in load_config(write_config(tmp_path, {})).learning_curve_options()  # old signatures kept
    with pytest.raises(ConfigurationError, match=r"split\.draws: expected at least 1 draw"):
        load_config(write_config(tmp_path, {"split": {"draws": 0}}))
    with pytest.raises(ConfigurationError, match=r"split\.draws: unknown key"):  # learning curves only
        load_config(write_config(tmp_path, {"kind": "ensemble", "split": {"draws": 2}}))
    # 0.5 and 0.52 of 12 cases are both 6 cases: the same subsample within each draw, trained once per draw
    config = load_config(write_config(tmp_path, {"comparison": {"trainer": SWIN, "name": "swin"},
                                                 "split": {"fractions": [0.5, 0.52, 1.0], "draws": 2}}))
    assert config.learning_curve_options()["draws"] == 2
    graph = build_graph(config)
    trains = {job.id.removeprefix("train/"): job.step for job in graph if job.id.startswith("train/")}
    assert sorted(trains) == ["n12", "n6", "n6_draw2", "swin_n12", "swin_n6", "swin_n6_draw2"]
    assert ("draws", 2) in graph.jobs["split/1"].step.options  # type: ignore[attr-defined]
    folds = {name: trains[name].fold for name in ("n6", "n6_draw2", "n12")}  # type: ignore[attr-defined]
    assert folds == {"n6": 0, "n6_draw2": 1, "n12": 4}  # folds 2 and 3 (0.52) repeat folds 0 and 1
    assert trains["swin_n6_draw2"].fold == 1  # type: ignore[attr-defined]
    evaluated = graph.jobs["evaluate/test"].step.models  # type: ignore[attr-defined]
    assert {m.name: m.training_cases for m in evaluated if not m.name.startswith("swin")} == {
        "n6": 6, "n6_draw2": 6, "n12": 12}
    spec = graph.jobs["aggregate"].step.spec  # type: ignore[attr-defined]
    assert spec["models"] == ["n6", "n6_draw2", "n12"] and spec["training_cases"] == [6, 6, 12]
    assert [pair["comparison"] for pair in spec["comparison"]["pairs"]] == ["swin_n6", "swin_n6_draw2", "swin_n12"]


def test_aggregate_fits_every_draw_as_a_point_of_the_curve(tmp_path: Path) -> None:
    report = tmp_path / "evaluation"
    report.mkdir()
    per_case = known_per_case()
    draw2 = per_case[per_case["model"] == "n10"].assign(model="n10_draw2")
    draw2["dice"] = draw2["sensitivity"] = draw2["precision"] = draw2["dice"] - 0.1
    pd.concat([per_case, draw2]).to_csv(report / "per_case.csv", index=False)
    (report / "summary.json").write_text(json.dumps({"settings": {"bootstrap": {"resamples": 200, "seed": 0,
                                                                                "confidence": 0.95}},
                                                     "stratifications": []}))
    spec = {"evaluation": str(report), "models": ["n10", "n10_draw2", "n20"], "training_cases": [10, 10, 20]}
    written = [path.name for path in aggregate("learning-curve", "draws", spec, tmp_path / "results")]
    assert {"learning_curve.csv", "learning_curve_fit.csv", "learning_curve.png"} <= set(written)
    points = pd.read_csv(tmp_path / "results" / "learning_curve.csv")
    dice = points[points["metric"] == "dice"].set_index("model")
    assert dice.loc["n10_draw2", "training_cases"] == 10
    assert dice.loc["n10_draw2", "mean"] == pytest.approx(np.mean(REFERENCE[10]) - 0.1)
    fit = pd.read_csv(tmp_path / "results" / "learning_curve_fit.csv")
    overall = fit[(fit["metric"] == "dice") & (fit["stratification"] == "all")].iloc[0]
    sizes = np.log([10, 10, 20])
    means = [np.mean(REFERENCE[10]), np.mean(REFERENCE[10]) - 0.1, np.mean(REFERENCE[20])]
    assert overall["n_models"] == 3
    assert overall["slope"] == pytest.approx(stats.linregress(sizes, means).slope)
