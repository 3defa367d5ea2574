"""Zoom-in & out training (Tomita et al.) in one ``nnUNetv2_train`` run.

``nnUNetv2_train ID 3d_zoomout FOLD -tr nnUNetTrainer_strokeseg_ZoomInOut -p <plans>`` trains Tomita's network
first on the zoom-in patch (configuration ``3d_zoomin``) at a constant LR of 1e-3 (Adam), then, from the switch
epoch on, on the zoom-out patch (``3d_zoomout``) at 1e-4 with cosine annealing with warm restarts. Both patch
sizes, both batch sizes and the switch fraction come from the plans (``strokeseg.nnunet.zoom_configurations``); the
dataloaders are rebuilt at the switch. Validation and ``nnUNetv2_predict -c 3d_zoomout`` use the zoom-out patch.

Overrides without editing the plans: subclass and set ``zoom_switch_epoch_override``,
``zoom_in_patch_size_override``, ``zoom_out_patch_size_override`` (voxels, the plans' axis order) or the batch-size
overrides; patch overrides are written into the plans copy stored with the model, so prediction uses them too.

``--c`` resumes on either side of the switch: the checkpoint stores the switch epoch and the phase, the LR is
a function of the epoch, and the dataloaders are built for the phase of the resumed epoch.
"""

from __future__ import annotations

import copy
import os
from typing import Any, ClassVar

import numpy as np
import torch
from batchgenerators.dataloading.multi_threaded_augmenter import MultiThreadedAugmenter
from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager

from strokeseg.defaults import (
    TOMITA_RESTART_FACTOR,
    TOMITA_RESTART_PERIOD_EPOCHS,
    TOMITA_SNAPSHOT_EPOCHS,
    TOMITA_ZOOM_IN_EPOCHS,
    TOMITA_ZOOM_OUT_EPOCHS,
    ZOOM_IN_LR,
    ZOOM_IN_LR_SGD,
    ZOOM_OUT_LR,
    ZOOM_OUT_LR_SGD,
    ZOOM_OUT_RESTART_CYCLES,
)
from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.zoom_configurations import (
    KEY_ZOOM_IN_CONFIGURATION,
    ZOOM_IN_CHECKPOINT,
    ZOOM_IN_CONFIGURATION,
    snapshot_checkpoint,
    zoom_schedule_from_plans,
)
from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.lr_schedules import EpochSchedule, zoom_in_out_lr
from strokeseg.trainers.recipes import CPU_LEARNING, TINY, TOMITA, TOMITA_2020, TOMITA_2020_CPU

ZOOM_IN, ZOOM_OUT = "zoom_in", "zoom_out"


def _zoom_in_name(plans: dict, configuration: str) -> str:
    """Name of the zoom-in configuration referenced by the zoom-out ``configuration`` (following inheritance)."""
    configurations = plans.get("configurations", {})
    name: str | None = configuration
    seen: set[str] = set()
    while name is not None and name in configurations and name not in seen:
        seen.add(name)
        if KEY_ZOOM_IN_CONFIGURATION in configurations[name]:
            return str(configurations[name][KEY_ZOOM_IN_CONFIGURATION])
        name = configurations[name].get("inherits_from")
    return ZOOM_IN_CONFIGURATION


def apply_patch_overrides(plans: dict, configuration: str, zoom_in_patch: tuple[int, ...] | None,
                          zoom_out_patch: tuple[int, ...] | None, zoom_in_batch: int | None,
                          zoom_out_batch: int | None) -> dict:
    """A copy of ``plans`` whose zoom configurations carry the given patch/batch sizes (None: unchanged)."""
    if all(v is None for v in (zoom_in_patch, zoom_out_patch, zoom_in_batch, zoom_out_batch)):
        return plans
    plans = copy.deepcopy(plans)
    targets = ((_zoom_in_name(plans, configuration), zoom_in_patch, zoom_in_batch),
               (configuration, zoom_out_patch, zoom_out_batch))
    for name, patch, batch in targets:
        entry = plans["configurations"].setdefault(name, {})
        if patch is not None:
            entry["patch_size"] = [int(p) for p in patch]
        if batch is not None:
            entry["batch_size"] = int(batch)
    return plans


def _check_patch_fits_network(patch: list[int], configuration: ConfigurationManager, name: str) -> None:
    divisor = np.prod(np.array(configuration.pool_op_kernel_sizes), axis=0)
    if len(patch) != len(divisor) or any(p % d for p, d in zip(patch, divisor, strict=True)):
        raise ConfigurationError(f"{name} patch size {patch} must have {len(divisor)} axes, each divisible by the "
                                 f"network's total downsampling {divisor.tolist()}")


