"""The demo study as a recipe: Noh et al.'s registry DWI study in miniature on a phantom registry with a known
vendor shift (the ``shifted`` site set), stock nnU-Net tools.

Jobs (each skipped when an earlier run finished it; state and log in ``jobs/<job>/``):

1. ``generate``: phantom registry of three hospitals / vendors (``strokeseg synth --site-set shifted``); ShiftC
   is external.
2. ``convert-internal``, ``convert-external``: the registry converter writes Dataset980 (internal, test
   cases in imagesTs) and Dataset982 (external), DWI + ADC.
3. ``split``: the internal training cases' learning-curve subsamples, 8:2 train/validation (the source model is
   the last fold, all cases); the external cohort's domain-adaptation split, derived dataset Dataset983 (fixed
   test pool in imagesTs, adaptation subsample as fold 0).
4. ``plan``: ``nnUNetv2_plan_and_preprocess -pl StrokeDWIPlanner`` (skull strip, N4, histogram-peak).
5. ``train``: ``nnUNetv2_train 980 3d_fullres <fold> -tr <Noh2023 trainer> --npz`` on the internal hospitals.
6. ``predict-source``: ``nnUNetv2_predict`` of the internal and the external test sets.
7. ``postprocess-fit``: ``strokeseg postprocess fit`` on the validation fold of step 5.
8. ``move-plans``: the source plans moved to Dataset983 and the external cases preprocessed with them.
9. ``finetune``: ``nnUNetv2_train 983 3d_fullres 0 -tr <fine-tuning trainer> -pretrained_weights <step 5>``.
10. ``predict-finetuned``: the fine-tuned model on both test sets.
11. ``control``, ``predict-control``: the control arm, the fine-tuning trainer from step 5 on the source's own
    training cases (same steps as step 9), predicted on both test sets.
12. (profiles with a learning curve) ``train-source_<p>pct``, ``predict-source_<p>pct`` (later draws:
    ``..._<p>pct_draw<k>``): one model per smaller subsample and draw, predicted on the internal test set.
13. ``postprocess-apply``: the fitted post-processing on the source and fine-tuned prediction folders.
14. ``evaluate-internal``, ``evaluate-external``: ``strokeseg evaluate`` with strata by volume, onset,
    location (the registry's recorded location) and vendor; models ``source``, ``finetuned``, ``control`` (the
    networks' predictions) and ``source_pp``, ``finetuned_pp`` (post-processed), and the learning-curve models
    with their training-set sizes; ``source`` is the paired tests' baseline.
15. ``compare``: the domain-adaptation table before vs after fine-tuning with paired tests, on both test sets.
16. ``summary``: ``findings.json`` (``findings``) and ``SUMMARY.md``.

The jobs run in this process with the experiments' executor (:func:`strokeseg.experiments.executors.run_graph`);
while a job runs an nnU-Net tool, its epochs and predicted cases are printed as they come.
The demo folder carries ``.strokeseg_demo.json`` with the run's settings. A rerun resumes: finished jobs are
kept. A demo made with other settings, or a job finished under another configuration, is only replaced with
``overwrite`` (the rule of every strokeseg command); a folder without the marker is never used or deleted.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from strokeseg.device import resolve_device
from strokeseg.errors import OutputExistsError
from strokeseg.experiments.config import EvaluationSettings, ExecutorSettings, NnunetSettings
from strokeseg.experiments.executors import JobFailedError, RunReport, RunSettings, run_graph
from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.recipes.demo.cohort import (
    EXTERNAL_MANIFEST,
    INTERNAL_MANIFEST,
    ConvertManifestStep,
    GenerateRegistryStep,
)
from strokeseg.experiments.recipes.demo.layout import (
    ADAPTATION_ID,
    CONFIGURATION,
    CONTROL,
    CURVE_TEST_SET,
    EXTERNAL_ID,
    EXTERNAL_NAME,
    FINETUNED,
    FINETUNED_PP,
    INTERNAL_ID,
    INTERNAL_NAME,
    PLANNER,
    POSTPROCESSING_JSON,
    PREPROCESSED_CONFIGURATIONS,
    SOURCE,
    SOURCE_PP,
    TEST_SETS,
    DemoStudy,
    default_workers,
)
from strokeseg.experiments.recipes.demo.profiles import DEFAULT_PROFILE, get_profile
from strokeseg.experiments.recipes.demo.summary import DEMO_MARKER, DemoSummaryStep
from strokeseg.experiments.state import failure_message
from strokeseg.experiments.steps import (
    AggregateStep,
    ApplyPostprocessingStep,
    EvaluatedModel,
    EvaluateStep,
    FitPostprocessingStep,
    MovePlansStep,
    PlanStep,
    PredictStep,
    SplitStep,
    StepsInOrder,
    TrainStep,
)
from strokeseg.io import write_json_atomic
from strokeseg.nnunet.plans import target_spacing_arguments
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.splits.designs import subsample_size

logger = logging.getLogger(__name__)


def build_demo_graph(study: DemoStudy) -> JobGraph:
    """The demo's jobs in order (see the module docstring)."""
    profile, out = study.profile, study.out
    graph = JobGraph(out)
    source, finetuned, control = study.source_model(), study.finetuned_model(), study.control_model()
    test_sets = tuple(TEST_SETS.items())

    generate = graph.add("generate", GenerateRegistryStep(study.cohort, profile),
                         title=f"phantom registry: {profile.total_cases} cases from 3 hospitals (strokeseg synth)")
    internal = graph.add("convert-internal", ConvertManifestStep(study.cohort / INTERNAL_MANIFEST, INTERNAL_ID,
                                                                 INTERNAL_NAME), (generate,),
                         title=f"registry converter: internal hospitals -> Dataset{INTERNAL_ID}")
    external = graph.add("convert-external", ConvertManifestStep(study.cohort / EXTERNAL_MANIFEST, EXTERNAL_ID,
                                                                 EXTERNAL_NAME), (generate,),
                         title=f"registry converter: external hospital -> Dataset{EXTERNAL_ID}")
    # one draw: the options (and so the job's signature) demo folders written before draws existed hold
    curve_draws = (("draws", profile.learning_curve_draws),) if profile.learning_curve_draws > 1 else ()
    adaptation_options = (("seed", profile.seed), ("sizes", (profile.adaptation_cases,)),
                          ("test_size", profile.external_test_cases))
    splits = StepsInOrder((
        SplitStep(str(INTERNAL_ID), "learning-curve", (("fractions", profile.learning_curve_fractions),
                                                        *curve_draws, ("seed", profile.seed))),
        SplitStep(str(EXTERNAL_ID), "domain-adaptation", adaptation_options, ADAPTATION_ID)))
    split = graph.add("split", splits, (internal, external),
                      title="splits: internal 8:2 train/validation; external test pool + adaptation subsample")
    plan = graph.add("plan", PlanStep(str(INTERNAL_ID), PLANNER, study.plans, PREPROCESSED_CONFIGURATIONS,
                                      target_spacing_arguments(profile.target_spacing_mm, study.plans)), (split,),
                     title=f"nnUNetv2_plan_and_preprocess -pl {PLANNER}")
    fold = profile.source_fold
    train = graph.add("train", TrainStep(source, fold, extra_arguments=("--npz",)), (plan,), gpu=True,
                      title=f"nnUNetv2_train {INTERNAL_ID} {CONFIGURATION} {fold} -tr {profile.trainer}")
    predict_source = graph.add(
        "predict-source", PredictStep(source, (fold,), test_sets, study.predictions(SOURCE), save_probabilities=True),
        (train,), gpu=True, title="nnUNetv2_predict: source model on the internal and external test sets")
    fit = graph.add("postprocess-fit", FitPostprocessingStep(source, out / POSTPROCESSING_JSON), (train,),
                    title="strokeseg postprocess fit on the source model's validation fold")
    move = graph.add("move-plans", MovePlansStep(str(INTERNAL_ID), str(ADAPTATION_ID), study.plans, study.moved_plans,
                                                 PREPROCESSED_CONFIGURATIONS), (plan, split),
                     title=f"move the source plans to Dataset{ADAPTATION_ID} and preprocess it")
    finetune = graph.add("finetune", TrainStep(finetuned, 0, pretrained=source, pretrained_fold=fold), (move, train),
                         gpu=True, title=f"nnUNetv2_train {ADAPTATION_ID} {CONFIGURATION} 0 -tr "
                                         f"{profile.finetune_trainer} -pretrained_weights <source>")
    predict_finetuned = graph.add(
        "predict-finetuned", PredictStep(finetuned, (0,), test_sets, study.predictions(FINETUNED),
                                         save_probabilities=True),
        (finetune,), gpu=True, title="nnUNetv2_predict: fine-tuned model on both test sets")
    train_control = graph.add("control", TrainStep(control, fold, pretrained=source, pretrained_fold=fold), (train,),
                              gpu=True, title=f"control arm: nnUNetv2_train {INTERNAL_ID} {CONFIGURATION} {fold} -tr "
                                              f"{profile.finetune_trainer} -pretrained_weights <source>")
    predict_control = graph.add(
        "predict-control", PredictStep(control, (fold,), test_sets, study.predictions(CONTROL)),
        (train_control,), gpu=True, title="nnUNetv2_predict: control arm on both test sets")
    # the fine-tuned model's own validation part (one or two cases) is too small to fit on: same parameters. The
    # source's validation fold is small too (a handful of cases): the demo applies its fit anyway (the fit keeps
    # the identity unless its gain is robust, and its JSON records the decision and the evidence)
    postprocess = graph.add(
        "postprocess-apply", ApplyPostprocessingStep(out / POSTPROCESSING_JSON, tuple(
            (study.predictions(model) / test_set, study.postprocessed(model) / test_set)
            for model in (SOURCE, FINETUNED) for test_set in TEST_SETS), allow_small_fit=True),
        (fit, predict_source, predict_finetuned), title="strokeseg postprocess apply on every prediction folder")
    curve = _learning_curve_jobs(graph, study, plan)
    evaluation = EvaluationSettings(bootstrap_resamples=profile.bootstrap_resamples, jobs=None)  # jobs: -j
    evaluations = []
    for test_set, title in (("internal_test", "strokeseg evaluate: internal test set, strata by volume, onset, "
                                              "location, vendor"),
                            ("external_test", "strokeseg evaluate: external test set")):
        models = tuple(EvaluatedModel(name, folder / test_set, curve.sizes.get(name) if test_set == CURVE_TEST_SET
                                      else None) for name, folder in (
            (SOURCE, study.predictions(SOURCE)), (FINETUNED, study.predictions(FINETUNED)),
            (CONTROL, study.predictions(CONTROL)),
            (SOURCE_PP, study.postprocessed(SOURCE)), (FINETUNED_PP, study.postprocessed(FINETUNED))))
        if test_set == CURVE_TEST_SET:
            models += tuple(EvaluatedModel(name, study.predictions(name) / test_set, size)
                            for name, size in curve.sizes.items() if name != SOURCE)
        step = EvaluateStep(TEST_SETS[test_set], models, study.evaluation(test_set), evaluation)
        evaluations.append(graph.add(f"evaluate-{test_set.removesuffix('_test')}", step,
                                     (postprocess, predict_control, *curve.jobs),
                                     title=title))
    compare = graph.add("compare", AggregateStep(
        "domain-adaptation", "strokeseg demo: domain adaptation", study.results,
        {"evaluations": {name: str(study.evaluation(name)) for name in TEST_SETS},
         "grid": [{"pretraining_cases": profile.internal_training_cases, "adaptation_cases": profile.adaptation_cases,
                   "before": SOURCE, "after": FINETUNED}]}),
        tuple(evaluations), title="domain adaptation: before vs after fine-tuning, paired tests")
    timed = tuple((job.id, job.describe()) for job in graph)
    graph.add("summary", DemoSummaryStep(study, timed), (compare,), title="findings.json and SUMMARY.md")
    return graph


