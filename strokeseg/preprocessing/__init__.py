"""The papers' intensity pipelines (skull strip, N4, histogram-peak and WMH normalizations) as nnU-Net parts.

The planners use the public names below; nnU-Net itself finds ``StrokesegPreprocessor`` and the normalization
schemes by name (``strokeseg nnunet install``). The names are imported on first use, so that ``strokeseg
preprocess --help`` does not load nnU-Net and torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.preprocessing.normalization import normalization_for_channel
    from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, channel_names
    from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation
    from strokeseg.preprocessing.skull_strip import skull_strip_mask

__getattr__, __dir__ = lazy_exports(__name__, {
    "normalization_for_channel": "strokeseg.preprocessing.normalization",
    "StrokesegPreprocessor": "strokeseg.preprocessing.preprocessors",
    "channel_names": "strokeseg.preprocessing.preprocessors",
    "PLANS_KEY": "strokeseg.preprocessing.settings",
    "CasePreparation": "strokeseg.preprocessing.settings",
    "skull_strip_mask": "strokeseg.preprocessing.skull_strip",
})

__all__ = ["PLANS_KEY", "CasePreparation", "StrokesegPreprocessor", "channel_names", "normalization_for_channel",
           "skull_strip_mask"]