class ZoomInOutTrainer(StrokesegTrainer):
    """Zoom-in, then zoom-out training in one run; subclasses choose the model (``settings``) and the LRs."""

    zoom_in_lr: ClassVar[float] = ZOOM_IN_LR
    zoom_out_lr: ClassVar[float] = ZOOM_OUT_LR
    #: "constant" (Adam), "poly" (nnU-Net's SGD style) or "warm_restarts" (the paper) during the zoom-in phase.
    zoom_in_decay: ClassVar[str] = "constant"
    restart_cycles: ClassVar[int] = ZOOM_OUT_RESTART_CYCLES
    #: First warm-restart cycle in epochs (None: ``restart_cycles`` equal cycles) and the growth of later cycles.
    restart_period: ClassVar[int | None] = None
    restart_factor: ClassVar[int] = 1
    #: Zoom-out epochs (1-based) after which a snapshot checkpoint is written (``snapshot_checkpoint``).
    snapshot_epochs: ClassVar[tuple[int, ...]] = ()
    #: Write the weights at the end of the zoom-in phase to ``ZOOM_IN_CHECKPOINT``.
    keep_zoom_in_checkpoint: ClassVar[bool] = False
    zoom_switch_epoch_override: ClassVar[int | None] = None
    zoom_in_patch_size_override: ClassVar[tuple[int, ...] | None] = None
    zoom_out_patch_size_override: ClassVar[tuple[int, ...] | None] = None
    zoom_in_batch_size_override: ClassVar[int | None] = None
    zoom_out_batch_size_override: ClassVar[int | None] = None
    # nnU-Net's attributes this class reassigns when it switches phase
    configuration_manager: ConfigurationManager
    oversample_foreground_percent: float
    dataloader_train: Any
    dataloader_val: Any

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        plans = apply_patch_overrides(plans, configuration, self.zoom_in_patch_size_override,
                                      self.zoom_out_patch_size_override, self.zoom_in_batch_size_override,
                                      self.zoom_out_batch_size_override)
        schedule = zoom_schedule_from_plans(plans, configuration)  # clear error before nnU-Net's own lookup
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.initial_lr = self.zoom_in_lr
        zoom_in = self.plans_manager.get_configuration(_zoom_in_name(self.plans_manager.plans, configuration))
        zoom_out = self.configuration_manager
        if zoom_in.data_identifier != zoom_out.data_identifier:
            raise ConfigurationError(
                f"zoom configurations must share preprocessed data: {zoom_in.data_identifier!r} vs "
                f"{zoom_out.data_identifier!r} in plans {self.plans_manager.plans_name!r}")
        if zoom_in.network_arch_init_kwargs != zoom_out.network_arch_init_kwargs:
            raise ConfigurationError(f"zoom configurations of plans {self.plans_manager.plans_name!r} must share "
                                     "the network architecture (only patch and batch size may differ)")
        if not getattr(self.network_recipe, "pads_to_stride", False):
            for name, manager in ((ZOOM_IN, zoom_in), (ZOOM_OUT, zoom_out)):
                _check_patch_fits_network(list(manager.patch_size), manager, name)
        self.zoom_schedule = schedule
        self.zoom_switch_epoch = self._configured_switch_epoch()
        late = [epoch for epoch in self.snapshot_epochs if not 0 < epoch <= self.zoom_out_epochs]
        if late:
            raise ConfigurationError(f"{type(self).__name__}: snapshot epochs {late} lie outside the "
                                     f"{self.zoom_out_epochs} zoom-out epochs")
        self._zoom_configurations = {ZOOM_IN: zoom_in, ZOOM_OUT: zoom_out}
        self._global_oversample = self.oversample_foreground_percent
        # validation-only runs and prediction use the zoom-out configuration; training picks the phase
        self.zoom_phase = ZOOM_OUT

    def _configured_switch_epoch(self) -> int:
        switch = self.zoom_switch_epoch_override
        if switch is None:
            switch = self.zoom_schedule.switch_epoch(self.num_epochs)
        if not 0 < switch < self.num_epochs:
            raise ConfigurationError(f"{type(self).__name__}: the zoom switch epoch must lie in "
                                     f"1..{self.num_epochs - 1} for {self.num_epochs} epochs, got {switch}")
        return int(switch)

    @property
    def zoom_in_epochs(self) -> int:
        """Epochs trained on the zoom-in patch."""
        return self.zoom_switch_epoch

    @property
    def zoom_out_epochs(self) -> int:
        """Epochs trained on the zoom-out patch, from the zoom-in weights."""
        return self.num_epochs - self.zoom_switch_epoch

    def phase_of_epoch(self, epoch: int) -> str:
        """``"zoom_in"`` before the switch epoch, ``"zoom_out"`` from it on."""
        return ZOOM_IN if epoch < self.zoom_switch_epoch else ZOOM_OUT

    def _zoom_lr(self, epoch: int) -> float:
        return zoom_in_out_lr(epoch, self.zoom_switch_epoch, self.num_epochs, self.zoom_in_lr, self.zoom_out_lr,
                              self.restart_cycles, self.zoom_in_decay, self.restart_period, self.restart_factor)

    def _lr_schedule(self) -> EpochSchedule:
        return self._zoom_lr  # reads zoom_switch_epoch at call time (a resumed run may restore it)

    def _enter_phase(self, phase: str) -> None:
        self.zoom_phase = phase
        self.configuration_manager = self._zoom_configurations[phase]
        self.oversample_foreground_percent = self._global_oversample
        self._set_batch_size_and_oversample()
        self.print_to_log_file(
            f"zoom-in & out: {phase.replace('_', '-')} phase from epoch {self.current_epoch} (switch at epoch "
            f"{self.zoom_switch_epoch}): patch size {list(self.configuration_manager.patch_size)}, batch size "
            f"{self.batch_size}, LR {self._zoom_lr(self.current_epoch):.2e}")

    def _finish_dataloaders(self) -> None:
        for loader in (self.dataloader_train, self.dataloader_val):
            if isinstance(loader, (NonDetMultiThreadedAugmenter, MultiThreadedAugmenter)):
                loader._finish()
        self.dataloader_train = self.dataloader_val = None

    def on_train_start(self) -> None:
        if not self.was_initialized:
            self.initialize()
        self._enter_phase(self.phase_of_epoch(self.current_epoch))
        super().on_train_start()

    def on_train_epoch_start(self) -> None:
        if self.zoom_phase == ZOOM_IN and self.phase_of_epoch(self.current_epoch) == ZOOM_OUT:
            self._finish_dataloaders()
            self._enter_phase(ZOOM_OUT)
            self.dataloader_train, self.dataloader_val = self.get_dataloaders()
        super().on_train_epoch_start()

    def on_epoch_end(self) -> None:
        # before nnU-Net's on_epoch_end, which moves current_epoch on (its own checkpoints are written there too)
        zoom_out_epoch = self.current_epoch - self.zoom_switch_epoch + 1
        if self.keep_zoom_in_checkpoint and zoom_out_epoch == 0:
            self._save_named_checkpoint(ZOOM_IN_CHECKPOINT, "zoom-in result")
        if zoom_out_epoch in self.snapshot_epochs:
            self._save_named_checkpoint(snapshot_checkpoint(zoom_out_epoch), f"snapshot after zoom-out epoch "
                                                                             f"{zoom_out_epoch}")
        super().on_epoch_end()

    def _save_named_checkpoint(self, name: str, what: str) -> None:
        self.save_checkpoint(os.path.join(self.output_folder, name))
        self.print_to_log_file(f"zoom-in & out: {what} (epoch {self.current_epoch}) saved as {name}")

    def _checkpoint_extras(self) -> dict[str, Any]:
        # nnU-Net stores current_epoch + 1, the epoch a resumed run starts with
        return {**super()._checkpoint_extras(), "zoom_switch_epoch": self.zoom_switch_epoch,
                "zoom_phase": self.phase_of_epoch(self.current_epoch + 1)}

    def _restore_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        super()._restore_checkpoint_extras(extras)
        stored = extras.get("zoom_switch_epoch")
        if stored is not None and int(stored) != self.zoom_switch_epoch:
            self.print_to_log_file(f"zoom-in & out: keeping the checkpoint's switch epoch {stored} (the current "
                                   f"settings would give {self.zoom_switch_epoch})")
            self.zoom_switch_epoch = int(stored)
        phase = extras.get("zoom_phase")
        expected = self.phase_of_epoch(self.current_epoch)
        if phase is not None and phase != expected:
            raise ConfigurationError(f"checkpoint says phase {phase} at epoch {self.current_epoch}, but the switch "
                                     f"epoch {self.zoom_switch_epoch} implies {expected}")


