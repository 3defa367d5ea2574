"""The demo study: Noh et al.'s DWI study in miniature on a phantom registry, through the stock nnU-Net tools.

Stages (each skipped when an earlier run finished it):

1. ``generate``: phantom registry of three hospitals / vendors (``strokeseg synth``); HospitalC is external.
2. ``convert-internal``, ``convert-external``: the registry converter writes Dataset980 (internal, 20 % test
   cases in imagesTs) and Dataset982 (external), DWI + ADC.
3. ``split``: the internal training cases 8:2 train/validation (fold 0 of ``splits_final.json``); the external
   cohort's domain-adaptation split, derived dataset Dataset983 (fixed test pool in imagesTs, adaptation
   subsample as fold 0).
4. ``plan``: ``nnUNetv2_plan_and_preprocess -pl StrokeDWIPlanner`` (skull strip, N4, histogram-peak; zoom-in & out
   configurations).
5. ``train``: ``nnUNetv2_train 980 3d_zoomout 0 -tr <zoom-in & out trainer> --npz`` on the internal hospitals.
6. ``predict-source``: ``nnUNetv2_predict`` of the internal and the external test sets.
7. ``postprocess-fit``: ``strokeseg postprocess fit`` on the validation fold of step 5.
8. ``move-plans``: the source plans moved to Dataset983 and the external cases preprocessed with them.
9. ``finetune``: ``nnUNetv2_train 983 3d_zoomout 0 -tr <fine-tuning trainer> -pretrained_weights <step 5>``.
10. ``predict-finetuned``: the fine-tuned model on both test sets.
11. ``postprocess-apply``: the fitted post-processing on all four prediction folders.
12. ``evaluate-internal``, ``evaluate-external``: ``strokeseg evaluate`` with strata by volume, onset,
    location (the registry's recorded location) and vendor; models ``source`` and ``finetuned`` (the networks'
    predictions) and ``source_pp``, ``finetuned_pp`` (post-processed); ``source`` is the paired tests' baseline.
13. ``compare``: the domain-adaptation table before vs after fine-tuning with paired tests, on both test sets.
14. ``summary``: ``SUMMARY.md``.

The folder layout is in ``strokeseg.demo.layout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from strokeseg.demo.cohort import EXTERNAL_MANIFEST, INTERNAL_MANIFEST, convert_manifest, generate_registry
from strokeseg.demo.layout import (
    ADAPTATION_ID,
    CONFIGURATION,
    EXTERNAL_ID,
    EXTERNAL_NAME,
    FINETUNED,
    FINETUNED_PP,
    INTERNAL_ID,
    INTERNAL_NAME,
    PLANNER,
    POSTPROCESSING_JSON,
    SOURCE,
    SOURCE_PP,
    TEST_SETS,
    DemoRun,
    internal_training_cases,
)
from strokeseg.demo.postprocess import apply_to_predictions, fit_on_validation
from strokeseg.demo.stages import Stage
from strokeseg.demo.summary import write_summary
from strokeseg.experiments.config import EvaluationSettings
from strokeseg.experiments.steps import (
    AggregateStep,
    EvaluatedModel,
    EvaluateStep,
    MovePlansStep,
    PlanStep,
    PredictStep,
    RunContext,
    SplitStep,
    TrainStep,
)
from strokeseg.nnunet.plans import target_spacing_arguments


def build_stages(run: DemoRun) -> list[Stage]:
    """The demo's stages in order (see the module docstring)."""
    profile, raw = run.profile, run.paths.raw
    cohort = run.out / "cohort"
    source, finetuned = run.source_model(), run.finetuned_model()
    internal_split = SplitStep(str(INTERNAL_ID), "learning-curve",
                               (("fractions", (1.0,)), ("seed", profile.seed)))
    adaptation_split = SplitStep(str(EXTERNAL_ID), "domain-adaptation",
                                 (("seed", profile.seed), ("sizes", (profile.adaptation_cases,)),
                                  ("test_size", profile.external_test_cases)), ADAPTATION_ID)
    plan = PlanStep(str(INTERNAL_ID), PLANNER, run.plans, ("3d_fullres",),
                    target_spacing_arguments(profile.target_spacing_mm, run.plans))
    move = MovePlansStep(str(INTERNAL_ID), str(ADAPTATION_ID), run.plans, run.moved_plans, ("3d_fullres",))
    train = TrainStep(source, 0, extra_arguments=("--npz",))
    finetune = TrainStep(finetuned, 0, pretrained=source, pretrained_fold=0)
    test_sets = tuple(TEST_SETS.items())
    predict_source = PredictStep(source, (0,), test_sets, run.predictions(SOURCE), save_probabilities=True)
    predict_finetuned = PredictStep(finetuned, (0,), test_sets, run.predictions(FINETUNED), save_probabilities=True)
    evaluation = EvaluationSettings(bootstrap_resamples=profile.bootstrap_resamples, jobs=run.workers)

    def evaluate(test_set: str) -> EvaluateStep:
        models = (EvaluatedModel(SOURCE, run.predictions(SOURCE) / test_set),
                  EvaluatedModel(FINETUNED, run.predictions(FINETUNED) / test_set),
                  EvaluatedModel(SOURCE_PP, run.postprocessed(SOURCE) / test_set),
                  EvaluatedModel(FINETUNED_PP, run.postprocessed(FINETUNED) / test_set))
        return EvaluateStep(TEST_SETS[test_set], models, run.evaluation(test_set), evaluation)

    evaluations = {name: evaluate(name) for name in TEST_SETS}

    def compare() -> AggregateStep:
        """The adaptation table's step; the pre-training size is known once the internal split exists."""
        pretraining = internal_training_cases(run)
        return AggregateStep("domain-adaptation", "strokeseg demo: domain adaptation", run.results,
                             {"evaluations": {name: str(run.evaluation(name)) for name in TEST_SETS},
                              "grid": [{"pretraining_cases": pretraining, "adaptation_cases": profile.adaptation_cases,
                                        "before": SOURCE, "after": FINETUNED}]})

    def dataset(dataset_id: int, name: str) -> list[Path]:
        return [raw / f"Dataset{dataset_id:03d}_{name}" / "dataset.json"]

    def step_stage(name: str, title: str, step: PlanStep | MovePlansStep | TrainStep | PredictStep | EvaluateStep,
                   nnunet_log: bool = True) -> Stage:
        context = run.context(name)
        return Stage(name, title, lambda: step.run(context), lambda: step.outputs(context),
                     context.log if nnunet_log else None)

    return [
        Stage("generate", f"phantom registry: {profile.total_cases} cases from 3 hospitals (strokeseg synth)",
              lambda: generate_registry(cohort, profile, run.workers),
              lambda: [cohort / INTERNAL_MANIFEST, cohort / EXTERNAL_MANIFEST]),
        Stage("convert-internal", f"registry converter: internal hospitals -> Dataset{INTERNAL_ID}",
              lambda: convert_manifest(cohort / INTERNAL_MANIFEST, raw, INTERNAL_ID, INTERNAL_NAME, run.workers),
              lambda: dataset(INTERNAL_ID, INTERNAL_NAME)),
        Stage("convert-external", f"registry converter: external hospital -> Dataset{EXTERNAL_ID}",
              lambda: convert_manifest(cohort / EXTERNAL_MANIFEST, raw, EXTERNAL_ID, EXTERNAL_NAME, run.workers),
              lambda: dataset(EXTERNAL_ID, EXTERNAL_NAME)),
        Stage("split", "splits: internal 8:2 train/validation; external test pool + adaptation subsample",
              lambda: _run_all((internal_split, adaptation_split), run.context("split")),
              lambda: [*internal_split.outputs(run.context("split")), *adaptation_split.outputs(run.context("split"))]),
        step_stage("plan", f"nnUNetv2_plan_and_preprocess -pl {PLANNER}", plan),
        step_stage("train", f"nnUNetv2_train {INTERNAL_ID} {CONFIGURATION} 0 -tr {profile.trainer}", train),
        step_stage("predict-source", "nnUNetv2_predict: source model on the internal and external test sets",
                   predict_source),
        Stage("postprocess-fit", "strokeseg postprocess fit on the source model's validation fold",
              lambda: fit_on_validation(run), lambda: [run.out / POSTPROCESSING_JSON]),
        step_stage("move-plans", f"move the source plans to Dataset{ADAPTATION_ID} and preprocess it", move),
        step_stage("finetune", f"nnUNetv2_train {ADAPTATION_ID} {CONFIGURATION} 0 -tr {profile.finetune_trainer} "
                               "-pretrained_weights <source>", finetune),
        step_stage("predict-finetuned", "nnUNetv2_predict: fine-tuned model on both test sets", predict_finetuned),
        Stage("postprocess-apply", "strokeseg postprocess apply on every prediction folder",
              lambda: apply_to_predictions(run, tuple(TEST_SETS)),
              lambda: [run.postprocessed(model) / test_set / "postprocessing.json"
                       for model in (SOURCE, FINETUNED) for test_set in TEST_SETS]),
        step_stage("evaluate-internal", "strokeseg evaluate: internal test set, strata by volume, onset, location, "
                                        "vendor", evaluations["internal_test"], nnunet_log=False),
        step_stage("evaluate-external", "strokeseg evaluate: external test set", evaluations["external_test"],
                   nnunet_log=False),
        Stage("compare", "domain adaptation: before vs after fine-tuning, paired tests",
              lambda: compare().run(run.context("compare")), lambda: [run.results / "summary.md"]),
        Stage("summary", "SUMMARY.md", lambda: write_summary(run), lambda: [run.out / "SUMMARY.md"]),
    ]


def _run_all(steps: Sequence[SplitStep], context: RunContext) -> None:
    for step in steps:
        step.run(context)
