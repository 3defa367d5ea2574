"""``SUMMARY.md`` of a demo run (its last job) and the headline table printed in the terminal.

Everything is read back from the files the jobs wrote (evaluation reports, post-processing parameters,
adaptation table, job records), so the summary shows exactly what the CSVs hold. ``SUMMARY.md`` is a list of
sections (:func:`summary_sections`); a finding is one more section.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.evaluation import paired_comparison
from strokeseg.experiments.aggregate import markdown_table
from strokeseg.experiments.graph import JOBS_FOLDER, job_folder
from strokeseg.experiments.recipes.demo.findings import FINDINGS_FILE, compute_findings, write_findings
from strokeseg.experiments.recipes.demo.layout import (
    CONTROL,
    FINETUNED,
    FINETUNED_PP,
    POSTPROCESSING_JSON,
    SOURCE,
    SOURCE_PP,
    TEST_SETS,
    DemoStudy,
)
from strokeseg.experiments.state import DONE, LOG_FILE, STATE_FILE, read_record
from strokeseg.experiments.steps import RunContext
from strokeseg.experiments.tables import model_values
from strokeseg.io import write_text_atomic

#: The stratifications SUMMARY.md shows, with their headings (Noh et al.'s strata).
STRATA: dict[str, str] = {"volume_stratum": "Infarct volume (mL)", "onset_stratum": "Onset-to-imaging time",
                          "location": "Location", "vendor": "Vendor"}
#: Metrics of the headline table: column heading -> metric of the reports' overall statistics.
HEADLINE_METRICS: dict[str, str] = {"DSC": "dice", "sensitivity": "sensitivity", "precision": "precision",
                                    "HD95 (mm)": "hd95", "lesion F1": "lesion_f1"}
#: The aim the issue sets for the internal-test mean DSC of the CPU profile.
DICE_AIM = 0.6
SUMMARY_FILE = "SUMMARY.md"
#: File in the demo folder that marks it as written by ``strokeseg demo`` and records its settings.
DEMO_MARKER = ".strokeseg_demo.json"
#: Stratum name of the whole evaluated set.
OVERALL = "all"


def _by(run_out: Path, test_set: str, stratification: str) -> pd.DataFrame:
    """A report's ``by_<stratification>.csv``; ``all`` gives the overall statistics of ``summary.json``."""
    folder = run_out / "evaluation" / test_set
    if stratification == OVERALL:
        if not (folder / "summary.json").is_file():
            return pd.DataFrame()
        models = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["models"]
        return pd.DataFrame([{"model": model, "stratum": OVERALL, "metric": metric, **values}
                             for model, entry in models.items() for metric, values in entry["overall"].items()])
    path = folder / f"by_{stratification}.csv"
    return pd.read_csv(path, dtype={"stratum": str}) if path.is_file() else pd.DataFrame()


def _cell(row: pd.Series | None, digits: int = 3, interval: bool = False) -> str:
    if row is None or math.isnan(float(row["mean"])):
        return "–"
    text = f"{float(row['mean']):.{digits}f}"
    if interval and not math.isnan(float(row["ci_low"])):
        text += f" [{float(row['ci_low']):.{digits}f}, {float(row['ci_high']):.{digits}f}]"
    return text


def _row(table: pd.DataFrame, model: str, stratum: str, metric: str) -> pd.Series | None:
    if table.empty:
        return None
    found = table[(table["model"] == model) & (table["stratum"] == stratum) & (table["metric"] == metric)]
    return None if found.empty else found.iloc[0]


def headline_table(out: Path) -> pd.DataFrame:
    """One row per (model, test set): n and the mean of the headline metrics (DSC with its 95 % CI)."""
    rows = []
    overall = {test_set: _by(out, test_set, OVERALL) for test_set in TEST_SETS}  # each summary.json read once
    for model in (SOURCE, SOURCE_PP, FINETUNED, FINETUNED_PP, CONTROL):
        for test_set, table in overall.items():
            dice = _row(table, model, OVERALL, "dice")
            if dice is None:
                continue
            row: dict[str, Any] = {"model": model, "test set": test_set, "n": int(dice["n"])}
            for heading, metric in HEADLINE_METRICS.items():
                row[heading] = _cell(_row(table, model, OVERALL, metric), interval=metric == "dice")
            rows.append(row)
    return pd.DataFrame(rows)


