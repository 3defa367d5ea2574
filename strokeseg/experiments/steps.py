"""The work of one job: split, plan, move plans, train, predict, post-process, evaluate, aggregate.

Every step is a frozen dataclass holding everything it needs (so that it can be pickled to a Slurm node),
with ``run(context)`` doing the work through strokeseg's own APIs or the stock ``nnUNetv2_*`` tools, and
``outputs(context)`` naming the files whose presence (with the job's done marker) means the work is done.
Dataset folders are looked up by ID when the step runs, since derived datasets only exist once their split
job has run. Steps that compute (training, prediction, evaluation) take the device from the context, resolved
on the machine that runs the job; the device is not part of a step, so it never makes a finished job stale.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from strokeseg.device import resolve_device
from strokeseg.errors import InputDataError
from strokeseg.experiments.config import EvaluationSettings, NnunetSettings
from strokeseg.io import write_json_atomic
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.raw import find_dataset
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.nnunet.tool_server import ToolLauncher
from strokeseg.splits import (
    DESIGNS,
    SPLITS_FILE,
    apply_design,
    load_training_cases,
)

logger = logging.getLogger(__name__)

#: nnU-Net's checkpoint of a finished training.
FINAL_CHECKPOINT = "checkpoint_final.pth"
LATEST_CHECKPOINT = "checkpoint_latest.pth"


@dataclass(frozen=True)
class RunContext:
    """What a step gets when it runs: the nnU-Net settings, the job's log file and where tool output lines go."""

    nnunet: NnunetSettings
    log: Path
    #: called with every output line of the nnU-Net tools the step runs (a live progress display); None: unused
    on_tool_line: Callable[[str], None] | None = None
    #: starts the nnU-Net tools from warm interpreters (strokeseg.nnunet.tool_server); None: new interpreters
    launcher: ToolLauncher | None = None

    def device(self) -> str:
        """``cuda`` or ``cpu``: the configured device, ``auto`` resolved on the machine running the job."""
        return resolve_device(self.nnunet.device)

    def run_tool(self, tool: str, arguments: list[str], results: Path | None = None) -> None:
        """Run a stock nnU-Net tool with the experiment's folders (``results`` replaces nnUNet_results)."""
        paths = self.nnunet.paths if results is None else NnunetPaths(self.nnunet.paths.raw,
                                                                      self.nnunet.paths.preprocessed, results)
        paths.create()
        run_nnunet(tool, arguments, paths, self.log, self.nnunet.tool_env(), on_line=self.on_tool_line,
                   launcher=self.launcher)


class Step(Protocol):
    """One job's work."""

    def run(self, context: RunContext) -> None: ...

    def outputs(self, context: RunContext) -> tuple[Path, ...]: ...


def dataset_folder(raw: Path, dataset: str) -> Path | None:
    """The raw dataset folder of an ID, or None while it does not exist (a derived dataset not yet written)."""
    try:
        return find_dataset(raw, dataset)
    except InputDataError:
        return None


def _require_dataset(raw: Path, dataset: str) -> Path:
    return find_dataset(raw, dataset)


@dataclass(frozen=True)
class ModelRef:
    """A trained nnU-Net model: where ``nnUNetv2_train`` writes it.

    Attributes:
        results: nnUNet_results root of this model (fine-tuned models get their own root, see graph.py).
    """

    dataset: str
    trainer: str
    plans: str
    configuration: str
    results: Path

    def folder(self, raw: Path) -> Path | None:
        found = dataset_folder(raw, self.dataset)
        if found is None:
            return None
        return self.results / found.name / f"{self.trainer}__{self.plans}__{self.configuration}"

    def checkpoint(self, raw: Path, fold: int, name: str = FINAL_CHECKPOINT) -> Path | None:
        folder = self.folder(raw)
        return None if folder is None else folder / f"fold_{fold}" / name


def _missing(what: str) -> Path:
    """A path that never exists: the output of a step whose dataset is not there yet."""
    return Path(f"/nonexistent/strokeseg-experiment/{what}")


