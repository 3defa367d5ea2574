"""What the recipes of experiment files share: a graph under construction and the steps they add to it.

:class:`StudyBuilder` adds jobs to a :class:`~strokeseg.experiments.graph.JobGraph` with the names and
folders every study uses (``train/<model>``, ``predictions/<model>/<test set>/``, ...). The split designs are
computed while the graph is built (they are pure and fast), so that model names and training-set sizes are
known, and a design that does not fit the cohort fails before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError
from strokeseg.experiments.config import ExperimentConfig
from strokeseg.experiments.graph import EVALUATION_FOLDER, PREDICTIONS_FOLDER, RESULTS_FOLDER, JobGraph
from strokeseg.experiments.steps import (
    FINAL_CHECKPOINT,
    AggregateStep,
    EnsembleStep,
    EvaluatedModel,
    EvaluateStep,
    ModelRef,
    PlanStep,
    PredictStep,
    SplitStep,
    TrainStep,
)
from strokeseg.nnunet.raw import find_dataset
from strokeseg.splits import DESIGNS, SplitPlan, load_training_cases


@dataclass(frozen=True)
class SingleSiteJobs:
    """The single-site arm's prediction job, model name, training cases and predictions folder per test set."""

    job: str
    name: str
    cases: int
    folders: dict[str, Path]


class StudyBuilder:
    """An experiment file's graph under construction, and the jobs its recipe adds."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.graph = JobGraph(config.output)
        self.raw = config.nnunet.paths.raw
        self.results = config.nnunet.paths.results

    def design(self, dataset: str, design: str, **options: Any) -> SplitPlan:
        """The split plan now (for names and sizes), computed exactly as the split job will."""
        source = find_dataset(self.raw, dataset)
        try:
            return DESIGNS[design](load_training_cases(source), **options, **self.config.split_options())
        except ConfigurationError as error:
            raise ConfigurationError(f"{self.config.source_file}: the {design} split of {source.name}: {error}") \
                from None

    def split(self, dataset: str, design: str, derived_id: int | None = None, **options: Any) -> str:
        all_options = {**options, **self.config.split_options()}
        step = SplitStep(dataset, design, tuple(sorted(all_options.items())), derived_id)
        return self.graph.add(f"split/{derived_id or dataset}", step)

    def plan(self, dataset: str, needs: tuple[str, ...] = (), configurations: tuple[str, ...] = ()) -> str:
        """Plan and preprocess ``dataset`` (``configurations``: default the configuration the file trains)."""
        step = PlanStep(dataset, self.config.planner, self.config.plans, configurations or (self.config.configuration,),
                        self.config.plan_arguments())
        return self.graph.add(f"plan/{dataset}", step, needs)

    def model(self, dataset: str, trainer: str | None = None, plans: str | None = None,
              configuration: str | None = None, results: Path | None = None) -> ModelRef:
        return ModelRef(dataset, trainer or self.config.trainer, plans or self.config.plans,
                        configuration or self.config.configuration, results or self.results)

    def train(self, name: str, model: ModelRef, fold: int, needs: tuple[str, ...],
              pretrained: ModelRef | None = None, pretrained_fold: int = 0) -> str:
        return self.graph.add(f"train/{name}", TrainStep(model, fold, pretrained, pretrained_fold), needs, gpu=True)

    def predict(self, name: str, model: ModelRef, folds: tuple[int, ...], test_sets: dict[str, str],
                needs: tuple[str, ...], save_probabilities: bool = False,
                checkpoint: str = FINAL_CHECKPOINT) -> tuple[str, dict[str, Path]]:
        """One prediction job of a model (its folds' ``checkpoint``) on test sets (name -> dataset); returns
        (job, name -> folder)."""
        output = self.config.output / PREDICTIONS_FOLDER / name
        step = PredictStep(model, folds, tuple(test_sets.items()), output, save_probabilities, checkpoint)
        job = self.graph.add(f"predict/{name}", step, needs, gpu=True)
        return job, {test_set: output / test_set for test_set in test_sets}

    def ensemble(self, name: str, test_set: str, members: list[Path], needs: tuple[str, ...]) -> tuple[str, Path]:
        """The mean of ``members``' probabilities on one test set (``nnUNetv2_ensemble``); returns (job, folder)."""
        output = self.config.output / PREDICTIONS_FOLDER / name / test_set
        return self.graph.add(f"ensemble/{name}/{test_set}", EnsembleStep(tuple(members), output), needs), output

    def evaluate(self, test_set: str, test_dataset: str, models: list[EvaluatedModel],
                 needs: tuple[str, ...]) -> tuple[str, Path]:
        output = self.config.output / EVALUATION_FOLDER / test_set
        step = EvaluateStep(test_dataset, tuple(models), output, self.config.evaluation)
        return self.graph.add(f"evaluate/{test_set}", step, needs), output

    def aggregate(self, spec: dict[str, Any], needs: tuple[str, ...]) -> None:
        output = self.config.output / RESULTS_FOLDER
        self.graph.add("aggregate", AggregateStep(self.config.kind, self.config.name, output, spec), needs)

    def require_test_set(self, dataset: str) -> None:
        """Stop before any job when a dataset whose test set the study uses has no labelled ``imagesTs``."""
        folder = find_dataset(self.raw, dataset)
        if not any((folder / "imagesTs").glob("*")) or not any((folder / "labelsTs").glob("*")):
            raise ConfigurationError(
                f"{self.config.source_file}: {folder.name} has no labelled test set (imagesTs + labelsTs), on which "
                f"the {self.config.kind} evaluates its models; convert the cohort with test cases (split = test in "
                "the registry manifest or cases.csv) or hold out a test set with a derived dataset (strokeseg split)")

    def single_site_arm(self, dataset: str, test_sets: dict[str, str]) -> SingleSiteJobs | None:
        """The configuration's single-site arm (None without one): a derived dataset of one site's training
        cases of ``dataset`` (8:2), planned, trained on fold 0 and predicting ``test_sets``."""
        arm = self.config.single_site
        if arm is None:
            return None
        options: dict[str, Any] = {"site": arm.site, "train_fraction": self.config.train_fraction}
        plan = self.design(dataset, "site", **options)
        split = self.split(dataset, "site", arm.derived_id, **options)
        planned = self.plan(str(arm.derived_id), (split,))
        name = f"site_{arm.site}_n{len(plan.training_cases)}"
        model = self.model(str(arm.derived_id))
        trained = self.train(name, model, 0, (planned,))
        job, folders = self.predict(name, model, (0,), test_sets, (trained,))
        return SingleSiteJobs(job, name, len(plan.training_cases), folders)

    def dataset_tag(self, dataset: str) -> str:
        """``Dataset705`` for dataset 705 (used in moved plans' names)."""
        return find_dataset(self.raw, dataset).name.split("_", 1)[0]
