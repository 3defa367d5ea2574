"""nnU-Net trainers (``nnUNetv2_train ID CONF FOLD -tr <name>``).

Every class in ``__all__`` is exported to nnU-Net by ``strokeseg nnunet install``; names start with
``nnUNetTrainer_strokeseg_`` so they never collide with nnU-Net's own trainers. See ``docs/trainers.md``.
"""

from __future__ import annotations

from strokeseg.trainers.ensemble import nnUNetTrainer_strokeseg_Ensemble, nnUNetTrainer_strokeseg_SEUNet_Ensemble
from strokeseg.trainers.finetune import (
    nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4,
)
from strokeseg.trainers.loss_variants import (
    nnUNetTrainer_strokeseg_BCEDice,
    nnUNetTrainer_strokeseg_DiceOnly,
    nnUNetTrainer_strokeseg_Tversky,
)
from strokeseg.trainers.network_variants import (
    nnUNetTrainer_strokeseg_BiConvLSTMUNet,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_ResGNUNet,
    nnUNetTrainer_strokeseg_SEUNet,
)
from strokeseg.trainers.tiny import (
    nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU,
    nnUNetTrainer_strokeseg_ResGNUNet_Tiny,
    nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny,
    nnUNetTrainer_strokeseg_SEUNet_Tiny,
    nnUNetTrainer_strokeseg_Tiny,
    nnUNetTrainer_strokeseg_ZoomInOut_CPU,
    nnUNetTrainer_strokeseg_ZoomInOut_Tiny,
)
from strokeseg.trainers.zoom import (
    nnUNetTrainer_strokeseg_ZoomInOut,
    nnUNetTrainer_strokeseg_ZoomInOut_100ep,
    nnUNetTrainer_strokeseg_ZoomInOut_SGD,
)

__all__ = [
    "nnUNetTrainer_strokeseg_BCEDice",
    "nnUNetTrainer_strokeseg_BiConvLSTMUNet",
    "nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4",
    "nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny",
    "nnUNetTrainer_strokeseg_DiceOnly",
    "nnUNetTrainer_strokeseg_Ensemble",
    "nnUNetTrainer_strokeseg_FT20ep_lr1e4",
    "nnUNetTrainer_strokeseg_FT50ep_lr1e3",
    "nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc",
    "nnUNetTrainer_strokeseg_PreActResUNet",
    "nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny",
    "nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3",
    "nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc",
    "nnUNetTrainer_strokeseg_PreActResUNet_Tiny",
    "nnUNetTrainer_strokeseg_ResGNUNet",
    "nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny",
    "nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU",
    "nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4",
    "nnUNetTrainer_strokeseg_ResGNUNet_Tiny",
    "nnUNetTrainer_strokeseg_SEUNet",
    "nnUNetTrainer_strokeseg_SEUNet_Ensemble",
    "nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny",
    "nnUNetTrainer_strokeseg_SEUNet_Tiny",
    "nnUNetTrainer_strokeseg_Tiny",
    "nnUNetTrainer_strokeseg_Tversky",
    "nnUNetTrainer_strokeseg_ZoomInOut",
    "nnUNetTrainer_strokeseg_ZoomInOut_100ep",
    "nnUNetTrainer_strokeseg_ZoomInOut_CPU",
    "nnUNetTrainer_strokeseg_ZoomInOut_SGD",
    "nnUNetTrainer_strokeseg_ZoomInOut_Tiny",
]
