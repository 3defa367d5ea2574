"""The job graph of an experiment: split → plan (→ move plans) → train (→ fine-tune) → predict → evaluate → aggregate.

:func:`build_graph` turns a validated :class:`ExperimentConfig` into jobs with dependencies. The split designs
are computed here already (they are pure and fast), so that model names and training-set sizes are known, and a
design that does not fit the cohort fails before any job starts.

Experiment folder layout (``output`` of the config)::

    jobs/<job id>/state.json, log.txt      one folder per job (``/`` in ids becomes ``__``)
    predictions/<model>/<test set>/        nnUNetv2_predict output
    evaluation/<test set>/                 strokeseg evaluate report of every model on that test set
    finetune_results/<source model>/       nnUNet_results of the models fine-tuned from that source model
    results/                               the paper's tables (CSV), figures (PNG) and summary.md
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError
from strokeseg.experiments.config import ExperimentConfig
from strokeseg.experiments.steps import (
    AggregateStep,
    EvaluatedModel,
    EvaluateStep,
    ModelRef,
    MovePlansStep,
    PlanStep,
    PredictStep,
    SplitStep,
    Step,
    TrainStep,
)
from strokeseg.nnunet.raw import find_dataset
from strokeseg.splits import DESIGNS, SplitPlan, load_training_cases

#: Folder names inside the experiment folder.
JOBS_FOLDER, PREDICTIONS_FOLDER, EVALUATION_FOLDER = "jobs", "predictions", "evaluation"
FINETUNE_FOLDER, RESULTS_FOLDER = "finetune_results", "results"
#: submitit's own files (pickled jobs, stdout/stderr) of parallel and Slurm runs.
SUBMITIT_FOLDER = "submitit"
#: Configurations the zoom ablation preprocesses: the zoom configurations share 3d_fullres's data.
ZOOM_PREPROCESS: tuple[str, ...] = ("3d_fullres",)


@dataclass(frozen=True)
class Job:
    """One unit of work. ``needs``: ids of the jobs that must have finished first; ``gpu``: uses an accelerator."""

    id: str
    step: Step
    needs: tuple[str, ...] = ()
    gpu: bool = False

    def signature(self) -> str:
        """Hash of everything the step does: a changed configuration gives a different signature."""
        return hashlib.sha1(repr(self.step).encode("utf-8")).hexdigest()[:16]


@dataclass
class JobGraph:
    """Jobs in an order where every job comes after the jobs it needs."""

    output: Path
    jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, job_id: str, step: Step, needs: tuple[str, ...] = (), gpu: bool = False) -> str:
        unknown = [need for need in needs if need not in self.jobs]
        if job_id in self.jobs or unknown:
            raise ValueError(f"job {job_id!r}: duplicate id or unknown dependencies {unknown}")
        self.jobs[job_id] = Job(job_id, step, tuple(needs), gpu)
        return job_id

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs.values())

    def __len__(self) -> int:
        return len(self.jobs)

    def job_folder(self, job_id: str) -> Path:
        return self.output / JOBS_FOLDER / job_id.replace("/", "__")

    def dependents(self, job_id: str) -> list[str]:
        """Every job that needs ``job_id``, directly or indirectly."""
        found: list[str] = []
        for job in self.jobs.values():
            if any(need == job_id or need in found for need in job.needs):
                found.append(job.id)
        return found


def safe_name(text: str) -> str:
    """``text`` usable as a folder and model name (characters outside [A-Za-z0-9_.+-] become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "x"


class _Builder:
    """Shared pieces of the per-kind graph builders."""

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

    def plan(self, dataset: str, needs: tuple[str, ...] = ()) -> str:
        configurations = ZOOM_PREPROCESS if self.config.kind == "zoom-ablation" else (self.config.configuration,)
        step = PlanStep(dataset, self.config.planner, self.config.plans, configurations, self.config.plan_arguments())
        return self.graph.add(f"plan/{dataset}", step, needs)

    def model(self, dataset: str, trainer: str | None = None, plans: str | None = None,
              configuration: str | None = None, results: Path | None = None) -> ModelRef:
        return ModelRef(dataset, trainer or self.config.trainer, plans or self.config.plans,
                        configuration or self.config.configuration, results or self.results)

    def train(self, name: str, model: ModelRef, fold: int, needs: tuple[str, ...],
              pretrained: ModelRef | None = None, pretrained_fold: int = 0) -> str:
        return self.graph.add(f"train/{name}", TrainStep(model, fold, pretrained, pretrained_fold), needs, gpu=True)

    def predict(self, name: str, model: ModelRef, folds: tuple[int, ...], test_sets: dict[str, str],
                needs: tuple[str, ...], save_probabilities: bool = False) -> tuple[str, dict[str, Path]]:
        """One prediction job of a model on test sets (name -> dataset); returns (job, name -> folder)."""
        output = self.config.output / PREDICTIONS_FOLDER / name
        step = PredictStep(model, folds, tuple(test_sets.items()), output, save_probabilities)
        job = self.graph.add(f"predict/{name}", step, needs, gpu=True)
        return job, {test_set: output / test_set for test_set in test_sets}

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

    def dataset_tag(self, dataset: str) -> str:
        """``Dataset705`` for dataset 705 (used in moved plans' names)."""
        return find_dataset(self.raw, dataset).name.split("_", 1)[0]


def _learning_curve(b: _Builder) -> None:
    c = b.config
    b.require_test_set(c.dataset)
    plan = b.design(c.dataset, "learning-curve", fractions=c.fractions, train_fraction=c.train_fraction)
    split = b.split(c.dataset, "learning-curve", fractions=c.fractions, train_fraction=c.train_fraction)
    planned = b.plan(c.dataset, (split,))
    models: list[EvaluatedModel] = []
    predictions: list[str] = []
    for fold_index, fold in enumerate(plan.folds):
        size = len(fold.train) + len(fold.val)
        name = f"n{size}"
        if any(m.name == name for m in models):
            continue  # two fractions gave the same subsample (the split logs a warning)
        model = b.model(c.dataset)
        trained = b.train(name, model, fold_index, (planned,))
        job, folders = b.predict(name, model, (fold_index,), {"test": c.dataset}, (trained,))
        predictions.append(job)
        models.append(EvaluatedModel(name, folders["test"], training_cases=size))
    evaluated, report = b.evaluate("test", c.dataset, models, tuple(predictions))
    b.aggregate({"evaluation": str(report), "models": [m.name for m in models],
                 "training_cases": [m.training_cases for m in models]}, (evaluated,))


def _domain_adaptation(b: _Builder) -> None:
    c = b.config
    b.require_test_set(c.dataset)
    source_plan = b.design(c.dataset, "learning-curve", fractions=c.fractions, train_fraction=c.train_fraction)
    target_options = {"sizes": c.sizes, "test_fraction": c.test_fraction, "test_size": c.test_size,
                      "train_fraction": c.train_fraction}
    target_plan = b.design(c.target_dataset, "domain-adaptation", **target_options)
    source_split = b.split(c.dataset, "learning-curve", fractions=c.fractions, train_fraction=c.train_fraction)
    target_split = b.split(c.target_dataset, "domain-adaptation", c.target_derived_id, **target_options)
    target = str(c.target_derived_id)
    planned = b.plan(c.dataset, (source_split,))
    moved_plans = f"{c.plans}_from_{b.dataset_tag(c.dataset)}"
    moved = b.graph.add(f"move-plans/{target}", MovePlansStep(c.dataset, target, c.plans, moved_plans,
                                                              (c.configuration,)), (planned, target_split))
    test_sets = {"source_test": c.dataset, "target_test": target}
    evaluated: dict[str, list[EvaluatedModel]] = {name: [] for name in test_sets}
    waits: list[str] = []
    grid = []

    def predict_everywhere(name: str, model: ModelRef, fold: int, trained: str) -> None:
        job, folders = b.predict(name, model, (fold,), test_sets, (trained, target_split))
        waits.append(job)
        for test_set, folder in folders.items():
            evaluated[test_set].append(EvaluatedModel(name, folder))

    seen_sizes: set[int] = set()
    for source_fold, fold in enumerate(source_plan.folds):
        size = len(fold.train) + len(fold.val)
        if size in seen_sizes:
            continue
        seen_sizes.add(size)
        before = f"pre{size}"
        source_model = b.model(c.dataset)
        trained = b.train(before, source_model, source_fold, (planned,))
        predict_everywhere(before, source_model, source_fold, trained)
        for target_fold, adaptation in enumerate(target_plan.folds):
            after = f"{before}_ft{len(adaptation.train) + len(adaptation.val)}"
            tuned_model = b.model(target, c.finetune_trainer, moved_plans,
                                  results=c.output / FINETUNE_FOLDER / before)
            tuned = b.train(after, tuned_model, target_fold, (moved, trained), source_model, source_fold)
            predict_everywhere(after, tuned_model, target_fold, tuned)
            grid.append({"pretraining_cases": size, "adaptation_cases": len(adaptation.train) + len(adaptation.val),
                         "before": before, "after": after})
    reports = {}
    for test_set, dataset in test_sets.items():
        _, reports[test_set] = b.evaluate(test_set, dataset, evaluated[test_set], tuple(waits))
    b.aggregate({"evaluations": {k: str(v) for k, v in reports.items()}, "grid": grid},
                tuple(f"evaluate/{name}" for name in test_sets))


def _vendor_transfer(b: _Builder) -> None:
    c = b.config
    groups = {v.group: str(v.derived_id) for v in c.vendors}
    splits, plans = {}, {}
    options = {"column": c.vendor_column, "fractions": c.vendor_fractions}
    for group, derived in groups.items():
        b.design(c.dataset, "vendor", group=group, **options)
        splits[group] = b.split(c.dataset, "vendor", int(derived), group=group, **options)
        plans[group] = b.plan(derived, (splits[group],))
    evaluated: dict[str, list[EvaluatedModel]] = {group: [] for group in groups}
    waits, directions = [], []
    trained: dict[str, tuple[str, ModelRef]] = {}
    for group, derived in groups.items():
        model = b.model(derived)
        trained[group] = (b.train(safe_name(group), model, 0, (plans[group],)), model)
    for group, other in ((a, z) for a in groups for z in groups if a != z):
        moved_plans = f"{c.plans}_from_{groups[group]}"
        moved = b.graph.add(f"move-plans/{groups[other]}_from_{groups[group]}",
                            MovePlansStep(groups[group], groups[other], c.plans, moved_plans, (c.configuration,),
                                          finetune_fold=True), (plans[group], plans[other]))
        name, tuned_name = safe_name(group), safe_name(f"{group}_to_{other}")
        tuned_model = b.model(groups[other], c.finetune_trainer, moved_plans,
                              results=c.output / FINETUNE_FOLDER / name)
        tuned = b.train(tuned_name, tuned_model, 1, (moved, trained[group][0]), trained[group][1], 0)
        # the source model on both vendors' test sets (internal, external), the fine-tuned one on the target's
        for model_name, model, fold, job, test_groups in (
                (name, trained[group][1], 0, trained[group][0], (group, other)),
                (tuned_name, tuned_model, 1, tuned, (other,))):
            predicted, folders = b.predict(model_name, model, (fold,),
                                           {safe_name(g): groups[g] for g in test_groups},
                                           (job, *(splits[g] for g in test_groups)))
            waits.append(predicted)
            for test_group in test_groups:
                evaluated[test_group].append(EvaluatedModel(model_name, folders[safe_name(test_group)]))
        directions.append({"source": group, "target": other, "model": name, "finetuned": tuned_name})
    reports = {}
    for group in groups:
        _, report = b.evaluate(safe_name(group), groups[group], evaluated[group], tuple(waits))
        reports[group] = str(report)
    b.aggregate({"evaluations": reports, "directions": directions},
                tuple(f"evaluate/{safe_name(group)}" for group in groups))


def _zoom_ablation(b: _Builder) -> None:
    c = b.config
    b.require_test_set(c.dataset)
    planned = b.plan(c.dataset)
    models, waits = [], []
    for arm in c.arms:
        name = safe_name(arm.name)
        model = b.model(c.dataset, arm.trainer, configuration=arm.configuration)
        trained = tuple(b.train(f"{name}/fold_{fold}", model, fold, (planned,)) for fold in c.folds)
        job, folders = b.predict(name, model, c.folds, {"test": c.dataset}, trained)
        waits.append(job)
        models.append(EvaluatedModel(name, folders["test"]))
    evaluated, report = b.evaluate("test", c.dataset, models, tuple(waits))
    b.aggregate({"evaluation": str(report), "arms": [m.name for m in models]}, (evaluated,))


def _ensemble(b: _Builder) -> None:
    c = b.config
    b.require_test_set(c.dataset)
    options = {"members": c.members, "subset_fraction": c.subset_fraction}
    b.design(c.dataset, "ensemble", **options)
    split = b.split(c.dataset, "ensemble", None, **options)
    planned = b.plan(c.dataset, (split,))
    model = b.model(c.dataset)
    members, trained, waits = [], [], []
    for member in range(c.members):
        name = f"member_{member}"
        trained.append(b.train(name, model, member, (planned,)))
        job, folders = b.predict(name, model, (member,), {"test": c.dataset}, (trained[-1],),
                                 save_probabilities=True)
        waits.append(job)
        members.append(EvaluatedModel(name, folders["test"], probability_folders=(folders["test"],)))
    job, folders = b.predict("ensemble", model, tuple(range(c.members)), {"test": c.dataset}, tuple(trained))
    waits.append(job)
    ensemble = EvaluatedModel("ensemble", folders["test"], probability_folders=tuple(m.predictions for m in members))
    evaluated, report = b.evaluate("test", c.dataset, [ensemble, *members], tuple(waits))
    b.aggregate({"evaluation": str(report), "ensemble": "ensemble", "members": [m.name for m in members]},
                (evaluated,))


_BUILDERS = {"learning-curve": _learning_curve, "domain-adaptation": _domain_adaptation,
             "vendor-transfer": _vendor_transfer, "zoom-ablation": _zoom_ablation, "ensemble": _ensemble}


def build_graph(config: ExperimentConfig) -> JobGraph:
    """The jobs of ``config``'s experiment, dependencies first.

    Raises:
        InputDataError: a dataset is missing from nnUNet_raw.
        ConfigurationError: a split design does not fit the cohort.
    """
    builder = _Builder(config)
    _BUILDERS[config.kind](builder)
    return builder.graph
