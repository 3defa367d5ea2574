"""The papers' intensity pipelines (skull strip, N4, histogram-peak and WMH normalizations) as nnU-Net parts.

The planners use the public names below; nnU-Net itself finds ``StrokesegPreprocessor`` and the normalization
schemes by name (``strokeseg nnunet install``).
"""

from __future__ import annotations

from strokeseg.preprocessing.normalization import normalization_for_channel
from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, channel_names
from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation
from strokeseg.preprocessing.skull_strip import skull_strip_mask

__all__ = ["PLANS_KEY", "CasePreparation", "StrokesegPreprocessor", "channel_names", "normalization_for_channel",
           "skull_strip_mask"]
