"""Experiment configuration files (YAML): parsing and validation.

One file describes one study (see ``docs/experiments.md`` and ``examples/``). Every key is checked here, so
that a typo or a wrong type stops ``strokeseg experiment run`` before any job starts, with a message that
names the file and the key. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from strokeseg.defaults import (
    BOOTSTRAP_RESAMPLES,
    DEFAULT_SEED,
    DOMAIN_ADAPTATION_SIZES,
    DOMAIN_ADAPTATION_TEST_FRACTION,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_SUBSET_FRACTION,
    EXPERIMENT_SLURM_TIMEOUT_MIN,
    LEARNING_CURVE_FRACTIONS,
    TRAIN_FRACTION,
    VENDOR_SPLIT_FRACTIONS,
)
from strokeseg.device import DEVICES, visible_gpus
from strokeseg.errors import ConfigurationError
from strokeseg.evaluation import BOOTSTRAP_METHODS, DEFAULT_P_ADJUSTMENT, GROUP_TESTS, LOCATION_SOURCES, P_ADJUSTMENTS
from strokeseg.experiments.slurm import STEP_KINDS, STEPS_KEY, check_resources
from strokeseg.nnunet.folders import NnunetPaths, optional_environment_folder
from strokeseg.nnunet.plans import STOCK_PLANS, spaced_plans_name, target_spacing_arguments
from strokeseg.nnunet.worker_processes import work_in_process

KINDS: tuple[str, ...] = ("learning-curve", "domain-adaptation", "vendor-transfer", "zoom-ablation", "ensemble")
EXECUTOR_KINDS: tuple[str, ...] = ("local", "slurm")
#: submitit clusters: ``slurm`` submits with sbatch; ``local`` and ``debug`` are submitit's test executors.
SUBMITIT_CLUSTERS: tuple[str, ...] = ("slurm", "local", "debug")
#: nnU-Net's variable for the size of its own process pools (its default: 8).
DEFAULT_PROCESSES_VARIABLE = "nnUNet_def_n_proc"
#: nnU-Net's planner class when the configuration names none.
STOCK_PLANNER = "ExperimentPlanner"


@dataclass(frozen=True)
class NnunetSettings:
    """The nnU-Net folders and how the stock tools run.

    Attributes:
        paths: nnUNet_raw / nnUNet_preprocessed / nnUNet_results.
        device: ``auto`` (CUDA when the job's machine has it), ``cpu`` or ``cuda``.
        processes: worker processes of planning, preprocessing and prediction (``-np``, ``-npp``, ``-nps``) and of
            nnU-Net's own pools (``nnUNet_def_n_proc``: the export and scoring of a training's validation). With 1,
            or with up to 2 on the CPU (``strokeseg.nnunet.worker_processes``), ``nnUNetv2_predict`` runs without
            worker processes (see :meth:`prediction_worker_arguments`) and strokeseg's trainers validate in their
            own process (``strokeseg.nnunet.validation_pools``).
        env: extra environment variables for every nnU-Net run (e.g. ``nnUNet_n_proc_DA``); they win over what
            ``processes`` sets.
        fingerprint_extractor: ``-fpe`` of every fingerprint extraction (planning, moving plans); None: nnU-Net's
            own ``DatasetFingerprintExtractor``. ``StrokesegFingerprintExtractor`` samples 10^6 instead of 10^8
            intensities (``strokeseg.planners.fingerprint``): seconds instead of tens of seconds for small datasets.
    """

    paths: NnunetPaths
    device: str = "auto"
    processes: int = 2
    env: Mapping[str, str] = field(default_factory=dict)
    fingerprint_extractor: str | None = None

    def fingerprint_arguments(self) -> tuple[str, ...]:
        """``-fpe NAME`` when an extractor is chosen, else nothing (nnU-Net's default)."""
        return ("-fpe", self.fingerprint_extractor) if self.fingerprint_extractor else ()

    def tool_env(self) -> dict[str, str]:
        """The environment every nnU-Net tool gets on top of the folders: ``nnUNet_def_n_proc`` = ``processes``
        (nnU-Net's own default is 8 whatever the machine), then ``env``."""
        return {DEFAULT_PROCESSES_VARIABLE: str(self.processes), **self.env}

    def prediction_worker_arguments(self, device: str) -> tuple[str, ...]:
        """``-npp N -nps N`` of ``nnUNetv2_predict`` on ``device`` (``cpu`` or ``cuda``) with N = ``processes``, or
        ``-npp 0 -nps 0`` (each case read, preprocessed, predicted and exported in the tool's own process) where
        :func:`~strokeseg.nnunet.worker_processes.work_in_process` says so: one process, or at most 2 on the CPU.

        Measured on 2 cores (benchmarks/bench_prediction_workers.py, the demo's 19 test cases): 26.9 s in process
        against 35.7 s with two workers of each kind, same files; with one process, benchmarks/bench_tool_launch.py
        (two toy cases): 6.9 s against 11.4 s with one worker of each."""
        workers = "0" if work_in_process(self.processes, device) else str(self.processes)
        return ("-npp", workers, "-nps", workers)


@dataclass(frozen=True)
class EvaluationSettings:
    """What ``strokeseg evaluate`` computes for every test set (see docs/evaluation.md).

    ``jobs``: worker processes; None: as many as the nnU-Net settings' ``processes`` (the demo's ``-j``).
    """

    by: tuple[str, ...] = ()
    location: str = "auto"
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    jobs: int | None = 1
    plots: bool = True
    bootstrap_method: str = "percentile"
    p_adjust: str = DEFAULT_P_ADJUSTMENT
    group_test: str = "auto"
    cohort_by: str | None = None


@dataclass(frozen=True)
class ExecutorSettings:
    """Where jobs run.

    Attributes:
        kind: ``local`` (this machine) or ``slurm`` (through submitit).
        gpus: local only: run one job per GPU on this many visible GPUs at once (0: sequential, in this process).
        cluster: slurm only: submitit cluster, ``slurm`` (sbatch), or submitit's ``local``/``debug`` executors.
        slurm: sbatch parameters of every job: ``partition``, ``timeout_min``, ``gpus_per_node`` (GPU jobs),
            ``cpus_per_task``, ``mem_gb``, ``account``, ``qos``, ``constraint``, ``setup`` (shell lines),
            ``extra_sbatch`` (``--option=value`` lines), ``additional_parameters``; ``steps`` maps a step kind
            (``train``, ``predict``, ...) to the parameters that differ for its jobs
            (see :mod:`strokeseg.experiments.slurm`).
        poll_seconds: how often a waiting executor checks its jobs.
    """

    kind: str = "local"
    gpus: int = 0
    cluster: str = "slurm"
    slurm: Mapping[str, Any] = field(default_factory=dict)
    poll_seconds: float = 5.0


@dataclass(frozen=True)
class Arm:
    """One model of a zoom ablation: a trainer on a configuration."""

    name: str
    trainer: str
    configuration: str


@dataclass(frozen=True)
class VendorGroup:
    """One vendor of a vendor-transfer study and the derived dataset that holds its cases."""

    group: str
    derived_id: int


@dataclass(frozen=True)
class GridBlock:
    """Part of a domain-adaptation grid: every pre-training size fine-tuned with every adaptation size (counts)."""

    pretraining: tuple[int, ...]
    adaptation: tuple[int, ...]

    def covers(self, pretraining_cases: int, adaptation_cases: int) -> bool:
        """Whether this block holds the pair."""
        return pretraining_cases in self.pretraining and adaptation_cases in self.adaptation


@dataclass(frozen=True)
class SingleSiteArm:
    """A model trained on one site's cases only (a derived dataset), evaluated on the same test set(s)."""

    site: str
    derived_id: int


@dataclass(frozen=True)
class ComparisonArm:
    """A second trainer of a learning curve, trained on the same subsamples and compared case by case on the same
    test set (e.g. Swin UNETR beside the U-Net); its models are named ``<name>_n<size>``."""

    trainer: str
    name: str = "comparison"


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment file. Kind-specific fields are unused by other kinds."""

    source_file: Path
    kind: str
    name: str
    output: Path
    nnunet: NnunetSettings
    evaluation: EvaluationSettings
    executor: ExecutorSettings
    dataset: str
    planner: str
    plans: str
    configuration: str
    trainer: str
    target_spacing: tuple[float, ...] | None = None
    seed: int = DEFAULT_SEED
    stratify_by: tuple[str, ...] | None = None
    train_fraction: float = TRAIN_FRACTION
    fractions: tuple[float, ...] = LEARNING_CURVE_FRACTIONS
    #: absolute subsample sizes instead of ``fractions`` (None: fractions)
    subsample_sizes: tuple[int, ...] | None = None
    #: learning curve: independent draws of every subsample smaller than all cases (one model per draw)
    draws: int = 1
    single_site: SingleSiteArm | None = None
    #: learning curve: a second trainer on the same subsamples (None: one arm)
    comparison: ComparisonArm | None = None
    # domain adaptation
    target_dataset: str = ""
    target_derived_id: int = 0
    sizes: tuple[int, ...] = DOMAIN_ADAPTATION_SIZES
    test_fraction: float = DOMAIN_ADAPTATION_TEST_FRACTION
    test_size: int | None = None
    pool_size: int | None = None
    #: pre-training x adaptation pairs to fine-tune (empty: every pair)
    grid: tuple[GridBlock, ...] = ()
    finetune_trainer: str = ""
    # vendor transfer
    vendors: tuple[VendorGroup, ...] = ()
    vendor_column: str = "vendor"
    vendor_fractions: tuple[float, ...] = VENDOR_SPLIT_FRACTIONS
    # zoom ablation
    arms: tuple[Arm, ...] = ()
    folds: tuple[int, ...] = (0,)
    # ensemble
    members: int = ENSEMBLE_MEMBERS
    subset_fraction: float = ENSEMBLE_SUBSET_FRACTION

    def plan_arguments(self) -> tuple[str, ...]:
        """Extra ``nnUNetv2_plan_and_preprocess`` arguments: the spacing override and the plans name it needs."""
        return target_spacing_arguments(self.target_spacing, self.plans)

    def learning_curve_options(self) -> dict[str, Any]:
        """Options of the learning-curve design (fractions, or absolute sizes when given; draws when more than one)."""
        subsamples: dict[str, Any] = {"fractions": self.fractions} if self.subsample_sizes is None \
            else {"sizes": self.subsample_sizes}
        # one draw is left out, so that the split job of a study written before draws existed keeps its signature
        draws = {"draws": self.draws} if self.draws > 1 else {}
        return {**subsamples, "train_fraction": self.train_fraction, **draws}

    def fine_tunes(self, pretraining_cases: int, adaptation_cases: int) -> bool:
        """Whether the domain-adaptation grid fine-tunes this pair (every pair without a ``grid``)."""
        return not self.grid or any(block.covers(pretraining_cases, adaptation_cases) for block in self.grid)

    def split_options(self) -> dict[str, Any]:
        """Options every split design takes (seed, strata)."""
        return {"seed": self.seed} | ({} if self.stratify_by is None else {"stratify_by": self.stratify_by})


class _Reader:
    """Typed access to one mapping of the file; every error names the file and the dotted key."""

    def __init__(self, source: Path, mapping: Mapping[str, Any], prefix: str = "") -> None:
        self.source, self.mapping, self.prefix = source, mapping, prefix
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: {self.prefix}{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.mapping or self.mapping[key] is None:
            if required:
                raise self.fail(key, "is required")
            return default
        value = self.mapping[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(key, f"expected {_type_name(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self.fail(key, f"expected {_type_name(kind)}, got {value!r}")
        return value

    def dataset(self, key: str, required: bool = True) -> str:
        value = self.get(key, (int, str), required=required)
        return "" if value is None else str(value)

    def list_of(self, key: str, kind: type, default: Sequence[Any]) -> tuple[Any, ...]:
        values = self.get(key, list, None)
        if values is None:
            return tuple(default)
        checked = []
        for index, value in enumerate(values):
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise self.fail(f"{key}[{index}]", f"expected {_type_name(kind)}, got {value!r}")
            checked.append(value)
        return tuple(checked)

    def section(self, key: str) -> _Reader:
        return _Reader(self.source, self.get(key, dict, {}), f"{self.prefix}{key}.")

    def check_unknown(self) -> None:
        unknown = sorted(set(self.mapping) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known here: {', '.join(sorted(self.used))})")


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false", "list": "a list",
             "dict": "a mapping"}
    return " or ".join(names.get(k.__name__, k.__name__) for k in kinds)


def _planner_plans_name(planner: str, spacing: Sequence[float] | None = None) -> str:
    """The plans identifier a planner writes by default (strokeseg planners know theirs; nnU-Net's: nnUNetPlans),
    with the target spacing appended when one is given."""
    import strokeseg.planners as planners

    planner_class = getattr(planners, planner, None)
    return spaced_plans_name(str(getattr(planner_class, "default_plans_name", STOCK_PLANS)), spacing)


def _nnunet_paths(reader: _Reader, base: Path) -> NnunetPaths:
    folders = {}
    for key, variable in (("raw", "nnUNet_raw"), ("preprocessed", "nnUNet_preprocessed"),
                          ("results", "nnUNet_results")):
        value = reader.get(key, str) or optional_environment_folder(variable)
        if not value:
            raise reader.fail(key, f"not given and ${variable} is not set; give the folder here or export it")
        folders[key] = (base / value).resolve()
    return NnunetPaths(folders["raw"], folders["preprocessed"], folders["results"])


def _in_range(reader: _Reader, key: str, value: float, low: float, high: float, include_high: bool = False) -> float:
    if not (low < value < high or (include_high and value == high)):
        raise reader.fail(key, f"{value} must lie in ({low}, {high}{']' if include_high else ')'}")
    return value


def _slurm_section(executor: _Reader, source: Path) -> dict[str, Any]:
    """``executor.slurm``: resources of every job, and per step kind under ``steps`` (checked, not submitted)."""
    where = f"{source}: executor.slurm"
    section = executor.get("slurm", dict, {})
    steps = section.get(STEPS_KEY) or {}
    if not isinstance(steps, dict):
        raise ConfigurationError(f"{where}.{STEPS_KEY}: expected a mapping of step kind -> resources, got {steps!r}")
    slurm = check_resources({key: value for key, value in section.items() if key != STEPS_KEY}, where)
    slurm.setdefault("timeout_min", EXPERIMENT_SLURM_TIMEOUT_MIN)
    checked_steps = {}
    for kind, resources in steps.items():
        if kind not in STEP_KINDS:
            raise ConfigurationError(f"{where}.{STEPS_KEY}.{kind}: unknown step kind (known: {', '.join(STEP_KINDS)})")
        if not isinstance(resources, dict):
            raise ConfigurationError(f"{where}.{STEPS_KEY}.{kind}: expected a mapping of resources, got {resources!r}")
        checked_steps[kind] = check_resources(resources, f"{where}.{STEPS_KEY}.{kind}")
    return slurm | ({STEPS_KEY: checked_steps} if checked_steps else {})


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file.

    Raises:
        ConfigurationError: unreadable file, unknown kind or key, wrong types or values (the message names the key).
    """
    source = Path(path).resolve()
    try:
        content = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"experiment file {source} could not be read ({error})") from None
    except yaml.YAMLError as error:
        raise ConfigurationError(f"experiment file {source} is not valid YAML ({error})") from None
    if not isinstance(content, dict):
        raise ConfigurationError(f"{source}: an experiment file is a YAML mapping (kind: ..., dataset: ...)")
    return parse_config(content, source)


def parse_config(content: Mapping[str, Any], source: Path) -> ExperimentConfig:
    """Validate the mapping of an experiment file read from ``source`` (relative paths start at its folder)."""
    base = source.parent
    top = _Reader(source, content)
    kind = top.get("kind", str, required=True)
    if kind not in KINDS:
        raise top.fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    name = top.get("name", str, source.stem)
    output = (base / top.get("output", str, f"experiments/{name}")).resolve()

    nnunet = top.section("nnunet")
    device = nnunet.get("device", str, "auto")
    if device not in DEVICES:
        raise nnunet.fail("device", f"{device!r} is not one of {', '.join(DEVICES)}")
    env = nnunet.get("env", dict, {})
    nnunet_settings = NnunetSettings(_nnunet_paths(nnunet, base), device, nnunet.get("processes", int, 2),
                                     {str(k): str(v) for k, v in env.items()},
                                     nnunet.get("fingerprint_extractor", str, None))
    nnunet.check_unknown()

    evaluation = top.section("evaluation")
    evaluation_jobs: int = evaluation.get("jobs", int, 1)
    evaluation_settings = EvaluationSettings(
        by=evaluation.list_of("by", str, ()), location=evaluation.get("location", str, "auto"),
        bootstrap_resamples=evaluation.get("bootstrap_resamples", int, BOOTSTRAP_RESAMPLES),
        jobs=evaluation_jobs, plots=evaluation.get("plots", bool, True),
        bootstrap_method=evaluation.get("bootstrap_method", str, "percentile"),
        p_adjust=evaluation.get("p_adjust", str, DEFAULT_P_ADJUSTMENT),
        group_test=evaluation.get("group_test", str, "auto"), cohort_by=evaluation.get("cohort_by", str, None))
    evaluation.check_unknown()
    for setting, chosen, choices in (("bootstrap_method", evaluation_settings.bootstrap_method, BOOTSTRAP_METHODS),
                                     ("p_adjust", evaluation_settings.p_adjust, P_ADJUSTMENTS),
                                     ("group_test", evaluation_settings.group_test, GROUP_TESTS)):
        if chosen not in choices:
            raise evaluation.fail(setting, f"{chosen!r} is not one of {', '.join(choices)}")
    if evaluation_settings.location not in LOCATION_SOURCES:
        raise evaluation.fail("location",
                              f"{evaluation_settings.location!r} is not one of {', '.join(LOCATION_SOURCES)}")
    for reader, key, value in ((evaluation, "jobs", evaluation_jobs),
                               (evaluation, "bootstrap_resamples", evaluation_settings.bootstrap_resamples),
                               (nnunet, "processes", nnunet_settings.processes)):
        if value < 1:
            raise reader.fail(key, f"must be at least 1, got {value}")

    executor = top.section("executor")
    executor_kind = executor.get("kind", str, "local")
    if executor_kind not in EXECUTOR_KINDS:
        raise executor.fail("kind", f"{executor_kind!r} is not one of {', '.join(EXECUTOR_KINDS)}")
    cluster = executor.get("cluster", str, "slurm")
    if cluster not in SUBMITIT_CLUSTERS:
        raise executor.fail("cluster", f"{cluster!r} is not one of {', '.join(SUBMITIT_CLUSTERS)}")
    gpus = executor.get("gpus", (int, str), 0)
    if gpus == "auto":
        gpus = visible_gpus()
    if not isinstance(gpus, int) or gpus < 0:
        raise executor.fail("gpus", f"expected a number of GPUs (0 = sequential) or 'auto', got {gpus!r}")
    slurm = _slurm_section(executor, source)
    executor_settings = ExecutorSettings(executor_kind, gpus, cluster, slurm,
                                         executor.get("poll_seconds", float, 5.0))
    executor.check_unknown()

    split = top.section("split")
    planner = top.get("planner", str, STOCK_PLANNER)
    spacing = top.list_of("target_spacing", float, ()) or None
    if spacing is not None and (len(spacing) != 3 or min(spacing) <= 0):
        raise top.fail("target_spacing", f"expected three positive spacings in mm (z, y, x), got {list(spacing)}")
    values: dict[str, Any] = {
        "source_file": source, "kind": kind, "name": name, "output": output, "nnunet": nnunet_settings,
        "evaluation": evaluation_settings, "executor": executor_settings,
        "dataset": top.dataset("dataset"), "planner": planner,
        "plans": top.get("plans", str, None) or _planner_plans_name(planner, spacing),
        "target_spacing": spacing,
        "configuration": top.get("configuration", str, "3d_fullres"),
        "trainer": top.get("trainer", str, "" if kind == "zoom-ablation" else None,
                           required=kind != "zoom-ablation"),
        "seed": split.get("seed", int, DEFAULT_SEED),
        "train_fraction": _in_range(split, "train_fraction", split.get("train_fraction", float, TRAIN_FRACTION), 0, 1),
    }
    strata = split.get("stratify_by", list, None)
    values["stratify_by"] = None if strata is None else split.list_of("stratify_by", str, ())
    if kind in ("learning-curve", "domain-adaptation"):
        fractions = split.list_of("fractions", float, LEARNING_CURVE_FRACTIONS)
        for fraction in fractions:
            _in_range(split, "fractions", fraction, 0, 1, include_high=True)
        values["fractions"] = fractions
        sizes = split.get("sizes", list, None)
        if sizes is not None:
            if "fractions" in split.mapping:
                raise split.fail("sizes", "give either fractions or sizes, not both")
            values["subsample_sizes"] = split.list_of("sizes", int, ())
            if not values["subsample_sizes"] or min(values["subsample_sizes"]) < 2:
                raise split.fail("sizes", f"expected subsample sizes of at least 2 cases, got {sizes}")
        arm = top.get("single_site", dict, None)
        if arm is not None:
            arm_reader = _Reader(source, arm, "single_site.")
            values["single_site"] = SingleSiteArm(str(arm_reader.get("site", (str, int), required=True)),
                                                  arm_reader.get("derived_id", int, required=True))
            arm_reader.check_unknown()
    if kind == "learning-curve":
        values["draws"] = split.get("draws", int, 1)
        if values["draws"] < 1:
            raise split.fail("draws", f"expected at least 1 draw per subsample size, got {values['draws']}")
        comparison = top.get("comparison", dict, None)
        if comparison is not None:
            comparison_reader = _Reader(source, comparison, "comparison.")
            values["comparison"] = ComparisonArm(comparison_reader.get("trainer", str, required=True),
                                                 comparison_reader.get("name", str, "comparison"))
            comparison_reader.check_unknown()
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", values["comparison"].name):
                raise comparison_reader.fail("name", "expected a model-name prefix of letters, digits, _ and -, got "
                                                     f"{values['comparison'].name!r}")
            if values["comparison"].trainer == values["trainer"]:
                raise comparison_reader.fail("trainer", f"the comparison arm trains {values['trainer']} like the "
                                                        "main arm; name a second trainer")
    if kind == "domain-adaptation":
        target = top.section("target")
        values["target_dataset"] = target.dataset("dataset")
        values["target_derived_id"] = target.get("derived_id", int, required=True)
        values["sizes"] = target.list_of("sizes", int, DOMAIN_ADAPTATION_SIZES)
        values["test_fraction"] = target.get("test_fraction", float, DOMAIN_ADAPTATION_TEST_FRACTION)
        values["test_size"] = target.get("test_size", int, None)
        values["pool_size"] = target.get("pool_size", int, None)
        blocks = []
        for index, entry in enumerate(target.get("grid", list, [])):
            block_reader = _Reader(source, entry if isinstance(entry, dict) else {}, f"target.grid[{index}].")
            blocks.append(GridBlock(block_reader.list_of("pretraining", int, ()),
                                    block_reader.list_of("adaptation", int, ())))
            if not blocks[-1].pretraining or not blocks[-1].adaptation:
                raise block_reader.fail("pretraining", "a grid block needs pretraining and adaptation sizes")
            block_reader.check_unknown()
        values["grid"] = tuple(blocks)
        target.check_unknown()
    if kind in ("domain-adaptation", "vendor-transfer"):
        values["finetune_trainer"] = top.get("finetune_trainer", str, required=True)
    if kind == "vendor-transfer":
        groups = top.get("vendors", list, required=True)
        vendors = []
        for index, entry in enumerate(groups):
            entry_reader = _Reader(source, entry if isinstance(entry, dict) else {}, f"vendors[{index}].")
            vendors.append(VendorGroup(entry_reader.get("group", str, required=True),
                                       entry_reader.get("derived_id", int, required=True)))
            entry_reader.check_unknown()
        if len(vendors) != 2:
            raise top.fail("vendors", f"a vendor transfer compares exactly two vendors, got {len(vendors)}")
        values["vendors"] = tuple(vendors)
        values["vendor_column"] = split.get("column", str, "vendor")
        values["vendor_fractions"] = split.list_of("vendor_fractions", float, VENDOR_SPLIT_FRACTIONS)
    if kind == "zoom-ablation" and top.get("arms", list, None) is None:
        if not values["trainer"]:
            raise top.fail("trainer", "a zoom ablation needs either the trainer of one run that keeps its zoom-in "
                                      "result and snapshots (the in-run ablation, e.g. "
                                      "nnUNetTrainer_strokeseg_Tomita2020) or two or more arms")
        values["arms"] = ()
    elif kind == "zoom-ablation":
        arms = []
        for index, entry in enumerate(top.get("arms", list, required=True)):
            arm_reader = _Reader(source, entry if isinstance(entry, dict) else {}, f"arms[{index}].")
            arms.append(Arm(arm_reader.get("name", str, required=True), arm_reader.get("trainer", str, required=True),
                            arm_reader.get("configuration", str, required=True)))
            arm_reader.check_unknown()
        names = [arm.name for arm in arms]
        if len(arms) < 2 or len(set(names)) != len(names):
            raise top.fail("arms", f"an ablation needs at least two arms with distinct names, got {names}")
        values["arms"] = tuple(arms)
    if kind in ("zoom-ablation",):
        values["folds"] = top.list_of("folds", int, (0,))
    if kind == "ensemble":
        values["members"] = split.get("members", int, ENSEMBLE_MEMBERS)
        values["subset_fraction"] = split.get("subset_fraction", float, ENSEMBLE_SUBSET_FRACTION)
        if values["members"] < 2:
            raise split.fail("members", f"an ensemble needs at least 2 members, got {values['members']}")
    split.check_unknown()
    top.check_unknown()
    return ExperimentConfig(**values)