def _adaptation(out: Path) -> pd.DataFrame:
    path = out / "results" / "adaptation_grid.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def _adaptation_lines(out: Path) -> list[str]:
    grid = _adaptation(out)
    lines = []
    for _, row in grid[grid["metric"] == "dice"].iterrows() if not grid.empty else []:
        lines.append(f"{row['test_set']}: mean DSC {row['before_mean']:.3f} before -> {row['after_mean']:.3f} after "
                     f"fine-tuning on {int(row['adaptation_cases'])} external cases (n = {int(row['n'])}, paired t "
                     f"p = {_p(row['t_pvalue'])}, Wilcoxon p = {_p(row['wilcoxon_pvalue'])})")
    return lines


def _p(value: Any) -> str:
    number = float(value)
    return "n/a" if math.isnan(number) else f"{number:.3g}"


def findings_table(out: Path) -> pd.DataFrame:
    """One row per finding of ``findings.json``: statistic, CI, p, whether it holds and why (empty without it)."""
    path = out / FINDINGS_FILE
    if not path.is_file():
        return pd.DataFrame()
    rows = []
    for finding in json.loads(path.read_text(encoding="utf-8"))["findings"]:
        ci = finding["ci"]
        rows.append({"finding": finding["name"], "statistic": _number(finding["statistic"]),
                     "95 % CI": "–" if ci is None else f"[{_number(ci[0])}, {_number(ci[1])}]",
                     "p": "–" if finding["p"] is None else _p(finding["p"]),
                     "holds": "yes" if finding["holds"] else "NO", "why": finding["explanation"]})
    return pd.DataFrame(rows)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def headline(out: Path) -> str:
    """The terminal summary: headline table, the findings and the domain-adaptation effect."""
    table = headline_table(out)
    if table.empty:
        return "no evaluation found in " + str(out)
    findings = findings_table(out)
    return "\n".join(["Mean over test cases (_pp: post-processed; DSC with 95 % bootstrap CI):",
                      table.to_string(index=False), "", "Findings (findings.json):",
                      findings.drop(columns="why").to_string(index=False) if not findings.empty else "(none)", "",
                      *(f"- {row['finding']}: {row['why']}" for _, row in findings.iterrows()), "",
                      *_adaptation_lines(out)])


def _strata_section(out: Path) -> list[str]:
    lines = []
    for stratification, heading in STRATA.items():
        rows = []
        for test_set in TEST_SETS:
            table = _by(out, test_set, stratification)
            if table.empty:
                continue
            for stratum in dict.fromkeys(table["stratum"].astype(str)):
                dice = _row(table, SOURCE, stratum, "dice")
                if dice is None or int(dice["n"]) == 0:
                    continue
                rows.append({"test set": test_set, "stratum": stratum, "n": int(dice["n"]),
                             "DSC [95 % CI]": _cell(dice, interval=True),
                             "sensitivity": _cell(_row(table, SOURCE, stratum, "sensitivity")),
                             "precision": _cell(_row(table, SOURCE, stratum, "precision")),
                             "micro DSC": _cell(_row(table, SOURCE, stratum, "micro_dice")),
                             "post-processed DSC": _cell(_row(table, SOURCE_PP, stratum, "dice")),
                             "fine-tuned DSC": _cell(_row(table, FINETUNED, stratum, "dice"))})
        if rows:
            lines += [f"### {heading}", "", markdown_table(pd.DataFrame(rows)), ""]
    return lines


