"""Fine-tuning schedules: a source model re-trained on a target dataset (Noh's domain adaptation on 50-1000
target cases; Alis's vendor transfer, ~20 epochs at a much lower LR).

Workflow (stock nnU-Net, see ``docs/trainers.md``): move the source's plans to the target dataset
(``nnUNetv2_move_plans_between_datasets``), preprocess the target with them, then
``nnUNetv2_train TARGET CONF FOLD -tr nnUNetTrainer_strokeseg_FT50ep_lr1e3 -p <moved plans>
-pretrained_weights <source>/fold_0/checkpoint_final.pth``.

The trainer name states the schedule (``FT{epochs}ep_lr{peak LR}``, e.g. ``lr1e3`` = 1e-3) and, where it is
not nnU-Net's default network, the network family. The LR warms up linearly over ``FT_WARMUP_FRACTION`` of the
epochs, then decays (poly). ``_frozenEnc`` variants train the decoder only (encoder weights and normalization
statistics fixed). A fine-tuning run without pretrained weights is refused.

How the checkpoint reaches the trainer: ``nnUNetv2_train -pretrained_weights PATH`` initializes the trainer and
then calls nnU-Net's ``load_pretrained_weights(trainer.network, PATH)``, which reads ``network.state_dict()``
before it checks and copies the weights. The fine-tuning trainer registers a state-dict pre-hook on its network
(torch's ``register_state_dict_pre_hook``) that, when it runs inside that call, takes ``PATH`` from the call's
arguments and runs ``pretrained.transfer_pretrained_weights`` first: a mismatch stops with a message that says
which plans to move, the segmentation heads carry over between datasets with the same labels, and the loaded
layers are logged. nnU-Net's own copy then finds every tensor in place. Python callers may instead set
``pretrained_weights_file`` on the trainer before ``initialize()``.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any, ClassVar

import torch
from nnunetv2.run.load_pretrained_weights import load_pretrained_weights as nnunet_load_pretrained_weights
from torch import nn
from torch.utils.hooks import RemovableHandle

from strokeseg.defaults import (
    ALIS_FT_EPOCHS,
    ALIS_FT_LR,
    FT_DOMAIN_ADAPTATION_EPOCHS,
    FT_DOMAIN_ADAPTATION_LR,
    FT_VENDOR_TRANSFER_EPOCHS,
    FT_VENDOR_TRANSFER_LR,
    FT_WARMUP_FRACTION,
)
from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.ext_trainer import find_trainer_class
from strokeseg.trainers.architectures import PLANS_NETWORK_FAMILY
from strokeseg.trainers.base import StrokesegTrainer, encoder_of, unwrap_network
from strokeseg.trainers.lr_schedules import EpochSchedule, warmup_poly_lr
from strokeseg.trainers.pretrained import ModelDescription, TransferReport, transfer_pretrained_weights
from strokeseg.trainers.recipes import (
    ALIS,
    ALIS_2022,
    ALIS_2022_CPU,
    CPU_LEARNING,
    NOH,
    NOH2023,
    NOH2023_CPU,
    TINY,
    TOMITA,
)

#: nnUNetv2_train's option naming the pretrained checkpoint.
PRETRAINED_OPTION = "-pretrained_weights"


def checkpoint_nnunet_is_loading() -> str | None:
    """The ``fname`` of the nnU-Net ``load_pretrained_weights(network, fname)`` call this code runs inside, if any."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code is nnunet_load_pretrained_weights.__code__:
            return str(frame.f_locals["fname"])
        frame = frame.f_back
    return None


def network_family_of(trainer_name: str) -> str:
    """The network family of the trainer nnU-Net resolves for ``trainer_name`` (its plans' network when the trainer
    is not one of strokeseg's, or cannot be found)."""
    trainer = find_trainer_class(trainer_name)
    if trainer is not None and issubclass(trainer, StrokesegTrainer):
        return trainer.network_recipe.family
    return PLANS_NETWORK_FAMILY