@dataclass(frozen=True)
class SplitStep:
    """Write a split design of ``strokeseg split`` (in place, or as a derived dataset).

    Rerunning is harmless: an existing derived dataset or ``splits_final.json`` whose folds equal the plan's is
    kept (extra folds appended later, e.g. a vendor fine-tuning fold, are allowed); different splits are an
    error that names the file (the user decides, nothing is replaced).
    """

    dataset: str
    design: str
    options: tuple[tuple[str, Any], ...]
    derived_id: int | None = None

    def run(self, context: RunContext) -> None:
        raw = context.nnunet.paths.raw
        source = _require_dataset(raw, self.dataset)
        plan = DESIGNS[self.design](load_training_cases(source), **dict(self.options))
        if self.derived_id is not None:
            existing = dataset_folder(raw, str(self.derived_id))
            if existing is not None and _has_folds(existing / SPLITS_FILE, plan.splits_final()):
                logger.info("derived dataset %s already holds this %s split; kept", existing.name, self.design)
                return
        elif _has_folds(source / SPLITS_FILE, plan.splits_final()):
            logger.info("%s already holds this %s split; kept", source / SPLITS_FILE, self.design)
            return
        written = apply_design(raw, self.dataset, plan, derived_id=self.derived_id,
                               preprocessed_root=context.nnunet.paths.preprocessed)
        logger.info("split %s: %s", self.design, written.splits_file)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        folder = dataset_folder(context.nnunet.paths.raw, str(self.derived_id or self.dataset))
        return (folder / SPLITS_FILE,) if folder is not None else (_missing(f"split-{self.dataset}"),)


def _has_folds(path: Path, folds: list[dict[str, list[str]]]) -> bool:
    """Whether ``path`` exists and starts with exactly ``folds``."""
    if not path.is_file():
        return False
    existing = json.loads(path.read_text(encoding="utf-8"))
    return isinstance(existing, list) and existing[: len(folds)] == folds


@dataclass(frozen=True)
class PlanStep:
    """``nnUNetv2_plan_and_preprocess -d ID -pl PLANNER -c CONFIGURATIONS``.

    Plans that exist with their preprocessed data (an earlier run, or another experiment on the dataset) are
    kept when the same planner wrote them; plans of another planner under the same name are an error.
    ``extra_arguments`` are passed on unchanged (e.g. ``-overwrite_target_spacing 5 2 2 -overwrite_plans_name X``,
    where ``plans`` must then be ``X``).
    """

    dataset: str
    planner: str
    plans: str
    configurations: tuple[str, ...]
    extra_arguments: tuple[str, ...] = ()

    def run(self, context: RunContext) -> None:
        existing = self.outputs(context)[0]
        if existing.is_file() and self._preprocessed(existing):
            used = json.loads(existing.read_text(encoding="utf-8")).get("experiment_planner_used")
            if used != self.planner:
                raise InputDataError(f"{existing} was written by planner {used}, not {self.planner}; models trained "
                                     "with those plans would be mixed up: delete it or set 'plans' to another name")
            logger.info("%s exists and is preprocessed (planned by an earlier run); kept", existing)
            return
        processes = str(context.nnunet.processes)
        context.run_tool("nnUNetv2_plan_and_preprocess", ["-d", self.dataset, "-pl", self.planner, "-c",
                                                          *self.configurations, "-np", processes, "-npfp", processes,
                                                          *context.nnunet.fingerprint_arguments(),
                                                          *self.extra_arguments])

    def _preprocessed(self, plans_file: Path) -> bool:
        """Whether every configuration's preprocessed data folder exists beside the plans."""
        plans = json.loads(plans_file.read_text(encoding="utf-8"))
        configurations = plans.get("configurations", {})
        for name in self.configurations:
            identifier = configurations.get(name, {}).get("data_identifier")
            if identifier is None or not (plans_file.parent / identifier).is_dir():
                return False
        return True

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        folder = dataset_folder(context.nnunet.paths.raw, self.dataset)
        if folder is None:
            return (_missing(f"plans-{self.dataset}"),)
        return (context.nnunet.paths.preprocessed / folder.name / f"{self.plans}.json",)


