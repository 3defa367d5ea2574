"""Write an experiment's results folder: the paper's tables (CSV), figures (PNG) and ``summary.md``.

Reads the evaluation reports the evaluate jobs wrote (``per_case.csv``, ``summary.json``), computes the tables
of :mod:`strokeseg.experiments.tables` and draws the figures. Files per kind:

* learning-curve: ``learning_curve.csv``, ``learning_curve_fit.csv``, ``learning_curve.png`` and one
  ``learning_curve_<stratification>.png`` per stratification (volume, onset, location, ...); with a comparison
  arm also ``learning_curve_comparison.csv`` and ``learning_curve_comparison.png`` (DSC by size, both arms);
* domain-adaptation: ``adaptation_grid.csv``, ``adaptation_grid.png``;
* vendor-transfer: ``vendor_transfer.csv``, ``vendor_transfer.png``;
* zoom-ablation: ``zoom_ablation.csv``, ``zoom_ablation.png``;
* ensemble: ``ensemble.csv``, ``ensemble.png``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot is imported
import numpy as np
import pandas as pd

from strokeseg.errors import InputDataError
from strokeseg.evaluation import ALL, DEFAULT_P_ADJUSTMENT, BootstrapSettings, evaluated
from strokeseg.experiments import tables
from strokeseg.io import atomic_path

SUMMARY_FILE = "summary.md"
_PANEL_INCHES = 4.0


def read_report(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(per_case.csv, summary.json) of an evaluation report folder."""
    try:
        per_case = pd.read_csv(folder / "per_case.csv", dtype={"case_id": str})
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputDataError(f"evaluation report {folder} is incomplete ({error}); rerun its evaluate job") from None
    return per_case, summary


def _bootstrap(summary: Mapping[str, Any]) -> BootstrapSettings:
    settings = summary.get("settings", {}).get("bootstrap", {})
    return BootstrapSettings(**settings) if settings else BootstrapSettings()


def _adjustment(summary: Mapping[str, Any]) -> str:
    """The evaluation report's multiple-comparison correction (the experiment tables use the same)."""
    return str(summary.get("settings", {}).get("p_adjustment", DEFAULT_P_ADJUSTMENT))


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path


