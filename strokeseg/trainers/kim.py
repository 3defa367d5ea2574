"""Kim et al.'s WMH models as published (preset ``kim_wmh_flair``): the 2D U-Net and 2D SE-U-Net, single models and
deep-ensemble members.

``nnUNetv2_train ID 2d FOLD -tr nnUNetTrainer_strokeseg_Kim2024SEUNet -p strokesegKimWMHPlans`` trains one model (soft
Dice, Adam 1e-3 with time-based decay 1e-3 / 300 per iteration, 50 epochs as passes over the training slices, batch
8 from the plans, no deep supervision, no augmentation). The ``_Ensemble`` trainers are the members of the paper's
5-member deep ensemble: member k is fold k of the ensemble split (``strokeseg split ensemble``: each member on its
own 90 % of the training set) and seeds its initialization with ``DEFAULT_SEED + k``. Predict each member with
``--save_probabilities`` into its own folder and average them with ``strokeseg uncertainty`` (soft voting: mean
probability, the ensemble segmentation p̄ ≥ 0.5, and the KL uncertainty index).

Slices are drawn uniformly (no foreground oversampling): the paper trains on all slices alike. ``_Tiny`` variants
run the same code with 2 epochs of 1 iteration at an eighth of the paper's widths (tests, examples).
"""

from __future__ import annotations

from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.ensemble import EnsembleMemberTrainer
from strokeseg.trainers.recipes import KIM2024_SE_UNET, KIM2024_TINY, KIM2024_UNET


class nnUNetTrainer_strokeseg_Kim2024UNet(StrokesegTrainer, settings=(KIM2024_UNET,)):
    """Kim et al.'s 2D U-Net with the paper's schedule (one model; train the ``2d`` configuration)."""


class nnUNetTrainer_strokeseg_Kim2024SEUNet(StrokesegTrainer, settings=(KIM2024_SE_UNET,)):
    """Kim et al.'s 2D SE-U-Net with the paper's schedule (one model; train the ``2d`` configuration)."""


class nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble(EnsembleMemberTrainer, settings=(KIM2024_UNET,)):
    """Member ``fold`` of the paper's deep ensemble of 2D U-Nets (its own 90 % subset and seed)."""


class nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble(EnsembleMemberTrainer,
                                                     settings=(KIM2024_SE_UNET,)):
    """Member ``fold`` of the paper's deep ensemble of 2D SE-U-Nets (its own 90 % subset and seed)."""


class nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble_Tiny(EnsembleMemberTrainer,
                                                        settings=(KIM2024_UNET, KIM2024_TINY)):
    """CPU-sized ``Kim2024UNet_Ensemble`` (same code path: 2 epochs of 1 iteration, an eighth of the widths)."""


class nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny(EnsembleMemberTrainer,
                                                          settings=(KIM2024_SE_UNET, KIM2024_TINY)):
    """CPU-sized ``Kim2024SEUNet_Ensemble`` (same code path: 2 epochs of 1 iteration, an eighth of the widths)."""
