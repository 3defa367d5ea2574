"""Segmentation losses of the papers, in nnU-Net's loss conventions.

* ``SoftTverskyLoss``: 1 − Tversky index ``(TP + s) / (TP + α·FP + β·FN + s)`` on probabilities (Alis et al.).
  With α = β = 0.5 it is the soft Dice loss ``1 − (2·TP + 2s) / (2·TP + FP + FN + 2s)`` (Kim et al.'s loss).
* ``OneVsRestBCELoss``: binary cross-entropy of each foreground class (Tomita et al.'s BCE). For a binary
  lesion label and nnU-Net's two-channel softmax output it equals the usual cross-entropy, because a two-class
  softmax is the sigmoid of the logit difference.
* ``CompoundSegmentationLoss``: a weighted sum of such terms that handles nnU-Net's targets: label maps with an
  optional ignore label (softmax training) or one-hot regions whose last channel marks ignored voxels
  (region training, sigmoid outputs). Ignored voxels contribute to no term.

Losses follow the papers' sign (0 is perfect) rather than nnU-Net's negative Dice. Wrap them in nnU-Net's
``DeepSupervisionWrapper`` for deep supervision (the trainers do).

A trainer names its loss with a recipe (``TverskyRecipe``, ``SoftDiceRecipe``, ``BCEDiceRecipe``): the loss and
its parameters, built for the dataset's labels when the trainer initializes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from nnunetv2.utilities.ddp_allgather import AllGatherGrad
from nnunetv2.utilities.helpers import softmax_helper_dim1
from nnunetv2.utilities.label_handling.label_handling import LabelManager
from torch import nn

from strokeseg.defaults import SOFT_INDEX_SMOOTH, TVERSKY_ALPHA, TVERSKY_BETA
from strokeseg.errors import ConfigurationError

Nonlinearity = Callable[[torch.Tensor], torch.Tensor]


def _one_hot_like(probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``target`` as float one-hot with the shape of ``probabilities`` (it may already be one-hot)."""
    if target.ndim != probabilities.ndim:
        target = target.view((target.shape[0], 1, *target.shape[1:]))
    if target.shape == probabilities.shape:
        return target.to(torch.float32)
    one_hot = torch.zeros(probabilities.shape, device=probabilities.device, dtype=torch.float32)
    return one_hot.scatter_(1, target.long(), 1)


class SoftTverskyLoss(nn.Module):
    """1 − soft Tversky index, averaged over classes (and samples unless ``batch_dice``).

    Args:
        apply_nonlin: maps logits to probabilities (softmax over channels, or sigmoid for regions).
        alpha: weight of false positives; beta: weight of false negatives. Both 0.5 = soft Dice.
        batch_dice: sum TP/FP/FN over the whole batch (nnU-Net's ``batch_dice`` from the plans).
        do_bg: include channel 0 (False for softmax training, True for regions).
        smooth: added to numerator and denominator.
        ddp: gather the batch sums across GPUs when ``batch_dice`` under DDP.
    """

    def __init__(self, apply_nonlin: Nonlinearity | None = softmax_helper_dim1, alpha: float = TVERSKY_ALPHA,
                 beta: float = TVERSKY_BETA, batch_dice: bool = False, do_bg: bool = False,
                 smooth: float = SOFT_INDEX_SMOOTH, ddp: bool = False) -> None:
        super().__init__()
        if alpha < 0 or beta < 0 or alpha + beta == 0:
            raise ConfigurationError(f"Tversky weights must be non-negative and not both 0, got α={alpha}, β={beta}")
        self.apply_nonlin = apply_nonlin
        self.alpha, self.beta = float(alpha), float(beta)
        self.batch_dice, self.do_bg, self.smooth, self.ddp = batch_dice, do_bg, float(smooth), ddp

    def forward(self, x: torch.Tensor, y: torch.Tensor, loss_mask: torch.Tensor | None = None) -> torch.Tensor:
        probabilities = self.apply_nonlin(x) if self.apply_nonlin is not None else x
        axes = tuple(range(2, probabilities.ndim))
        with torch.no_grad():
            y_onehot = _one_hot_like(probabilities, y)
            if not self.do_bg:
                y_onehot = y_onehot[:, 1:]
            if loss_mask is not None:
                y_onehot = y_onehot * loss_mask
            sum_gt = y_onehot.sum(axes, dtype=torch.float32)
        if not self.do_bg:
            probabilities = probabilities[:, 1:]
        if loss_mask is not None:
            probabilities = probabilities * loss_mask
        tp = (probabilities * y_onehot).sum(axes, dtype=torch.float32)
        sum_pred = probabilities.sum(axes, dtype=torch.float32)
        if self.batch_dice:
            if self.ddp:
                tp, sum_pred, sum_gt = (AllGatherGrad.apply(t).sum(0, dtype=torch.float32)
                                        for t in (tp, sum_pred, sum_gt))
            tp, sum_pred, sum_gt = tp.sum(0), sum_pred.sum(0), sum_gt.sum(0)
        fp, fn = sum_pred - tp, sum_gt - tp
        index = (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth).clamp_min(1e-8)
        return 1.0 - index.mean()