@dataclass(frozen=True)
class LearningCurveJobs:
    """The learning curve's jobs (ids of the predictions the internal evaluation needs) and every curve model's
    training cases by model name (``source`` included when the curve has more than one point)."""

    jobs: tuple[str, ...]
    sizes: dict[str, int]


def _learning_curve_jobs(graph: JobGraph, study: DemoStudy, plan: str) -> LearningCurveJobs:
    """Train and predict one model per smaller learning-curve subsample and draw (none when the profile has one
    fraction); fold k of the internal split is the k-th (fraction, draw) in the split's order."""
    profile = study.profile
    fractions = profile.learning_curve_fractions
    if len(fractions) < 2:
        return LearningCurveJobs((), {})
    total = profile.internal_training_cases
    sizes = {SOURCE: total}
    jobs = []
    draws = [(fraction, draw) for fraction in fractions[:-1] for draw in range(1, profile.learning_curve_draws + 1)]
    for fold, (fraction, draw) in enumerate(draws):
        name, model = study.curve_name(fraction, draw), study.curve_model()
        sizes[name] = max(2, subsample_size(fraction, total))
        train = graph.add(f"train-{name}", TrainStep(model, fold), (plan,), gpu=True,
                          title=f"learning curve: nnUNetv2_train {INTERNAL_ID} {CONFIGURATION} {fold} -tr "
                                f"{profile.trainer} ({sizes[name]} of {total} cases"
                                + (f", draw {draw})" if profile.learning_curve_draws > 1 else ")"))
        jobs.append(graph.add(f"predict-{name}", PredictStep(model, (fold,), ((CURVE_TEST_SET,
                                                                                TEST_SETS[CURVE_TEST_SET]),),
                                                              study.predictions(name)),
                              (train,), gpu=True, title=f"nnUNetv2_predict: {name} on the internal test set"))
    return LearningCurveJobs(tuple(jobs), sizes)


