"""nnU-Net experiment planners (``nnUNetv2_plan_and_preprocess -pl <name>``).

Every class in ``__all__`` is exported to nnU-Net by ``strokeseg nnunet install``.
"""

from __future__ import annotations

from strokeseg.planners.alis import AlisVendorPlanner
from strokeseg.planners.atlas import AtlasT1Planner, TomitaAtlasPlanner
from strokeseg.planners.dwi import StrokeDWIPlanner
from strokeseg.planners.wmh import KimWMHPlanner, WMHFlairPlanner

__all__ = ["AlisVendorPlanner", "AtlasT1Planner", "KimWMHPlanner", "StrokeDWIPlanner", "TomitaAtlasPlanner",
           "WMHFlairPlanner"]
