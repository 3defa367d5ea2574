"""Base class of strokeseg's trainers: what all of them share on top of nnU-Net's ``nnUNetTrainer``.

A trainer is composed from class attributes rather than from a chain of parent classes:

* ``network_recipe`` (``strokeseg.trainers.architectures``) builds the network, identically at training and at
  prediction time (nnU-Net rebuilds it through the trainer class); ``width_scale`` / ``max_features`` rescale the
  plans' features per stage for strokeseg's own networks;
* ``loss_recipe`` (``strokeseg.trainers.losses``) builds the loss, wrapped with nnU-Net's deep-supervision weights
  (None: nnU-Net's Dice + CE);
* ``augmentation_recipe`` (``strokeseg.trainers.augmentation``) replaces nnU-Net's training augmentations
  (None: nnU-Net's);
* schedule overrides (``initial_lr_override``, ``num_epochs_override``, ...), ``optimizer_name`` (nnU-Net's SGD,
  Adam or AdamW), the papers' schedule choices where they differ from nnU-Net's (``epochs_as_passes``: an epoch is one
  pass over the training cases (slices in 2D) instead of 250 iterations; ``deep_supervision``;
  ``checkpoint_selection``: the final model is the epoch with the best validation metric instead of the last one;
  ``rotation_augmentation``: nnU-Net's rotation on or off), ``allow_compile`` and
  ``inference_mirroring`` (the test-time mirroring ``nnUNetv2_predict`` applies:
  nnU-Net's all-axes default or the fast ``"left_right"`` variant, 2 passes instead of 8);
  ``progress_plot_interval_s``: nnU-Net's progress.png is redrawn at most once a minute (and when training ends)
  instead of after every epoch, about 1 s each time; ``training_seed``: a
  reproducible training (seeded initialization, case sampling and augmentation, the augmentation in the training
  process instead of nnU-Net's background workers, whose batches arrive in a non-deterministic order);
* ``TrainerSettings`` bundle such attributes (a paper's model, a CPU size): ``class X(StrokesegTrainer,
  settings=(A, B))`` sets A's attributes, then B's, and attributes written in the class body win over both.

The three families (fine-tuning, zoom-in & out, ensemble members) subclass this class and override hooks: the LR
schedule is a pure function of the epoch (``_lr_schedule``; nnU-Net's poly decay by default), the optimizer only
sees ``_trainable_parameters``, and ``_checkpoint_extras`` / ``_restore_checkpoint_extras`` keep strokeseg's own
training state (zoom phase, pretrained source) inside nnU-Net's checkpoints, under the key ``"strokeseg"``. The
network's parameter count is logged after initialization (trainer log and ``logging``).
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import nnunetv2.configuration
import numpy as np
import torch
from nnunetv2.training.data_augmentation.compute_initial_patch_size import get_patch_size
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn
from torch._dynamo import OptimizedModule

from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.live_progress import SCHEDULE_LOG_PREFIX
from strokeseg.nnunet.progress_plot import DEFAULT_PROGRESS_PLOT_INTERVAL_S, ThrottledProgressPlot
from strokeseg.nnunet.validation_pools import IN_PROCESS_VALIDATION_LOG, validation_in_process
from strokeseg.nnunet.worker_processes import work_in_process
from strokeseg.trainers.architectures import PLANS_NETWORK, NetworkRecipe
from strokeseg.trainers.augmentation import AugmentationRecipe, spatial_axis_of
from strokeseg.trainers.losses import LossRecipe
from strokeseg.trainers.lr_schedules import EpochLRScheduler, EpochSchedule, constant_lr, poly_lr, time_based_lr
from strokeseg.trainers.networks.spec import count_parameters

logger = logging.getLogger(__name__)

#: Index of the image's first voxel axis (SimpleITK's x, left-right in axial acquisitions) in the
#: ``(z, y, x)`` arrays that all of nnU-Net's image readers return.
IMAGE_X_AXIS = 2
#: Index of the image's slice axis (SimpleITK's z, across axial slices) in those arrays.
IMAGE_Z_AXIS = 0
#: Key of strokeseg's state inside nnU-Net checkpoints.
CHECKPOINT_KEY = "strokeseg"
#: Test-time mirroring choices (``inference_mirroring``).
MIRRORING_CHOICES = ("all", "left_right", "none")
#: Final-model choices (``checkpoint_selection``): nnU-Net's last epoch, or the epoch with the best validation metric.
CHECKPOINT_SELECTIONS = ("last", "best")
#: Validation metrics ``checkpoint_selection = "best"`` can select by, and whether higher is better: nnU-Net's
#: exponential moving average of the pseudo Dice, this epoch's pseudo Dice, this epoch's validation loss.
SELECTION_METRICS: dict[str, bool] = {"ema_fg_dice": True, "mean_fg_dice": True, "val_losses": False}
#: The checkpoint holding the selected epoch's weights (beside nnU-Net's checkpoint_best.pth, which always
#: follows nnU-Net's EMA pseudo Dice).
SELECTED_CHECKPOINT = "checkpoint_selected.pth"
#: Optimizers (``optimizer_name``), each with the trainer's ``weight_decay``.
OPTIMIZERS = ("sgd", "adam", "adamw")
#: Learning-rate schedules (``lr_schedule_name``): nnU-Net's poly decay from ``initial_lr``, ``initial_lr`` for
#: every epoch (papers that state no decay), or Keras's time-based decay by ``lr_decay`` per iteration.
LR_SCHEDULES = ("poly", "constant", "time_based")
#: The scaling range nnU-Net passes when it computes the initial patch size of its spatial augmentation.
NNUNET_SCALE_RANGE = (0.85, 1.25)
#: nnU-Net's variable for the number of background augmentation workers (0: augmentation in the training process).
N_PROC_DA_VARIABLE = "nnUNet_n_proc_DA"


@dataclass(frozen=True)
class TrainerSettings:
    """A bundle of ``StrokesegTrainer`` class attributes, e.g. a paper's model or a CPU size (None: not set).

    Used as ``class X(StrokesegTrainer, settings=(A, B))``; the fields are the class attributes of the same name.
    """

    network_recipe: NetworkRecipe | None = None
    loss_recipe: LossRecipe | None = None
    augmentation_recipe: AugmentationRecipe | None = None
    optimizer_name: str | None = None
    initial_lr_override: float | None = None
    num_epochs_override: int | None = None
    iterations_per_epoch_override: int | None = None
    val_iterations_per_epoch_override: int | None = None
    width_scale: float | None = None
    max_features: int | None = None
    allow_compile: bool | None = None
    inference_mirroring: str | None = None
    epochs_as_passes: bool | None = None
    deep_supervision: bool | None = None
    checkpoint_selection: str | None = None
    selection_metric: str | None = None
    rotation_augmentation: bool | None = None
    lr_schedule_name: str | None = None
    lr_decay: float | None = None
    weight_decay_override: float | None = None
    foreground_oversampling: float | None = None
    training_seed: int | None = None
    progress_plot_interval_s: float | None = None

    def attributes(self) -> dict[str, Any]:
        """The class attributes this bundle sets, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def augmentation_in_process() -> Iterator[None]:
    """While open, nnU-Net's ``get_dataloaders`` builds single-process augmenters (``nnUNet_n_proc_DA=0``, read when
    the loaders are built; the variable is restored on exit)."""
    before = os.environ.get(N_PROC_DA_VARIABLE)
    os.environ[N_PROC_DA_VARIABLE] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(N_PROC_DA_VARIABLE, None)
        else:
            os.environ[N_PROC_DA_VARIABLE] = before


