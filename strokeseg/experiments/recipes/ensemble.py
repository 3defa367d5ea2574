"""``kind: ensemble`` (Kim et al.): K members on the folds of the ensemble split, and their mean.

Member k trains fold k; every member predicts the test set with its probabilities, and the ensemble
(``-f 0 .. K-1``, nnU-Net's mean of the members' probabilities) too. The evaluation gives the ensemble every
member's probabilities (uncertainty index).
"""

from __future__ import annotations

from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel


def build(study: StudyBuilder) -> None:
    """Add the members' and the ensemble's jobs to ``study``."""
    c = study.config
    study.require_test_set(c.dataset)
    options = {"members": c.members, "subset_fraction": c.subset_fraction}
    study.design(c.dataset, "ensemble", **options)
    split = study.split(c.dataset, "ensemble", None, **options)
    planned = study.plan(c.dataset, (split,))
    model = study.model(c.dataset)
    members, trained, waits = [], [], []
    for member in range(c.members):
        name = f"member_{member}"
        trained.append(study.train(name, model, member, (planned,)))
        job, folders = study.predict(name, model, (member,), {"test": c.dataset}, (trained[-1],),
                                     save_probabilities=True)
        waits.append(job)
        members.append(EvaluatedModel(name, folders["test"], probability_folders=(folders["test"],)))
    job, folders = study.predict("ensemble", model, tuple(range(c.members)), {"test": c.dataset}, tuple(trained))
    waits.append(job)
    ensemble = EvaluatedModel("ensemble", folders["test"], probability_folders=tuple(m.predictions for m in members))
    evaluated, report = study.evaluate("test", c.dataset, [ensemble, *members], tuple(waits))
    study.aggregate({"evaluation": str(report), "ensemble": "ensemble", "members": [m.name for m in members]},
                    (evaluated,))
