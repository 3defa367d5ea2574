"""Evaluation: metrics (docs/evaluation.md), lesion matching, strata, statistics, reports, plots and engines.

Pure computation: ``overlap``, ``surface``, ``lesion_matching``, ``probability`` (metric definitions),
``engine_base`` (what an engine computes), ``engines`` (CPU engine, engine selection) and ``torch_engine``
(CUDA engine), ``case_metrics`` (all per-case metrics of two arrays), ``strata``, ``statistics`` and
``report`` (tables). I/O and orchestration: ``inputs`` (the reference set and each model's predictions),
``worker`` (one case from its files), ``plots``, ``evaluate`` (a whole run; atlas locations come from
``strokeseg.location``) and ``cli`` (``strokeseg evaluate``).

The names below are the stage's public API: the metric definitions other stages score with (post-processing
fits on Dice and lesion F1, reports per-case metrics, and computes the ensemble uncertainty index), so that
every stage uses one definition of each metric, plus what orchestrators (experiments, the demo) run: a whole
evaluation, its inputs and the statistics of the papers' tables. Other stages import them from
``strokeseg.evaluation`` only. The orchestration names are imported on first use, so that importing the metric
definitions does not load pandas, matplotlib and the report code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, CaseMetrics, evaluate_pair
from strokeseg.evaluation.lesion_matching import LesionCounts, lesion_f1
from strokeseg.evaluation.overlap import ConfusionCounts, dice, micro_dice
from strokeseg.evaluation.probability import ensemble_mean_probability, max_dice, uncertainty_index

if TYPE_CHECKING:
    from strokeseg.evaluation.evaluate import EvaluationRequest, EvaluationResult, run_evaluation
    from strokeseg.evaluation.inputs import PredictionSet, ReferenceSet, resolve_predictions, resolve_reference
    from strokeseg.evaluation.report import ALL, BootstrapSettings, evaluated
    from strokeseg.evaluation.statistics import (
        concordance_correlation,
        describe,
        learning_curve_fit,
        mann_whitney,
        micro_dice_interval,
        paired_comparison,
    )
    from strokeseg.evaluation.strata import LOCATION_SOURCES, StrataSettings
    from strokeseg.evaluation.worker import EvaluationSettings as CaseEvaluationSettings

#: Public names imported on first use: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("strokeseg.evaluation.evaluate", name)
       for name in ("EvaluationRequest", "EvaluationResult", "run_evaluation")},
    **{name: ("strokeseg.evaluation.inputs", name)
       for name in ("PredictionSet", "ReferenceSet", "resolve_predictions", "resolve_reference")},
    **{name: ("strokeseg.evaluation.report", name) for name in ("ALL", "BootstrapSettings", "evaluated")},
    **{name: ("strokeseg.evaluation.statistics", name)
       for name in ("concordance_correlation", "describe", "learning_curve_fit", "mann_whitney",
                    "micro_dice_interval", "paired_comparison")},
    **{name: ("strokeseg.evaluation.strata", name) for name in ("LOCATION_SOURCES", "StrataSettings")},
    "CaseEvaluationSettings": ("strokeseg.evaluation.worker", "EvaluationSettings"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALL",
    "LOCATION_SOURCES",
    "METRIC_COLUMNS",
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
    "concordance_correlation",
    "describe",
    "dice",
    "ensemble_mean_probability",
    "evaluate_pair",
    "evaluated",
    "learning_curve_fit",
    "lesion_f1",
    "mann_whitney",
    "max_dice",
    "micro_dice",
    "micro_dice_interval",
    "paired_comparison",
    "resolve_predictions",
    "resolve_reference",
    "run_evaluation",
    "uncertainty_index",
]
