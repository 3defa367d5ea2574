"""nnU-Net experiment planners (``nnUNetv2_plan_and_preprocess -pl <name>``).

Every class in ``__all__`` is exported to nnU-Net by ``strokeseg nnunet install``.
"""

from __future__ import annotations

from strokeseg.planners.dwi import StrokeDWIPlanner

__all__ = ["StrokeDWIPlanner"]
