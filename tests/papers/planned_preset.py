"""A phantom dataset planned and preprocessed with a preset's planner by the stock CLI, for the preset tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import SINGLE_CORE_NNUNET_ENV

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers.preset import Preset

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Planned:
    """Where the stock CLI wrote a preset's plans, and the trainers built from them on the CPU."""

    preset: Preset
    paths: NnunetPaths
    raw: Path
    preprocessed: Path
    log: Path

    def plans(self) -> dict[str, Any]:
        plans: dict[str, Any] = json.loads((self.preprocessed / f"{self.preset.plans}.json").read_text())
        plans["continue_training"] = False  # what nnUNetv2_train adds before it builds a trainer
        return plans

    def trainer(self, trainer_class: type) -> Any:
        dataset_json = json.loads((self.preprocessed / "dataset.json").read_text())
        return trainer_class(plans=self.plans(), configuration=self.preset.configuration, fold=0,
                             dataset_json=dataset_json, device=CPU)


@contextmanager
def planned_preset(root: Path, preset: Preset, dataset_id: int,
                   write_raw: Callable[[Path], Path]) -> Iterator[Planned]:
    """``write_raw(nnUNet_raw)`` planned and preprocessed with the preset's planner and configuration (one
    process, one torch thread); inside the block the nnU-Net folders are the environment's."""
    paths = NnunetPaths.under(root)
    paths.create()
    raw = write_raw(paths.raw)
    log = root / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(dataset_id), "-pl", preset.planner, "-c",
                                                preset.configuration, "-np", "1", "-npfp", "1"], paths, log,
               SINGLE_CORE_NNUNET_ENV)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in {**paths.environment(), "nnUNet_n_proc_DA": "0", "nnUNet_compile": "false"}.items():
                env.setenv(key, value)
            yield Planned(preset, paths, raw, paths.preprocessed / raw.name, log)
    finally:
        torch.set_num_threads(threads)
