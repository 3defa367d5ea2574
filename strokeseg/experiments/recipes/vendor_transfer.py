"""``kind: vendor-transfer`` (Alis et al.): one model per vendor, each fine-tuned on the other vendor.

Each vendor's cases become a derived dataset (80/10/10). Model ``<A>`` trains on A's fold 0; ``<A>_to_<B>``
fine-tunes it on B's validation part (fold 1 of B's preprocessed splits, written by ``move-plans``). The
source model predicts both vendors' test sets (internal, external), the fine-tuned one the target's.
"""

from __future__ import annotations

from strokeseg.experiments.graph import FINETUNE_FOLDER, safe_name
from strokeseg.experiments.recipes.study import StudyBuilder
from strokeseg.experiments.steps import EvaluatedModel, ModelRef, MovePlansStep


def build(study: StudyBuilder) -> None:
    """Add both transfer directions' jobs to ``study``."""
    c = study.config
    groups = {v.group: str(v.derived_id) for v in c.vendors}
    splits, plans = {}, {}
    options = {"column": c.vendor_column, "fractions": c.vendor_fractions}
    for group, derived in groups.items():
        study.design(c.dataset, "vendor", group=group, **options)
        splits[group] = study.split(c.dataset, "vendor", int(derived), group=group, **options)
        plans[group] = study.plan(derived, (splits[group],))
    evaluated: dict[str, list[EvaluatedModel]] = {group: [] for group in groups}
    waits, directions = [], []
    trained: dict[str, tuple[str, ModelRef]] = {}
    for group, derived in groups.items():
        model = study.model(derived)
        trained[group] = (study.train(safe_name(group), model, 0, (plans[group],)), model)
    for group, other in ((a, z) for a in groups for z in groups if a != z):
        moved_plans = f"{c.plans}_from_{groups[group]}"
        moved = study.graph.add(f"move-plans/{groups[other]}_from_{groups[group]}",
                                MovePlansStep(groups[group], groups[other], c.plans, moved_plans, (c.configuration,),
                                              finetune_fold=True), (plans[group], plans[other]))
        name, tuned_name = safe_name(group), safe_name(f"{group}_to_{other}")
        tuned_model = study.model(groups[other], c.finetune_trainer, moved_plans,
                                  results=c.output / FINETUNE_FOLDER / name)
        tuned = study.train(tuned_name, tuned_model, 1, (moved, trained[group][0]), trained[group][1], 0)
        # the source model on both vendors' test sets (internal, external), the fine-tuned one on the target's
        for model_name, model, fold, job, test_groups in (
                (name, trained[group][1], 0, trained[group][0], (group, other)),
                (tuned_name, tuned_model, 1, tuned, (other,))):
            predicted, folders = study.predict(model_name, model, (fold,),
                                               {safe_name(g): groups[g] for g in test_groups},
                                               (job, *(splits[g] for g in test_groups)))
            waits.append(predicted)
            for test_group in test_groups:
                evaluated[test_group].append(EvaluatedModel(model_name, folders[safe_name(test_group)]))
        directions.append({"source": group, "target": other, "model": name, "finetuned": tuned_name})
    reports = {}
    for group in groups:
        _, report = study.evaluate(safe_name(group), groups[group], evaluated[group], tuple(waits))
        reports[group] = str(report)
    study.aggregate({"evaluations": reports, "directions": directions},
                    tuple(f"evaluate/{safe_name(group)}" for group in groups))
