"""``kind: zoom-ablation`` (Tomita et al., ablation table): the zoom-in model vs. the zoom-in & out model.

Two forms:

* **in-run** (no ``arms``; the paper's ablation): one training run per fold of ``trainer``, a zoom-in & out
  trainer that keeps its zoom-in result and snapshots of the zoom-out phase (``nnUNetTrainer_strokeseg_Tomita2020``
  and its CPU twin). The test set is predicted with the same run's zoom-in result ("-F", ``checkpoint_zoomin.pth``),
  its final model, and the snapshot ensemble ("-E": each snapshot predicts with probabilities, then
  ``nnUNetv2_ensemble`` averages them); the three are evaluated side by side.
* **arms**: every arm (trainer + configuration) trains every fold (``train/<arm>/fold_<k>``) and predicts the test
  set with the ensemble of its folds (separately trained models).

The zoom configurations share 3d_fullres's preprocessed data, so only 3d_fullres is preprocessed.
"""

from __future__ import annotations

from strokeseg.errors import ConfigurationError
from strokeseg.experiments.graph import safe_name
from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel
from strokeseg.nnunet.ext_trainer import find_trainer_class
from strokeseg.nnunet.zoom_configurations import ZOOM_IN_CHECKPOINT, snapshot_checkpoint

#: Configurations the zoom ablation preprocesses: the zoom configurations share 3d_fullres's data.
ZOOM_PREPROCESS: tuple[str, ...] = ("3d_fullres",)
#: Names of the in-run ablation's models (the paper's "-F", final and "-E" models).
ZOOM_IN_MODEL, FINAL_MODEL, SNAPSHOT_ENSEMBLE_MODEL = "zoom-in (-F)", "final", "snapshot ensemble (-E)"


def build(study: StudyBuilder) -> None:
    """Add the ablation's jobs to ``study``."""
    c = study.config
    study.require_test_set(c.dataset)
    planned = study.plan(c.dataset, configurations=ZOOM_PREPROCESS)
    models, waits = (_in_run_models(study, planned) if not c.arms else _arm_models(study, planned))
    evaluated, report = study.evaluate("test", c.dataset, models, waits)
    study.aggregate({"evaluation": str(report), "arms": [m.name for m in models]}, (evaluated,))


def _arm_models(study: StudyBuilder, planned: str) -> tuple[list[EvaluatedModel], tuple[str, ...]]:
    c = study.config
    models, waits = [], []
    for arm in c.arms:
        name = safe_name(arm.name)
        model = study.model(c.dataset, arm.trainer, configuration=arm.configuration)
        trained = tuple(study.train(f"{name}/fold_{fold}", model, fold, (planned,)) for fold in c.folds)
        job, folders = study.predict(name, model, c.folds, {"test": c.dataset}, trained)
        waits.append(job)
        models.append(EvaluatedModel(name, folders["test"]))
    return models, tuple(waits)


def kept_checkpoints(trainer: str) -> tuple[int, ...]:
    """The zoom-out snapshot epochs of ``trainer``, which must also keep its zoom-in result.

    Raises:
        ConfigurationError: nnU-Net does not find the trainer, or it keeps no zoom-in result or no snapshots.
    """
    found = find_trainer_class(trainer)
    if found is None:
        raise ConfigurationError(f"trainer {trainer!r} not found; run `strokeseg nnunet install` or check the name")
    snapshots = tuple(getattr(found, "snapshot_epochs", ()))
    if not getattr(found, "keep_zoom_in_checkpoint", False) or not snapshots:
        raise ConfigurationError(f"{trainer} keeps no zoom-in result and zoom-out snapshots, which an in-run zoom "
                                 "ablation compares; use nnUNetTrainer_strokeseg_Tomita2020 (or its _CPU twin), or "
                                 "list separately trained arms")
    return snapshots


def _in_run_models(study: StudyBuilder, planned: str) -> tuple[list[EvaluatedModel], tuple[str, ...]]:
    c = study.config
    snapshots = kept_checkpoints(c.trainer)
    model = study.model(c.dataset)
    test = {"test": c.dataset}
    trained = tuple(study.train(f"zoom_in_out/fold_{fold}", model, fold, (planned,)) for fold in c.folds)
    zoom_in_job, zoom_in = study.predict("zoom_in", model, c.folds, test, trained, checkpoint=ZOOM_IN_CHECKPOINT)
    final_job, final = study.predict("final", model, c.folds, test, trained)
    members, member_jobs = [], []
    for epoch in snapshots:
        job, folders = study.predict(f"snapshot_{epoch:03d}", model, c.folds, test, trained, save_probabilities=True,
                                     checkpoint=snapshot_checkpoint(epoch))
        member_jobs.append(job)
        members.append(folders["test"])
    ensemble_job, ensemble = study.ensemble("snapshot_ensemble", "test", members, tuple(member_jobs))
    models = [EvaluatedModel(ZOOM_IN_MODEL, zoom_in["test"]), EvaluatedModel(FINAL_MODEL, final["test"]),
              EvaluatedModel(SNAPSHOT_ENSEMBLE_MODEL, ensemble, probability_folders=tuple(members))]
    return models, (zoom_in_job, final_job, ensemble_job)
