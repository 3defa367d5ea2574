"""CPU-sized trainer for smoke tests and the demo: nnU-Net's trainer with a tiny schedule."""

from __future__ import annotations

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


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
