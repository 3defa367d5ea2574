"""The demo SUMMARY.md's cohort-table and regression sections, read back from the evaluation reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from strokeseg.evaluation import cohort_table
from strokeseg.experiments.recipes.demo.layout import FINETUNED, SOURCE
from strokeseg.experiments.recipes.demo.summary import cohort_section, regression_section


def test_cohort_and_regression_sections_show_the_reports_tables(tmp_path: Path) -> None:
    report = tmp_path / "evaluation" / "internal_test"
    report.mkdir(parents=True)
    assert "no cohort table" in cohort_section(tmp_path)[0]
    cases = pd.DataFrame({"case_id": [f"c{i}" for i in range(8)], "split": ["train"] * 5 + ["test"] * 3,
                          "vendor": ["GE", "Siemens"] * 4, "onset_to_imaging_h": [1.0, 2, 3, 5, 8, 13, 21, 34]})
    cohort_table(cases, "split").to_csv(report / "cohort.csv", index=False)
    pd.DataFrame([{"model": model, "analysis": "dice_vs_log10_lesion_voxels", "x": "log10(tp + fn)", "y": "dice",
                   "n": 7, "slope": 0.21, "slope_se": 0.05, "intercept": 0.1, "r": 0.58, "r2": 0.34,
                   "p_value": 0.0123, "family": "dice_vs_log10_lesion_voxels", "p_adjustment": "holm",
                   "p_adjusted": 0.0246} for model in (SOURCE, FINETUNED, "other")]
                 ).to_csv(report / "regressions.csv", index=False)
    text = "\n".join(cohort_section(tmp_path))
    assert "### internal_test" in text and "| onset_to_imaging_h |" in text and "| train | test | total |" in text
    regression = "\n".join(regression_section(tmp_path))
    assert regression.count("dice_vs_log10_lesion_voxels") == 2  # the source and fine-tuned models only
    row = "| internal_test | source | dice_vs_log10_lesion_voxels | 7 | 0.210 | 0.340 | 0.0123 | 0.0246 |"
    assert row in regression