@dataclass(frozen=True)
class MovePlansStep:
    """Give ``target`` the plans of ``source`` and preprocess it with them (fine-tuning needs shared plans).

    nnU-Net's recipe: ``nnUNetv2_extract_fingerprint`` of the target (the trainer copies it into the model),
    ``nnUNetv2_move_plans_between_datasets``, then ``nnUNetv2_preprocess``; the target's splits are copied into
    its preprocessed folder (nnU-Net only does so when planning). With ``finetune_fold``, fold 1 of that copy
    becomes ``train = val = fold 0's validation cases``: Alis's fine-tuning set of one vendor is the other vendor's
    validation part. The raw dataset's ``splits_final.json`` is never modified.
    """

    source: str
    target: str
    source_plans: str
    target_plans: str
    configurations: tuple[str, ...]
    finetune_fold: bool = False

    def run(self, context: RunContext) -> None:
        paths = context.nnunet.paths
        target = _require_dataset(paths.raw, self.target)
        preprocessed = paths.preprocessed / target.name
        preprocessed.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target / "dataset.json", preprocessed / "dataset.json")  # planning would have copied it
        context.run_tool("nnUNetv2_extract_fingerprint", ["-d", self.target, "-np", str(context.nnunet.processes),
                                                          *context.nnunet.fingerprint_arguments()])
        context.run_tool("nnUNetv2_move_plans_between_datasets",
                         ["-s", self.source, "-t", self.target, "-sp", self.source_plans, "-tp", self.target_plans])
        copy_splits_for_training(target, preprocessed, self.finetune_fold)
        for configuration in self.configurations:
            context.run_tool("nnUNetv2_preprocess", ["-d", self.target, "-plans_name", self.target_plans, "-c",
                                                     configuration, "-np", str(context.nnunet.processes)])

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        folder = dataset_folder(context.nnunet.paths.raw, self.target)
        if folder is None:
            return (_missing(f"moved-plans-{self.target}"),)
        return (context.nnunet.paths.preprocessed / folder.name / f"{self.target_plans}.json",)


def copy_splits_for_training(raw_dataset: Path, preprocessed: Path, finetune_fold: bool = False) -> Path:
    """Copy ``splits_final.json`` of a raw dataset into its preprocessed folder, which nnU-Net trains from.

    With ``finetune_fold`` the copy holds fold 0 and a fold 1 with ``train = val = fold 0's validation cases``;
    the raw file (the user's split) is never modified. Returns the written file.
    """
    splits = json.loads((raw_dataset / SPLITS_FILE).read_text(encoding="utf-8"))
    if finetune_fold:
        splits = [splits[0], {"train": splits[0]["val"], "val": splits[0]["val"]}]
    return write_json_atomic(preprocessed / SPLITS_FILE, splits)


@dataclass(frozen=True)
class TrainStep:
    """``nnUNetv2_train DATASET CONFIGURATION FOLD -tr TRAINER -p PLANS``, resumed (``--c``) after an interruption.

    A model whose final checkpoint exists is not trained again (nnU-Net's results folder is shared: the same
    dataset, split, trainer, plans, configuration and fold are the same model). A fine-tuning step names its
    source model (``pretrained``/``pretrained_fold``): the source's final checkpoint is passed as
    ``-pretrained_weights`` on the first start. ``extra_arguments`` are passed on unchanged (e.g. ``--npz``, which
    keeps the validation fold's probabilities for post-processing).
    """

    model: ModelRef
    fold: int
    pretrained: ModelRef | None = None
    pretrained_fold: int = 0
    extra_arguments: tuple[str, ...] = ()

    def run(self, context: RunContext) -> None:
        raw = context.nnunet.paths.raw
        latest = self.model.checkpoint(raw, self.fold, LATEST_CHECKPOINT)
        final = self.model.checkpoint(raw, self.fold)
        if final is not None and final.is_file():
            logger.info("%s exists (trained by an earlier run or another experiment on the same split); reused",
                        final)
            return
        resuming = latest is not None and latest.is_file()
        arguments = [self.model.dataset, self.model.configuration, str(self.fold), "-tr", self.model.trainer, "-p",
                     self.model.plans, "-device", context.device(), *self.extra_arguments]
        if resuming:
            logger.info("resuming %s fold %d from its checkpoint", self.model.trainer, self.fold)
            arguments.append("--c")
        elif self.pretrained is not None:
            weights = self.pretrained.checkpoint(raw, self.pretrained_fold)
            if weights is None or not weights.is_file():
                raise InputDataError(f"fine-tuning needs the source model's checkpoint {weights}, which does not "
                                     "exist; run the source model's training job first")
            arguments += ["-pretrained_weights", str(weights)]
        context.run_tool("nnUNetv2_train", arguments, self.model.results)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        final = self.model.checkpoint(context.nnunet.paths.raw, self.fold)
        return (final if final is not None else _missing("checkpoint"),)


