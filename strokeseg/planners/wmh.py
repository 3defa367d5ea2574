"""Planners for white-matter-hyperintensity FLAIR datasets (Kim et al.)."""

from __future__ import annotations

from typing import Any

from strokeseg.defaults import KIM_BATCH_SIZE, KIM_IN_PLANE_ORDER, KIM_IN_PLANE_SIZE
from strokeseg.modalities import CHANNEL_FLAIR
from strokeseg.nnunet.plans import KIM_PLANS_NAME, WMH_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner
from strokeseg.preprocessing.in_plane import KEY_IN_PLANE_ORDER, KEY_IN_PLANE_SIZE


class WMHFlairPlanner(StrokesegPlanner):
    """Kim et al.'s FLAIR pipeline: per-slice 0-255, 32-bin histogram peak to 150, mask > 30, z-score in the mask.

    Kim et al. build their brain mask from the normalized intensities and do not strip the skull or correct the
    bias field (the WMH challenge's pre-processed images are already bias-corrected), so neither runs here.
    Channels: ``FLAIR`` is required; a ``T1w`` channel gets BrainZScoreNormalization over the nonzero region.
    """

    default_plans_name = WMH_PLANS_NAME
    required_channel = CHANNEL_FLAIR
    foreground_mask = False
    bias_correction = False


class KimWMHPlanner(WMHFlairPlanner):
    """Kim et al.'s preprocessing as published (preset ``kim_wmh_flair``): ``WMHFlairPlanner``'s FLAIR pipeline,
    and a ``2d`` configuration whose slices are resized to 256 x 256 voxels by 2D B-spline (cubic) interpolation,
    trained on whole slices (patch 256 x 256) in batches of 8.

    Train the paper's models with ``-c 2d -p strokesegKim2024Plans``; the 3D configurations stay
    ``WMHFlairPlanner``'s.
    """

    default_plans_name = KIM_PLANS_NAME

    def get_plans_for_configuration(self, spacing: Any, median_shape: Any, data_identifier: str,
                                    approximate_n_voxels_dataset: float, _cache: dict) -> dict:
        if len(median_shape) != 2:
            return super().get_plans_for_configuration(spacing, median_shape, data_identifier,
                                                       approximate_n_voxels_dataset, _cache)
        # every slice becomes 256 x 256 voxels, so nnU-Net plans the 2D network for whole resized slices
        plan = super().get_plans_for_configuration(spacing, KIM_IN_PLANE_SIZE, data_identifier,
                                                   approximate_n_voxels_dataset, _cache)
        plan.update({"patch_size": list(KIM_IN_PLANE_SIZE), "batch_size": KIM_BATCH_SIZE,
                     KEY_IN_PLANE_SIZE: list(KIM_IN_PLANE_SIZE), KEY_IN_PLANE_ORDER: KIM_IN_PLANE_ORDER})
        return plan
