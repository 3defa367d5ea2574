"""The demo's post-processing: fitted once on the source model's validation fold, applied to every prediction.

The fine-tuned model uses the same parameters: its own validation part (a fifth of the adaptation subsample,
one or two cases in the CPU profile) is too small to fit on.
"""

from __future__ import annotations

from collections.abc import Sequence

from strokeseg.demo.layout import FINETUNED, INTERNAL_ID, POSTPROCESSING_JSON, SOURCE, DemoRun
from strokeseg.errors import InputDataError
from strokeseg.nnunet.raw import find_dataset
from strokeseg.postprocessing.fitting import apply_postprocessing, fit_postprocessing


def fit_on_validation(run: DemoRun) -> None:
    """``strokeseg postprocess fit`` on fold 0's validation predictions (with probabilities: hysteresis too)."""
    model = run.source_model().folder(run.paths.raw)
    if model is None:
        raise InputDataError(f"Dataset{INTERNAL_ID} is missing from {run.paths.raw}; run the demo's earlier stages")
    references = find_dataset(run.paths.raw, str(INTERNAL_ID)) / "labelsTr"
    fit_postprocessing(model, references, run.out / POSTPROCESSING_JSON, overwrite=True)


def apply_to_predictions(run: DemoRun, test_sets: Sequence[str]) -> None:
    """``strokeseg postprocess apply`` on the source and fine-tuned predictions of every test set."""
    for model in (SOURCE, FINETUNED):
        for test_set in test_sets:
            apply_postprocessing(run.predictions(model) / test_set, run.out / POSTPROCESSING_JSON,
                                 run.postprocessed(model) / test_set, overwrite=True)