@dataclass(frozen=True)
class DemoRunSettings:
    """How the demo's jobs run: its own nnU-Net folders, one after another in this process."""

    nnunet: NnunetSettings
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)


def run_settings(study: DemoStudy, device: str, workers: int) -> DemoRunSettings:
    """The demo folder's nnU-Net folders, ``device`` (``cpu`` or ``cuda``) and ``workers`` processes."""
    # nnU-Net's own worker pools (validation export, metrics) get ``workers`` processes too (NnunetSettings.tool_env)
    env = {"nnUNet_compile": "false"}
    if device == "cpu":
        env["nnUNet_n_proc_DA"] = str(max(1, workers - 1))  # 0 would break planning (nnU-Net 2.x)
    # the fingerprint's 10^8 intensity samples cost tens of seconds per planning of a few cases and change nothing
    # the demo's planner uses (strokeseg.planners.fingerprint)
    return DemoRunSettings(NnunetSettings(study.paths, device, workers, env,
                                          fingerprint_extractor=StrokesegFingerprintExtractor.__name__))


def prepare_folder(out: Path, settings: Mapping[str, Any], overwrite: bool) -> None:
    """Create or check the demo folder ``out`` for a run with ``settings``.

    A demo with the same settings is resumed (also with ``overwrite``); one with other settings is deleted
    with ``overwrite``.

    Raises:
        OutputExistsError: ``out`` holds other data (never deleted), or a demo with other settings and
            ``overwrite`` is false.
    """
    marker = out / DEMO_MARKER
    if out.exists() and any(out.iterdir()):
        if not marker.is_file():
            raise OutputExistsError(f"{out} is not empty and was not written by `strokeseg demo`; refusing to use or "
                                    "delete it (even with --overwrite); choose another --out")
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("settings")
        if recorded == json.loads(json.dumps(settings)):
            logger.info("resuming the demo in %s", out)
            return
        if not overwrite:
            changed = _difference(recorded, settings)
            raise OutputExistsError(f"{out} holds a demo run with other settings ({changed}); pass --overwrite "
                                    "to replace it, or choose another --out")
        logger.info("--overwrite: deleting the earlier demo in %s (other settings)", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, {"written_by": "strokeseg demo", "settings": settings})


