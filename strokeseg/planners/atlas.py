"""Planner for chronic-lesion T1w datasets such as ATLAS (Tomita et al.)."""

from __future__ import annotations

from strokeseg.defaults import TOMITA_CENTRE_CROP_MM
from strokeseg.modalities import CHANNEL_T1W
from strokeseg.nnunet.plans import ATLAS_PLANS_NAME, TOMITA_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner
from strokeseg.planners.zoom import add_zoom_configurations


class AtlasT1Planner(StrokesegPlanner):
    """T1w: foreground mask (Gaussian + Otsu), N4, z-score inside the mask; zoom-in & out configurations.

    On T1w the Gaussian + Otsu mask is the head (scalp fat is bright), or the brain for skull-stripped data: it
    removes the background, it does not strip the skull. Train Tomita et al.'s schedule with ``-c 3d_zoomout``.
    """

    default_plans_name = ATLAS_PLANS_NAME
    required_channel = CHANNEL_T1W


class TomitaAtlasPlanner(AtlasT1Planner):
    """``AtlasT1Planner`` with Tomita et al.'s zoom-out configuration exactly as published (preset
    ``tomita_atlas_zoom``): the zoom-out patch is 144 x 172 x 168 mm in voxels at the planned spacing, neither
    rounded to the network's stride (the preset's network pads its input) nor reduced for memory, and prediction
    with ``-c 3d_zoomout`` segments the centre 144 x 172 x 168 mm of each image, every voxel outside it background.
    """

    default_plans_name = TOMITA_PLANS_NAME

    def _add_zoom_configurations(self, plans: dict) -> None:
        add_zoom_configurations(plans, self, exact_zoom_out=True, centre_crop_mm_xyz=TOMITA_CENTRE_CROP_MM)
