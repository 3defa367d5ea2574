"""Evaluation: metrics (docs/evaluation.md), lesion matching, strata, statistics, reports, plots and engines.

Pure computation: ``overlap``, ``surface``, ``lesion_matching``, ``probability`` (metric definitions),
``engine_base`` (what an engine computes), ``engines`` (CPU engine, engine selection) and ``torch_engine``
(CUDA engine), ``case_metrics`` (all per-case metrics of two arrays), ``strata``, ``statistics`` and
``report`` (tables). I/O and orchestration: ``inputs`` (the reference set and each model's predictions),
``worker`` (one case from its files), ``plots``, ``evaluate`` (a whole run; atlas locations come from
``strokeseg.location``) and ``cli`` (``strokeseg evaluate``).

The names below are the stage's public API: the metric definitions other stages score with (post-processing
fits on Dice and lesion F1, reports per-case metrics, and computes the ensemble uncertainty index), so that
every stage uses one definition of each metric. Other stages import them from ``strokeseg.evaluation`` only.
"""

from __future__ import annotations

from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, CaseMetrics, evaluate_pair
from strokeseg.evaluation.lesion_matching import LesionCounts, lesion_f1
from strokeseg.evaluation.overlap import ConfusionCounts, dice, micro_dice
from strokeseg.evaluation.probability import ensemble_mean_probability, max_dice, uncertainty_index

__all__ = [
    "METRIC_COLUMNS",
    "CaseMetrics",
    "ConfusionCounts",
    "LesionCounts",
    "dice",
    "ensemble_mean_probability",
    "evaluate_pair",
    "lesion_f1",
    "max_dice",
    "micro_dice",
    "uncertainty_index",
]