def _difference(recorded: Any, settings: Mapping[str, Any]) -> str:
    if not isinstance(recorded, dict):
        return "unreadable settings"
    changed = sorted(key for key in set(recorded) | set(settings) if recorded.get(key) != settings.get(key))
    return ", ".join(f"{key}: {recorded.get(key)!r} then, {settings.get(key)!r} now" for key in changed[:3])


def run_jobs(graph: JobGraph, settings: RunSettings, stream: TextIO | None = None,
             overwrite: bool = False) -> RunReport:
    """Run the jobs that are not done with a progress line each (``[3/16] title ...``) on ``stream``.

    ``overwrite``: also rerun jobs that finished under another configuration (replacing their outputs).

    Raises:
        OutputExistsError: jobs finished under another configuration and ``overwrite`` is false.
        JobFailedError: a job failed (the message names it, its error and its log; the jobs that do not need
            it ran, and every finished job stays done for the next run).
    """
    report = run_graph(graph, settings, overwrite=overwrite, progress=stream)
    if report.failed:
        first = report.failed[0]
        raise JobFailedError(f"demo job {first} failed: {failure_message(graph, first)}; fix the cause and run the "
                             "demo again (finished jobs are kept)")
    return report


def run_demo(out: Path, profile_name: str = DEFAULT_PROFILE, device: str = "auto", workers: int | None = None,
             overwrite: bool = False, stream: TextIO | None = None) -> RunReport:
    """Run (or resume) the demo into ``out``.

    Args:
        out: the demo folder (created; an earlier demo run there is resumed).
        profile_name: ``smoke``, ``cpu-small`` or ``gpu`` (see ``profiles``).
        device: ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu`` or ``cuda``; resolved here, on the
            machine that runs the jobs.
        workers: processes for generation, conversion, preprocessing, prediction and evaluation (default: the
            usable cores, at most 8).
        overwrite: replace an earlier demo run in ``out`` made with other settings, and jobs finished under
            another configuration (a folder not written by the demo is never deleted).
        stream: where the progress lines go (None: nowhere).

    Raises:
        OutputExistsError: ``out`` holds other data, or a demo run with other settings.
        ConfigurationError: unknown profile, or ``cuda`` without a GPU.
        JobFailedError: a job failed.
    """
    profile = get_profile(profile_name)
    device = resolve_device(device)
    study = DemoStudy(Path(out), profile)
    settings = run_settings(study, device, workers or default_workers())
    # the device and the number of workers do not change results that matter; the profile does
    prepare_folder(study.out, {"profile": profile.as_dict()}, overwrite)
    logger.info("demo profile %s on %s with %d worker(s) in %s", profile.name, device, settings.nnunet.processes,
                study.out)
    return run_jobs(build_demo_graph(study), settings, stream, overwrite)
