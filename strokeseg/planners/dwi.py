"""Planner for acute-infarct DWI (optionally DWI+ADC) datasets (Noh et al.; Alis et al.)."""

from __future__ import annotations

from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner

#: Plans identifier written by StrokeDWIPlanner (``-p strokesegDWIPlans`` for nnUNetv2_train/predict).
DWI_PLANS_NAME = "strokesegDWIPlans"


class StrokeDWIPlanner(ExperimentPlanner):
    """nnU-Net's default planning, saved under the plans name ``strokesegDWIPlans``.

    Use with ``nnUNetv2_plan_and_preprocess -d ID -pl StrokeDWIPlanner`` and train with
    ``-p strokesegDWIPlans``.
    """

    def __init__(self, dataset_name_or_id: str | int, gpu_memory_target_in_gb: float = 8,
                 preprocessor_name: str = "DefaultPreprocessor", plans_name: str = DWI_PLANS_NAME,
                 overwrite_target_spacing: list[float] | tuple[float, ...] | None = None,
                 suppress_transpose: bool = False) -> None:
        super().__init__(dataset_name_or_id, gpu_memory_target_in_gb, preprocessor_name, plans_name,
                         overwrite_target_spacing, suppress_transpose)
