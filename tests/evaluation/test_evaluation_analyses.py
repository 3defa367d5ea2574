"""``strokeseg evaluate``'s further analyses end to end: adjusted p-values with families, group tests, regressions,
the certainty curve, the cohort table, derived strata, a second reader, a majority-vote reference and infarct
labels as a second label source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import test_evaluation_cli
from scipy import stats
from test_evaluation_cli import FAST, SHAPE, evaluate, write_mask

from strokeseg.evaluation.analyses import (
    CERTAINTY_COLUMNS,
    COMPARISON_REPORT_COLUMNS,
    GROUP_TEST_COLUMNS,
    LEARNING_FIT_COLUMNS,
    REGRESSION_COLUMNS,
)
from strokeseg.evaluation.multiple_testing import adjust_p_values
from strokeseg.evaluation.regression import within_case_regression
from strokeseg.evaluation.report import STRATUM_COLUMNS

# The sibling CLI test module is imported by its own name, as pytest imports it (this folder is on sys.path): a
# `tests.evaluation.` prefix would import it a second time, or find another distribution's top-level `tests`
# package (seg-metrics, a benchmark peer, installs one).
#: The 8-case phantom test set of the CLI tests (a fixture).
phantom = test_evaluation_cli.phantom


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"case_id": str, "stratum": str})


def test_comparisons_carry_families_and_adjusted_p(phantom: dict[str, Path]) -> None:
    out = phantom["out"]
    assert evaluate("-pred", phantom["pred"], "--compare", phantom["other"], "-ref", phantom["ref"], "--cases",
                    phantom["cases"], "--out", out, "--p-adjust", "bonferroni", *FAST) == 0
    comparison = _read(out / "comparison.csv")
    assert list(comparison.columns) == list(COMPARISON_REPORT_COLUMNS)
    assert set(comparison["p_adjustment"]) == {"bonferroni"}
    family = comparison[(comparison["test"] == "mann_whitney_u") & (comparison["stratification"] == "site")
                        & (comparison["metric"] == "dice")]
    assert set(family["family"]) == {"mann_whitney_u/site/dice"} and len(family) == 6  # 3 site pairs × 2 models
    expected = adjust_p_values(family["p_value"].to_numpy(float), "bonferroni")
    assert family["p_adjusted"].to_numpy(float) == pytest.approx(expected, nan_ok=True)
    assert (family["p_adjusted"].dropna() >= family["p_value"].dropna()).all()
    by_vendor = _read(out / "by_vendor.csv")
    assert list(by_vendor.columns) == list(STRATUM_COLUMNS)
    dice = by_vendor[(by_vendor["model"] == "pred") & (by_vendor["metric"] == "dice")].iloc[0]
    shapiro_p = dice["shapiro_p"]
    assert dice["display"] == (f"{dice['mean']:.3f} ± {dice['sd']:.3f}" if shapiro_p >= 0.05 else
                               f"{dice['median']:.3f} ({dice['q1']:.3f}–{dice['q3']:.3f})")

    group = _read(out / "group_tests.csv")
    assert list(group.columns) == list(GROUP_TEST_COLUMNS)
    site = group[(group["stratification"] == "site") & (group["metric"] == "dice") & (group["model"] == "pred")]
    omnibus = site[site["group_a"].isna()].iloc[0]
    per_case = _read(out / "per_case.csv")
    mine = per_case[per_case["model"] == "pred"]
    groups = [mine.loc[mine["site"] == s, "dice"].to_numpy(float) for s in ("A", "B", "C")]
    expected_test = stats.f_oneway(*groups) if omnibus["test"] == "anova" else stats.kruskal(*groups)
    assert omnibus["p_value"] == pytest.approx(expected_test.pvalue)
    assert len(site) == 4  # the omnibus test and its 3 pairs
    assert "models" not in set(group["stratification"])  # two models: no omnibus over models

    regression = _read(out / "regressions.csv")
    assert list(regression.columns) == list(REGRESSION_COLUMNS)
    size = regression[(regression["model"] == "pred") & (regression["analysis"] == "dice_vs_log10_lesion_voxels")]
    with_lesion = mine[mine["tp"] + mine["fn"] > 0]
    fit = stats.linregress(np.log10((with_lesion["tp"] + with_lesion["fn"]).to_numpy(float)),
                           with_lesion["dice"].to_numpy(float))
    assert size.iloc[0]["r2"] == pytest.approx(fit.rvalue**2) and size.iloc[0]["n"] == 7
    # strata derived from the evaluated set
    assert {"lesion_size_quartile", "wmh_tertile"} <= set(per_case.columns)
    assert mine.set_index("case_id").loc["case_7", "lesion_size_quartile"] == "no lesion"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["p_adjustment"] == "bonferroni"
    assert "lesion_size_quartile" in [s["name"] for s in summary["stratifications"]]


def test_cohort_table_learning_curve_fit_and_three_models(phantom: dict[str, Path]) -> None:
    cases = pd.read_csv(phantom["cases"])
    cases["split"] = ["train"] * 4 + ["test"] * 4
    cases["age"] = [60.0, 71.0, 55.0, 80.0, 66.0, 59.0, 77.0, 62.0]
    cases.to_csv(phantom["cases"], index=False)
    table = phantom["root"] / "models.csv"
    pd.DataFrame({"name": ["n2", "n4", "n8"], "pred": ["other", "pred", "ref"],
                  "training_cases": [2, 4, 8]}).to_csv(table, index=False)
    out = phantom["out"]
    assert evaluate("--models", table, "-ref", phantom["ref"], "--cases", phantom["cases"], "--out", out,
                    "--group-test", "kruskal", *FAST) == 0
    cohort = _read(out / "cohort.csv")
    age = cohort[cohort["variable"] == "age"].iloc[0]
    assert age["comparison"] in ("anova", "kruskal")
    assert list(cohort.columns[3:6]) == ["train", "test", "total"]
    fits = _read(out / "learning_curve_fit.csv")
    assert list(fits.columns) == list(LEARNING_FIT_COLUMNS) and list(fits["scale"]) == ["linear", "ln"] * 2
    assert list(fits["design"]) == ["pooled", "pooled", "within_case", "within_case"]
    per_case = _read(out / "per_case.csv")
    sizes = per_case["model"].map({"n2": 2, "n4": 4, "n8": 8}).to_numpy(float)
    linear = stats.linregress(sizes, per_case["dice"].to_numpy(float))
    assert fits.iloc[0]["slope"] == pytest.approx(linear.slope) and fits.iloc[0]["p_value"] == pytest.approx(
        linear.pvalue)
    within = fits.iloc[3]  # every test case is scored by all three models: ln(size) within cases
    assert within["n"] == len(per_case) and within["n_cases"] == per_case["case_id"].nunique()
    assert within["slope"] == pytest.approx(within_case_regression(np.log(sizes), per_case["dice"].to_numpy(float),
                                                                   per_case["case_id"].tolist()).slope)
    assert list(fits["family"].unique()) == ["learning_curve_pooled", "learning_curve_within_case"]
    assert fits.iloc[0]["plateau_training_cases"] == 8  # the reference itself (DSC 1) is the best model
    group = _read(out / "group_tests.csv")
    models = group[(group["stratification"] == "models") & (group["metric"] == "dice")]
    assert models.iloc[0]["test"] == "kruskal" and len(models) == 4  # omnibus and three pairs
    assert set(models["test"].iloc[1:]) == {"mann_whitney_u"}
    assert evaluate("--models", table, "-ref", phantom["ref"], "--cases", phantom["cases"], "--out", out,
                    "--overwrite", "--cohort-by", "none", *FAST) == 0
    assert not (out / "cohort.csv").exists()  # the earlier report's table is removed
    assert evaluate("--models", table, "-ref", phantom["ref"], "--cases", phantom["cases"], "--out",
                    phantom["root"] / "bad", "--cohort-by", "hospital", *FAST) == 2  # no such cases.csv column
    assert evaluate("--models", table, "-ref", phantom["ref"], "--out", phantom["root"] / "bad", "--votes", "2",
                    *FAST) == 2  # --votes without readings
    assert not (phantom["root"] / "bad").exists()


def test_reader_majority_vote_reference_and_infarct_labels(phantom: dict[str, Path]) -> None:
    root = phantom["root"]
    rng = np.random.default_rng(4)
    readings = [root / f"reading{k}" for k in range(3)]
    for case in range(8):
        reference = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["ref"] / f"case_{case}.nii.gz"))) > 0
        for reading in readings:  # each reader drops a different 10 % of the voxels
            write_mask(reference & (rng.random(SHAPE) > 0.1), reading / f"case_{case}.nii.gz")
        infarct = np.zeros(SHAPE, dtype=bool)
        infarct[2:4, 5:5 + 2 * case, 5:15] = True  # 2·2·case·10 voxels of 3.0·1.1·0.9 mm³
        write_mask(infarct, root / "infarct" / f"case_{case}.nii.gz")
        ventricles = np.zeros(SHAPE, dtype=bool)
        ventricles[:, 18:22, 16:20] = True  # a column in the middle of the grid
        write_mask(ventricles, root / "ventricles" / f"case_{case}.nii.gz")
    out = phantom["out"]
    assert evaluate("--reference-readings", *readings, "--model", f"model={phantom['pred']}", "--reader",
                    f"reader2={phantom['other']}", "--infarct-labels", root / "infarct", "--out", out,
                    "--inter-rater-dice", "0.744", "--ventricle-masks", root / "ventricles",
                    "--periventricular-distance", "5", "--device", "cpu", "--bootstrap-resamples", "100") == 0
    consensus = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "reference_consensus" / "case_3.nii.gz")))
    votes = sum(sitk.GetArrayFromImage(sitk.ReadImage(str(r / "case_3.nii.gz"))).astype(int) for r in readings)
    assert np.array_equal(consensus > 0, votes >= 2)  # 2 of 3 by default
    comparison = _read(out / "comparison.csv")
    reader = comparison[(comparison["test"] == "reader_mann_whitney_u") & (comparison["metric"] == "dice")
                        & (comparison["stratification"] == "all")].iloc[0]
    per_case = _read(out / "per_case.csv")
    model, other = (per_case.loc[per_case["model"] == m, "dice"].to_numpy(float) for m in ("model", "reader2"))
    assert (reader["model_a"], reader["model_b"]) == ("model", "reader2")
    assert reader["p_value"] == pytest.approx(stats.mannwhitneyu(model, other).pvalue)
    volumes = per_case.drop_duplicates("case_id").set_index("case_id")["infarct_volume_stratum"]
    # 40·case voxels · 2.97 µL: case 1 = 0.12 mL (small), case 5 = 0.59 mL, none above 1.7 mL; case 0 empty
    assert volumes["case_0"] == "no lesion" and volumes["case_1"] == "small"
    subregions = _read(out / "subregions.csv").merge(per_case[["model", "case_id", "vol_ref_ml", "vol_pred_ml"]],
                                                       on=["model", "case_id"])
    assert len(subregions) == 16 and set(subregions["status"]) == {"ok"}
    assert (subregions["vol_ref_ml_periventricular"] + subregions["vol_ref_ml_deep"]).to_numpy() == pytest.approx(
        subregions["vol_ref_ml"].to_numpy(), abs=1e-4)  # the two regions split each mask
    by_subregion = _read(out / "by_subregion.csv")
    assert set(by_subregion["subregion"]) == {"periventricular", "deep"} and set(by_subregion["model"]) == {
        "model", "reader2"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["readers"] == ["reader2"] and summary["settings"]["periventricular_mm"] == 5
    for png in ("dice_by_volume_stratum.png", "dice_by_infarct_volume_stratum.png", "dice_vs_lesion_size.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
    assert evaluate("--reference-readings", readings[0], "--model", f"m={phantom['pred']}", "--out",
                    root / "x", *FAST) == 2  # one reading is no vote
    assert evaluate("-pred", phantom["pred"], "--out", root / "y", *FAST) == 2  # no reference at all


def test_uncertainty_correlation_certainty_curve_and_strata(phantom: dict[str, Path]) -> None:
    rng = np.random.default_rng(1)
    member = phantom["root"] / "member"
    member.mkdir()
    for case in range(8):
        prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["pred"] / f"case_{case}.nii.gz")))
        foreground = np.clip(0.6 * prediction + rng.uniform(0.0, 0.4 * (case + 1) / 8, SHAPE), 0, 1)
        np.savez_compressed(member / f"case_{case}.npz",
                            probabilities=np.stack([1 - foreground, foreground]).astype(np.float32))
    out = phantom["out"]
    assert evaluate("-pred", phantom["pred"], "-ref", phantom["ref"], "--out", out, "--probabilities", member,
                    "--device", "cpu", "--bootstrap-resamples", "100", "--bootstrap-method", "bca") == 0
    per_case = _read(out / "per_case.csv")
    ok = per_case.dropna(subset=["uncertainty_index"])
    regression = _read(out / "regressions.csv").set_index("analysis").loc["dice_vs_uncertainty_index"]
    expected = stats.pearsonr(ok["uncertainty_index"].to_numpy(float), ok["dice"].to_numpy(float))
    assert regression["r"] == pytest.approx(expected.statistic) and regression["p_value"] == pytest.approx(
        expected.pvalue)
    curve = _read(out / "certainty_curve.csv")
    assert list(curve.columns) == list(CERTAINTY_COLUMNS) and curve["percent"].iloc[-1] == 100
    assert curve["mean_dice"].iloc[-1] == pytest.approx(ok["dice"].mean())
    assert {"uncertainty_stratum", "uncertainty_review"} <= set(per_case.columns)
    assert set(per_case["uncertainty_review"]) <= {"≤0.35", ">0.35", "unknown"}
    for png in ("uncertainty_vs_dice.png", "certainty_curve.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["bootstrap"]["method"] == "bca"
