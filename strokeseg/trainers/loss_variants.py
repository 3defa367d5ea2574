"""Trainers that change only the loss (nnU-Net's network from the plans); each keeps deep supervision and the
ignore label. ``tversky_alpha``/``tversky_beta`` and the BCE/Dice weights are class attributes: subclass to
change them."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from strokeseg.defaults import SOFT_INDEX_SMOOTH, TVERSKY_ALPHA, TVERSKY_BETA
from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.losses import bce_dice_loss, dice_loss, tversky_loss


class nnUNetTrainer_strokeseg_Tversky(StrokesegTrainer):
    """Tversky loss (Alis et al.); α weighs false positives, β false negatives."""

    tversky_alpha: ClassVar[float] = TVERSKY_ALPHA
    tversky_beta: ClassVar[float] = TVERSKY_BETA

    def _build_loss(self) -> nn.Module:
        return self._deep_supervised(tversky_loss(self.label_manager, self.configuration_manager.batch_dice,
                                                  self.tversky_alpha, self.tversky_beta, SOFT_INDEX_SMOOTH,
                                                  self.is_ddp))


class nnUNetTrainer_strokeseg_BCEDice(StrokesegTrainer):
    """Binary cross-entropy plus soft Dice (Tomita et al.)."""

    bce_weight: ClassVar[float] = 1.0
    dice_weight: ClassVar[float] = 1.0

    def _build_loss(self) -> nn.Module:
        return self._deep_supervised(bce_dice_loss(self.label_manager, self.configuration_manager.batch_dice,
                                                   self.bce_weight, self.dice_weight, SOFT_INDEX_SMOOTH, self.is_ddp))


class nnUNetTrainer_strokeseg_DiceOnly(StrokesegTrainer):
    """Soft Dice loss alone (Kim et al.)."""

    def _build_loss(self) -> nn.Module:
        return self._deep_supervised(dice_loss(self.label_manager, self.configuration_manager.batch_dice,
                                               SOFT_INDEX_SMOOTH, self.is_ddp))