class OneVsRestBCELoss(nn.Module):
    """Mean binary cross-entropy of each (foreground) channel's probability against its one-hot target.

    Args:
        sigmoid: logits are independent per channel (region training); otherwise channels are softmax
            classes and channel 0 (background) is skipped.
    """

    def __init__(self, sigmoid: bool = False) -> None:
        super().__init__()
        self.sigmoid = sigmoid

    def _log_probabilities(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log p and log(1 − p) of every scored channel, computed stably from the logits."""
        if self.sigmoid:
            return nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits)
        log_normalizer = torch.logsumexp(logits, dim=1, keepdim=True)
        log_p, log_not_p = [], []
        for c in range(1, logits.shape[1]):
            others = torch.cat((logits[:, :c], logits[:, c + 1:]), dim=1)
            log_p.append(logits[:, c:c + 1] - log_normalizer)
            log_not_p.append(torch.logsumexp(others, dim=1, keepdim=True) - log_normalizer)
        return torch.cat(log_p, dim=1), torch.cat(log_not_p, dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, loss_mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = x.float()
        with torch.no_grad():
            y_onehot = _one_hot_like(logits, y)
            if not self.sigmoid:
                y_onehot = y_onehot[:, 1:]
        log_p, log_not_p = self._log_probabilities(logits)
        bce = -(y_onehot * log_p + (1.0 - y_onehot) * log_not_p)
        if loss_mask is None:
            return bce.mean()
        mask = loss_mask.to(bce.dtype).expand_as(bce)
        return (bce * mask).sum() / mask.sum().clamp_min(1e-8)


class CompoundSegmentationLoss(nn.Module):
    """Weighted sum of loss terms ``term(output, target, loss_mask)``, with nnU-Net's ignore-label handling.

    Args:
        terms: (weight, loss) pairs.
        ignore_label: the label value that is ignored (softmax training), or None.
        regions: targets are one-hot regions; with ``ignore_label`` their last channel marks ignored voxels.
    """

    def __init__(self, terms: Sequence[tuple[float, nn.Module]], ignore_label: int | None = None,
                 regions: bool = False) -> None:
        super().__init__()
        if not terms:
            raise ConfigurationError("a compound loss needs at least one term")
        self.weights = tuple(float(w) for w, _ in terms)
        self.terms = nn.ModuleList([t for _, t in terms])
        self.ignore_label = ignore_label
        self.regions = regions

    def _split_ignored(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.ignore_label is None:
            return target, None
        if self.regions:
            ignored = target[:, -1:]
            mask = ~ignored if ignored.dtype == torch.bool else (1 - ignored).bool()
            return target[:, :-1], mask
        mask = target != self.ignore_label
        return torch.where(mask, target, 0), mask

    def forward(self, net_output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        clean_target, mask = self._split_ignored(target)
        return sum(w * term(net_output, clean_target, mask) for w, term in zip(self.weights, self.terms, strict=True))


def _nonlin_and_background(label_manager: LabelManager) -> tuple[Nonlinearity, bool]:
    """Sigmoid and all channels for region training; softmax without the background for labels."""
    return (torch.sigmoid, True) if label_manager.has_regions else (softmax_helper_dim1, False)


def tversky_loss(label_manager: LabelManager, batch_dice: bool, alpha: float = TVERSKY_ALPHA,
                 beta: float = TVERSKY_BETA, smooth: float = SOFT_INDEX_SMOOTH,
                 ddp: bool = False) -> CompoundSegmentationLoss:
    """Tversky loss alone (Alis et al.), for the dataset's labels or regions."""
    nonlin, do_bg = _nonlin_and_background(label_manager)
    term = SoftTverskyLoss(nonlin, alpha, beta, batch_dice, do_bg, smooth, ddp)
    return CompoundSegmentationLoss([(1.0, term)], label_manager.ignore_label, label_manager.has_regions)


def dice_loss(label_manager: LabelManager, batch_dice: bool, smooth: float = SOFT_INDEX_SMOOTH,
              ddp: bool = False) -> CompoundSegmentationLoss:
    """Soft Dice loss alone (Kim et al.): the Tversky loss with α = β = 0.5."""
    return tversky_loss(label_manager, batch_dice, 0.5, 0.5, smooth, ddp)


def bce_dice_loss(label_manager: LabelManager, batch_dice: bool, bce_weight: float = 1.0, dice_weight: float = 1.0,
                  smooth: float = SOFT_INDEX_SMOOTH, ddp: bool = False) -> CompoundSegmentationLoss:
    """Binary cross-entropy plus soft Dice (Tomita et al.), for the dataset's labels or regions."""
    nonlin, do_bg = _nonlin_and_background(label_manager)
    terms = [(bce_weight, OneVsRestBCELoss(sigmoid=label_manager.has_regions)),
             (dice_weight, SoftTverskyLoss(nonlin, 0.5, 0.5, batch_dice, do_bg, smooth, ddp))]
    return CompoundSegmentationLoss(terms, label_manager.ignore_label, label_manager.has_regions)


class LossRecipe(Protocol):
    """Which loss a trainer trains with, and its parameters: a trainer's ``loss_recipe`` class attribute."""

    def build(self, label_manager: LabelManager, batch_dice: bool, ddp: bool) -> nn.Module:
        """The loss for a dataset's labels (or regions), without deep supervision."""
        ...


@dataclass(frozen=True)
class TverskyRecipe:
    """Tversky loss (Alis et al.); ``alpha`` weighs false positives, ``beta`` false negatives."""

    alpha: float = TVERSKY_ALPHA
    beta: float = TVERSKY_BETA

    def build(self, label_manager: LabelManager, batch_dice: bool, ddp: bool) -> nn.Module:
        return tversky_loss(label_manager, batch_dice, self.alpha, self.beta, SOFT_INDEX_SMOOTH, ddp)


@dataclass(frozen=True)
class SoftDiceRecipe:
    """Soft Dice loss alone (Kim et al.)."""

    def build(self, label_manager: LabelManager, batch_dice: bool, ddp: bool) -> nn.Module:
        return dice_loss(label_manager, batch_dice, SOFT_INDEX_SMOOTH, ddp)


@dataclass(frozen=True)
class BCEDiceRecipe:
    """Binary cross-entropy plus soft Dice (Tomita et al.), weighted."""

    bce_weight: float = 1.0
    dice_weight: float = 1.0

    def build(self, label_manager: LabelManager, batch_dice: bool, ddp: bool) -> nn.Module:
        return bce_dice_loss(label_manager, batch_dice, self.bce_weight, self.dice_weight, SOFT_INDEX_SMOOTH, ddp)
