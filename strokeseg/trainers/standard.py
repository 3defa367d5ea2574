"""Trainers that train one model with nnU-Net's procedure: a paper's model, or a paper's loss on nnU-Net's network.

Each is a few class attributes on ``StrokesegTrainer`` (see ``strokeseg.trainers.recipes``); deep supervision and
the ignore label work as in nnU-Net.
"""

from __future__ import annotations

from typing import ClassVar

from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.losses import BCEDiceRecipe, LossRecipe, SoftDiceRecipe, TverskyRecipe
from strokeseg.trainers.recipes import (
    ALIS,
    ALIS_2022,
    ALIS_2022_CPU,
    KIM,
    NOH,
    NOH2023,
    NOH2023_CPU,
    NOH2023_SWIN_UNETR,
    SWIN_UNETR_TINY_RUN,
    TINY,
    TOMITA,
)


class nnUNetTrainer_strokeseg_PreActResUNet(StrokesegTrainer, settings=(NOH,)):
    """Noh et al.: 3D U-Net with pre-activation residual units (batch norm, ReLU); nnU-Net's loss and SGD.

    3/8 of nnU-Net's widths (``DWI_NETWORK_WIDTH_SCALE``) and fast left-right test-time mirroring.
    """


class nnUNetTrainer_strokeseg_Noh2023(StrokesegTrainer, settings=(NOH2023,)):
    """Noh et al. as published (``noh_registry_dwi`` preset): pre-activation residual 3D U-Net without deep
    supervision, trained with the paper's TorchIO augmentations (slice-wise affine, bias field, flip, gamma).

    The nnU-Net-flavoured variant (nnU-Net's augmentation and deep supervision) is ``PreActResUNet``.
    """


class nnUNetTrainer_strokeseg_Noh2023_Tiny(StrokesegTrainer, settings=(NOH2023, TINY)):
    """CPU-sized ``Noh2023`` (same code path: 2 epochs of 5 iterations, a quarter of the plans' widths)."""


class nnUNetTrainer_strokeseg_Noh2023SwinUNETR(StrokesegTrainer, settings=(NOH2023_SWIN_UNETR,)):
    """The registry study's transformer arm (``noh_registry_dwi`` preset): MONAI's Swin UNETR (feature size 48,
    input padded to multiples of 32) trained like ``Noh2023`` (TorchIO augmentations, one output, nnU-Net's loss
    and schedule) with MONAI's reference optimizer, AdamW at 1e-4 (weight decay 1e-5)."""


class nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny(StrokesegTrainer,
                                                    settings=(NOH2023_SWIN_UNETR, TINY, SWIN_UNETR_TINY_RUN)):
    """CPU-sized ``Noh2023SwinUNETR`` (same code path: 1 epoch of 2 training iterations, feature size 12)."""


class nnUNetTrainer_strokeseg_Alis2022(StrokesegTrainer, settings=(ALIS_2022,)):
    """Alis et al. as published (``alis_vendor_dwi_adc`` preset): residual ConvLSTM U-Net, Tversky 0.5/0.5, Adam at a
    constant 1e-5 for 100 passes over the training cases, best validation Dice, the paper's augmentation.

    Train on ``AlisVendorPlanner``'s plans, configuration ``3d_fullres`` (stacks of 224 x 224 slices). The
    nnU-Net-flavoured variant (SGD, nnU-Net's schedule and augmentation, deep supervision) is ``BiConvLSTMUNet``.
    """


class nnUNetTrainer_strokeseg_Alis2022_CPU(StrokesegTrainer, settings=(ALIS_2022, ALIS_2022_CPU)):
    """CPU-sized ``Alis2022`` (same code path: 2 passes over the data at an eighth of the plans' widths)."""


class nnUNetTrainer_strokeseg_Noh2023_CPU(StrokesegTrainer, settings=(NOH2023, NOH2023_CPU)):
    """``Noh2023`` sized to learn a phantom DWI registry in a few CPU minutes (the demo's default profile; same code
    path: the paper's network and TorchIO augmentations): 10 epochs of 25 iterations, a quarter of the plans' widths,
    Adam at 1e-2 (``recipes.NOH2023_CPU``)."""


class nnUNetTrainer_strokeseg_ResGNUNet(StrokesegTrainer, settings=(TOMITA,)):
    """Tomita et al.'s residual U-Net with group normalization, BCE + Dice, Adam at 1e-3 (poly decay).

    The full zoom-in & out recipe is ``nnUNetTrainer_strokeseg_ZoomInOut``; this trainer uses one patch size.
    """


class nnUNetTrainer_strokeseg_SEUNet(StrokesegTrainer, settings=(KIM,)):
    """Kim et al.: U-Net with squeeze-and-excitation after every stage, Dice loss; 2D or 3D by configuration.

    Keeps the plans' normalization and activation (nnU-Net's instance norm and leaky ReLU by default).
    """


class nnUNetTrainer_strokeseg_BiConvLSTMUNet(StrokesegTrainer, settings=(ALIS,)):
    """Alis et al.: residual 2D U-Net with bidirectional ConvLSTMs across slices, Tversky loss.

    Needs a 3D configuration (a slice stack, e.g. ``3d_fullres``); DWI and ADC are input channels. Downsampling
    is in-plane only, so the deep-supervision targets are downsampled in-plane only. 3/8 of nnU-Net's widths and
    fast left-right test-time mirroring.
    """


class nnUNetTrainer_strokeseg_Tversky(StrokesegTrainer):
    """Tversky loss (Alis et al.) on nnU-Net's network; α weighs false positives, β false negatives."""

    loss_recipe: ClassVar[LossRecipe | None] = TverskyRecipe()


class nnUNetTrainer_strokeseg_BCEDice(StrokesegTrainer):
    """Binary cross-entropy plus soft Dice (Tomita et al.) on nnU-Net's network."""

    loss_recipe: ClassVar[LossRecipe | None] = BCEDiceRecipe()


class nnUNetTrainer_strokeseg_DiceOnly(StrokesegTrainer):
    """Soft Dice loss alone (Kim et al.) on nnU-Net's network."""

    loss_recipe: ClassVar[LossRecipe | None] = SoftDiceRecipe()


class nnUNetTrainer_strokeseg_PreActResUNet_Tiny(StrokesegTrainer, settings=(NOH, TINY)):
    """CPU-sized ``PreActResUNet`` (the examples' learning curve, domain adaptation and vendor transfer)."""


class nnUNetTrainer_strokeseg_ResGNUNet_Tiny(StrokesegTrainer, settings=(TOMITA, TINY)):
    """CPU-sized ``ResGNUNet`` (the zoom-in arm of the zoom ablation example)."""
