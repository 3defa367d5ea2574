"""The demo's findings, computed from evaluation reports (per_case.csv) written here with known numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strokeseg.evaluation.analyses import learning_curve_fits
from strokeseg.experiments.recipes.demo.findings import FINDINGS_FILE, compute_findings, write_findings
from strokeseg.experiments.recipes.demo.layout import CONTROL, FINETUNED, SOURCE, SOURCE_PP
from strokeseg.experiments.recipes.demo.summary import findings_table, regression_section

N = 12


def _write(out: Path, test_set: str, dice: dict[str, np.ndarray], volumes: np.ndarray) -> None:
    report = out / "evaluation" / test_set
    report.mkdir(parents=True, exist_ok=True)
    rows = [{"case_id": f"{test_set}_{i:03d}", "model": model, "status": "ok", "dice": float(values[i]),
             "vol_ref_ml": float(volumes[i])} for model, values in dice.items() for i in range(N)]
    pd.DataFrame(rows).to_csv(report / "per_case.csv", index=False)


def _study(out: Path, shift: float, adaptation: float, postprocessing: float) -> None:
    """Internal DSC ~0.8, external ~0.8 - shift; fine-tuning adds ``adaptation`` externally, the control nothing;
    small infarcts (the first third) score 0.2 lower; post-processing adds ``postprocessing``."""
    rng = np.random.default_rng(3)
    volumes = np.array([0.5] * 4 + [5.0] * 4 + [20.0] * 4)
    small = np.where(volumes < 1.7, -0.2, 0.0)
    for test_set, base in (("internal_test", 0.8), ("external_test", 0.8 - shift)):
        source = np.clip(base + small + rng.normal(0, 0.02, N), 0, 1)
        gain = adaptation if test_set == "external_test" else 0.0
        _write(out, test_set, {SOURCE: source, SOURCE_PP: np.clip(source + postprocessing, 0, 1),
                               FINETUNED: np.clip(source + gain + rng.normal(0, 0.01, N), 0, 1),
                               CONTROL: np.clip(source + rng.normal(0, 0.01, N), 0, 1)}, volumes)


def _by_name(out: Path) -> dict[str, object]:
    return {finding.name: finding for finding in compute_findings(out, resamples=500)}


def test_findings_hold_on_a_study_that_shows_them(tmp_path: Path) -> None:
    _study(tmp_path, shift=0.3, adaptation=0.25, postprocessing=0.0)
    findings = _by_name(tmp_path)
    assert list(findings) == ["vendor_gap", "adaptation_vs_control", "adaptation_closes_gap",
                              "small_infarcts_lowest", "postprocessing_internal_test", "postprocessing_external_test"]
    assert all(finding.holds for finding in findings.values()), [f.explanation for f in findings.values()]
    gap = findings["vendor_gap"]
    assert gap.statistic == pytest.approx(0.3, abs=0.03) and gap.ci[0] > 0 and gap.p < 0.01 and gap.n == 2 * N
    assert findings["adaptation_vs_control"].statistic == pytest.approx(0.25, abs=0.02)
    assert findings["adaptation_closes_gap"].statistic == pytest.approx(0.25 / 0.3, abs=0.1)
    assert findings["small_infarcts_lowest"].statistic == pytest.approx(-0.2, abs=0.03)
    assert findings["postprocessing_external_test"].statistic == 0.0  # the identity kept: never lower


def test_findings_that_do_not_show_say_so(tmp_path: Path) -> None:
    _study(tmp_path, shift=0.0, adaptation=0.0, postprocessing=-0.05)
    findings = _by_name(tmp_path)
    for name in ("vendor_gap", "adaptation_vs_control", "adaptation_closes_gap", "postprocessing_internal_test"):
        assert not findings[name].holds, name
    assert "no gap shown to close" in findings["adaptation_closes_gap"].explanation
    assert "extra training on the source data does as well" in findings["adaptation_vs_control"].explanation
    assert "lowered" in findings["postprocessing_internal_test"].explanation
    assert findings["small_infarcts_lowest"].holds  # the strata still differ


def test_small_infarcts_finding_needs_another_stratum(tmp_path: Path) -> None:
    for test_set in ("internal_test", "external_test"):
        _write(tmp_path, test_set, {SOURCE: np.full(N, 0.5), SOURCE_PP: np.full(N, 0.5), FINETUNED: np.full(N, 0.5),
                                    CONTROL: np.full(N, 0.5)}, np.full(N, 0.5))
    small = _by_name(tmp_path)["small_infarcts_lowest"]
    assert not small.holds and "no test set holds small infarcts and another" in small.explanation and small.n == 0


def _strata_study(out: Path, external_small: float) -> None:
    """Internal: small 0.6, large 0.9; external (the shifted vendor): small ``external_small``, medium 0.4 —
    pooled, the external medium infarcts score below the internal small ones."""
    internal_volumes, external_volumes = np.array([0.5] * 6 + [20.0] * 6), np.array([0.5] * 6 + [5.0] * 6)
    for test_set, volumes, dice in (("internal_test", internal_volumes, np.array([0.6] * 6 + [0.9] * 6)),
                                    ("external_test", external_volumes, np.array([external_small] * 6 + [0.4] * 6))):
        _write(out, test_set, {SOURCE: dice, SOURCE_PP: dice, FINETUNED: dice, CONTROL: dice}, volumes)


def test_small_infarcts_are_compared_within_each_test_set(tmp_path: Path) -> None:
    _strata_study(tmp_path, external_small=0.1)
    small = _by_name(tmp_path)["small_infarcts_lowest"]
    assert small.holds, small.explanation  # pooled, medium (0.4, external only) is below small (0.35): not the rule
    assert small.statistic == pytest.approx(((0.6 - 0.9) + (0.1 - 0.4)) / 2) and small.n == 2 * N
    assert small.ci[0] == pytest.approx(-0.3) and small.ci[1] == pytest.approx(-0.3)  # no spread within strata
    assert "internal_test: small 0.600 (n = 6), large 0.900 (n = 6)" in small.explanation


def test_small_infarcts_not_lowest_in_one_test_set_fails(tmp_path: Path) -> None:
    _strata_study(tmp_path, external_small=0.5)
    small = _by_name(tmp_path)["small_infarcts_lowest"]
    assert not small.holds and small.explanation.endswith("not the lowest in external_test")


def test_findings_json_and_table_carry_every_finding(tmp_path: Path) -> None:
    _study(tmp_path, shift=0.3, adaptation=0.05, postprocessing=0.0)
    findings = compute_findings(tmp_path, resamples=200)
    write_findings(tmp_path, findings)
    written = json.loads((tmp_path / FINDINGS_FILE).read_text())["findings"]
    assert [entry["name"] for entry in written] == [finding.name for finding in findings]
    closes = next(entry for entry in written if entry["name"] == "adaptation_closes_gap")
    assert closes["holds"] is False and closes["ci"] is None and 0 <= closes["p"] <= 1
    table = findings_table(tmp_path)
    assert list(table["holds"]) == ["yes" if finding.holds else "NO" for finding in findings]
    assert table.loc[table["finding"] == "vendor_gap", "95 % CI"].iloc[0].startswith("[+")


def test_learning_curve_finding_reads_the_fit(tmp_path: Path) -> None:
    _study(tmp_path, shift=0.3, adaptation=0.25, postprocessing=0.0)
    assert "learning_curve" not in _by_name(tmp_path)
    path = tmp_path / "evaluation" / "internal_test" / "learning_curve_fit.csv"
    pooled = [{"design": "pooled", "scale": "ln", "n_models": 3, "n_cases": 12, "n": 36, "slope": 0.02,
               "p_value": 0.7},
              {"design": "pooled", "scale": "linear", "n_models": 3, "n_cases": 12, "n": 36, "slope": 0.001,
               "p_value": 0.6}]
    within = {"design": "within_case", "scale": "ln", "n_models": 3, "n_cases": 12, "n": 36, "slope": 0.08,
              "p_value": 0.004}
    pd.DataFrame([*pooled, within]).to_csv(path, index=False)
    curve = _by_name(tmp_path)["learning_curve"]  # the paired (within-case) line decides
    assert curve.holds and curve.statistic == 0.08 and curve.p == 0.004 and curve.n == 36
    assert "12 shared test cases" in curve.explanation and "within test cases" in curve.statistic_name
    pd.DataFrame([*pooled, {**within, "slope": math.nan, "p_value": math.nan}]).to_csv(path, index=False)
    curve = _by_name(tmp_path)["learning_curve"]  # no case shared by two sizes: the pooled line
    assert not curve.holds and curve.statistic == 0.02 and curve.p == 0.7 and "pooled" in curve.explanation
    assert "mean DSC by training cases" not in curve.explanation  # no learning_curve.csv beside the fit
    pd.DataFrame({"model": ["n7", "n7_draw2", "n14", "n27"], "training_cases": [7, 7, 14, 27],
                  "mean_dice": [0.659, 0.707, 0.657, 0.703]}).to_csv(path.parent / "learning_curve.csv", index=False)
    curve = _by_name(tmp_path)["learning_curve"]
    assert curve.explanation.endswith("; mean DSC by training cases: 7: 0.659, 0.707; 14: 0.657; 27: 0.703; models "
                                      "of one size differ by up to 0.048")


def test_summary_shows_both_learning_curve_designs(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    sizes = {"n7": 7, "n14": 14, "n27": 27}
    per_case = pd.DataFrame([{"model": model, "case_id": f"c{case}", "status": "ok",
                              "dice": 0.4 + 0.05 * case + 0.02 * np.log(size) + rng.normal(0, 0.01)}
                             for model, size in sizes.items() for case in range(6)])
    folder = tmp_path / "evaluation" / "internal_test"
    folder.mkdir(parents=True)
    learning_curve_fits(per_case, sizes).to_csv(folder / "learning_curve_fit.csv", index=False)
    text = "\n".join(regression_section(tmp_path))
    within = next(line for line in text.splitlines() if line.startswith("| within_case | ln |"))
    assert "| 3 | 6 | 18 |" in within  # models, shared cases, results
    assert "| pooled | ln |" in text