class nnUNetTrainer_strokeseg_ZoomInOut(ZoomInOutTrainer, settings=(TOMITA,)):
    """Tomita et al.'s full recipe: residual group-norm U-Net, BCE + Dice, Adam, zoom-in then zoom-out."""


class nnUNetTrainer_strokeseg_ZoomInOut_SGD(ZoomInOutTrainer, settings=(TOMITA,)):
    """Zoom-in & out with nnU-Net's SGD: 1e-2 with poly decay zoomed in, then 1e-3 with warm restarts."""

    optimizer_name: ClassVar[str] = "sgd"
    zoom_in_lr: ClassVar[float] = ZOOM_IN_LR_SGD
    zoom_out_lr: ClassVar[float] = ZOOM_OUT_LR_SGD
    zoom_in_decay: ClassVar[str] = "poly"


class nnUNetTrainer_strokeseg_ZoomInOut_100ep(ZoomInOutTrainer, settings=(TOMITA,)):
    """Zoom-in & out with 100 epochs instead of 1000 (the demo's GPU profile; switch at epoch 80)."""

    num_epochs_override: ClassVar[int | None] = 100


class nnUNetTrainer_strokeseg_ZoomInOut_Tiny(ZoomInOutTrainer, settings=(TOMITA, TINY)):
    """CPU-sized zoom-in & out: 3 epochs, switching to zoom-out at the plans' fraction (epoch 2 at 0.8); the demo's
    smoke profile and the zoom ablation example."""

    num_epochs_override: ClassVar[int | None] = 3


