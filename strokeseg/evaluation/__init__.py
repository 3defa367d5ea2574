"""Evaluation: metrics (docs/evaluation.md), lesion matching, strata, statistics, reports, plots and engines.

Pure computation: ``overlap``, ``surface``, ``lesion_matching``, ``probability`` (metric definitions),
``engine_base`` (what an engine computes), ``engines`` (CPU engine, engine selection) and ``torch_engine``
(CUDA engine), ``case_metrics`` (all per-case metrics of two arrays), ``strata``, ``statistics`` and
``report`` (tables), ``multiple_testing``, ``group_tests``, ``regression``, ``cohort``, ``derived_strata`` and
``analyses`` (the papers' further statistics and their tables). I/O and orchestration: ``inputs`` (the
reference set and each model's predictions), ``label_sources`` (second label maps, majority-vote references),
``worker`` (one case from its files), ``plots``, ``evaluate`` (a whole run; atlas locations come from
``strokeseg.location``) and ``cli`` (``strokeseg evaluate``).

The names below are the stage's public API: the metric definitions other stages score with (post-processing
fits on Dice and lesion F1, reports per-case metrics, and computes the ensemble uncertainty index), so that
every stage uses one definition of each metric, plus what orchestrators (experiments, the demo) run: a whole
evaluation, its inputs and the statistics of the papers' tables. Other stages import them from
``strokeseg.evaluation`` only. Every name is imported on first use, so that importing the metric
definitions does not load pandas, matplotlib and the report code, and ``strokeseg evaluate --help`` loads
none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, CaseMetrics, evaluate_pair
    from strokeseg.evaluation.choices import (
        BOOTSTRAP_METHODS,
        DEFAULT_P_ADJUSTMENT,
        GROUP_TESTS,
        LOCATION_SOURCES,
        P_ADJUSTMENTS,
    )
    from strokeseg.evaluation.cohort import cohort_table
    from strokeseg.evaluation.evaluate import EvaluationRequest, EvaluationResult, run_evaluation
    from strokeseg.evaluation.group_tests import omnibus_test, post_hoc_pairs, shapiro_wilk, summary_text
    from strokeseg.evaluation.inputs import PredictionSet, ReferenceSet, resolve_predictions, resolve_reference
    from strokeseg.evaluation.lesion_matching import LesionCounts, lesion_f1
    from strokeseg.evaluation.multiple_testing import adjust_p_values
    from strokeseg.evaluation.overlap import ConfusionCounts, dice, micro_dice
    from strokeseg.evaluation.probability import ensemble_mean_probability, max_dice, uncertainty_index
    from strokeseg.evaluation.regression import (
        certainty_curve,
        correlation,
        linear_regression,
        log10_regression,
        plateau_size,
        share_below,
    )
    from strokeseg.evaluation.report import ALL, BootstrapSettings, evaluated
    from strokeseg.evaluation.statistics import (
        concordance_correlation,
        describe,
        learning_curve_fit,
        mann_whitney,
        micro_dice_interval,
        paired_comparison,
    )
    from strokeseg.evaluation.strata import StrataSettings
    from strokeseg.evaluation.worker import EvaluationSettings as CaseEvaluationSettings

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("METRIC_COLUMNS", "CaseMetrics", "evaluate_pair"), "strokeseg.evaluation.case_metrics"),
    **dict.fromkeys(("LesionCounts", "lesion_f1"), "strokeseg.evaluation.lesion_matching"),
    **dict.fromkeys(("ConfusionCounts", "dice", "micro_dice"), "strokeseg.evaluation.overlap"),
    **dict.fromkeys(("ensemble_mean_probability", "max_dice", "uncertainty_index"),
                    "strokeseg.evaluation.probability"),
    **dict.fromkeys(("EvaluationRequest", "EvaluationResult", "run_evaluation"), "strokeseg.evaluation.evaluate"),
    **dict.fromkeys(("PredictionSet", "ReferenceSet", "resolve_predictions", "resolve_reference"),
                    "strokeseg.evaluation.inputs"),
    **dict.fromkeys(("ALL", "BootstrapSettings", "evaluated"), "strokeseg.evaluation.report"),
    **dict.fromkeys(("concordance_correlation", "describe", "learning_curve_fit", "mann_whitney",
                     "micro_dice_interval", "paired_comparison"), "strokeseg.evaluation.statistics"),
    **dict.fromkeys(("BOOTSTRAP_METHODS", "DEFAULT_P_ADJUSTMENT", "GROUP_TESTS", "LOCATION_SOURCES", "P_ADJUSTMENTS"),
                    "strokeseg.evaluation.choices"),
    "cohort_table": "strokeseg.evaluation.cohort",
    **dict.fromkeys(("omnibus_test", "post_hoc_pairs", "shapiro_wilk", "summary_text"),
                    "strokeseg.evaluation.group_tests"),
    "adjust_p_values": "strokeseg.evaluation.multiple_testing",
    **dict.fromkeys(("certainty_curve", "correlation", "linear_regression", "log10_regression", "plateau_size",
                     "share_below"), "strokeseg.evaluation.regression"),
    "StrataSettings": "strokeseg.evaluation.strata",
    "CaseEvaluationSettings": "strokeseg.evaluation.worker:EvaluationSettings",
})

__all__ = [
    "ALL",
    "BOOTSTRAP_METHODS",
    "DEFAULT_P_ADJUSTMENT",
    "GROUP_TESTS",
    "LOCATION_SOURCES",
    "METRIC_COLUMNS",
    "P_ADJUSTMENTS",
    "BootstrapSettings",
    "CaseEvaluationSettings",
    "CaseMetrics",
    "ConfusionCounts",
    "EvaluationRequest",
    "EvaluationResult",
    "LesionCounts",
    "PredictionSet",
    "ReferenceSet",
    "StrataSettings",
    "adjust_p_values",
    "certainty_curve",
    "cohort_table",
    "concordance_correlation",
    "correlation",
    "describe",
    "dice",
    "ensemble_mean_probability",
    "evaluate_pair",
    "evaluated",
    "learning_curve_fit",
    "lesion_f1",
    "linear_regression",
    "log10_regression",
    "mann_whitney",
    "max_dice",
    "micro_dice",
    "micro_dice_interval",
    "omnibus_test",
    "paired_comparison",
    "plateau_size",
    "post_hoc_pairs",
    "resolve_predictions",
    "resolve_reference",
    "run_evaluation",
    "shapiro_wilk",
    "share_below",
    "summary_text",
    "uncertainty_index",
]
