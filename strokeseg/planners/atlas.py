"""Planner for chronic-lesion T1w datasets such as ATLAS (Tomita et al.)."""

from __future__ import annotations

from strokeseg.modalities import CHANNEL_T1W
from strokeseg.nnunet.plans import ATLAS_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner


class AtlasT1Planner(StrokesegPlanner):
    """T1w: foreground mask (Gaussian + Otsu), N4, z-score inside the mask; zoom-in & out configurations.

    On T1w the Gaussian + Otsu mask is the head (scalp fat is bright), or the brain for skull-stripped data: it
    removes the background, it does not strip the skull. Train Tomita et al.'s schedule with ``-c 3d_zoomout``.
    """

    default_plans_name = ATLAS_PLANS_NAME
    required_channel = CHANNEL_T1W