def passes_to_iterations(cases: int, batch_size: int) -> int:
    """Iterations of one pass over ``cases`` at ``batch_size`` (at least 1)."""
    return max(1, math.ceil(cases / batch_size))


def left_right_mirror_axes(transpose_forward: list[int] | tuple[int, ...], dim: int) -> tuple[int, ...]:
    """The network-input axis to mirror for fast test-time augmentation: the image's x (left-right) axis.

    Args:
        transpose_forward: the plans' axis permutation from the image's ``(z, y, x)`` to the network's order.
        dim: 3 for 3D configurations, 2 for 2D ones (which see the last two transposed axes).
    """
    position = list(transpose_forward).index(IMAGE_X_AXIS)
    if dim == 3:
        return (position,)
    # 2D networks see transposed axes 1 and 2; x being the slicing axis is exotic, flip the last in-plane axis
    return (position - 1,) if position > 0 else (1,)


def unwrap_network(network: nn.Module) -> nn.Module:
    """The plain module inside DDP / torch.compile wrappers."""
    module = network.module if isinstance(network, torch.nn.parallel.DistributedDataParallel) else network
    module = module._orig_mod if isinstance(module, OptimizedModule) else module
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch module, got {type(module).__name__}")
    return module


def encoder_of(network: nn.Module) -> nn.Module:
    """The ``encoder`` submodule of a U-Net (all of nnU-Net's and strokeseg's networks have one)."""
    encoder = getattr(unwrap_network(network), "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ConfigurationError(f"{type(unwrap_network(network)).__name__} has no encoder module to freeze")
    return encoder


class StrokesegTrainer(nnUNetTrainer):
    """nnU-Net's trainer with strokeseg's shared hooks (see the module docstring). Not exported itself."""

    #: Builds the network (``architectures.PLANS_NETWORK``: nnU-Net's network from the plans).
    network_recipe: ClassVar[NetworkRecipe] = PLANS_NETWORK
    #: Builds the loss (None: nnU-Net's Dice + CE).
    loss_recipe: ClassVar[LossRecipe | None] = None
    #: Builds the training augmentation in place of nnU-Net's (None: nnU-Net's).
    augmentation_recipe: ClassVar[AugmentationRecipe | None] = None
    #: Features per stage relative to the plans (strokeseg's networks only).
    width_scale: ClassVar[float] = 1.0
    #: Upper bound on features per stage after scaling (None: the plans' values).
    max_features: ClassVar[int | None] = None
    #: One of ``OPTIMIZERS``: "sgd" (nnU-Net's SGD, Nesterov momentum 0.99), "adam" or "adamw" (decoupled weight
    #: decay; MONAI's Swin UNETR recipe).
    optimizer_name: ClassVar[str] = "sgd"
    #: Test-time mirroring stored in the checkpoint for nnUNetv2_predict: "all", "left_right" or "none".
    inference_mirroring: ClassVar[str] = "all"
    #: Schedule overrides applied after nnU-Net's defaults (None keeps nnU-Net's value).
    initial_lr_override: ClassVar[float | None] = None
    num_epochs_override: ClassVar[int | None] = None
    iterations_per_epoch_override: ClassVar[int | None] = None
    val_iterations_per_epoch_override: ClassVar[int | None] = None
    #: False never compiles the network (CPU-sized variants); True follows nnU-Net (nnUNet_compile, device).
    allow_compile: ClassVar[bool] = True
    #: True: one epoch = ceil(training cases / batch size) iterations (validation likewise), computed from the
    #: fold's split when training starts; an ``iterations_per_epoch_override`` still wins. False: nnU-Net's 250/50.
    epochs_as_passes: ClassVar[bool] = False
    #: nnU-Net's deep supervision (True) or a loss on the full-resolution output only (False).
    deep_supervision: ClassVar[bool] = True
    #: "last" (nnU-Net: the final epoch's weights) or "best" (the epoch with the best ``selection_metric``).
    checkpoint_selection: ClassVar[str] = "last"
    #: Validation metric of ``checkpoint_selection = "best"`` (one of ``SELECTION_METRICS``).
    selection_metric: ClassVar[str] = "mean_fg_dice"
    #: nnU-Net's rotation augmentation (True) or none (False: angle 0; scaling, mirroring and the rest stay).
    rotation_augmentation: ClassVar[bool] = True
    #: The epoch's learning rate (one of ``LR_SCHEDULES``); trainer families may override ``_lr_schedule`` instead.
    lr_schedule_name: ClassVar[str] = "poly"
    #: Decay per iteration of the ``"time_based"`` schedule: lr = initial_lr / (1 + lr_decay * iterations).
    lr_decay: ClassVar[float] = 0.0
    #: Optimizer weight decay (None: nnU-Net's 3e-5).
    weight_decay_override: ClassVar[float | None] = None
    #: Fraction of each batch forced to contain foreground (None: nnU-Net's 0.33; 0: patches drawn uniformly).
    foreground_oversampling: ClassVar[float | None] = None
    #: Seed of a reproducible training (None: nnU-Net's unseeded training with background augmentation workers).
    #: Set, it seeds the network's initialization and, when the data loaders are built, the case sampling and
    #: augmentation, which then run in the training process: the same seed, data, device and thread count give the
    #: same weights. Meant for CPU-sized trainers (the demo's); on a GPU the in-process augmentation is a bottleneck.
    training_seed: ClassVar[int | None] = None
    #: Seconds between two redraws of nnU-Net's progress.png (about 1 s each; nnU-Net redraws after every epoch,
    #: which 0 restores); the figure is also drawn when training ends (strokeseg.nnunet.progress_plot).
    progress_plot_interval_s: ClassVar[float] = DEFAULT_PROGRESS_PLOT_INTERVAL_S

    def __init_subclass__(cls, settings: Sequence[TrainerSettings] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        written_in_body = set(vars(cls))
        for bundle in settings:
            for name, value in bundle.attributes().items():
                if name not in written_in_body:
                    setattr(cls, name, value)

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        super().__init__(plans, configuration, fold, dataset_json, device)
        if self.initial_lr_override is not None:
            self.initial_lr = self.initial_lr_override
        if self.num_epochs_override is not None:
            self.num_epochs = self.num_epochs_override
        if self.iterations_per_epoch_override is not None:
            self.num_iterations_per_epoch = self.iterations_per_epoch_override
        if self.val_iterations_per_epoch_override is not None:
            self.num_val_iterations_per_epoch = self.val_iterations_per_epoch_override
        if self.weight_decay_override is not None:
            self.weight_decay = self.weight_decay_override
        if self.foreground_oversampling is not None:
            self.oversample_foreground_percent = self.foreground_oversampling
        self.enable_deep_supervision = self.deep_supervision
        if self.checkpoint_selection not in CHECKPOINT_SELECTIONS:
            raise ConfigurationError(f"{type(self).__name__}: checkpoint_selection must be one of "
                                     f"{', '.join(CHECKPOINT_SELECTIONS)}, got {self.checkpoint_selection!r}")
        if self.selection_metric not in SELECTION_METRICS:
            raise ConfigurationError(f"{type(self).__name__}: selection_metric must be one of "
                                     f"{', '.join(SELECTION_METRICS)}, got {self.selection_metric!r}")
        self.logger: Any = ThrottledProgressPlot(vars(self)["logger"], self.progress_plot_interval_s)  # nnU-Net's
        #: Best value of ``selection_metric`` so far and its epoch (``checkpoint_selection = "best"``).
        self.selected_value: float | None = None
        self.selected_epoch: int | None = None

    def _do_i_compile(self) -> bool:
        return self.allow_compile and super()._do_i_compile()

    @classmethod
    def build_network_architecture(cls, plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = True) -> nn.Module:
        # a classmethod (nnU-Net's is static) so that class attributes shape the network; called the same way
        return cls.network_recipe.build(configuration_manager, num_input_channels, num_output_channels,
                                        enable_deep_supervision, cls.width_scale, cls.max_features)

    def set_deep_supervision_enabled(self, enabled: bool) -> None:
        # nnU-Net switches ``network.decoder.deep_supervision`` (and switches it on after validation); a network
        # without that switch has one output (e.g. MONAI's SwinUNETR, whose recipe refuses deep supervision)
        if getattr(unwrap_network(self.network), "decoder", None) is None:
            return
        super().set_deep_supervision_enabled(enabled)

    def run_seed(self) -> int | None:
        """Seed of this training run's generators (``training_seed``; None: unseeded, as nnU-Net)."""
        return self.training_seed

    def initialize(self) -> None:
        seed = self.run_seed()
        if seed is not None:
            seed_everything(seed)
        super().initialize()
        network = unwrap_network(self.network)
        total, trainable = count_parameters(network), count_parameters(network, trainable_only=True)
        message = (f"network: {type(network).__name__} ({self.network_recipe.family}), {total:,} parameters, "
                   f"{trainable:,} trainable")
        self.print_to_log_file(message)
        logger.info(message)

    def get_dataloaders(self) -> tuple[Any, Any]:
        seed = self.run_seed()
        if self.training_seed is None or seed is None:
            return super().get_dataloaders()
        seed_everything(seed)
        with augmentation_in_process():
            loaders = super().get_dataloaders()
        self.print_to_log_file(f"reproducible training: seed {seed}, augmentation in the training process")
        return loaders

    def on_train_start(self) -> None:
        super().on_train_start()
        if self.epochs_as_passes:
            self._set_passes_per_epoch()
        # read by live progress displays (strokeseg.experiments.progress) to show the epoch count and an ETA
        self.print_to_log_file(f"{SCHEDULE_LOG_PREFIX} {self.num_epochs} epochs of {self.num_iterations_per_epoch} "
                               "iterations")

    def _set_passes_per_epoch(self) -> None:
        """Iterations per epoch = one pass over the fold's training (validation) samples at the plans' batch size:
        cases in 3D configurations, slices in 2D ones."""
        training, validation = (self._samples_per_pass(keys) for keys in self.do_split())
        if self.iterations_per_epoch_override is None:
            self.num_iterations_per_epoch = passes_to_iterations(training, self.batch_size)
        if self.val_iterations_per_epoch_override is None:
            self.num_val_iterations_per_epoch = passes_to_iterations(validation, self.batch_size)
        unit = "slices" if len(self.configuration_manager.patch_size) == 2 else "cases"
        self.print_to_log_file(f"epochs as passes over the data: {training} training and {validation} validation "
                               f"{unit} at batch size {self.batch_size} -> {self.num_iterations_per_epoch} / "
                               f"{self.num_val_iterations_per_epoch} iterations")

    def _samples_per_pass(self, identifiers: Sequence[str]) -> int:
        """Samples in one pass over the cases ``identifiers``: the cases (3D configurations) or their slices along
        the first preprocessed axis (2D configurations, whose data loader draws one slice per batch element)."""
        if len(self.configuration_manager.patch_size) != 2:
            return len(identifiers)
        dataset = self.dataset_class(self.preprocessed_dataset_folder, list(identifiers))
        return sum(int(dataset.load_case(key)[0].shape[1]) for key in identifiers)

    def on_epoch_end(self) -> None:
        if self.checkpoint_selection == "best":
            self._maybe_select_epoch()
        super().on_epoch_end()

    def _maybe_select_epoch(self) -> None:
        """Save this epoch's weights as the selected checkpoint when ``selection_metric`` improved."""
        value = float(self.logger.get_value(self.selection_metric, step=-1))
        higher_is_better = SELECTION_METRICS[self.selection_metric]
        if np.isnan(value):
            return
        improved = self.selected_value is None or (value > self.selected_value if higher_is_better
                                                    else value < self.selected_value)
        if improved:
            self.selected_value, self.selected_epoch = value, self.current_epoch
            self.print_to_log_file(f"selected epoch {self.current_epoch}: {self.selection_metric} = {value:.4f}")
            self.save_checkpoint(os.path.join(self.output_folder, SELECTED_CHECKPOINT))

    def on_train_end(self) -> None:
        if self.local_rank == 0:
            self.logger.flush(self.output_folder)  # the epochs since the last redraw of progress.png
        if self.checkpoint_selection == "best":
            self._restore_selected_weights()
        super().on_train_end()

    def perform_actual_validation(self, save_probabilities: bool = False) -> None:
        # one process, or a few on the CPU (not DDP): export and score in this process rather than in two spawned
        # pools whose workers each import torch and nnU-Net first (strokeseg.nnunet.worker_processes)
        processes = nnunetv2.configuration.default_num_processes
        in_process = work_in_process(processes, self.device.type) and not self.is_ddp
        if in_process:
            self.print_to_log_file(f"{IN_PROCESS_VALIDATION_LOG} (nnUNet_def_n_proc={processes}, device "
                                   f"{self.device.type}): export and metrics without worker processes")
        with validation_in_process(enabled=in_process):
            super().perform_actual_validation(save_probabilities)

    def _restore_selected_weights(self) -> None:
        """Load the selected epoch's weights, so that checkpoint_final.pth and nnU-Net's validation use them."""
        path = os.path.join(self.output_folder, SELECTED_CHECKPOINT)
        if not os.path.isfile(path):
            self.print_to_log_file(f"no {SELECTED_CHECKPOINT}: keeping the last epoch's weights")
            return
        checkpoint = torch.load(path, map_location=self.device, weights_only=False)
        unwrap_network(self.network).load_state_dict(checkpoint["network_weights"])
        self.print_to_log_file(f"final model = epoch {self.selected_epoch} ({self.selection_metric} = "
                               f"{self.selected_value})")

    def _checkpoint_extras(self) -> dict[str, Any]:
        """strokeseg state to store in every checkpoint (the selected epoch, when one is tracked)."""
        if self.checkpoint_selection != "best":
            return {}
        return {"selected_value": self.selected_value, "selected_epoch": self.selected_epoch}

    def _restore_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        """Restore what ``_checkpoint_extras`` stored (called after nnU-Net's ``load_checkpoint``)."""
        if self.checkpoint_selection == "best":
            self.selected_value = extras.get("selected_value")
            self.selected_epoch = extras.get("selected_epoch")

    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        extras = self._checkpoint_extras()
        if not extras or self.local_rank != 0 or self.disable_checkpointing or not os.path.isfile(filename):
            return
        # nnU-Net builds the checkpoint dict inline; add our state to the file it wrote (atomically)
        checkpoint = torch.load(filename, map_location="cpu", weights_only=False)
        checkpoint[CHECKPOINT_KEY] = extras
        partial_file = Path(f"{filename}.partial")
        torch.save(checkpoint, partial_file)
        os.replace(partial_file, filename)

    def load_checkpoint(self, filename_or_checkpoint: dict | str) -> None:
        super().load_checkpoint(filename_or_checkpoint)
        if isinstance(filename_or_checkpoint, str):
            checkpoint = torch.load(filename_or_checkpoint, map_location="cpu", weights_only=False)
        else:
            checkpoint = filename_or_checkpoint
        self._restore_checkpoint_extras(dict(checkpoint.get(CHECKPOINT_KEY) or {}))

    def _build_loss(self) -> nn.Module:
        if self.loss_recipe is None:
            return super()._build_loss()
        return self._deep_supervised(self.loss_recipe.build(self.label_manager, self.configuration_manager.batch_dice,
                                                            self.is_ddp))

    def _get_deep_supervision_scales(self) -> list[list[float]] | None:
        return self.network_deep_supervision_scales(super()._get_deep_supervision_scales())

    @classmethod
    def network_deep_supervision_scales(cls, scales: list[list[float]] | None) -> list[list[float]] | None:
        """nnU-Net's deep-supervision scales (per level, array axes) as this trainer's network needs them: unchanged,
        or with the first axis (slices) kept at full size for a network that downsamples in plane only
        (``NetworkRecipe.in_plane_deep_supervision``)."""
        if scales is None or not cls.network_recipe.in_plane_deep_supervision:
            return scales
        return [[1.0, *[float(s) for s in scale[1:]]] for scale in scales]

    def _deep_supervised(self, loss: nn.Module) -> nn.Module:
        """``loss`` wrapped with nnU-Net's deep-supervision weights (halved per level, lowest level unused)."""
        scales = self._get_deep_supervision_scales()
        if not self.enable_deep_supervision or scales is None:
            return loss
        weights = np.array([1 / (2**i) for i in range(len(scales))])
        # nnU-Net's workaround: DDP without compile complains about unused parameters of a zero weight
        weights[-1] = 1e-6 if self.is_ddp and not self._do_i_compile() else 0
        return DeepSupervisionWrapper(loss, weights / weights.sum())

    def _trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates (all by default)."""
        return [p for p in self.network.parameters() if p.requires_grad]

    def _lr_schedule(self) -> EpochSchedule:
        """LR as a function of the epoch: ``lr_schedule_name``'s schedule from ``initial_lr``."""
        if self.lr_schedule_name == "poly":
            return partial(poly_lr, num_epochs=self.num_epochs, initial_lr=self.initial_lr)
        if self.lr_schedule_name == "constant":
            return partial(constant_lr, initial_lr=self.initial_lr)
        if self.lr_schedule_name == "time_based":
            # iterations per epoch are known only when training starts (epochs as passes): read them per call
            return lambda epoch: time_based_lr(epoch, self.initial_lr, self.lr_decay, self.num_iterations_per_epoch)
        raise ConfigurationError(f"{type(self).__name__}: unknown LR schedule {self.lr_schedule_name!r} "
                                 f"(one of {', '.join(LR_SCHEDULES)})")

    def configure_optimizers(self) -> tuple[torch.optim.Optimizer, EpochLRScheduler]:
        optimizer = self._make_optimizer(self._trainable_parameters(), self.initial_lr)
        return optimizer, EpochLRScheduler(optimizer, self._lr_schedule())

    def _make_optimizer(self, parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        """nnU-Net's SGD, Adam or AdamW (``optimizer_name``) over ``parameters`` at ``lr``."""
        if self.optimizer_name == "sgd":
            return torch.optim.SGD(parameters, lr, weight_decay=self.weight_decay, momentum=0.99, nesterov=True)
        if self.optimizer_name == "adam":
            return torch.optim.Adam(parameters, lr, weight_decay=self.weight_decay)
        if self.optimizer_name == "adamw":
            return torch.optim.AdamW(parameters, lr, weight_decay=self.weight_decay)
        raise ConfigurationError(f"{type(self).__name__}: unknown optimizer {self.optimizer_name!r} "
                                 f"(one of {', '.join(OPTIMIZERS)})")

    def get_training_transforms(self, patch_size: Any, rotation_for_DA: Any, deep_supervision_scales: Any,
                                mirror_axes: tuple[int, ...], do_dummy_2d_data_aug: bool,
                                use_mask_for_norm: list[bool] | None = None, is_cascaded: bool = False,
                                foreground_labels: Any = None, regions: Any = None,
                                ignore_label: int | None = None) -> Any:
        # nnU-Net's is a staticmethod called as self.get_training_transforms(...); an instance method sees the plans
        pipeline = super().get_training_transforms(
            patch_size, rotation_for_DA, deep_supervision_scales, mirror_axes, do_dummy_2d_data_aug,
            use_mask_for_norm=use_mask_for_norm, is_cascaded=is_cascaded, foreground_labels=foreground_labels,
            regions=regions, ignore_label=ignore_label)
        if self.augmentation_recipe is None:
            return pipeline
        transpose = self.plans_manager.transpose_forward
        self.print_to_log_file(f"training augmentation: {self.augmentation_recipe.name}")
        return self.augmentation_recipe.build(patch_size, pipeline, spatial_axis_of(IMAGE_Z_AXIS, transpose),
                                              left_right_mirror_axes(transpose, len(patch_size)))

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self) -> tuple[Any, bool, Any, Any]:
        rotation, dummy_2d, initial_patch_size, mirror_axes = \
            super().configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        if self.inference_mirroring not in MIRRORING_CHOICES:
            raise ConfigurationError(f"{type(self).__name__}: inference_mirroring must be one of "
                                     f"{', '.join(MIRRORING_CHOICES)}, got {self.inference_mirroring!r}")
        if self.inference_mirroring == "left_right":
            self.inference_allowed_mirroring_axes = left_right_mirror_axes(
                self.plans_manager.transpose_forward, len(self.configuration_manager.patch_size))
        elif self.inference_mirroring == "none":
            self.inference_allowed_mirroring_axes = None  # type: ignore[assignment]  # nnU-Net's "no mirroring"
        if not self.rotation_augmentation:
            rotation, initial_patch_size = self._without_rotation(dummy_2d)
        return rotation, dummy_2d, initial_patch_size, mirror_axes

    def _without_rotation(self, dummy_2d: bool) -> tuple[tuple[float, float], np.ndarray]:
        """A zero rotation range and nnU-Net's initial patch size for it (scaling range as nnU-Net's)."""
        rotation = (0.0, 0.0)
        patch_size = self.configuration_manager.patch_size
        dim = len(patch_size)
        initial = get_patch_size(patch_size[-dim:], rotation, rotation, rotation, NNUNET_SCALE_RANGE)
        if dummy_2d:
            initial[0] = patch_size[0]
        self.print_to_log_file("rotation augmentation off")
        return rotation, initial

