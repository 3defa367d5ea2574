"""PNG figures of an evaluation report (matplotlib, headless ``Agg`` backend, written atomically).

One panel per model where a figure shows models separately. Only cases with status ``ok`` are drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot is imported
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from strokeseg.defaults import BLAND_ALTMAN_Z
from strokeseg.evaluation.report import evaluated, models_of
from strokeseg.evaluation.strata import Stratification
from strokeseg.io import atomic_path

_PANEL_INCHES = 4.2


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def _panels(count: int) -> tuple[Figure, list[Axes]]:
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(_PANEL_INCHES * columns, _PANEL_INCHES * rows),
                                squeeze=False)
    flat = list(axes.ravel())
    for unused in flat[count:]:
        unused.set_visible(False)
    return figure, flat[:count]


def _volume_panels(per_case: pd.DataFrame) -> tuple[Figure, list[tuple[Axes, str, np.ndarray, np.ndarray]]]:
    """A figure with one panel per model, and per panel (axis, model, reference mL, predicted mL)."""
    ok = evaluated(per_case)
    models = models_of(per_case)
    figure, axes = _panels(len(models))
    panels = []
    for axis, model in zip(axes, models, strict=True):
        mine = ok[ok["model"] == model]
        panels.append((axis, model, mine["vol_ref_ml"].to_numpy(float), mine["vol_pred_ml"].to_numpy(float)))
    return figure, panels


def bland_altman_plot(per_case: pd.DataFrame, path: Path, loa_z: float = BLAND_ALTMAN_Z) -> Path:
    """Difference (pred − ref) against mean of the two volumes, with bias and limits of agreement."""
    figure, panels = _volume_panels(per_case)
    for axis, model, reference, predicted in panels:
        difference = predicted - reference
        axis.scatter((predicted + reference) / 2.0, difference, s=12, alpha=0.7)
        if difference.size:
            bias = difference.mean()
            sd = difference.std(ddof=1) if difference.size > 1 else 0.0
            axis.axhline(bias, color="black", label=f"bias {bias:.2f} mL")
            for limit in (bias - loa_z * sd, bias + loa_z * sd):
                axis.axhline(limit, color="gray", linestyle="--")
            axis.legend(loc="best", fontsize=8, title=f"limits: bias ± {loa_z:g} SD", title_fontsize=8)
        axis.set_xlabel("mean of predicted and reference volume (mL)")
        axis.set_ylabel("predicted − reference volume (mL)")
        axis.set_title(f"Bland–Altman: {model} (n={difference.size})")
    return _save(figure, path)


def volume_scatter_plot(per_case: pd.DataFrame, path: Path) -> Path:
    """Predicted against reference volume per case, with the identity line."""
    figure, panels = _volume_panels(per_case)
    for axis, model, reference, predicted in panels:
        axis.scatter(reference, predicted, s=12, alpha=0.7)
        top = float(max(reference.max(initial=0.0), predicted.max(initial=0.0))) * 1.05 or 1.0
        axis.plot([0, top], [0, top], color="black", linewidth=1, label="identity")
        axis.set_xlim(0, top)
        axis.set_ylim(0, top)
        axis.set_aspect("equal")
        axis.set_xlabel("reference volume (mL)")
        axis.set_ylabel("predicted volume (mL)")
        axis.set_title(f"Volumes: {model} (n={reference.size})")
        axis.legend(loc="upper left", fontsize=8)
    return _save(figure, path)


def metric_by_stratum_plot(per_case: pd.DataFrame, stratification: Stratification, path: Path,
                           metric: str = "dice", reference_lines: Mapping[str, float] | None = None) -> Path:
    """Box plots of ``metric`` per stratum, the models side by side within each stratum; ``reference_lines``
    (label -> value) are drawn as horizontal dashed lines (a second reader's mean DSC, the inter-rater DSC)."""
    ok = evaluated(per_case)
    models = models_of(per_case)
    levels = list(stratification.levels)
    width = 0.8 / max(len(models), 1)
    figure, axis = plt.subplots(figsize=(max(5.0, 1.2 * len(levels) * max(1, len(models)) ** 0.5 + 2), 4.2))
    for index, model in enumerate(models):
        mine = ok[ok["model"] == model]
        data = [mine.loc[mine[stratification.name] == level, metric].dropna().to_numpy(float) for level in levels]
        positions = np.arange(len(levels)) + (index - (len(models) - 1) / 2) * width
        filled = [(p, d) for p, d in zip(positions, data, strict=True) if d.size]
        if filled:
            boxes = axis.boxplot([d for _, d in filled], positions=[p for p, _ in filled], widths=width * 0.9,
                                 patch_artist=True, manage_ticks=False)
            colour = f"C{index}"
            for box in boxes["boxes"]:
                box.set_facecolor(colour)
                box.set_alpha(0.6)
            axis.plot([], [], color=colour, linewidth=6, alpha=0.6, label=model)
    counts = [int((ok[ok["model"] == models[0]][stratification.name] == level).sum()) if models else 0
              for level in levels]
    axis.set_xticks(np.arange(len(levels)))
    axis.set_xticklabels([f"{level}\n(n={count})" for level, count in zip(levels, counts, strict=True)], fontsize=8)
    for index, (label, value) in enumerate((reference_lines or {}).items()):
        axis.axhline(value, color=f"C{len(models) + index}", linestyle="--", linewidth=1,
                     label=f"{label} {value:.3f}")
    axis.set_xlabel(stratification.name)
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} by {stratification.name}")
    if len(models) > 1 or reference_lines:
        axis.legend(fontsize=8)
    return _save(figure, path)


