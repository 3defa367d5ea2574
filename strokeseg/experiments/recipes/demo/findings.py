"""The demo's findings (it is a positive control): each computed from the evaluation reports' per-case DSC, with
its statistic, CI or p-value and whether it holds; written to ``findings.json`` and shown in ``SUMMARY.md``.

Findings (Noh et al.'s registry study in miniature; the rules are fixed here, never tuned per run):

* ``vendor_gap``: the source model's mean DSC is lower on the external vendor than on the internal test set —
  difference internal − external with the bootstrap CI of an unpaired difference and the two-sided
  Mann–Whitney U p-value; holds when the CI's lower end is above 0.
* ``adaptation_vs_control``: on the external test set the fine-tuned model beats the control arm (the source
  model trained for the same steps on its own data) — mean paired difference with its bootstrap CI and the
  Wilcoxon signed-rank p-value; holds when the CI's lower end is above 0.
* ``adaptation_closes_gap``: the fine-tuning closes at least :data:`GAP_CLOSED_AIM` of the vendor gap —
  (fine-tuned external − source external) / (source internal − source external), with the Wilcoxon p-value of
  fine-tuned vs source on the external cases; holds when ``vendor_gap`` holds and the fraction reaches the aim.
* ``small_infarcts_lowest``: within each test set, the source model's mean DSC is lowest in the small-infarct
  stratum (< 1.7 mL, Noh et al.'s strata) — the mean over the test sets of small minus the other infarcts, with a
  bootstrap CI stratified by test set; holds when, in every test set that has small infarcts and another stratum,
  the small stratum's mean is below every other stratum's. Strata are compared within a test set because the
  vendor shift would otherwise mix into them (the external set's infarcts score lower whatever their size).
* ``postprocessing_<test set>``: post-processing does not lower the mean DSC — mean paired difference
  (post-processed − raw) with its bootstrap CI; holds when the mean difference is ≥ 0.
* ``learning_curve`` (profiles with a learning curve): per-case DSC rises with ln(training cases) — the
  within-case least-squares slope with its p-value (``learning_curve_fit.csv``, design ``within_case``: every
  model of the curve is scored on the same internal test cases, so the paired test is the right one; a report
  without that row falls back to the pooled fit); holds when the slope is > 0 with p < :data:`FINDING_ALPHA`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strokeseg.defaults import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from strokeseg.evaluation.statistics import (
    describe,
    mann_whitney,
    paired_comparison,
    stratified_difference_interval,
    unpaired_difference_interval,
)
from strokeseg.experiments.recipes.demo.layout import CONTROL, FINETUNED, SOURCE, SOURCE_PP, TEST_SETS
from strokeseg.experiments.tables import model_values
from strokeseg.io import write_json_atomic
from strokeseg.volumes import VOLUME_LEVELS, volume_stratum

#: File of the findings in the demo folder.
FINDINGS_FILE = "findings.json"
#: Share of the vendor gap the domain adaptation must close for ``adaptation_closes_gap`` ("most of the gap").
GAP_CLOSED_AIM = 0.5
#: Significance level of the learning curve's slope test.
FINDING_ALPHA = 0.05
#: Volume stratum whose DSC should be the lowest (Noh et al.: small infarcts < 1.7 mL).
SMALL_STRATUM = "small"
#: Lesion strata compared (no-lesion and unknown volumes are left out).
LESION_STRATA: tuple[str, ...] = VOLUME_LEVELS[:3]


@dataclass(frozen=True)
class Finding:
    """One finding: what it claims, its statistic, its CI (or None) and p-value (or None), and whether it holds.

    Attributes:
        name: identifier (``vendor_gap``, ...).
        claim: the finding in words.
        statistic: the statistic's value (DSC difference, fraction of the gap, slope).
        statistic_name: what ``statistic`` is.
        n: cases (or case pairs) it rests on.
        ci: 95 % bootstrap interval of ``statistic`` (None where the finding has no CI).
        p: p-value of its test (None where it has none).
        holds: whether the rule of the finding (module docstring) is met.
        explanation: why it holds or not, in one sentence.
    """

    name: str
    claim: str
    statistic: float
    statistic_name: str
    n: int
    ci: tuple[float, float] | None
    p: float | None
    holds: bool
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        values = asdict(self)
        values["statistic"] = _finite_or_none(self.statistic)
        values["ci"] = None if self.ci is None else [_finite_or_none(value) for value in self.ci]
        values["p"] = None if self.p is None else _finite_or_none(self.p)
        return values


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _per_case(out: Path, test_set: str) -> pd.DataFrame:
    path = out / "evaluation" / test_set / "per_case.csv"
    return pd.read_csv(path, dtype={"case_id": str}) if path.is_file() else pd.DataFrame()


def _dice(per_case: pd.DataFrame, model: str) -> pd.Series:
    return model_values(per_case, model, "dice") if not per_case.empty else pd.Series(dtype=float)


def _paired(per_case: pd.DataFrame, before: str, after: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = _dice(per_case, before), _dice(per_case, after)
    shared = a.index.intersection(b.index)
    return a.loc[shared].to_numpy(dtype=float), b.loc[shared].to_numpy(dtype=float)


def _interval_text(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def vendor_gap(internal: pd.DataFrame, external: pd.DataFrame, resamples: int, seed: int) -> Finding:
    """``vendor_gap`` (see the module docstring)."""
    a, b = _dice(internal, SOURCE).to_numpy(dtype=float), _dice(external, SOURCE).to_numpy(dtype=float)
    test = mann_whitney(a, b)
    ci = unpaired_difference_interval(a, b, resamples=resamples, seed=seed)
    difference = test.mean_a - test.mean_b
    holds = bool(ci[0] > 0)
    why = (f"internal {test.mean_a:.3f} vs external {test.mean_b:.3f} (n = {test.n_a} / {test.n_b}); the CI of the "
           f"difference {_interval_text(ci)} " + ("lies above 0" if holds else
                                                  "reaches 0 or below: no gap shown at this sample size"))
    return Finding("vendor_gap", "external-vendor DSC below internal DSC (source model)", difference,
                   "mean DSC internal − external", test.n_a + test.n_b, ci, test.p_value, holds, why)


def adaptation_vs_control(external: pd.DataFrame, resamples: int, seed: int) -> Finding:
    """``adaptation_vs_control`` (see the module docstring)."""
    control, adapted = _paired(external, CONTROL, FINETUNED)
    comparison = paired_comparison(control, adapted)
    summary = describe(adapted - control, resamples=resamples, seed=seed)
    ci = (summary.ci_low, summary.ci_high)
    holds = bool(summary.n > 0 and ci[0] > 0)
    why = (f"external test: fine-tuned {comparison.mean_b:.3f} vs control {comparison.mean_a:.3f} (n = "
           f"{comparison.n} pairs); the CI of the paired difference {_interval_text(ci)} "
           + ("lies above 0: the gain is adaptation, not extra training" if holds else
              "reaches 0 or below: extra training on the source data does as well"))
    return Finding("adaptation_vs_control", "fine-tuning on the external vendor beats the same extra training on "
                   "the source data (external test set)", comparison.mean_diff, "mean paired DSC difference "
                   "fine-tuned − control", comparison.n, ci, comparison.wilcoxon_pvalue, holds, why)


def adaptation_closes_gap(internal: pd.DataFrame, external: pd.DataFrame, gap_shown: bool) -> Finding:
    """``adaptation_closes_gap`` (see the module docstring); ``gap_shown``: whether ``vendor_gap`` holds."""
    internal_mean = float(_dice(internal, SOURCE).mean())
    source, adapted = _paired(external, SOURCE, FINETUNED)
    comparison = paired_comparison(source, adapted)
    gap = internal_mean - comparison.mean_a
    fraction = (comparison.mean_b - comparison.mean_a) / gap if gap > 0 else math.nan
    holds = bool(gap_shown and gap > 0 and fraction >= GAP_CLOSED_AIM)
    if gap_shown and gap > 0:
        why = (f"gap {gap:.3f} (internal {internal_mean:.3f}, external {comparison.mean_a:.3f}); fine-tuning "
               f"reaches {comparison.mean_b:.3f} on the external cases, {fraction:.0%} of the gap "
               + ("(aim: at least " if holds else "(below the aim of ") + f"{GAP_CLOSED_AIM:.0%})")
    else:
        why = (f"no gap shown to close: external mean DSC {comparison.mean_a:.3f}, internal {internal_mean:.3f} "
               "(see vendor_gap)")
    return Finding("adaptation_closes_gap", f"fine-tuning closes at least {GAP_CLOSED_AIM:.0%} of the vendor gap",
                   fraction, "fraction of the gap closed", comparison.n, None, comparison.wilcoxon_pvalue, holds,
                   why)


def small_infarcts_lowest(tables: dict[str, pd.DataFrame], resamples: int, seed: int) -> Finding:
    """``small_infarcts_lowest`` over the source model's cases of the test sets in ``tables`` (see the module
    docstring): strata are compared within each test set."""
    compared: dict[str, tuple[dict[str, float], np.ndarray, np.ndarray]] = {}
    listed = []
    for test_set, table in tables.items():
        if table.empty:
            continue
        cases = table[(table["model"] == SOURCE) & (table["status"] == "ok")]
        strata = cases["vol_ref_ml"].astype(float).map(volume_stratum)
        means = {stratum: float(cases.loc[strata == stratum, "dice"].mean()) for stratum in LESION_STRATA
                 if (strata == stratum).any()}
        listed.append(f"{test_set}: " + (", ".join(f"{stratum} {value:.3f} (n = {int((strata == stratum).sum())})"
                                                   for stratum, value in means.items()) or "no lesion strata"))
        if SMALL_STRATUM in means and len(means) > 1:
            others = strata.isin([stratum for stratum in LESION_STRATA if stratum != SMALL_STRATUM])
            compared[test_set] = (means, cases.loc[strata == SMALL_STRATUM, "dice"].to_numpy(dtype=float),
                                  cases.loc[others, "dice"].to_numpy(dtype=float))
    lowest = {test_set: all(means[SMALL_STRATUM] < value for stratum, value in means.items()
                            if stratum != SMALL_STRATUM) for test_set, (means, _, _) in compared.items()}
    holds = bool(compared) and all(lowest.values())
    groups = [(small, others) for _, small, others in compared.values()]
    statistic = float(np.mean([small.mean() - others.mean() for small, others in groups])) if groups else math.nan
    ci = stratified_difference_interval(groups, resamples=resamples, seed=seed)
    if not compared:
        verdict = "; no test set holds small infarcts and another lesion stratum to compare with"
    elif holds:
        verdict = "; the small stratum is the lowest in every test set"
    else:
        verdict = "; the small stratum is not the lowest in " + ", ".join(name for name, ok in lowest.items() if not ok)
    why = "mean DSC by stratum within each test set: " + "; ".join(listed) + verdict
    return Finding("small_infarcts_lowest", "small infarcts (< 1.7 mL) score the lowest DSC", statistic,
                   "mean over test sets of mean DSC small − other infarcts",
                   sum(small.size + others.size for small, others in groups), ci, None, holds, why)


def postprocessing_effect(per_case: pd.DataFrame, test_set: str, resamples: int, seed: int) -> Finding:
    """``postprocessing_<test set>`` (see the module docstring)."""
    raw, processed = _paired(per_case, SOURCE, SOURCE_PP)
    summary = describe(processed - raw, resamples=resamples, seed=seed)
    ci = (summary.ci_low, summary.ci_high)
    holds = bool(summary.n > 0 and summary.mean >= 0)
    why = (f"{test_set}: mean DSC {raw.mean() if raw.size else math.nan:.3f} -> "
           f"{processed.mean() if processed.size else math.nan:.3f} (n = {summary.n}); "
           + ("not lowered" if holds else "post-processing lowered the mean DSC"))
    return Finding(f"postprocessing_{test_set}", f"post-processing does not lower the mean DSC ({test_set})",
                   summary.mean, "mean paired DSC difference post-processed − raw", summary.n, ci, None, holds, why)


def learning_curve(out: Path) -> Finding | None:
    """``learning_curve`` from the internal report's ``learning_curve_fit.csv`` (None without a curve): the
    within-case fit on ln(training cases), or the pooled one where the table has no within-case row."""
    path = out / "evaluation" / "internal_test" / "learning_curve_fit.csv"
    if not path.is_file():
        return None
    fits = pd.read_csv(path)
    lines = fits[fits["scale"] == "ln"]
    if "design" in lines:
        within = lines[(lines["design"] == "within_case") & lines["slope"].notna()]
        lines = within if not within.empty else lines[lines["design"] == "pooled"]
    if lines.empty:
        return None
    fit = lines.iloc[0]
    design = str(fit.get("design", "pooled"))
    slope, p = float(fit["slope"]), float(fit["p_value"])
    holds = bool(slope > 0 and p < FINDING_ALPHA)
    cases = f" on {int(fit['n_cases'])} shared test cases" if design == "within_case" else ""
    why = (f"{int(fit['n_models'])} models, {int(fit['n'])} case results{cases}: slope {slope:+.3f} DSC per "
           f"ln(training cases) ({design.replace('_', '-')}), p = {p:.3g}"
           + ("" if holds else f" (not a significant rise at α = {FINDING_ALPHA})")
           + _curve_means(path.parent / "learning_curve.csv"))
    measure = ("least-squares slope of per-case DSC on ln(training cases)"
               + (", within test cases" if design == "within_case" else ""))
    return Finding("learning_curve", "DSC rises with the number of training cases", slope, measure, int(fit["n"]),
                   None, p, holds, why)


def _curve_means(path: Path) -> str:
    """``; mean DSC by training cases: 7: 0.659, 0.707; ...`` from the report's ``learning_curve.csv`` (every model
    of one size, e.g. independent subsample draws), with the widest spread between models of one size; empty
    without the table."""
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    groups = [(int(size), group["mean_dice"].to_numpy(dtype=float))
              for size, group in table.groupby("training_cases", sort=True)]
    text = "; ".join(f"{size}: {', '.join(f'{mean:.3f}' for mean in means)}" for size, means in groups)
    spreads = [float(np.ptp(means)) for _, means in groups if len(means) > 1]
    spread = f"; models of one size differ by up to {max(spreads):.3f}" if spreads else ""
    return f"; mean DSC by training cases: {text}{spread}"


def compute_findings(out: Path, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[Finding]:
    """Every finding of the demo in ``out`` from its evaluation reports (``learning_curve`` only with a curve)."""
    tables = {test_set: _per_case(out, test_set) for test_set in TEST_SETS}
    internal, external = tables["internal_test"], tables["external_test"]
    gap = vendor_gap(internal, external, resamples, seed)
    findings = [gap, adaptation_vs_control(external, resamples, seed),
                adaptation_closes_gap(internal, external, gap.holds),
                small_infarcts_lowest(tables, resamples, seed),
                *(postprocessing_effect(table, test_set, resamples, seed) for test_set, table in tables.items())]
    curve = learning_curve(out)
    return findings + ([curve] if curve is not None else [])


def write_findings(out: Path, findings: list[Finding]) -> Path:
    """``findings.json`` in ``out`` (atomically): ``{"findings": [...]}``, one entry per finding."""
    return write_json_atomic(out / FINDINGS_FILE, {"findings": [finding.as_dict() for finding in findings]})