def _report_tables(out: Path, file_name: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """(test set, table) of every evaluation report that has ``file_name`` (a CSV)."""
    for test_set in TEST_SETS:
        path = out / "evaluation" / test_set / file_name
        if path.is_file():
            yield test_set, pd.read_csv(path, dtype={"case_id": str, "stratum": str})


def _volume_section(out: Path) -> list[str]:
    rows = []
    for test_set, table in _report_tables(out, "volume_agreement.csv"):
        for model in (SOURCE, SOURCE_PP, FINETUNED):
            found = table[(table["model"] == model) & (table["stratification"] == OVERALL)]
            if found.empty:
                continue
            row = found.iloc[0]
            rows.append({"test set": test_set, "model": model, "n": int(row["n"]), "Pearson r": row["pearson_r"],
                         "Lin's CCC": row["ccc"], "OLS slope": row["ols_slope"], "BA bias (mL)": row["ba_bias_ml"],
                         "BA limits (mL)": f"{row['ba_loa_low_ml']:.2f} to {row['ba_loa_high_ml']:.2f}"})
    return [markdown_table(pd.DataFrame(rows)), ""] if rows else ["(no volume agreement table)", ""]


def _postprocessing_section(out: Path) -> list[str]:
    path = out / POSTPROCESSING_JSON
    if not path.is_file():
        return ["(not fitted)", ""]
    fitted = json.loads(path.read_text(encoding="utf-8"))
    params = ", ".join(f"{key} = {value:.3g}" if isinstance(value, float) else f"{key} = {value}"
                       for key, value in fitted["params"].items())
    validation = fitted["validation"]
    return [f"Fitted on the source model's validation fold ({validation['n_cases']} cases, objective "
            f"{fitted['objective']}): {params}. Validation mean DSC {validation['before']['mean_dice']:.3f} -> "
            f"{validation['after']['mean_dice']:.3f}, mean lesion F1 {validation['before']['mean_lesion_f1']:.3f} -> "
            f"{validation['after']['mean_lesion_f1']:.3f}. Parameters: [{POSTPROCESSING_JSON}]({POSTPROCESSING_JSON}).",
            *([f"Decision: {fitted['decision']['reason']}."] if "decision" in fitted else []),
            "", "On the test sets (the same parameters for both models):", "",
            *[f"- {line}" for line in _paired_lines(out, SOURCE, SOURCE_PP)], "", *erased_by_postprocessing(out), ""]


def erased_by_postprocessing(out: Path) -> list[str]:
    """A warning naming the test cases whose whole (correct) prediction the post-processing removed."""
    erased = []
    for test_set, per_case in _report_tables(out, "per_case.csv"):
        raw, processed = (per_case[per_case["model"] == m].set_index("case_id") for m in (SOURCE, SOURCE_PP))
        shared = raw.index.intersection(processed.index)
        lost = shared[(raw.loc[shared, "dice"] > 0) & (processed.loc[shared, "vol_pred_ml"] == 0)]
        erased += [f"{case} ({test_set}, {raw.loc[case, 'vol_ref_ml']:.2f} mL)" for case in lost]
    if not erased:
        return []
    return [f"Post-processing erased the partly correct prediction of {len(erased)} test case(s): "
            f"{', '.join(erased)}. A minimum component volume fitted on a few validation cases can exceed the "
            "smallest infarcts of other cases; fit on more validation cases (all folds of a cross-validation) "
            "before using it."]


def _paired_lines(out: Path, before: str, after: str) -> list[str]:
    """Mean DSC of two models on each test set, with the paired t and Wilcoxon tests over the shared cases."""
    lines = []
    for test_set, per_case in _report_tables(out, "per_case.csv"):
        a, b = model_values(per_case, before, "dice"), model_values(per_case, after, "dice")
        shared = a.index.intersection(b.index)
        result = paired_comparison(a.loc[shared].to_numpy(), b.loc[shared].to_numpy())
        lines.append(f"{test_set}: mean DSC {result.mean_a:.3f} ({before}) -> {result.mean_b:.3f} ({after}), "
                     f"n = {result.n}, paired t p = {_p(result.t_pvalue)}, Wilcoxon p = {_p(result.wilcoxon_pvalue)}")
    return lines


def cohort_section(out: Path) -> list[str]:
    """The cohort characteristics table (Table 1) of each test set's report (cohort.csv), when written."""
    lines = []
    for test_set, table in _report_tables(out, "cohort.csv"):
        shown = table.astype(object).where(table.notna(), "").assign(
            p_value=["" if pd.isna(value) else _p(value) for value in table["p_value"]])
        lines += [f"### {test_set}", "", markdown_table(shown), ""]
    if not lines:
        return ["(no cohort table: the reports' cases.csv has no split column with two or more sets)", ""]
    return ["Per cases.csv column and set: mean ± SD where Shapiro–Wilk keeps normality in every set, else median "
            "(Q1–Q3), or counts (%); ANOVA / Kruskal–Wallis and Pearson's χ² across the sets "
            "(evaluation/*/cohort.csv).", "", *lines]


def regression_section(out: Path) -> list[str]:
    """DSC against log10 lesion size (Tomita et al.) per test set, and the learning-curve slope test when a
    report has one (Noh et al.)."""
    rows = []
    for test_set, table in _report_tables(out, "regressions.csv"):
        for _, row in table[table["model"].isin([SOURCE, FINETUNED])].iterrows():
            rows.append({"test set": test_set, "model": row["model"], "analysis": row["analysis"], "n": int(row["n"]),
                         "slope": row["slope"], "R²": row["r2"], "p": _p(row["p_value"]),
                         "p (adjusted)": _p(row["p_adjusted"])})
    lines = [markdown_table(pd.DataFrame(rows)), ""] if rows else ["(no regressions table)", ""]
    for test_set, fits in _report_tables(out, "learning_curve_fit.csv"):
        lines += [f"Learning curve ({test_set}): per-case DSC on training cases and on ln(training cases), pooled "
                  "and within the shared test cases:", "",
                  markdown_table(fits[["design", "scale", "n_models", "n_cases", "n", "slope", "r2", "p_value",
                                       "plateau_training_cases"]]), ""]
    return lines


def _timings(out: Path, jobs: tuple[tuple[str, str], ...]) -> tuple[list[str], float]:
    """The timing table of the finished ``jobs`` ((id, title), in order) and their total seconds."""
    rows, total = [], 0.0
    for job_id, title in jobs:
        record = read_record(job_folder(out, job_id))
        if record is None or record.state != DONE:
            continue
        total += record.seconds
        rows.append({"stage": job_id, "what": title, "seconds": round(record.seconds)})
    return [markdown_table(pd.DataFrame(rows)), ""] if rows else [], total


def _figures(out: Path) -> list[str]:
    """Links to the figures of the study (the reports hold more: one ``dice_by_*.png`` per stratification)."""
    per_report = ("volume_scatter.png", "bland_altman.png", *(f"dice_by_{name}.png" for name in STRATA))
    figures = [out / "cohort" / "montage.png", out / "results" / "adaptation_grid.png",
               *(out / "evaluation" / test_set / name for test_set in TEST_SETS for name in per_report)]
    return [f"- [{path.relative_to(out)}]({path.relative_to(out)})" for path in figures if path.is_file()]


def _internal_dice(out: Path) -> float:
    row = _row(_by(out, "internal_test", OVERALL), SOURCE, OVERALL, "dice")
    return math.nan if row is None else float(row["mean"])


def summary_sections(study: DemoStudy, device: str, jobs: tuple[tuple[str, str], ...]) -> list[list[str]]:
    """The sections of ``SUMMARY.md`` (lists of lines), in order; ``jobs``: (id, title) of the timed jobs."""
    out, profile = study.out, study.profile
    timings, total = _timings(out, jobs)
    dice = _internal_dice(out)
    aim = ("" if profile.name != "cpu-small" else
           f" The aim for this profile is ≥ {DICE_AIM}: {'reached' if dice >= DICE_AIM else 'NOT reached'}.")
    introduction = [
        f"# strokeseg demo — profile `{profile.name}`", "",
        f"{profile.description}. Phantom registry of {profile.total_cases} cases from three hospitals "
        f"(`shifted` site set: ShiftA Siemens 3 T, ShiftB Philips 3 T: internal; ShiftC GE 1.5 T with a built-in "
        f"domain shift: external), DWI + ADC. Source model: `{profile.trainer}` (Noh et al.'s pre-activation "
        f"residual 3D U-Net and TorchIO augmentation) trained on {profile.internal_training_cases} internal cases "
        f"(8:2 train/validation); fine-tuned with `{profile.finetune_trainer}` on {profile.adaptation_cases} "
        f"external cases; control arm: the same trainer from the source model on the internal training cases. "
        f"Device: {device}. Stages took {total / 60:.1f} min in all.", ""]
    headline_section = [
        "## Headline", "",
        f"Internal-test mean DSC of the trained (source) model: **{dice:.3f}**.{aim}", "",
        markdown_table(headline_table(out)), "",
        "Models: `source` = the model trained on the internal hospitals; `finetuned` = the source model after "
        "fine-tuning on the external adaptation subsample; `control` = the source model trained for the same "
        "number of extra steps on its own (internal) training data; `_pp` = the same predictions post-processed "
        "with the parameters fitted on the source model's validation fold. DSC: mean per-case Dice with its 95 % "
        "bootstrap CI (evaluation/*/summary.json).", ""]
    findings = findings_table(out)
    findings_section = [
        "## Findings (a positive control: the cohort has a known built-in vendor shift)", "",
        *([markdown_table(findings), ""] if not findings.empty else ["(no findings.json)", ""]),
        *([f"**Not shown in this run:** {', '.join(findings.loc[findings['holds'] == 'NO', 'finding'])}; the "
           "`why` column says what the numbers were. The rules are fixed in strokeseg (never tuned per run); a "
           "finding that does not hold usually means too few test cases for the CI, or a schedule too short for "
           "the model to learn the lesions of one vendor.", ""] if (not findings.empty and
                                                                   (findings["holds"] == "NO").any()) else []),
        f"Statistics, CIs and p-values: [{FINDINGS_FILE}]({FINDINGS_FILE}) (vendor gap: unpaired bootstrap CI of "
        "the difference and Mann–Whitney U; adaptation vs control and post-processing: paired bootstrap CI and "
        "Wilcoxon signed-rank; small infarcts: small (< 1.7 mL) vs other infarcts over both test sets).", ""]
    strata = [
        "## Source model by stratum (Noh et al.'s strata)", "",
        "Internal test: the two internal vendors; external test: the held-out vendor. `micro DSC` = 2ΣTP / (2ΣTP + "
        "ΣFP + ΣFN) over the stratum's cases. All metrics and CIs: evaluation/*/by_*.csv; Mann–Whitney U tests "
        "between strata: evaluation/*/comparison.csv.", "", *_strata_section(out)]
    adaptation = [
        "## Domain adaptation: before vs after fine-tuning (paired tests)", "",
        *[f"- {line}" for line in _adaptation_lines(out)], "",
        "After post-processing both:", "", *[f"- {line}" for line in _paired_lines(out, SOURCE_PP, FINETUNED_PP)], "",
        "Sensitivity and precision, SDs and both tests: [results/adaptation_grid.csv](results/adaptation_grid.csv).",
        ""]
    return [
        introduction, headline_section, findings_section,
        ["## Post-processing", "", *_postprocessing_section(out)],
        strata,
        ["## Volume agreement (predicted vs reference infarct volume)", "", *_volume_section(out)],
        ["## Cohort characteristics (Table 1)", "", *cohort_section(out)],
        ["## DSC against lesion size (Tomita et al.) and the learning curve (Noh et al.)", "",
         "Least squares of per-case DSC on log10 of the reference lesion voxel count or volume (cases with a "
         "lesion); p-values adjusted per analysis across models (Holm); evaluation/*/regressions.csv.", "",
         *regression_section(out)],
        adaptation,
        ["## Figures", "", *_figures(out), ""],
        ["## Stage timings", "", *timings,
         f"Settings of this run: [{DEMO_MARKER}]({DEMO_MARKER}); state and log of every job: "
         f"{JOBS_FOLDER}/<job>/{STATE_FILE}, {LOG_FILE}.", ""],
    ]


def write_summary(study: DemoStudy, device: str, jobs: tuple[tuple[str, str], ...]) -> Path:
    """Write ``SUMMARY.md`` into the demo folder (atomically)."""
    text = "\n".join(line for section in summary_sections(study, device, jobs) for line in section)
    return write_text_atomic(study.out / SUMMARY_FILE, text)


@dataclass(frozen=True)
class DemoSummaryStep:
    """Job step: ``findings.json`` and ``SUMMARY.md``; ``jobs``: (id, title) of the jobs whose durations it lists."""

    study: DemoStudy
    jobs: tuple[tuple[str, str], ...]

    def run(self, context: RunContext) -> None:
        write_findings(self.study.out, compute_findings(self.study.out, self.study.profile.bootstrap_resamples))
        write_summary(self.study, context.device(), self.jobs)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.study.out / SUMMARY_FILE, self.study.out / FINDINGS_FILE)