def _fit_label(fit: pd.Series | None) -> str:
    if fit is None or math.isnan(float(fit["slope"])):
        return "fit undefined"
    return f"slope {float(fit['slope']):.3f}, R² = {float(fit['r2']):.2f}, p = {float(fit['p_value']):.3g}"


def _regression_row(regressions: pd.DataFrame, model: str, analysis: str) -> pd.Series | None:
    found = regressions[(regressions["model"] == model) & (regressions["analysis"] == analysis)]
    return None if found.empty else found.iloc[0]


def _scatter_with_fit(per_case: pd.DataFrame, regressions: pd.DataFrame, path: Path, analysis: str,
                      x_of: Callable[[pd.DataFrame], np.ndarray], x_label: str, transform_x: bool) -> Path:
    """Per-case DSC against x, one panel per model, with the least-squares line of ``regressions``."""
    ok = evaluated(per_case)
    models = models_of(per_case)
    figure, axes = _panels(len(models))
    for axis, model in zip(axes, models, strict=True):
        mine = ok[ok["model"] == model]
        x, dice = x_of(mine), mine["dice"].to_numpy(float)
        keep = np.isfinite(x) & np.isfinite(dice) & ((x > 0) if transform_x else True)
        axis.scatter(x[keep], dice[keep], s=12, alpha=0.7)
        fit = _regression_row(regressions, model, analysis)
        if fit is not None and not math.isnan(float(fit["slope"])) and keep.any():
            grid = np.linspace(x[keep].min(), x[keep].max(), 50)
            line_x = np.log10(grid) if transform_x else grid
            axis.plot(grid, float(fit["intercept"]) + float(fit["slope"]) * line_x, color="black")
        if transform_x:
            axis.set_xscale("log")
        axis.set_xlabel(x_label)
        axis.set_ylabel("DSC")
        axis.set_title(f"{model} (n={int(keep.sum())})\n{_fit_label(fit)}", fontsize=9)
    return _save(figure, path)


def dice_vs_lesion_size_plot(per_case: pd.DataFrame, regressions: pd.DataFrame, path: Path) -> Path:
    """DSC against reference lesion voxel count (log axis) with the fit on log10 voxels (Tomita et al.)."""
    return _scatter_with_fit(per_case, regressions, path, "dice_vs_log10_lesion_voxels",
                             lambda rows: (rows["tp"] + rows["fn"]).to_numpy(float), "reference lesion voxels", True)


def uncertainty_vs_dice_plot(per_case: pd.DataFrame, regressions: pd.DataFrame, path: Path) -> Path:
    """DSC against the uncertainty index with its least-squares line and Pearson's r (Kim et al.)."""
    return _scatter_with_fit(per_case, regressions, path, "dice_vs_uncertainty_index",
                             lambda rows: rows["uncertainty_index"].to_numpy(float), "uncertainty index", False)


def certainty_curve_plot(curves: pd.DataFrame, path: Path) -> Path:
    """Mean DSC of the most certain x % of cases against x, one line per model (Kim et al.)."""
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for model, curve in curves.groupby("model", sort=False):
        axis.plot(curve["percent"].to_numpy(float), curve["mean_dice"].to_numpy(float), marker="o", label=str(model))
    axis.set_xlabel("most certain cases (%)")
    axis.set_ylabel("mean DSC")
    axis.set_title("Mean DSC of the most certain cases")
    axis.legend(fontsize=8)
    return _save(figure, path)


def learning_curve_plot(table: pd.DataFrame, fit: Mapping[str, float], path: Path) -> Path:
    """Mean DSC (with CI) against training-set size on a log axis, with the OLS fit on ln(n)."""
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    sizes = table["training_cases"].to_numpy(float)
    means = table["mean_dice"].to_numpy(float)
    errors = np.vstack([means - table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float) - means])
    axis.errorbar(sizes, means, yerr=np.nan_to_num(errors), fmt="o", capsize=3, label="mean DSC (95 % CI)")
    for size, mean, model in zip(sizes, means, table["model"], strict=True):
        axis.annotate(str(model), (size, mean), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if not math.isnan(fit.get("slope", math.nan)):
        grid = np.geomspace(sizes.min(), sizes.max(), 50)
        axis.plot(grid, fit["intercept"] + fit["slope"] * np.log(grid), color="black",
                  label=f"DSC = {fit['intercept']:.3f} + {fit['slope']:.3f}·ln(n), r²={fit['r2']:.2f}")
    axis.set_xscale("log")
    axis.set_xlabel("training cases (n)")
    axis.set_ylabel("mean DSC")
    axis.set_title("Learning curve")
    axis.legend(fontsize=8)
    return _save(figure, path)
