"""``kind: learning-curve`` (Noh et al., Fig. 2): one model per nested training subsample, all on one test set.

Jobs: ``split/<dataset>`` (learning-curve design in place, fold k = subsample k), ``plan/<dataset>``,
``train/n<size>`` and ``predict/n<size>`` per subsample size (with ``split.draws`` D > 1 also ``n<size>_draw<k>``,
k = 2..D, for every size smaller than all cases), ``evaluate/test``, ``aggregate``. With a
``single_site`` arm, also a model trained on one site's cases (``site_<site>_n<size>``, a derived dataset). With a
``comparison`` arm (the registry study's Swin UNETR beside its U-Net), a second trainer on the same subsamples
(``train/<name>_n<size>``), evaluated in the same job on the same test cases and compared per size
(``learning_curve_comparison.csv`` / ``.png``).
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
    compared: list[EvaluatedModel] = []
    predictions: list[str] = []
    subsamples: dict[int, list[frozenset[str]]] = {}  # the distinct subsamples of each size, in fold order
    for fold_index, fold in enumerate(plan.folds):
        size = len(fold.train) + len(fold.val)
        cases, drawn = frozenset((*fold.train, *fold.val)), subsamples.setdefault(size, [])
        if cases in drawn:
            continue  # two fractions gave the same subsample (the split logs a warning)
        drawn.append(cases)
        name = f"n{size}" if len(drawn) == 1 else f"n{size}_draw{len(drawn)}"
        arms = [(name, c.trainer, models)]
        if c.comparison is not None:
            arms.append((f"{c.comparison.name}_{name}", c.comparison.trainer, compared))
        for arm_name, trainer, arm_models in arms:
            model = study.model(c.dataset, trainer)
            trained = study.train(arm_name, model, fold_index, (planned,))
            job, folders = study.predict(arm_name, model, (fold_index,), {"test": c.dataset}, (trained,))
            predictions.append(job)
            arm_models.append(EvaluatedModel(arm_name, folders["test"], training_cases=size))
    evaluated_models = models + compared
    site_arm = study.single_site_arm(c.dataset, {"test": c.dataset})
    if site_arm is not None:  # evaluated beside the curve, not a point of it
        predictions.append(site_arm.job)
        evaluated_models.append(EvaluatedModel(site_arm.name, site_arm.folders["test"], training_cases=site_arm.cases))
    evaluated, report = study.evaluate("test", c.dataset, evaluated_models, tuple(predictions))
    spec: dict[str, Any] = {"evaluation": str(report), "models": [m.name for m in models],
                            "training_cases": [m.training_cases for m in models]}
    if c.comparison is not None:
        spec["comparison"] = {"reference_trainer": c.trainer, "comparison_trainer": c.comparison.trainer,
                              "pairs": [{"training_cases": a.training_cases, "reference": a.name, "comparison": b.name}
                                        for a, b in zip(models, compared, strict=True)]}
    study.aggregate(spec, (evaluated,))
