"""``kind: learning-curve`` (Noh et al., Fig. 2): one model per nested training subsample, all on one test set.

Jobs: ``split/<dataset>`` (learning-curve design in place, fold k = subsample k), ``plan/<dataset>``,
``train/n<size>`` and ``predict/n<size>`` per subsample size, ``evaluate/test``, ``aggregate``. With a
``single_site`` arm, also a model trained on one site's cases (``site_<site>_n<size>``, a derived dataset).
"""

from __future__ import annotations

from typing import Any

from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel


def build(study: StudyBuilder) -> None:
    """Add the learning curve's jobs to ``study``."""
    c = study.config
    study.require_test_set(c.dataset)
    options: dict[str, Any] = c.learning_curve_options()
    plan = study.design(c.dataset, "learning-curve", **options)
    split = study.split(c.dataset, "learning-curve", **options)
    planned = study.plan(c.dataset, (split,))
    models: list[EvaluatedModel] = []
    predictions: list[str] = []
    for fold_index, fold in enumerate(plan.folds):
        size = len(fold.train) + len(fold.val)
        name = f"n{size}"
        if any(m.name == name for m in models):
            continue  # two fractions gave the same subsample (the split logs a warning)
        model = study.model(c.dataset)
        trained = study.train(name, model, fold_index, (planned,))
        job, folders = study.predict(name, model, (fold_index,), {"test": c.dataset}, (trained,))
        predictions.append(job)
        models.append(EvaluatedModel(name, folders["test"], training_cases=size))
    evaluated_models = list(models)
    site_arm = study.single_site_arm(c.dataset, {"test": c.dataset})
    if site_arm is not None:  # evaluated beside the curve, not a point of it
        predictions.append(site_arm.job)
        evaluated_models.append(EvaluatedModel(site_arm.name, site_arm.folders["test"], training_cases=site_arm.cases))
    evaluated, report = study.evaluate("test", c.dataset, evaluated_models, tuple(predictions))
    study.aggregate({"evaluation": str(report), "models": [m.name for m in models],
                     "training_cases": [m.training_cases for m in models]}, (evaluated,))
