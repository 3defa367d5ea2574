"""``kind: domain-adaptation`` (Noh et al., Table 2): pre-training sizes × adaptation sizes, before and after.

Model ``pre<n>`` trains on source fold k (learning-curve design in place); ``pre<n>_ft<m>`` fine-tunes it on
target fold j of a derived domain-adaptation dataset, with the source's plans moved to it
(``move-plans/<target>``). Every model predicts the source test set and the target test pool. ``target.grid``
restricts the fine-tuned pairs (Noh et al.: the full model with 50-1000 adaptation cases, the 217/433/866-case
models with 50/100/200); a ``single_site`` arm adds a model trained on one site's cases.
"""

from __future__ import annotations

from typing import Any

from strokeseg.experiments.graph import FINETUNE_FOLDER
from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel, ModelRef, MovePlansStep


def build(study: StudyBuilder) -> None:
    """Add the adaptation grid's jobs to ``study``."""
    c = study.config
    study.require_test_set(c.dataset)
    source_options: dict[str, Any] = c.learning_curve_options()
    target_options: dict[str, Any] = {"sizes": c.sizes, "test_fraction": c.test_fraction, "test_size": c.test_size,
                                      "train_fraction": c.train_fraction}
    if c.pool_size is not None:
        target_options["pool_size"] = c.pool_size
    source_plan = study.design(c.dataset, "learning-curve", **source_options)
    target_plan = study.design(c.target_dataset, "domain-adaptation", **target_options)
    source_split = study.split(c.dataset, "learning-curve", **source_options)
    target_split = study.split(c.target_dataset, "domain-adaptation", c.target_derived_id, **target_options)
    target = str(c.target_derived_id)
    planned = study.plan(c.dataset, (source_split,))
    moved_plans = f"{c.plans}_from_{study.dataset_tag(c.dataset)}"
    moved = study.graph.add(f"move-plans/{target}", MovePlansStep(c.dataset, target, c.plans, moved_plans,
                                                                  (c.configuration,)), (planned, target_split))
    test_sets = {"source_test": c.dataset, "target_test": target}
    evaluated: dict[str, list[EvaluatedModel]] = {name: [] for name in test_sets}
    waits: list[str] = []
    grid: list[dict[str, Any]] = []

    def predict_everywhere(name: str, model: ModelRef, fold: int, trained: str) -> None:
        job, folders = study.predict(name, model, (fold,), test_sets, (trained, target_split))
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
        source_model = study.model(c.dataset)
        trained = study.train(before, source_model, source_fold, (planned,))
        predict_everywhere(before, source_model, source_fold, trained)
        for target_fold, adaptation in enumerate(target_plan.folds):
            adaptation_cases = len(adaptation.train) + len(adaptation.val)
            if not c.fine_tunes(size, adaptation_cases):
                continue
            after = f"{before}_ft{adaptation_cases}"
            tuned_model = study.model(target, c.finetune_trainer, moved_plans,
                                      results=c.output / FINETUNE_FOLDER / before)
            tuned = study.train(after, tuned_model, target_fold, (moved, trained), source_model, source_fold)
            predict_everywhere(after, tuned_model, target_fold, tuned)
            grid.append({"pretraining_cases": size, "adaptation_cases": adaptation_cases,
                         "before": before, "after": after})
    site_arm = study.single_site_arm(c.dataset, test_sets)
    if site_arm is not None:
        waits.append(site_arm.job)
        for test_set, folder in site_arm.folders.items():
            evaluated[test_set].append(EvaluatedModel(site_arm.name, folder, training_cases=site_arm.cases))
    reports = {}
    for test_set, dataset in test_sets.items():
        _, reports[test_set] = study.evaluate(test_set, dataset, evaluated[test_set], tuple(waits))
    study.aggregate({"evaluations": {k: str(v) for k, v in reports.items()}, "grid": grid},
                    tuple(f"evaluate/{name}" for name in test_sets))
