"""Planner for acute-infarct DWI (optionally DWI+ADC, b0) datasets (Noh et al.; Alis et al.)."""

from __future__ import annotations

from strokeseg.modalities import CHANNEL_DWI
from strokeseg.nnunet.plans import DWI_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner


class StrokeDWIPlanner(StrokesegPlanner):
    """Noh et al.'s DWI pipeline: skull strip (Gaussian + Otsu on DWI), N4, per-slice histogram-peak normalization.

    Channels: ``DWI`` is required; ``ADC`` (clipped 0-3000 × 10⁻⁶ mm²/s, scaled to 0-255, never N4-corrected)
    and ``b0`` (handled like DWI) are optional. Thick-slice data (1×1×3-5 mm) keep nnU-Net's anisotropic
    planning (slice axis first, in-plane-only pooling and 1×3×3 kernels until the spacing is similar, the
    10th-percentile slice spacing as target); skull stripping blurs and N4 shrinks in mm, so 5 mm slices are
    neither blurred nor shrunk across, and the histogram normalization works slice by slice along that axis.

    Use with ``nnUNetv2_plan_and_preprocess -d ID -pl StrokeDWIPlanner`` and train with ``-p strokesegDWIPlans``.
    """

    default_plans_name = DWI_PLANS_NAME
    required_channel = CHANNEL_DWI