class FineTuningTrainer(StrokesegTrainer):
    """Short warm-up + poly schedule from pretrained weights; subclasses set epochs, LR and ``freeze_encoder``.

    The checkpoint comes from ``nnUNetv2_train -pretrained_weights`` (see the module docstring); Python users may
    set ``pretrained_weights_file`` on the instance before ``initialize()`` instead.
    """

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR
    warmup_fraction: ClassVar[float] = FT_WARMUP_FRACTION
    freeze_encoder: ClassVar[bool] = False

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.warmup_epochs = max(1, round(self.warmup_fraction * self.num_epochs))
        self.pretrained_weights_file: str | None = None
        self.pretrained_source: dict[str, Any] | None = None
        self._initial_fingerprint: torch.Tensor | None = None
        self._nnunet_load_hook: RemovableHandle | None = None

    def _lr_schedule(self) -> EpochSchedule:
        if self.lr_schedule_name != "poly":  # e.g. a paper's constant LR: no warm-up either
            return super()._lr_schedule()
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
        else:
            self._nnunet_load_hook = unwrap_network(self.network).register_state_dict_pre_hook(
                self._before_nnunet_loads_weights)

    def _before_nnunet_loads_weights(self, module: nn.Module, prefix: str, keep_vars: bool) -> None:
        """State-dict pre-hook: inside nnU-Net's ``load_pretrained_weights``, check and load the checkpoint first."""
        path = checkpoint_nnunet_is_loading()
        if path is None:
            return
        self._remove_nnunet_load_hook()
        self.pretrained_weights_file = path
        self.load_pretrained_weights(path)

    def _remove_nnunet_load_hook(self) -> None:
        if self._nnunet_load_hook is not None:
            self._nnunet_load_hook.remove()
            self._nnunet_load_hook = None

    def load_pretrained_weights(self, path: str) -> TransferReport:
        """Check and load a source checkpoint into the network; logs the loaded layers."""
        target = ModelDescription(self.plans_manager.dataset_name, self.plans_manager.plans_name,
                                  self.configuration_name, type(self).__name__, self.network_recipe.family)
        report = transfer_pretrained_weights(unwrap_network(self.network), path, target,
                                             self.dataset_json.get("labels"), network_family_of,
                                             fine_tuning_trainers)
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
        self._remove_nnunet_load_hook()
        if self.current_epoch == 0 and self.pretrained_source is None:
            if self._initial_fingerprint is not None and torch.equal(self._first_parameter(),
                                                                     self._initial_fingerprint):
                raise ConfigurationError(
                    f"{type(self).__name__} fine-tunes a trained model: pass the source checkpoint with "
                    f"'{PRETRAINED_OPTION} <source results>/fold_X/checkpoint_final.pth' (after moving the source's "
                    "plans to this dataset with nnUNetv2_move_plans_between_datasets)")
            self.pretrained_source = {"path": None, "note": "loaded without strokeseg's check; layer list unavailable"}
            self.print_to_log_file("fine-tuning: the network's weights were replaced before training, but not through "
                                   f"{PRETRAINED_OPTION}; strokeseg's compatibility check did not run")
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


class nnUNetTrainer_strokeseg_FT50ep_lr1e3(FineTuningTrainer):
    """Domain adaptation (Noh) of nnU-Net's default network: 50 epochs, peak LR 1e-3."""

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR


class nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc(FineTuningTrainer):
    """As ``FT50ep_lr1e3`` with the encoder frozen."""

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR
    freeze_encoder: ClassVar[bool] = True


class nnUNetTrainer_strokeseg_FT20ep_lr1e4(FineTuningTrainer):
    """Vendor transfer (Alis) of nnU-Net's default network: 20 epochs, peak LR 1e-4."""

    num_epochs_override: ClassVar[int | None] = FT_VENDOR_TRANSFER_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_VENDOR_TRANSFER_LR


class nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3(FineTuningTrainer, settings=(NOH,)):
    """Domain adaptation of Noh's pre-activation residual U-Net: 50 epochs, peak LR 1e-3."""

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR


class nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc(FineTuningTrainer, settings=(NOH,)):
    """As ``PreActResUNet_FT50ep_lr1e3`` with the encoder frozen."""

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR
    freeze_encoder: ClassVar[bool] = True


class nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3(FineTuningTrainer, settings=(NOH2023,)):
    """Domain adaptation of ``Noh2023`` models as published (``noh_registry_dwi`` preset): the paper's network and
    augmentations, 50 epochs, peak LR 1e-3 (the paper does not state the fine-tuning schedule)."""

    num_epochs_override: ClassVar[int | None] = FT_DOMAIN_ADAPTATION_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_DOMAIN_ADAPTATION_LR


class nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny(FineTuningTrainer, settings=(NOH2023, TINY)):
    """CPU-sized fine-tuning of ``Noh2023_Tiny`` models (same code path): 2 epochs (1 warm-up), peak LR 1e-3."""

    num_epochs_override: ClassVar[int | None] = 2
    initial_lr_override: ClassVar[float | None] = 1e-3


class nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6(FineTuningTrainer, settings=(ALIS_2022,)):
    """Vendor transfer as published (``alis_vendor_dwi_adc`` preset): an ``Alis2022`` model fine-tuned on the other
    vendor's validation part for 20 passes at a constant 1e-6 (Adam, best validation Dice, no warm-up)."""

    num_epochs_override: ClassVar[int | None] = ALIS_FT_EPOCHS
    initial_lr_override: ClassVar[float | None] = ALIS_FT_LR


class nnUNetTrainer_strokeseg_Alis2022_FT1ep_lr1e6_CPU(FineTuningTrainer, settings=(ALIS_2022, ALIS_2022_CPU)):
    """CPU-sized ``Alis2022_FT20ep_lr1e6`` (same code path): 1 pass at 1e-6, an eighth of the plans' widths."""

    num_epochs_override: ClassVar[int | None] = 1
    initial_lr_override: ClassVar[float | None] = ALIS_FT_LR


class nnUNetTrainer_strokeseg_Noh2023_FT3ep_lr3e3_CPU(FineTuningTrainer, settings=(NOH2023, NOH2023_CPU)):
    """Fine-tuning of ``Noh2023_CPU`` models (the demo's domain adaptation arm, and its control arm on the source
    data): 3 epochs of 25 iterations (1 warm-up), peak LR 3e-3 (Adam, as the source model). 3e-3, not 1e-3: on one
    fixed source model 1e-3 closed 8-24 % of the phantom vendor gap and 3e-3 43-62 %, 1e-2 9 % (docs/demo.md)."""

    num_epochs_override: ClassVar[int | None] = 3
    initial_lr_override: ClassVar[float | None] = 3e-3


class nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4(FineTuningTrainer, settings=(ALIS,)):
    """Vendor transfer of Alis's ConvLSTM U-Net (Tversky loss): 20 epochs, peak LR 1e-4."""

    num_epochs_override: ClassVar[int | None] = FT_VENDOR_TRANSFER_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_VENDOR_TRANSFER_LR


class nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4(FineTuningTrainer, settings=(TOMITA,)):
    """Fine-tuning of Tomita's residual group-norm U-Net (``ZoomInOut`` and ``ResGNUNet`` models; BCE + Dice, Adam):
    20 epochs, peak LR 1e-4 (the zoom-out LR)."""

    num_epochs_override: ClassVar[int | None] = FT_VENDOR_TRANSFER_EPOCHS
    initial_lr_override: ClassVar[float | None] = FT_VENDOR_TRANSFER_LR


class nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny(FineTuningTrainer, settings=(NOH, TINY)):
    """CPU-sized fine-tuning of ``PreActResUNet_Tiny`` models (the domain adaptation and vendor transfer examples):
    2 epochs (1 warm-up), peak LR 1e-3."""

    num_epochs_override: ClassVar[int | None] = 2
    initial_lr_override: ClassVar[float | None] = 1e-3


class nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny(FineTuningTrainer, settings=(TOMITA, TINY)):
    """CPU-sized fine-tuning of ``ZoomInOut_Tiny`` / ``ResGNUNet_Tiny`` models (the demo's smoke profile): 2 epochs
    (1 warm-up), peak LR 1e-4."""

    num_epochs_override: ClassVar[int | None] = 2
    initial_lr_override: ClassVar[float | None] = 1e-4


class nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU(FineTuningTrainer, settings=(TOMITA, CPU_LEARNING)):
    """Fine-tuning of ``ZoomInOut_CPU`` models (the demo's domain adaptation): 3 epochs of 15 iterations (1 warm-up),
    peak LR 1e-4 (Adam, the zoom-out LR); the segmentation heads carry over (same labels), so few steps suffice."""

    num_epochs_override: ClassVar[int | None] = 3
    iterations_per_epoch_override: ClassVar[int | None] = 15
    initial_lr_override: ClassVar[float | None] = 1e-4


#: strokeseg's fine-tuning trainers, in the order they are suggested.
FINE_TUNING_TRAINERS: tuple[type[FineTuningTrainer], ...] = (
    nnUNetTrainer_strokeseg_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_PreActResUNet_FT50ep_lr1e3_frozenEnc,
    nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6,
    nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4,
    nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_Alis2022_FT1ep_lr1e6_CPU,
    nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_Noh2023_FT3ep_lr3e3_CPU,
    nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU,
)


def fine_tuning_trainers(family: str) -> list[str]:
    """Names of strokeseg's fine-tuning trainers that build networks of ``family``."""
    return [trainer.__name__ for trainer in FINE_TUNING_TRAINERS if trainer.network_recipe.family == family]
