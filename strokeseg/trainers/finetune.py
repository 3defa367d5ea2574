"""Fine-tuning schedules: a source model re-trained on a target dataset (Noh's domain adaptation on 50-1000
target cases; Alis's vendor transfer, ~20 epochs at a much lower LR).

Workflow (stock nnU-Net, see ``docs/trainers.md``): move the source's plans to the target dataset
(``nnUNetv2_move_plans_between_datasets``), preprocess the target with them, then
``nnUNetv2_train TARGET CONF FOLD -tr nnUNetTrainer_strokeseg_FT50ep_lr1e3 -p <moved plans>
-pretrained_weights <source>/fold_0/checkpoint_final.pth``.

The trainer name states the schedule (``FT{epochs}ep_lr{peak LR}``, e.g. ``lr1e3`` = 1e-3) and, where it is
not nnU-Net's default network, the network family. The LR warms up linearly over ``FT_WARMUP_FRACTION`` of the
epochs, then decays (poly). ``_frozenEnc`` variants train the decoder only (encoder weights and normalization
statistics fixed). Before nnU-Net loads the weights, the trainer checks them against its network
(``pretrained.transfer_pretrained_weights``): a mismatch stops with a message that says which plans to move,
and the loaded layers are logged. A fine-tuning run without pretrained weights is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

import torch
from torch import nn

from strokeseg.defaults import (
    FT_DOMAIN_ADAPTATION_EPOCHS,
    FT_DOMAIN_ADAPTATION_LR,
    FT_VENDOR_TRANSFER_EPOCHS,
    FT_VENDOR_TRANSFER_LR,
    FT_WARMUP_FRACTION,
)
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.base import StrokesegTrainer, encoder_of, unwrap_network
from strokeseg.trainers.lr_schedules import EpochSchedule, warmup_poly_lr
from strokeseg.trainers.network_variants import (
    nnUNetTrainer_strokeseg_BiConvLSTMUNet,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_ResGNUNet,
)
from strokeseg.trainers.pretrained import ModelDescription, TransferReport, transfer_pretrained_weights

#: nnUNetv2_train's option naming the pretrained checkpoint.
PRETRAINED_OPTION = "-pretrained_weights"


def pretrained_weights_from_argv(argv: Sequence[str]) -> str | None:
    """The value of ``-pretrained_weights`` in an ``nnUNetv2_train`` command line (exact option name), or None."""
    for i, argument in enumerate(argv):
        if argument == PRETRAINED_OPTION and i + 1 < len(argv):
            return argv[i + 1]
        if argument.startswith(PRETRAINED_OPTION + "="):
            return argument.split("=", 1)[1]
    return None


class FineTuningTrainer(StrokesegTrainer):
    """Short warm-up + poly schedule from pretrained weights; subclasses set epochs, LR and ``freeze_encoder``.

    ``pretrained_weights_file`` is read from ``nnUNetv2_train``'s command line; Python users may set it on the
    instance before ``initialize()``.
    """

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR
    warmup_fraction: ClassVar[float] = FT_WARMUP_FRACTION
    freeze_encoder: ClassVar[bool] = False

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.warmup_epochs = max(1, round(self.warmup_fraction * self.num_epochs))
        self.pretrained_weights_file: str | None = pretrained_weights_from_argv(sys.argv)
        self.pretrained_source: dict[str, Any] | None = None
        self._initial_fingerprint: torch.Tensor | None = None

    def _lr_schedule(self) -> EpochSchedule:
        return partial(warmup_poly_lr, num_epochs=self.num_epochs, peak_lr=self.initial_lr,
                       warmup_epochs=self.warmup_epochs)

    def _trainable_parameters(self) -> list[nn.Parameter]:
        if self.freeze_encoder:
            for parameter in encoder_of(self.network).parameters():
                parameter.requires_grad_(False)
        return super()._trainable_parameters()

    def _first_parameter(self) -> torch.Tensor:
        return next(unwrap_network(self.network).parameters()).detach().clone()

    def initialize(self) -> None:
        super().initialize()
        self.print_to_log_file(f"fine-tuning: {self.num_epochs} epochs, peak LR {self.initial_lr:g} after "
                               f"{self.warmup_epochs} warm-up epoch(s), encoder "
                               f"{'frozen' if self.freeze_encoder else 'trained'}")
        self._initial_fingerprint = self._first_parameter()
        if self.pretrained_weights_file is not None:
            self.load_pretrained_weights(self.pretrained_weights_file)

    def load_pretrained_weights(self, path: str) -> TransferReport:
        """Check and load a source checkpoint into the network; logs the loaded layers."""
        target = ModelDescription(self.plans_manager.dataset_name, self.plans_manager.plans_name,
                                  self.configuration_name, type(self).__name__, self.network_family)
        report = transfer_pretrained_weights(unwrap_network(self.network), path, target,
                                             self.dataset_json.get("labels"))
        self.pretrained_source = report.as_dict()
        self.print_to_log_file(
            f"fine-tuning from {path} ({report.source.trainer} on {report.source.dataset}, plans "
            f"{report.source.plans}, {report.source.configuration}): loaded {len(report.loaded)} tensors "
            f"({len(report.loaded_heads)} of them segmentation heads: same labels), kept "
            f"{len(report.skipped_heads)} segmentation-head tensors at their initialization. Loaded layers:\n  "
            + "\n  ".join(report.loaded_layers()))
        return report

    def on_train_start(self) -> None:
        if not self.was_initialized:
            self.initialize()
        if self.current_epoch == 0 and self.pretrained_source is None:
            if self._initial_fingerprint is not None and torch.equal(self._first_parameter(),
                                                                     self._initial_fingerprint):
                raise ConfigurationError(
                    f"{type(self).__name__} fine-tunes a trained model: pass the source checkpoint with "
                    f"'{PRETRAINED_OPTION} <source results>/fold_X/checkpoint_final.pth' (after moving the source's "
                    "plans to this dataset with nnUNetv2_move_plans_between_datasets)")
            self.pretrained_source = {"path": None, "note": "loaded by nnU-Net; layer list unavailable"}
            self.print_to_log_file("fine-tuning: pretrained weights were loaded by nnU-Net (abbreviated option?)")
        super().on_train_start()

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        if self.freeze_encoder:
            encoder_of(self.network).eval()  # keep the source's normalization statistics

    def _checkpoint_extras(self) -> dict[str, Any]:
        return {**super()._checkpoint_extras(), "pretrained_weights": self.pretrained_source}

    def _restore_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        super()._restore_checkpoint_extras(extras)
        self.pretrained_source = extras.get("pretrained_weights", self.pretrained_source)


class _VendorTransfer(FineTuningTrainer):
    num_epochs_override: ClassVar[int | None] = FT_VENDOR_TRANSFER_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_VENDOR_TRANSFER_LR


class _FrozenEncoder(FineTuningTrainer):
    freeze_encoder: ClassVar[bool] = True


class nnUNetTrainer_strokeseg_FT50ep_lr1e3(FineTuningTrainer):
    """Domain adaptation (Noh) of nnU-Net's default network: 50 epochs, peak LR 1e-3."""


class nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc(_FrozenEncoder, nnUNetTrainer_strokeseg_FT50ep_lr1e3):
    """As ``FT50ep_lr1e3`` with the encoder frozen."""


class nnUNetTrainer_strokeseg_FT20ep_lr1e4(_VendorTransfer):
    """Vendor transfer (Alis) of nnU-Net's default network: 20 epochs, peak LR 1e-4."""


class nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3(FineTuningTrainer, nnUNetTrainer_strokeseg_PreActResUNet):
    """Domain adaptation of Noh's pre-activation residual U-Net: 50 epochs, peak LR 1e-3."""


class nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc(_FrozenEncoder,
                                                                   nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3):
    """As ``PreActResUNet_FT50ep_lr1e3`` with the encoder frozen."""


class nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4(_VendorTransfer, nnUNetTrainer_strokeseg_BiConvLSTMUNet):
    """Vendor transfer of Alis's ConvLSTM U-Net (Tversky loss): 20 epochs, peak LR 1e-4."""


class nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4(_VendorTransfer, nnUNetTrainer_strokeseg_ResGNUNet):
    """Fine-tuning of Tomita's residual group-norm U-Net (``ZoomInOut`` and ``ResGNUNet`` models; BCE + Dice, Adam):
    20 epochs, peak LR 1e-4 (the zoom-out LR)."""
