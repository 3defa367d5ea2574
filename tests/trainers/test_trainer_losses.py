"""Losses against hand-computed values and against nnU-Net's own losses where they must agree."""

from __future__ import annotations

import math

import pytest
import torch
from nnunetv2.training.loss.compound_losses import DC_and_BCE_loss, DC_and_CE_loss
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss
from nnunetv2.utilities.helpers import softmax_helper_dim1
from nnunetv2.utilities.label_handling.label_handling import LabelManager

from strokeseg.errors import ConfigurationError
from strokeseg.trainers.losses import (
    CompoundSegmentationLoss,
    OneVsRestBCELoss,
    SoftTverskyLoss,
    bce_dice_loss,
    dice_loss,
    tversky_loss,
)

#: Foreground probabilities of four voxels and their labels (one sample, 1D "image").
P_FOREGROUND = [0.9, 0.6, 0.2, 0.1]
LABELS = [1, 1, 0, 0]


def two_class_probabilities() -> torch.Tensor:
    p = torch.tensor(P_FOREGROUND)
    return torch.stack((1 - p, p))[None]  # (b=1, c=2, 4)


def two_class_logits() -> torch.Tensor:
    """Logits whose softmax foreground probability is exactly P_FOREGROUND."""
    p = torch.tensor(P_FOREGROUND, dtype=torch.float64)
    return torch.stack((torch.zeros(4, dtype=torch.float64), torch.log(p / (1 - p))))[None]


def labels() -> torch.Tensor:
    return torch.tensor(LABELS)[None, None]  # (b=1, 1, 4)


def test_tversky_matches_hand_computation() -> None:
    # TP = 0.9 + 0.6 = 1.5; FP = 0.2 + 0.1 = 0.3; FN = 0.1 + 0.4 = 0.5
    loss = SoftTverskyLoss(apply_nonlin=None, alpha=0.3, beta=0.7, smooth=0.0)
    assert loss(two_class_probabilities(), labels()).item() == pytest.approx(1 - 1.5 / (1.5 + 0.3 * 0.3 + 0.7 * 0.5))


def test_tversky_weights_trade_false_positives_against_false_negatives() -> None:
    x, y = two_class_probabilities(), labels()
    fn_heavy = SoftTverskyLoss(None, alpha=0.1, beta=0.9, smooth=0.0)(x, y)
    fp_heavy = SoftTverskyLoss(None, alpha=0.9, beta=0.1, smooth=0.0)(x, y)
    assert fn_heavy > fp_heavy  # FN (0.5) exceeds FP (0.3)


@pytest.mark.parametrize("batch_dice", [True, False])
def test_tversky_half_half_is_nnunet_soft_dice(batch_dice: bool) -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(2, 3, 5, 6, 7), torch.randint(0, 3, (2, 1, 5, 6, 7))
    smooth = 1e-3
    ours = SoftTverskyLoss(softmax_helper_dim1, 0.5, 0.5, batch_dice, do_bg=False, smooth=smooth)(logits, target)
    # nnU-Net's Dice (2TP + s) / (2TP + FP + FN + s) equals ours with half the smoothing, and is negated
    theirs = MemoryEfficientSoftDiceLoss(softmax_helper_dim1, batch_dice, do_bg=False, smooth=2 * smooth,
                                         ddp=False)(logits, target)
    assert ours.item() == pytest.approx(1 + theirs.item(), abs=1e-6)


def test_tversky_rejects_invalid_weights() -> None:
    with pytest.raises(ConfigurationError):
        SoftTverskyLoss(alpha=0.0, beta=0.0)


def test_bce_matches_hand_computation() -> None:
    expected = -(math.log(0.9) + math.log(0.6) + math.log(1 - 0.2) + math.log(1 - 0.1)) / 4
    assert OneVsRestBCELoss()(two_class_logits(), labels()).item() == pytest.approx(expected)