def link_test_set_images(raw: Path, test_sets: Sequence[tuple[str, str]], folder: Path) -> int:
    """Link the ``imagesTs`` files of every (test set, dataset) into the new ``folder`` as ``<test set>__<file>``: one
    ``nnUNetv2_predict`` input folder for all test sets (:class:`PredictStep`); returns the number of files."""
    folder.mkdir(parents=True)
    count = 0
    for name, dataset in test_sets:
        images = _require_dataset(raw, dataset) / "imagesTs"
        if not images.is_dir():
            raise InputDataError(f"{images} does not exist: the test set {name!r} of an experiment is the "
                                 f"imagesTs of dataset {dataset}")
        for image in sorted(images.iterdir()):
            if not image.name.startswith("."):
                (folder / f"{name}__{image.name}").symlink_to(image.resolve())
                count += 1
    return count


@dataclass(frozen=True)
class PredictStep:
    """``nnUNetv2_predict`` of the test sets' images (``imagesTs`` of each dataset) with a model's folds.

    One call predicts every test set (the model is loaded once): the images are linked into one input folder
    as ``<test set>__<file>``, and the predictions are sorted into ``output/<test set>/`` under their own
    names. Probabilities (``--save_probabilities``) go along with them.
    """

    model: ModelRef
    folds: tuple[int, ...]
    test_sets: tuple[tuple[str, str], ...]  # (name, dataset)
    output: Path
    save_probabilities: bool = False
    #: The checkpoint file of each fold to predict with (``-chk``), e.g. a zoom-in result or a snapshot.
    checkpoint: str = FINAL_CHECKPOINT

    def run(self, context: RunContext) -> None:
        inputs, raw_output = self.output / ".input", self.output / ".predicted"
        shutil.rmtree(inputs, ignore_errors=True)
        link_test_set_images(context.nnunet.paths.raw, self.test_sets, inputs)
        device = context.device()
        arguments = ["-i", str(inputs), "-o", str(raw_output), "-d", self.model.dataset, "-c",
                     self.model.configuration, "-f", *map(str, self.folds), "-tr", self.model.trainer, "-p",
                     self.model.plans, "-device", device, *context.nnunet.prediction_worker_arguments(device),
                     "--disable_progress_bar"]
        if self.save_probabilities:
            arguments.append("--save_probabilities")
        if self.checkpoint != FINAL_CHECKPOINT:
            arguments += ["-chk", self.checkpoint]
        if raw_output.is_dir():
            arguments.append("--continue_prediction")
        context.run_tool("nnUNetv2_predict", arguments, self.model.results)
        self._sort(raw_output)
        shutil.rmtree(inputs)

    def _sort(self, raw_output: Path) -> None:
        """Move ``<test set>__<case>.*`` to ``<test set>/<case>.*``; nnU-Net's json files go to every folder."""
        shared = [path for path in raw_output.iterdir() if path.suffix == ".json"]
        for name, _ in self.test_sets:
            folder = self.output / name
            folder.mkdir(parents=True, exist_ok=True)
            for path in raw_output.glob(f"{name}__*"):
                path.replace(folder / path.name.removeprefix(f"{name}__"))
        for name, _ in self.test_sets:
            for path in shared:
                shutil.copyfile(path, self.output / name / path.name)
        shutil.rmtree(raw_output)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return tuple(self.output / name / "plans.json" for name, _ in self.test_sets)


@dataclass(frozen=True)
class EnsembleStep:
    """``nnUNetv2_ensemble``: the mean of the probabilities of several prediction folders (each written with
    ``--save_probabilities``), e.g. a snapshot ensemble; the first folder's ``plans.json`` marks it done."""

    inputs: tuple[Path, ...]
    output: Path

    def run(self, context: RunContext) -> None:
        context.run_tool("nnUNetv2_ensemble", ["-i", *map(str, self.inputs), "-o", str(self.output), "-np",
                                               str(context.nnunet.processes)])
        shutil.copyfile(self.inputs[0] / "plans.json", self.output / "plans.json")

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.output / "plans.json",)


@dataclass(frozen=True)
class EvaluatedModel:
    """One model of an evaluation: its predictions and, for learning curves, its training-set size."""

    name: str
    predictions: Path
    training_cases: int | None = None
    probability_folders: tuple[Path, ...] = ()


