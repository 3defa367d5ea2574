"""``kind: zoom-ablation`` (Tomita et al., Table 5): arms (trainer + configuration) on the same folds.

Every arm trains every fold (``train/<arm>/fold_<k>``) and predicts the test set with the ensemble of its folds.
The zoom configurations share 3d_fullres's preprocessed data, so only 3d_fullres is preprocessed.
"""

from __future__ import annotations

from strokeseg.experiments.graph import safe_name
from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel

#: Configurations the zoom ablation preprocesses: the zoom configurations share 3d_fullres's data.
ZOOM_PREPROCESS: tuple[str, ...] = ("3d_fullres",)


def build(study: StudyBuilder) -> None:
    """Add every arm's jobs to ``study``."""
    c = study.config
    study.require_test_set(c.dataset)
    planned = study.plan(c.dataset, configurations=ZOOM_PREPROCESS)
    models, waits = [], []
    for arm in c.arms:
        name = safe_name(arm.name)
        model = study.model(c.dataset, arm.trainer, configuration=arm.configuration)
        trained = tuple(study.train(f"{name}/fold_{fold}", model, fold, (planned,)) for fold in c.folds)
        job, folders = study.predict(name, model, c.folds, {"test": c.dataset}, trained)
        waits.append(job)
        models.append(EvaluatedModel(name, folders["test"]))
    evaluated, report = study.evaluate("test", c.dataset, models, tuple(waits))
    study.aggregate({"evaluation": str(report), "arms": [m.name for m in models]}, (evaluated,))