def test_bce_of_two_class_softmax_is_cross_entropy() -> None:
    torch.manual_seed(1)
    logits, target = torch.randn(2, 2, 4, 5), torch.randint(0, 2, (2, 1, 4, 5))
    expected = torch.nn.functional.cross_entropy(logits, target[:, 0])
    assert OneVsRestBCELoss()(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def label_manager(ignore: bool = False, regions: bool = False) -> LabelManager:
    labels_dict: dict = {"background": 0, "lesion": [1, 2] if regions else 1}
    if regions:
        labels_dict["core"] = 2
    if ignore:
        labels_dict["ignore"] = 3 if regions else 2
    return LabelManager(labels_dict, regions_class_order=[1, 2] if regions else None)


def test_binary_bce_dice_equals_nnunet_dice_ce() -> None:
    torch.manual_seed(2)
    logits, target = torch.randn(2, 2, 4, 6, 6), torch.randint(0, 2, (2, 1, 4, 6, 6))
    ours = bce_dice_loss(label_manager(), batch_dice=True, smooth=5e-4)(logits, target)
    theirs = DC_and_CE_loss({"batch_dice": True, "smooth": 1e-3, "do_bg": False, "ddp": False}, {},
                            dice_class=MemoryEfficientSoftDiceLoss)(logits, target)
    assert ours.item() == pytest.approx(1 + theirs.item(), abs=1e-5)


def test_region_bce_dice_equals_nnunet_dice_bce() -> None:
    torch.manual_seed(3)
    logits, target = torch.randn(2, 2, 4, 6, 6), torch.randint(0, 2, (2, 2, 4, 6, 6))
    ours = bce_dice_loss(label_manager(regions=True), batch_dice=True, smooth=5e-4)(logits, target)
    theirs = DC_and_BCE_loss({}, {"batch_dice": True, "do_bg": True, "smooth": 1e-3, "ddp": False},
                             dice_class=MemoryEfficientSoftDiceLoss)(logits, target)
    assert ours.item() == pytest.approx(1 + theirs.item(), abs=1e-5)


def test_region_ignore_channel_excludes_voxels() -> None:
    # nnU-Net's region layout: one channel per region, then the ignore channel. (nnU-Net's own DC_and_BCE_loss
    # sums the masked BCE over channels instead of averaging; ours averages, as without ignore label.)
    torch.manual_seed(6)
    logits, regions = torch.randn(1, 2, 4, 6), torch.randint(0, 2, (1, 2, 4, 6))
    ignored = torch.zeros(1, 1, 4, 6, dtype=torch.long)
    ignored[..., 4:] = 1
    value = bce_dice_loss(label_manager(ignore=True, regions=True), batch_dice=True)(
        logits, torch.cat((regions, ignored), dim=1))
    reference = bce_dice_loss(label_manager(regions=True), batch_dice=True)(logits[..., :4], regions[..., :4])
    assert value.item() == pytest.approx(reference.item(), abs=1e-6)


@pytest.mark.parametrize("make_loss", [tversky_loss, dice_loss, bce_dice_loss])
def test_ignore_label_voxels_do_not_count(make_loss) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(4)
    loss = make_loss(label_manager(ignore=True), batch_dice=False)
    logits = torch.randn(1, 2, 8, requires_grad=True)
    target = torch.tensor([[[0, 1, 1, 0, 2, 2, 1, 0]]])
    value = loss(logits, target)
    value.backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[..., 4:6] == 0)  # ignored voxels get no gradient
    changed = logits.detach().clone()
    changed[..., 4:6] = torch.randn(2, 2) * 10
    assert loss(changed, target).item() == pytest.approx(value.item())
    kept = [0, 1, 2, 3, 6, 7]
    reference = make_loss(label_manager(), batch_dice=False)(logits.detach()[..., kept], target[..., kept])
    assert value.item() == pytest.approx(reference.item(), abs=1e-6)


def test_all_voxels_ignored_gives_zero_loss() -> None:
    loss = bce_dice_loss(label_manager(ignore=True), batch_dice=True)
    assert loss(torch.randn(1, 2, 5), torch.full((1, 1, 5), 2)).item() == pytest.approx(0.0, abs=1e-6)


def test_deep_supervision_weights_each_resolution() -> None:
    torch.manual_seed(5)
    loss = tversky_loss(label_manager(), batch_dice=True)
    outputs = [torch.randn(2, 2, 8, 8), torch.randn(2, 2, 4, 4)]
    targets = [torch.randint(0, 2, (2, 1, 8, 8)), torch.randint(0, 2, (2, 1, 4, 4))]
    wrapped = DeepSupervisionWrapper(loss, [0.75, 0.25])(outputs, targets)
    expected = 0.75 * loss(outputs[0], targets[0]) + 0.25 * loss(outputs[1], targets[1])
    assert wrapped.item() == pytest.approx(expected.item())


def test_compound_needs_terms() -> None:
    with pytest.raises(ConfigurationError):
        CompoundSegmentationLoss([])