class nnUNetTrainer_strokeseg_ZoomInOut_CPU(ZoomInOutTrainer, settings=(TOMITA, CPU_LEARNING)):
    """Zoom-in & out sized to learn a phantom DWI cohort in a few CPU minutes (the demo's default profile): 10 epochs,
    switching to zoom-out at epoch 8."""

    num_epochs_override: ClassVar[int | None] = 10


class nnUNetTrainer_strokeseg_Tomita2020(ZoomInOutTrainer, settings=(TOMITA_2020,)):
    """Tomita et al. as published (preset ``tomita_atlas_zoom``): 1200 zoom-in epochs from 1e-3, then 150 zoom-out
    epochs from 1e-4, from the zoom-in weights, in one run; Adam with cosine annealing and warm restarts (50-epoch
    cycles) in both stages; an epoch is one
    pass over the training cases; no deep supervision, no rotation augmentation; the zoom-in result
    (``checkpoint_zoomin.pth``, "-F") and snapshots after zoom-out epochs 50, 100, 150 ("-E") are kept.
    Plan with ``-pl TomitaAtlasPlanner`` (zoom-out patch 144 x 172 x 168, centre-crop prediction)."""

    zoom_in_decay: ClassVar[str] = "warm_restarts"
    zoom_switch_epoch_override: ClassVar[int | None] = TOMITA_ZOOM_IN_EPOCHS
    num_epochs_override: ClassVar[int | None] = TOMITA_ZOOM_IN_EPOCHS + TOMITA_ZOOM_OUT_EPOCHS
    restart_period: ClassVar[int | None] = TOMITA_RESTART_PERIOD_EPOCHS
    restart_factor: ClassVar[int] = TOMITA_RESTART_FACTOR
    snapshot_epochs: ClassVar[tuple[int, ...]] = TOMITA_SNAPSHOT_EPOCHS
    keep_zoom_in_checkpoint: ClassVar[bool] = True


class nnUNetTrainer_strokeseg_Tomita2020_CPU(ZoomInOutTrainer, settings=(TOMITA_2020, TOMITA_2020_CPU)):
    """``Tomita2020`` on the same code path, sized for a CPU: 2 zoom-in and 6 zoom-out epochs (passes over the
    data), 2-epoch warm-restart cycles, snapshots after zoom-out epochs 2, 4, 6 (the paper's 50/100/150 scaled),
    a quarter of the plans' widths."""

    zoom_in_decay: ClassVar[str] = "warm_restarts"
    zoom_switch_epoch_override: ClassVar[int | None] = 2
    num_epochs_override: ClassVar[int | None] = 8
    restart_period: ClassVar[int | None] = 2
    restart_factor: ClassVar[int] = TOMITA_RESTART_FACTOR
    snapshot_epochs: ClassVar[tuple[int, ...]] = (2, 4, 6)
    keep_zoom_in_checkpoint: ClassVar[bool] = True