@dataclass(frozen=True)
class EvaluateStep:
    """``strokeseg evaluate`` of several models on one test set (``labelsTs`` of ``test_dataset``).

    The engine runs on the context's device (``cuda`` or ``cpu``, as ``strokeseg evaluate --device``); the
    worker processes are ``settings.jobs``, or the context's nnU-Net processes when that is None.
    """

    test_dataset: str
    models: tuple[EvaluatedModel, ...]
    output: Path
    settings: EvaluationSettings = field(default_factory=EvaluationSettings)

    def run(self, context: RunContext) -> None:
        from strokeseg.cases import read_cases
        from strokeseg.evaluation import (
            BootstrapSettings,
            EvaluationRequest,
            resolve_predictions,
            resolve_reference,
            run_evaluation,
        )
        from strokeseg.evaluation import CaseEvaluationSettings as CaseSettings

        dataset = _require_dataset(context.nnunet.paths.raw, self.test_dataset)
        reference = resolve_reference(str(dataset), "Ts")
        models = tuple(resolve_predictions(model.name, model.predictions, training_cases=model.training_cases,
                                           probability_folders=model.probability_folders) for model in self.models)
        request = EvaluationRequest(
            reference=reference, models=models, out=self.output,
            cases=read_cases(reference.cases_csv) if reference.cases_csv is not None else None,
            settings=CaseSettings(device=context.device()),
            bootstrap=BootstrapSettings(resamples=self.settings.bootstrap_resamples,
                                        method=self.settings.bootstrap_method), by=self.settings.by,
            location=self.settings.location, jobs=self.settings.jobs or context.nnunet.processes,
            plots=self.settings.plots, p_adjustment=self.settings.p_adjust, group_test=self.settings.group_test,
            cohort_by=self.settings.cohort_by,
            overwrite=True)  # the folder belongs to this job; a rerun means the earlier attempt did not finish
        run_evaluation(request)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.output / "summary.json",)


@dataclass(frozen=True)
class FitPostprocessingStep:
    """``strokeseg postprocess fit`` on the validation predictions of a trained model (all its folds).

    ``references``: the folder of the reference masks inside the model's raw dataset (``labelsTr``).
    """

    model: ModelRef
    output: Path
    references: str = "labelsTr"

    def run(self, context: RunContext) -> None:
        from strokeseg.postprocessing import fit_postprocessing

        raw = context.nnunet.paths.raw
        folder = self.model.folder(raw)
        if folder is None:
            raise InputDataError(f"dataset {self.model.dataset} is missing from {raw}; run the jobs that write it")
        references = _require_dataset(raw, self.model.dataset) / self.references
        fit_postprocessing(folder, references, self.output, overwrite=True)  # the file belongs to this job

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.output,)


@dataclass(frozen=True)
class ApplyPostprocessingStep:
    """``strokeseg postprocess apply`` of fitted parameters to prediction folders: (predictions, output) pairs.

    ``allow_small_fit``: apply parameters fitted on fewer validation cases than ``apply`` accepts by default.
    """

    parameters: Path
    folders: tuple[tuple[Path, Path], ...]
    allow_small_fit: bool = False

    def run(self, context: RunContext) -> None:
        from strokeseg.postprocessing import apply_postprocessing

        for predictions, output in self.folders:
            apply_postprocessing(predictions, self.parameters, output, overwrite=True,
                                 allow_small_fit=self.allow_small_fit)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return tuple(output / "postprocessing.json" for _, output in self.folders)


@dataclass(frozen=True)
class StepsInOrder:
    """Several steps as one job: run one after the other; done when every step's outputs exist."""

    steps: tuple[Step, ...]

    def run(self, context: RunContext) -> None:
        for step in self.steps:
            step.run(context)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return tuple(path for step in self.steps for path in step.outputs(context))


@dataclass(frozen=True)
class AggregateStep:
    """Build the paper's tables, figures and markdown summary from the evaluations (see aggregate.py)."""

    kind: str
    name: str
    output: Path
    spec: Mapping[str, Any]

    def run(self, context: RunContext) -> None:
        from strokeseg.experiments.aggregate import aggregate

        aggregate(self.kind, self.name, self.spec, self.output)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.output / "summary.md",)
