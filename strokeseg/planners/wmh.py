"""Planner for white-matter-hyperintensity FLAIR datasets (Kim et al.)."""

from __future__ import annotations

from strokeseg.modalities import CHANNEL_FLAIR
from strokeseg.nnunet.plans import WMH_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner


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
