"""Where a demo run keeps everything, and what it trains (dataset IDs, planner, configuration, model names).

Folder layout under ``out``: ``cohort/`` (phantom registry), ``nnUNet_raw|preprocessed|results/``,
``finetune_results/`` (nnUNet_results of the fine-tuned model), ``control_results/`` (of the control arm),
``predictions/<model>/<test set>/``,
``postprocessing/``, ``postprocessed/<model>/<test set>/``, ``evaluation/<test set>/``, ``results/``,
``jobs/<job>/`` (state and log of every job), ``SUMMARY.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from strokeseg.experiments.graph import EVALUATION_FOLDER, FINETUNE_FOLDER, PREDICTIONS_FOLDER, RESULTS_FOLDER
from strokeseg.experiments.recipes.demo.profiles import DemoProfile
from strokeseg.experiments.steps import ModelRef
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.plans import DWI_PLANS_NAME

#: nnU-Net dataset IDs inside the demo's own nnUNet_raw (no clash with the user's datasets is possible).
INTERNAL_ID, EXTERNAL_ID, ADAPTATION_ID = 980, 982, 983
INTERNAL_NAME, EXTERNAL_NAME = "DemoInternal", "DemoExternal"
#: What the demo trains: the planner, the configurations it preprocesses and the configuration trained and
#: predicted (Noh et al.'s preprocessing and configuration, ``noh_registry_dwi`` preset); the trainers are the
#: profile's.
PLANNER = "StrokeDWIPlanner"
PREPROCESSED_CONFIGURATIONS: tuple[str, ...] = ("3d_fullres",)
CONFIGURATION = "3d_fullres"
#: Test sets: name -> dataset whose imagesTs/labelsTs it is.
TEST_SETS: dict[str, str] = {"internal_test": str(INTERNAL_ID), "external_test": str(ADAPTATION_ID)}
#: Model names in the reports: the networks' own predictions, and the same post-processed (``_pp``). ``control``:
#: the source model trained for the fine-tuning's steps on its own training data (the domain adaptation's control).
SOURCE, FINETUNED, CONTROL = "source", "finetuned", "control"
CONTROL_FOLDER = "control_results"
#: nnUNet_results of the learning curve's smaller models, and the test set of the learning curve.
CURVE_FOLDER = "learning_curve_results"
CURVE_TEST_SET = "internal_test"
SOURCE_PP, FINETUNED_PP = f"{SOURCE}_pp", f"{FINETUNED}_pp"
POSTPROCESSING_JSON = "postprocessing/postprocessing.json"
COHORT_FOLDER = "cohort"


@dataclass(frozen=True)
class DemoStudy:
    """The demo folder and the profile that sizes the study (what the jobs' steps are made of).

    The device and the number of workers are not part of it: they change how fast the demo runs, not what
    it computes, so a rerun may change them.
    """

    out: Path
    profile: DemoProfile

    @property
    def paths(self) -> NnunetPaths:
        return NnunetPaths.under(self.out)

    @property
    def cohort(self) -> Path:
        return self.out / COHORT_FOLDER

    @property
    def plans(self) -> str:
        """Plans name: ``strokesegDWIPlans``, or ``strokesegDWIPlansDemo`` when the profile sets the spacing."""
        return DWI_PLANS_NAME if self.profile.target_spacing_mm is None else f"{DWI_PLANS_NAME}Demo"

    @property
    def moved_plans(self) -> str:
        return f"{self.plans}_from_Dataset{INTERNAL_ID}"

    def source_model(self) -> ModelRef:
        return ModelRef(str(INTERNAL_ID), self.profile.trainer, self.plans, CONFIGURATION, self.paths.results)

    def finetuned_model(self) -> ModelRef:
        return ModelRef(str(ADAPTATION_ID), self.profile.finetune_trainer, self.moved_plans, CONFIGURATION,
                        self.out / FINETUNE_FOLDER)

    def control_model(self) -> ModelRef:
        """The control arm: the fine-tuning trainer on the internal dataset (same split), from the source model."""
        return ModelRef(str(INTERNAL_ID), self.profile.finetune_trainer, self.plans, CONFIGURATION,
                        self.out / CONTROL_FOLDER)

    def curve_model(self) -> ModelRef:
        """The learning curve's smaller models (fold k = subsample k), in their own nnUNet_results (the source's
        post-processing fit reads every fold of the source's folder)."""
        return ModelRef(str(INTERNAL_ID), self.profile.trainer, self.plans, CONFIGURATION, self.out / CURVE_FOLDER)

    @staticmethod
    def curve_name(fraction: float, draw: int = 1) -> str:
        """Model name of a learning-curve subsample in the reports, e.g. ``source_25pct`` (draw 1) or
        ``source_25pct_draw2``."""
        return f"{SOURCE}_{100 * fraction:g}pct" + (f"_draw{draw}" if draw > 1 else "")

    def predictions(self, model: str) -> Path:
        return self.out / PREDICTIONS_FOLDER / model

    def postprocessed(self, model: str) -> Path:
        return self.out / "postprocessed" / model

    def evaluation(self, test_set: str) -> Path:
        return self.out / EVALUATION_FOLDER / test_set

    @property
    def results(self) -> Path:
        return self.out / RESULTS_FOLDER


def default_workers() -> int:
    """Worker processes: the CPU cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))
