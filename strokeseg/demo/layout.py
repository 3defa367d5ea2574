"""Where a demo run keeps everything, and how it runs the nnU-Net tools (folders, IDs, model names, device).

Folder layout under ``out``: ``cohort/`` (phantom registry), ``nnUNet_raw|preprocessed|results/``,
``finetune_results/`` (nnUNet_results of the fine-tuned model), ``predictions/<model>/<test set>/``,
``postprocessing/``, ``postprocessed/<model>/<test set>/``, ``evaluation/<test set>/``, ``results/``,
``logs/``, ``SUMMARY.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from strokeseg.demo.profiles import DemoProfile
from strokeseg.experiments.config import NnunetSettings
from strokeseg.experiments.steps import ModelRef, RunContext
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.raw import find_dataset
from strokeseg.planners.dwi import DWI_PLANS_NAME
from strokeseg.splits import SPLITS_FILE

#: nnU-Net dataset IDs inside the demo's own nnUNet_raw (no clash with the user's datasets is possible).
INTERNAL_ID, EXTERNAL_ID, ADAPTATION_ID = 980, 982, 983
INTERNAL_NAME, EXTERNAL_NAME = "DemoInternal", "DemoExternal"
PLANNER = "StrokeDWIPlanner"
#: The configuration trained and predicted (its zoom-in partner is trained first by the zoom-in & out trainer).
CONFIGURATION = "3d_zoomout"
#: Test sets: name -> dataset whose imagesTs/labelsTs it is.
TEST_SETS: dict[str, str] = {"internal_test": str(INTERNAL_ID), "external_test": str(ADAPTATION_ID)}
#: Model names in the reports: the networks' own predictions, and the same post-processed (``_pp``).
SOURCE, FINETUNED = "source", "finetuned"
SOURCE_PP, FINETUNED_PP = f"{SOURCE}_pp", f"{FINETUNED}_pp"
POSTPROCESSING_JSON = "postprocessing/postprocessing.json"


@dataclass(frozen=True)
class DemoRun:
    """Everything the stages of one demo run need.

    Attributes:
        out: the demo folder.
        profile: the study's size and trainers.
        device: ``cpu`` or ``cuda`` (resolved before the run).
        workers: processes for phantom generation, conversion, preprocessing and prediction.
    """

    out: Path
    profile: DemoProfile
    device: str
    workers: int

    @property
    def paths(self) -> NnunetPaths:
        return NnunetPaths.under(self.out)

    @property
    def plans(self) -> str:
        """Plans name: ``strokesegDWIPlans``, or ``strokesegDWIPlansDemo`` when the profile sets the spacing."""
        return DWI_PLANS_NAME if self.profile.target_spacing_mm is None else f"{DWI_PLANS_NAME}Demo"

    @property
    def moved_plans(self) -> str:
        return f"{self.plans}_from_Dataset{INTERNAL_ID}"

    def context(self, log_name: str) -> RunContext:
        """How the nnU-Net tools run: the demo's folders, device, workers; output to ``logs/<log_name>.log``."""
        env = {"nnUNet_compile": "false"}
        if self.device == "cpu":
            env["nnUNet_n_proc_DA"] = str(max(1, self.workers - 1))  # 0 would break planning (nnU-Net 2.x)
        settings = NnunetSettings(self.paths, self.device, self.workers, env)
        return RunContext(settings, self.out / "logs" / f"{log_name}.log")

    def source_model(self) -> ModelRef:
        return ModelRef(str(INTERNAL_ID), self.profile.trainer, self.plans, CONFIGURATION, self.paths.results)

    def finetuned_model(self) -> ModelRef:
        return ModelRef(str(ADAPTATION_ID), self.profile.finetune_trainer, self.moved_plans, CONFIGURATION,
                        self.out / "finetune_results")

    def predictions(self, model: str) -> Path:
        return self.out / "predictions" / model

    def postprocessed(self, model: str) -> Path:
        return self.out / "postprocessed" / model

    def evaluation(self, test_set: str) -> Path:
        return self.out / "evaluation" / test_set

    @property
    def results(self) -> Path:
        return self.out / "results"


def default_workers() -> int:
    """Worker processes: the CPU cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))




def internal_training_cases(run: DemoRun) -> int:
    """Training + validation cases of the source model (fold 0 of the internal ``splits_final.json``)."""
    splits = json.loads((find_dataset(run.paths.raw, str(INTERNAL_ID)) / SPLITS_FILE).read_text(encoding="utf-8"))
    return len(splits[0]["train"]) + len(splits[0]["val"])
