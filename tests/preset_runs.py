"""What the paper-preset tests share: the stock-CLI environments and a dataset planned by a preset's planner, with
the preset's trainers built in process on the plans it wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from conftest import SINGLE_CORE_NNUNET_ENV

from strokeseg.nnunet.folders import NnunetPaths

#: Stock CLIs on 2 shared cores: planning needs one augmentation worker (its VRAM estimate sets the threads)...
CLI_ENV = SINGLE_CORE_NNUNET_ENV
#: ...training runs the augmentation in its own process (no worker).
TRAIN_ENV = {**CLI_ENV, "nnUNet_n_proc_DA": "0"}


@dataclass(frozen=True)
class PlannedDataset:
    """A raw dataset and its preprocessed folder holding the plans ``plans_name``."""

    paths: NnunetPaths
    raw: Path
    preprocessed: Path
    plans_name: str
    configuration: str

    def plans(self) -> dict[str, Any]:
        """The plans, as ``nnUNetv2_train`` hands them to a trainer."""
        plans: dict[str, Any] = json.loads((self.preprocessed / f"{self.plans_name}.json").read_text())
        plans["continue_training"] = False
        return plans

    def trainer(self, trainer_class: type, fold: int = 0) -> Any:
        """``trainer_class`` on the CPU for ``fold`` of the configuration (not initialized)."""
        dataset_json = json.loads((self.preprocessed / "dataset.json").read_text())
        return trainer_class(plans=self.plans(), configuration=self.configuration, fold=fold,
                             dataset_json=dataset_json, device=torch.device("cpu"))
