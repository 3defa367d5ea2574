"""CPU-sized trainers for tests and the demo: short schedules, narrow networks, never compiled.

``_Tiny`` variants run 2 epochs of 5 iterations (seconds to a minute on a CPU) and only prove that the pipeline
runs; ``_CPU`` variants (the demo's ``nnUNetTrainer_strokeseg_ZoomInOut_CPU`` and its fine-tuning trainer) are
sized to actually learn a phantom cohort on a coarse grid in a few CPU minutes.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.ensemble import nnUNetTrainer_strokeseg_SEUNet_Ensemble
from strokeseg.trainers.finetune import FineTuningTrainer
from strokeseg.trainers.network_variants import (
    nnUNetTrainer_strokeseg_BiConvLSTMUNet,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_ResGNUNet,
    nnUNetTrainer_strokeseg_SEUNet,
)
from strokeseg.trainers.zoom import nnUNetTrainer_strokeseg_ZoomInOut


class nnUNetTrainer_strokeseg_Tiny(nnUNetTrainer):
    """2 epochs of 5 training and 2 validation iterations, never compiled; minutes on a CPU."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")) -> None:
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = 2
        self.num_iterations_per_epoch = 5
        self.num_val_iterations_per_epoch = 2

    def _do_i_compile(self) -> bool:
        return False


class CpuSized(StrokesegTrainer):
    """Mix in first: 2 epochs x 5 iterations (2 validation), a quarter of the plans' widths, no compile."""

    num_epochs_override: ClassVar[int | None] = 2
    iterations_per_epoch_override: ClassVar[int | None] = 5
    val_iterations_per_epoch_override: ClassVar[int | None] = 2
    width_scale: ClassVar[float] = 0.25
    allow_compile: ClassVar[bool] = False


class nnUNetTrainer_strokeseg_PreActResUNet_Tiny(CpuSized, nnUNetTrainer_strokeseg_PreActResUNet):
    """CPU-sized ``PreActResUNet``."""


class nnUNetTrainer_strokeseg_ResGNUNet_Tiny(CpuSized, nnUNetTrainer_strokeseg_ResGNUNet):
    """CPU-sized ``ResGNUNet``."""


class nnUNetTrainer_strokeseg_SEUNet_Tiny(CpuSized, nnUNetTrainer_strokeseg_SEUNet):
    """CPU-sized ``SEUNet``."""


class nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny(CpuSized, nnUNetTrainer_strokeseg_SEUNet_Ensemble):
    """CPU-sized ensemble member of the ``SEUNet``."""


class nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny(CpuSized, nnUNetTrainer_strokeseg_BiConvLSTMUNet):
    """CPU-sized ``BiConvLSTMUNet``."""


class nnUNetTrainer_strokeseg_ZoomInOut_Tiny(CpuSized, nnUNetTrainer_strokeseg_ZoomInOut):
    """CPU-sized zoom-in & out: 3 epochs, switching to zoom-out at the plans' fraction (epoch 2 at 0.8)."""

    num_epochs_override: ClassVar[int | None] = 3


class nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny(CpuSized, FineTuningTrainer,
                                                             nnUNetTrainer_strokeseg_PreActResUNet):
    """CPU-sized fine-tuning of ``PreActResUNet_Tiny`` models: 2 epochs (1 warm-up), peak LR 1e-3."""

    initial_lr_override: ClassVar[float | None] = 1e-3


class nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny(CpuSized, FineTuningTrainer,
                                                         nnUNetTrainer_strokeseg_ResGNUNet):
    """CPU-sized fine-tuning of ``ZoomInOut_Tiny`` / ``ResGNUNet_Tiny`` models: 2 epochs (1 warm-up), peak LR 1e-4."""

    initial_lr_override: ClassVar[float | None] = 1e-4


class CpuLearning(StrokesegTrainer):
    """Mix in first: 25 training and 4 validation iterations per epoch, half the plans' widths (at most 64
    features), no compile, left-right test-time mirroring only; enough to learn a phantom cohort on a 2 x 2 x 5 mm
    grid in minutes on 2 CPU cores."""

    inference_mirroring: ClassVar[str] = "left_right"
    iterations_per_epoch_override: ClassVar[int | None] = 25
    val_iterations_per_epoch_override: ClassVar[int | None] = 4
    width_scale: ClassVar[float] = 0.5
    max_features: ClassVar[int | None] = 64
    allow_compile: ClassVar[bool] = False


class nnUNetTrainer_strokeseg_ZoomInOut_CPU(CpuLearning, nnUNetTrainer_strokeseg_ZoomInOut):
    """Zoom-in & out sized to learn a phantom DWI cohort in a few CPU minutes (the demo's trainer): 10 epochs,
    switching to zoom-out at epoch 8."""

    num_epochs_override: ClassVar[int | None] = 10


class nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU(CpuLearning, FineTuningTrainer,
                                                       nnUNetTrainer_strokeseg_ResGNUNet):
    """Fine-tuning of ``ZoomInOut_CPU`` models (the demo's domain adaptation): 3 epochs of 15 iterations (1 warm-up),
    peak LR 1e-4 (Adam, the zoom-out LR); the segmentation heads carry over (same labels), so few steps suffice."""

    num_epochs_override: ClassVar[int | None] = 3
    iterations_per_epoch_override: ClassVar[int | None] = 15
    initial_lr_override: ClassVar[float | None] = 1e-4
