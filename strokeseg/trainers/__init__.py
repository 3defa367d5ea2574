"""nnU-Net trainers (``nnUNetv2_train ID CONF FOLD -tr <name>``): the trainers users run, and nothing else.

Every class in ``__all__`` is found by the stock nnU-Net CLIs through ``nnUNet_extTrainer`` (see
``strokeseg.nnunet.plugins``); names start with ``nnUNetTrainer_strokeseg_`` so they never collide with nnU-Net's
own trainers. Each is a small class composed of a family (``StrokesegTrainer`` itself, ``FineTuningTrainer``,
``ZoomInOutTrainer`` or ``EnsembleMemberTrainer``) and settings (``strokeseg.trainers.recipes``): the papers'
models at full size, and CPU-sized schedules that the examples (``_Tiny``) and the demo (``_Tiny``, ``_CPU``) run.
See ``docs/trainers.md``.
"""

from __future__ import annotations

from strokeseg.trainers.ensemble import (
    nnUNetTrainer_strokeseg_Ensemble,
    nnUNetTrainer_strokeseg_SEUNet_Ensemble,
    nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny,
)
from strokeseg.trainers.finetune import (
    nnUNetTrainer_strokeseg_Alis2022_FT1ep_lr1e6_CPU,
    nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6,
    nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_Noh2023_FT3ep_lr3e3_CPU,
    nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU,
    nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4,
)
from strokeseg.trainers.kim import (
    nnUNetTrainer_strokeseg_Kim2024SEUNet,
    nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble,
    nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny,
    nnUNetTrainer_strokeseg_Kim2024UNet,
    nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble,
    nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble_Tiny,
)
from strokeseg.trainers.standard import (
    nnUNetTrainer_strokeseg_Alis2022,
    nnUNetTrainer_strokeseg_Alis2022_CPU,
    nnUNetTrainer_strokeseg_BCEDice,
    nnUNetTrainer_strokeseg_BiConvLSTMUNet,
    nnUNetTrainer_strokeseg_DiceOnly,
    nnUNetTrainer_strokeseg_Noh2023,
    nnUNetTrainer_strokeseg_Noh2023_CPU,
    nnUNetTrainer_strokeseg_Noh2023_Tiny,
    nnUNetTrainer_strokeseg_Noh2023SwinUNETR,
    nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_PreActResUNet_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet,
    nnUNetTrainer_strokeseg_ResGNUNet_Tiny,
    nnUNetTrainer_strokeseg_SEUNet,
    nnUNetTrainer_strokeseg_Tversky,
)
from strokeseg.trainers.zoom import (
    nnUNetTrainer_strokeseg_Tomita2020,
    nnUNetTrainer_strokeseg_Tomita2020_CPU,
    nnUNetTrainer_strokeseg_ZoomInOut,
    nnUNetTrainer_strokeseg_ZoomInOut_100ep,
    nnUNetTrainer_strokeseg_ZoomInOut_CPU,
    nnUNetTrainer_strokeseg_ZoomInOut_SGD,
    nnUNetTrainer_strokeseg_ZoomInOut_Tiny,
)

__all__ = [
    "nnUNetTrainer_strokeseg_Alis2022",
    "nnUNetTrainer_strokeseg_Alis2022_CPU",
    "nnUNetTrainer_strokeseg_Alis2022_FT1ep_lr1e6_CPU",
    "nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6",
    "nnUNetTrainer_strokeseg_BCEDice",
    "nnUNetTrainer_strokeseg_BiConvLSTMUNet",
    "nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4",
    "nnUNetTrainer_strokeseg_DiceOnly",
    "nnUNetTrainer_strokeseg_Ensemble",
    "nnUNetTrainer_strokeseg_FT20ep_lr1e4",
    "nnUNetTrainer_strokeseg_FT50ep_lr1e3",
    "nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc",
    "nnUNetTrainer_strokeseg_Kim2024SEUNet",
    "nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble",
    "nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny",
    "nnUNetTrainer_strokeseg_Kim2024UNet",
    "nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble",
    "nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble_Tiny",
    "nnUNetTrainer_strokeseg_Noh2023",
    "nnUNetTrainer_strokeseg_Noh2023SwinUNETR",
    "nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny",
    "nnUNetTrainer_strokeseg_Noh2023_CPU",
    "nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny",
    "nnUNetTrainer_strokeseg_Noh2023_FT3ep_lr3e3_CPU",
    "nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3",
    "nnUNetTrainer_strokeseg_Noh2023_Tiny",
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
    "nnUNetTrainer_strokeseg_Tomita2020",
    "nnUNetTrainer_strokeseg_Tomita2020_CPU",
    "nnUNetTrainer_strokeseg_Tversky",
    "nnUNetTrainer_strokeseg_ZoomInOut",
    "nnUNetTrainer_strokeseg_ZoomInOut_100ep",
    "nnUNetTrainer_strokeseg_ZoomInOut_CPU",
    "nnUNetTrainer_strokeseg_ZoomInOut_SGD",
    "nnUNetTrainer_strokeseg_ZoomInOut_Tiny",
]
