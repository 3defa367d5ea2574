"""Plans identifiers: the names under which nnU-Net stores a planner's plans and preprocessed data."""

from __future__ import annotations

from collections.abc import Sequence

#: The plans identifier of nnU-Net's own ExperimentPlanner.
STOCK_PLANS = "nnUNetPlans"
#: The plans identifiers of strokeseg's planners (``-p`` of ``nnUNetv2_train`` / ``nnUNetv2_predict``).
DWI_PLANS_NAME = "strokesegDWIPlans"
ATLAS_PLANS_NAME = "strokesegATLASPlans"
#: Tomita et al.'s preset (exact zoom-out patch, centre-crop prediction).
TOMITA_PLANS_NAME = "strokesegTomita2020Plans"
WMH_PLANS_NAME = "strokesegWMHPlans"
#: Kim et al.'s preset (256 x 256 B-spline slices, batch 8 in the 2d configuration).
KIM_PLANS_NAME = "strokesegKim2024Plans"
#: Alis et al.'s preset (224 x 224 slices, per-site 0-1 windows).
ALIS_PLANS_NAME = "strokesegAlisPlans"


def spaced_plans_name(plans: str, spacing: Sequence[float] | None) -> str:
    """``plans`` for the planner's own grid; with a target spacing (z, y, x mm) the spacing is appended
    (``strokesegDWIPlans_5x4x4mm``, ``0.5`` → ``0p5``) so plans of two grids never overwrite each other."""
    if spacing is None:
        return plans
    return f"{plans}_{'x'.join(f'{value:g}'.replace('.', 'p') for value in spacing)}mm"


def target_spacing_arguments(spacing: Sequence[float] | None, plans: str) -> tuple[str, ...]:
    """``nnUNetv2_plan_and_preprocess`` arguments that plan 3d_fullres at ``spacing`` (z, y, x mm) under the plans
    name ``plans`` (a changed grid must not overwrite the default plans); none when ``spacing`` is None."""
    if spacing is None:
        return ()
    return ("-overwrite_target_spacing", *(f"{value:g}" for value in spacing), "-overwrite_plans_name", plans)
