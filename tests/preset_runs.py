"""What the paper-preset tests share: the stock-CLI environments and a dataset planned and preprocessed by a preset's
planner through the stock CLI, with the preset's trainers built in process on the plans it wrote."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from conftest import FAST_FINGERPRINT, SINGLE_CORE_NNUNET_ENV, in_process_nnunet

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers.preset import Preset

#: Stock CLIs on 2 shared cores: planning needs one augmentation worker (its VRAM estimate sets the threads)...
CLI_ENV = SINGLE_CORE_NNUNET_ENV
#: ...training runs the augmentation in its own process (no worker).
TRAIN_ENV = {**CLI_ENV, "nnUNet_n_proc_DA": "0"}


@dataclass(frozen=True)
class PlannedDataset:
    """A raw dataset, its preprocessed folder holding the plans ``plans_name``, and the stock tools' log."""

    paths: NnunetPaths
    raw: Path
    preprocessed: Path
    plans_name: str
    configuration: str
    log: Path

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


@contextmanager
def planned_preset(root: Path, preset: Preset, dataset_id: int, write_raw: Callable[[Path], Path],
                   plans_name: str | None = None, planning_arguments: Sequence[str] = ()) -> Iterator[PlannedDataset]:
    """``write_raw(nnUNet_raw)`` planned and preprocessed by ``nnUNetv2_plan_and_preprocess`` with the preset's
    planner and configuration (one process, one torch thread; ``planning_arguments`` added, ``plans_name`` when they
    rename the plans). Inside the block the nnU-Net folders are the environment's and torch uses one thread."""
    paths = NnunetPaths.under(root)
    paths.create()
    raw = write_raw(paths.raw)
    log = root / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(dataset_id), "-pl", preset.planner, "-c",
                                                preset.configuration, "-np", "1", "-npfp", "1", *FAST_FINGERPRINT,
                                                *planning_arguments], paths, log, CLI_ENV)
    with in_process_nnunet(paths):
        yield PlannedDataset(paths, raw, paths.preprocessed / raw.name, plans_name or preset.plans,
                             preset.configuration, log)
