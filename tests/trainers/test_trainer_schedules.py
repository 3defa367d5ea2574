"""LR schedules, fast test-time mirroring, trainer names and other pure parts of the trainers."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest
import torch

import strokeseg.trainers as trainers
from strokeseg.defaults import ZOOM_IN_LR, ZOOM_OUT_LR
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.nnunet.zoom_configurations import KEY_ZOOM_IN_CONFIGURATION
from strokeseg.trainers.base import StrokesegTrainer, left_right_mirror_axes
from strokeseg.trainers.ensemble import member_split
from strokeseg.trainers.finetune import FineTuningTrainer, checkpoint_nnunet_is_loading, fine_tuning_trainers
from strokeseg.trainers.lr_schedules import (
    EpochLRScheduler,
    cosine_warm_restarts_lr,
    poly_lr,
    warmup_poly_lr,
    zoom_in_out_lr,
)
from strokeseg.trainers.pretrained import ModelDescription, mismatch_message, transfer_pretrained_weights
from strokeseg.trainers.zoom import apply_patch_overrides


def test_poly_lr_is_nnunets() -> None:
    assert poly_lr(0, 100, 0.01) == pytest.approx(0.01)
    assert poly_lr(50, 100, 0.01) == pytest.approx(0.01 * 0.5**0.9)
    assert poly_lr(100, 100, 0.01) == 0.0


def test_cosine_warm_restarts() -> None:
    assert cosine_warm_restarts_lr(0, 10, 1e-4) == pytest.approx(1e-4)
    assert cosine_warm_restarts_lr(5, 10, 1e-4) == pytest.approx(0.5e-4)
    assert cosine_warm_restarts_lr(9, 10, 1e-4) < 0.05e-4
    assert cosine_warm_restarts_lr(10, 10, 1e-4) == pytest.approx(1e-4)  # restart


@pytest.mark.parametrize("restart_factor", [1, 2])
def test_warm_restarts_match_torchs_sgdr(restart_factor: int) -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=1e-4)
    sgdr = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=5, T_mult=restart_factor)
    expected = []
    for _ in range(40):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        sgdr.step()
    ours = [cosine_warm_restarts_lr(e, 5, 1e-4, restart_factor=restart_factor) for e in range(40)]
    assert ours == pytest.approx(expected)
    with pytest.raises(ConfigurationError, match="restart factor"):
        cosine_warm_restarts_lr(3, 5, 1e-4, restart_factor=0)


def test_zoom_schedule_with_a_restart_period() -> None:
    constant = [zoom_in_out_lr(e, 1200, 1350, 1e-3, 1e-4, 4, restart_period=50) for e in range(1350)]
    assert set(constant[:1200]) == {1e-3}
    assert [constant[e] for e in (1200, 1250, 1300)] == [pytest.approx(1e-4)] * 3
    assert constant[1249] < 1e-6 and constant[1349] < 1e-6  # snapshots at the end of a cycle see the lowest LR
    # Tomita's preset: 50-epoch cycles from 1e-3 in the zoom-in stage too
    lrs = [zoom_in_out_lr(e, 1200, 1350, 1e-3, 1e-4, 4, "warm_restarts", restart_period=50) for e in range(1350)]
    assert [lrs[e] for e in (0, 50, 1150)] == [pytest.approx(1e-3)] * 3
    assert lrs[25] == pytest.approx(0.5e-3) and lrs[1199] < 1e-5
    assert lrs[1200:] == constant[1200:]
    with pytest.raises(ConfigurationError, match="constant, poly or warm_restarts"):
        zoom_in_out_lr(0, 10, 20, 1e-3, 1e-4, 4, "linear")


def test_zoom_schedule_switches_at_the_switch_epoch() -> None:
    lrs = [zoom_in_out_lr(e, 80, 100, ZOOM_IN_LR, ZOOM_OUT_LR, restart_cycles=4) for e in range(100)]
    assert lrs[:80] == [ZOOM_IN_LR] * 80
    assert lrs[80] == pytest.approx(ZOOM_OUT_LR)
    assert lrs[85] == pytest.approx(ZOOM_OUT_LR)  # 4 cycles of 5 epochs: restart at 85
    assert lrs[84] < lrs[83] < ZOOM_OUT_LR
    poly = [zoom_in_out_lr(e, 80, 100, 1e-2, 1e-3, 4, zoom_in_decay="poly") for e in (0, 40)]
    assert poly == [pytest.approx(1e-2), pytest.approx(1e-2 * 0.5**0.9)]
    with pytest.raises(ConfigurationError):
        zoom_in_out_lr(0, 100, 100, 1e-3, 1e-4, 4)


def test_warmup_then_poly() -> None:
    lrs = [warmup_poly_lr(e, 10, 1e-3, warmup_epochs=2) for e in range(10)]
    assert lrs[0] == pytest.approx(1e-3 / 3)
    assert lrs[1] == pytest.approx(2e-3 / 3)
    assert lrs[2] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(lrs[2:]))
    with pytest.raises(ConfigurationError):
        warmup_poly_lr(0, 5, 1e-3, warmup_epochs=5)


def test_epoch_scheduler_sets_the_lr_of_the_epoch_it_is_given() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = EpochLRScheduler(optimizer, lambda epoch: 0.1 * (epoch + 1))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    scheduler.step(7)  # nnU-Net calls step(current_epoch), also after resuming
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.8)
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.9)


def test_fast_tta_mirrors_the_image_x_axis() -> None:
    assert left_right_mirror_axes([0, 1, 2], dim=3) == (2,)
    assert left_right_mirror_axes([2, 0, 1], dim=3) == (0,)  # x moved first by nnU-Net's transpose
    assert left_right_mirror_axes([0, 1, 2], dim=2) == (1,)
    assert left_right_mirror_axes([1, 2, 0], dim=2) == (0,)


def test_every_exported_trainer_is_named_and_consistent() -> None:
    for name in trainers.__all__:
        cls = getattr(trainers, name)
        assert name.startswith("nnUNetTrainer_strokeseg_") and cls.__name__ == name
        if issubclass(cls, StrokesegTrainer):
            assert cls.inference_mirroring in ("all", "left_right", "none")


def test_fine_tuning_schedules_are_readable_from_the_names() -> None:
    pattern = re.compile(r"_FT(\d+)ep_lr(\d+)e(\d+)")
    fine_tuners = [n for n in trainers.__all__ if issubclass(getattr(trainers, n), FineTuningTrainer)]
    assert len(fine_tuners) >= 6
    for name in fine_tuners:
        cls = getattr(trainers, name)
        match = pattern.search(name)
        assert match, name
        epochs, mantissa, exponent = (int(g) for g in match.groups())
        assert cls.num_epochs_override == epochs, name
        assert cls.initial_lr_override == pytest.approx(mantissa * 10.0 ** -exponent), name
        assert cls.freeze_encoder == name.endswith("_frozenEnc"), name


def test_the_checkpoint_comes_from_nnunets_load_pretrained_weights_call(tmp_path: Path) -> None:
    """What ``nnUNetv2_train -pretrained_weights PATH`` runs: nnU-Net's ``load_pretrained_weights(network, PATH)``,
    which reads ``network.state_dict()`` first; code running there sees PATH, code elsewhere sees nothing."""
    from nnunetv2.run.load_pretrained_weights import load_pretrained_weights

    seen: list[str | None] = []
    network = _HeadedNet()
    network.register_state_dict_pre_hook(lambda module, prefix, keep_vars: seen.append(checkpoint_nnunet_is_loading()))
    path = _checkpoint(tmp_path, _HeadedNet(), {"background": 0, "lesion": 1})
    load_pretrained_weights(network, str(path))
    network.state_dict()
    assert seen == [str(path), None]


def test_mismatch_message_says_which_plans_to_move() -> None:
    source = ModelDescription("Dataset101_Registry", "strokesegDWIPlans", "3d_fullres",
                              "nnUNetTrainer_strokeseg_PreActResUNet", "pre-activation residual U-Net (Noh)")
    target = ModelDescription("Dataset202_External", "nnUNetPlans", "3d_fullres",
                              "nnUNetTrainer_strokeseg_FT50ep_lr1e3", "nnU-Net default (from the plans)")
    message = mismatch_message("/src/fold_0/checkpoint_final.pth", source, target,
                               [("encoder.stem.weight", (16, 1, 1, 3, 3), (32, 1, 1, 3, 3))], [],
                               fine_tuning_trainers(str(source.network_family)))
    assert ("nnUNetv2_move_plans_between_datasets -s Dataset101_Registry -t Dataset202_External "
            "-sp strokesegDWIPlans -tp strokesegDWIPlans_from_Dataset101_Registry") in message
    assert ("nnUNetv2_preprocess -d Dataset202_External -plans_name strokesegDWIPlans_from_Dataset101_Registry"
            in message)
    assert "encoder.stem.weight: checkpoint [16, 1, 1, 3, 3] vs network [32, 1, 1, 3, 3]" in message
    assert "nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3" in message  # same-family fine-tuning trainer


def test_zoom_patch_overrides_edit_a_copy_of_the_plans() -> None:
    plans = {"configurations": {
        "3d_fullres": {"patch_size": [16, 64, 64], "batch_size": 2},
        "small": {"inherits_from": "3d_fullres", "patch_size": [16, 32, 32]},
        "3d_zoomout": {"inherits_from": "3d_fullres", KEY_ZOOM_IN_CONFIGURATION: "small"}}}
    edited = apply_patch_overrides(plans, "3d_zoomout", (8, 16, 16), (16, 96, 96), None, 1)
    assert edited["configurations"]["small"]["patch_size"] == [8, 16, 16]
    assert edited["configurations"]["3d_zoomout"]["patch_size"] == [16, 96, 96]
    assert edited["configurations"]["3d_zoomout"]["batch_size"] == 1
    assert plans["configurations"]["small"]["patch_size"] == [16, 32, 32]
    assert apply_patch_overrides(plans, "3d_zoomout", None, None, None, None) is plans


def test_member_split_requires_the_members_entry(tmp_path: Path) -> None:
    splits = tmp_path / "splits_final.json"
    with pytest.raises(InputDataError, match="strokeseg split"):
        member_split(splits, 0)
    splits.write_text(json.dumps([{"train": ["a", "b"], "val": ["c"]}, {"train": ["a", "c"], "val": ["b"]}]))
    assert member_split(splits, 1) == (["a", "c"], ["b"])
    with pytest.raises(InputDataError, match="no ensemble member 2"):
        member_split(splits, 2)
    splits.write_text("{}")
    with pytest.raises(InputDataError, match="list"):
        member_split(splits, 0)


def test_paper_learning_rates_are_ordered() -> None:
    assert math.isclose(ZOOM_IN_LR / ZOOM_OUT_LR, 10.0)


class _HeadedNet(torch.nn.Module):
    """An encoder layer and a segmentation head under ``seg_layers`` (the naming of nnU-Net's decoders)."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.encoder = torch.nn.Conv3d(1, 4, 3)
        self.decoder = torch.nn.Module()
        self.decoder.seg_layers = torch.nn.ModuleList([torch.nn.Conv3d(4, classes, 1)])


def _checkpoint(tmp_path: Path, network: torch.nn.Module, labels: dict[str, int]) -> Path:
    path = tmp_path / "checkpoint_final.pth"
    torch.save({"network_weights": network.state_dict(), "trainer_name": "nnUNetTrainer",
                "init_args": {"plans": {"dataset_name": "Dataset980_A", "plans_name": "p"}, "configuration": "3d",
                              "dataset_json": {"labels": labels}}}, path)
    return path


@pytest.mark.parametrize(("target_labels", "heads_transferred"), [
    ({"background": 0, "lesion": 1}, True),  # domain adaptation: same labels, heads carry over
    ({"background": 0, "wmh": 1}, False),    # another label set: heads start fresh, as nnU-Net does
    (None, False),
])
def test_heads_are_transferred_only_between_datasets_with_the_same_labels(
        tmp_path: Path, target_labels: dict[str, int] | None, heads_transferred: bool) -> None:
    torch.manual_seed(0)
    source, target = _HeadedNet(), _HeadedNet()
    path = _checkpoint(tmp_path, source, {"background": 0, "lesion": 1})
    report = transfer_pretrained_weights(target, path, ModelDescription("Dataset983_B", "p", "3d", "T", None),
                                         target_labels)
    assert torch.equal(target.encoder.weight, source.encoder.weight)
    head = target.decoder.seg_layers[0].weight
    assert torch.equal(head, source.decoder.seg_layers[0].weight) is heads_transferred
    assert (len(report.loaded_heads) == 2) is heads_transferred
    assert (len(report.skipped_heads) == 2) is not heads_transferred


@pytest.mark.parametrize(("name", "expected"), [("poly", [0.01, 0.01 * 0.5 ** 0.9]), ("constant", [0.01, 0.01])])
def test_named_lr_schedules(name: str, expected: list[float]) -> None:
    trainer = StrokesegTrainer.__new__(type("Named", (StrokesegTrainer,), {"lr_schedule_name": name}))
    trainer.num_epochs, trainer.initial_lr = 10, 0.01
    schedule = trainer._lr_schedule()
    assert [schedule(0), schedule(5)] == pytest.approx(expected)


def test_unknown_lr_schedule_is_refused() -> None:
    trainer = StrokesegTrainer.__new__(type("Unknown", (StrokesegTrainer,), {"lr_schedule_name": "step"}))
    trainer.num_epochs, trainer.initial_lr = 10, 0.01
    with pytest.raises(ConfigurationError, match="unknown LR schedule 'step'"):
        trainer._lr_schedule()


@pytest.mark.parametrize(("trainer_name", "expected"), [
    ("nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6", [1e-6] * 20),  # a paper's constant LR: no warm-up
    ("nnUNetTrainer_strokeseg_FT20ep_lr1e4", [warmup_poly_lr(e, 20, 1e-4, warmup_epochs=2) for e in range(20)]),
])
def test_fine_tuning_follows_the_trainers_lr_schedule(trainer_name: str, expected: list[float]) -> None:
    trainer = object.__new__(getattr(trainers, trainer_name))  # the schedule needs no plans
    trainer.initial_lr, trainer.num_epochs, trainer.warmup_epochs = trainer.initial_lr_override, 20, 2
    schedule = trainer._lr_schedule()
    assert [schedule(epoch) for epoch in range(20)] == pytest.approx(expected)
