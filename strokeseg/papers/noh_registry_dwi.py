"""Noh et al.'s registry DWI study as published: acute-infarct segmentation on DWI from 10 hospitals.

The pre-activation residual 3D U-Net (``nnUNetTrainer_strokeseg_Noh2023``: no deep supervision, the paper's
TorchIO augmentations) on ``StrokeDWIPlanner``'s preprocessing (skull strip by Gaussian blur + Otsu, N4 with at
most 10 iterations, per-slice histogram peak -> 150, clip at 255); learning-curve subsamples of 2.5-100 % of the
internal cohort (217 ... 8,661 images, 8:2 train:validation), a single-site arm, and domain adaptation on an
external cohort split into a 1,000-image adaptation pool and a 1,777-image test set (fine-tuning with 50-1,000
pool images; the 217/433/866-image models with 50/100/200). ISLES'22 is converted with DWI only
(``strokeseg convert isles22 ... --channels DWI``). The transformer arm (variant ``transformer_arm``:
``nnUNetTrainer_strokeseg_Noh2023SwinUNETR``, MONAI's Swin UNETR) trains on the same learning-curve subsamples
(``comparison:`` of a learning-curve experiment). ``docs/papers/noh_registry_dwi.md`` holds the fidelity table.
"""

from __future__ import annotations

from strokeseg.defaults import (
    DOMAIN_ADAPTATION_SIZES,
    LEARNING_CURVE_FRACTIONS,
    NOH_ADAPTATION_POOL_SIZE,
    NOH_ADAPTATION_TEST_SIZE,
    NOH_GRID_ADAPTATION_SIZES,
    NOH_GRID_PRETRAINING_SIZES,
    NOH_INTERNAL_IMAGES,
    TRAIN_FRACTION,
)
from strokeseg.modalities import CHANNEL_DWI
from strokeseg.nnunet.plans import DWI_PLANS_NAME
from strokeseg.papers.preset import Preset

#: The channels the paper's models take, and with which ISLES'22 is converted for testing.
CHANNELS: tuple[str, ...] = (CHANNEL_DWI,)

PRESET = Preset(
    key="noh_registry_dwi",
    title="Noh et al., deep-learning segmentation of acute infarcts on DWI in a 10-hospital stroke registry "
          "(pre-activation residual 3D U-Net; learning curve, single-site arm, domain adaptation)",
    planner="StrokeDWIPlanner",
    plans=DWI_PLANS_NAME,
    configuration="3d_fullres",
    trainer="nnUNetTrainer_strokeseg_Noh2023",
    cpu_trainer="nnUNetTrainer_strokeseg_Noh2023_Tiny",
    finetune_trainer="nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3",
    cpu_finetune_trainer="nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny",
    variants={"nnunet_flavoured": "nnUNetTrainer_strokeseg_PreActResUNet",
              "nnunet_flavoured_finetune": "nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3",
              "transformer_arm": "nnUNetTrainer_strokeseg_Noh2023SwinUNETR",
              "transformer_arm_cpu": "nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny"},
    split_design="learning-curve",
    split_options={"fractions": LEARNING_CURVE_FRACTIONS, "train_fraction": TRAIN_FRACTION,
                   "n_internal_images": NOH_INTERNAL_IMAGES, "channels": CHANNELS},
    experiment={
        "kind": "domain-adaptation",
        "planner": "StrokeDWIPlanner",
        "configuration": "3d_fullres",
        "trainer": "nnUNetTrainer_strokeseg_Noh2023",
        "finetune_trainer": "nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3",
        "split": {"fractions": list(LEARNING_CURVE_FRACTIONS), "train_fraction": TRAIN_FRACTION},
        "target": {"sizes": list(DOMAIN_ADAPTATION_SIZES), "pool_size": NOH_ADAPTATION_POOL_SIZE,
                   "test_size": NOH_ADAPTATION_TEST_SIZE,
                   "grid": [{"pretraining": [NOH_INTERNAL_IMAGES], "adaptation": list(DOMAIN_ADAPTATION_SIZES)},
                            {"pretraining": list(NOH_GRID_PRETRAINING_SIZES),
                             "adaptation": list(NOH_GRID_ADAPTATION_SIZES)}]},
    },
)