def _save(figure: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table; floats rounded to ``digits``, NaN shown as ``–``."""
    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            number = float(value)
            if math.isnan(number):
                return "–"
            return f"{number:.{digits}g}" if 0 < abs(number) < 1e-3 else f"{number:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _stratifications(summary: Mapping[str, Any]) -> list[str]:
    return [entry["name"] for entry in summary.get("stratifications", [])]


def _learning_curve(spec: Mapping[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    per_case, summary = read_report(Path(spec["evaluation"]))
    sizes = dict(zip(spec["models"], spec["training_cases"], strict=True))
    strata = _stratifications(summary)
    points, fits = tables.learning_curve_tables(per_case, sizes, strata, bootstrap=_bootstrap(summary),
                                                adjustment=_adjustment(summary))
    files = [_write_csv(points, out / "learning_curve.csv"), _write_csv(fits, out / "learning_curve_fit.csv")]
    for stratification in (ALL, *strata):
        name = "learning_curve.png" if stratification == ALL else f"learning_curve_{stratification}.png"
        files.append(_curve_figure(points[points["stratification"] == stratification],
                                   fits[fits["stratification"] == stratification], out / name))
    overall = points[points["stratification"] == ALL].pivot_table(index=["model", "training_cases"], columns="metric",
                                                                  values="mean", sort=False).reset_index()
    overall_fit = fits[fits["stratification"] == ALL][["metric", "n_models", "slope", "intercept", "r2", "p_value",
                                                        "p_value_adjusted", "linear_slope", "linear_p_value",
                                                        "plateau_training_cases"]]
    text = ["Mean metric per training-set size (all test cases; 95 % bootstrap CIs in learning_curve.csv):", "",
            markdown_table(overall), "", "Fit of the mean on ln(training cases) (Noh Fig. 2), the slope's p-value "
            "(adjusted over the strata of a metric), the fit on training cases (linear_*) and the plateau (the "
            "smallest size within 0.01 of the best mean):", "", markdown_table(overall_fit)]
    if "comparison" in spec:
        comparison_files, comparison_text = _curve_comparison(per_case, summary, spec["comparison"], out)
        files += comparison_files
        text += ["", *comparison_text]
    return files, text


def _curve_comparison(per_case: pd.DataFrame, summary: Mapping[str, Any], spec: Mapping[str, Any],
                      out: Path) -> tuple[list[Path], list[str]]:
    """The two arms of a learning curve per training-set size (table, DSC figure, summary text)."""
    table = tables.learning_curve_comparison_table(per_case, spec["pairs"], bootstrap=_bootstrap(summary),
                                                   adjustment=_adjustment(summary))
    reference, comparison = spec["reference_trainer"], spec["comparison_trainer"]
    dice = table[table["metric"] == "dice"].sort_values("training_cases")
    figure, (curve, difference) = plt.subplots(1, 2, figsize=(_PANEL_INCHES * 2.2, _PANEL_INCHES))
    x = dice["training_cases"].to_numpy(float)
    for column, label in (("reference_mean", reference), ("comparison_mean", comparison)):
        curve.plot(x, dice[column].to_numpy(float), marker="o", label=label)
    curve.set_ylabel("mean DSC (paired test cases)")
    curve.set_ylim(0, 1.05)
    curve.legend(fontsize=7)
    mean = dice["mean_diff"].to_numpy(float)
    error = np.vstack([mean - dice["diff_ci_low"].to_numpy(float), dice["diff_ci_high"].to_numpy(float) - mean])
    difference.errorbar(x, mean, yerr=np.nan_to_num(np.abs(error)), marker="o", capsize=3)
    difference.axhline(0.0, color="grey", linewidth=0.8)
    difference.set_ylabel("DSC difference (comparison − reference), 95 % CI")
    for axis in (curve, difference):
        axis.set_xscale("log")
        axis.set_xlabel("training cases")
    files = [_write_csv(table, out / "learning_curve_comparison.csv"),
             _save(figure, out / "learning_curve_comparison.png")]
    columns = ["training_cases", "n", "reference_mean", "comparison_mean", "mean_diff", "diff_ci_low", "diff_ci_high",
               "wilcoxon_pvalue", "wilcoxon_pvalue_adjusted", "t_pvalue_adjusted"]
    return files, [f"Mean DSC per training-set size, {comparison} (comparison) vs {reference} (reference) on the "
                   "same test cases: the difference's 95 % bootstrap CI and paired p-values (adjusted over the sizes; "
                   "all metrics in learning_curve_comparison.csv):", "", markdown_table(dice[columns])]


def _curve_figure(points: pd.DataFrame, fits: pd.DataFrame, path: Path) -> Path:
    metrics = list(dict.fromkeys(points["metric"]))
    figure, axes = plt.subplots(1, len(metrics), figsize=(_PANEL_INCHES * len(metrics), _PANEL_INCHES), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for stratum, group in points[points["metric"] == metric].groupby("stratum", sort=False):
            group = group.sort_values("training_cases")
            x = group["training_cases"].to_numpy(float)
            y = group["mean"].to_numpy(float)
            error = np.vstack([y - group["ci_low"].to_numpy(float), group["ci_high"].to_numpy(float) - y])
            line = axis.errorbar(x, y, yerr=np.nan_to_num(np.abs(error)), marker="o", capsize=3, label=str(stratum))
            fit = fits[(fits["metric"] == metric) & (fits["stratum"] == stratum)]
            if len(fit) and not math.isnan(float(fit["slope"].iloc[0])):
                grid = np.geomspace(x.min(), x.max(), 50)
                axis.plot(grid, fit["intercept"].iloc[0] + fit["slope"].iloc[0] * np.log(grid), linestyle="--",
                          color=line[0].get_color())
        axis.set_xscale("log")
        axis.set_xlabel("training cases")
        axis.set_ylabel(metric)
        axis.set_ylim(0, 1.05)
        axis.legend(fontsize=7)
    return _save(figure, path)


def _domain_adaptation(spec: Mapping[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    read = {name: read_report(Path(folder)) for name, folder in spec["evaluations"].items()}
    reports = {name: per_case for name, (per_case, _) in read.items()}
    grid = tables.adaptation_table(reports, spec["grid"], adjustment=_adjustment(next(iter(read.values()))[1]))
    files = [_write_csv(grid, out / "adaptation_grid.csv")]
    dice = grid[grid["metric"] == "dice"]
    figure, axes = plt.subplots(1, len(reports), figsize=(_PANEL_INCHES * 1.3 * len(reports), _PANEL_INCHES),
                                squeeze=False)
    for axis, test_set in zip(axes[0], reports, strict=True):
        mine = dice[dice["test_set"] == test_set]
        after = mine.pivot_table(index="pretraining_cases", columns="adaptation_cases", values="after_mean")
        before = mine.groupby("pretraining_cases")["before_mean"].first()
        matrix = pd.concat([before.rename(0), after], axis=1)
        image = axis.imshow(matrix.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (row, column), value in np.ndenumerate(matrix.to_numpy(float)):
            axis.text(column, row, "–" if math.isnan(value) else f"{value:.2f}", ha="center", va="center",
                      color="white", fontsize=8)
        axis.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns])
        axis.set_yticks(range(matrix.shape[0]), [str(r) for r in matrix.index])
        axis.set_xlabel("adaptation cases (0 = before fine-tuning)")
        axis.set_ylabel("pre-training cases")
        axis.set_title(f"mean DSC, {test_set}")
        figure.colorbar(image, ax=axis)
    files.append(_save(figure, out / "adaptation_grid.png"))
    columns = ["test_set", "pretraining_cases", "adaptation_cases", "n", "before_mean", "before_sd", "after_mean",
               "after_sd", "t_pvalue", "wilcoxon_pvalue"]
    return files, ["Mean DSC before and after fine-tuning, paired tests (Noh Table 2; all metrics in "
                   "adaptation_grid.csv):", "", markdown_table(dice[columns])]


def _vendor_transfer(spec: Mapping[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    read = {group: read_report(Path(folder)) for group, folder in spec["evaluations"].items()}
    reports = {group: per_case for group, (per_case, _) in read.items()}
    table = tables.vendor_table(reports, spec["directions"], adjustment=_adjustment(next(iter(read.values()))[1]))
    files = [_write_csv(table, out / "vendor_transfer.csv")]
    directions = spec["directions"]
    figure, axes = plt.subplots(1, len(directions), figsize=(_PANEL_INCHES * len(directions), _PANEL_INCHES),
                                squeeze=False)
    for axis, direction in zip(axes[0], directions, strict=True):
        source, target = reports[direction["source"]], reports[direction["target"]]
        groups = [tables.model_values(source, direction["model"], "dice").dropna().to_numpy(),
                  tables.model_values(target, direction["model"], "dice").dropna().to_numpy(),
                  tables.model_values(target, direction["finetuned"], "dice").dropna().to_numpy()]
        axis.boxplot(groups)
        axis.set_xticks([1, 2, 3], ["internal", "external", "fine-tuned"])
        axis.set_ylabel("DSC")
        axis.set_ylim(0, 1.05)
        axis.set_title(f"{direction['source']} → {direction['target']}")
    files.append(_save(figure, out / "vendor_transfer.png"))
    return files, ["Medians [Q1, Q3]; Mann–Whitney U internal vs external, Wilcoxon signed-rank external vs "
                   "fine-tuned (Alis et al.):", "", markdown_table(table)]


def _zoom_ablation(spec: Mapping[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    per_case, summary = read_report(Path(spec["evaluation"]))
    table = tables.zoom_table(per_case, spec["arms"], bootstrap=_bootstrap(summary))
    files = [_write_csv(table, out / "zoom_ablation.csv")]
    metrics = list(dict.fromkeys(table["metric"]))
    figure, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), _PANEL_INCHES), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        mine = table[table["metric"] == metric]
        means = mine["mean"].to_numpy(float)
        error = np.abs(np.vstack([means - mine["ci_low"].to_numpy(float), mine["ci_high"].to_numpy(float) - means]))
        axis.bar(range(len(mine)), means, yerr=np.nan_to_num(error), capsize=4)
        axis.set_xticks(range(len(mine)), list(mine["model"]), rotation=30)
        axis.set_title(metric)
    files.append(_save(figure, out / "zoom_ablation.png"))
    wide = table.assign(value=[_with_interval(r.mean, r.ci_low, r.ci_high) for r in table.itertuples()])
    wide = wide.pivot(index="model", columns="metric", values="value").reindex(spec["arms"])[metrics].reset_index()
    return files, ["Mean [95 % bootstrap CI] per model (Tomita Table 5; HD and ASSD in mm):", "",
                   markdown_table(wide)]


def _with_interval(mean: float, low: float, high: float) -> str:
    return "–" if math.isnan(mean) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _ensemble(spec: Mapping[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    per_case, summary = read_report(Path(spec["evaluation"]))
    table = tables.ensemble_table(per_case, spec["ensemble"], spec["members"], bootstrap=_bootstrap(summary),
                                  adjustment=_adjustment(summary))
    files = [_write_csv(table, out / "ensemble.csv")]
    ok = evaluated(per_case)
    models = [spec["ensemble"], *spec["members"]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(_PANEL_INCHES * 2.2, _PANEL_INCHES))
    left.boxplot([ok.loc[ok["model"] == m, "dice"].dropna().to_numpy(float) for m in models])
    left.set_xticks(range(1, len(models) + 1), models, rotation=30)
    left.set_ylabel("DSC")
    mine = ok[ok["model"] == spec["ensemble"]]
    if "uncertainty_index" in mine.columns:
        right.scatter(mine["uncertainty_index"].astype(float), mine["dice"].astype(float))
    right.set_xlabel("uncertainty index (ensemble)")
    right.set_ylabel("DSC (ensemble)")
    files.append(_save(figure, out / "ensemble.png"))
    return files, ["Ensemble and members (Kim et al.; p-values: member vs ensemble, paired):", "",
                   markdown_table(table)]


_AGGREGATORS = {"learning-curve": _learning_curve, "domain-adaptation": _domain_adaptation,
                "vendor-transfer": _vendor_transfer, "zoom-ablation": _zoom_ablation, "ensemble": _ensemble}


def aggregate(kind: str, name: str, spec: Mapping[str, Any], out: Path) -> list[Path]:
    """Write the results folder of an experiment of ``kind``; returns the files written (summary.md last)."""
    out.mkdir(parents=True, exist_ok=True)
    files, text = _AGGREGATORS[kind](spec, out)
    lines = [f"# {name} ({kind})", "", *text, "", "## Files", "",
             *[f"- [{path.name}]({path.name})" + (f"\n\n![{path.stem}]({path.name})" if path.suffix == ".png" else "")
               for path in files], ""]
    summary = out / SUMMARY_FILE
    with atomic_path(summary) as temporary:
        temporary.write_text("\n".join(lines), encoding="utf-8")
    return [*files, summary]


def files_of(folder: Path) -> Sequence[Path]:
    """Files in a results folder, sorted (for the CLI's report)."""
    return sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []
