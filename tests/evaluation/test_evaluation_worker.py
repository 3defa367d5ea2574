"""One case from its files: reoriented predictions, bad label maps, the ensemble definition, the ignore label."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import flipped, permuted, shifted, volume, write_volume

from strokeseg.evaluation.case_metrics import evaluate_pair
from strokeseg.evaluation.worker import (
    REORIENTED_NOTE,
    CaseTask,
    EvaluationSettings,
    evaluate_case_files,
    probability_metrics,
)

SPACING_XYZ = (1.0, 1.2, 2.0)


def _pair() -> tuple[np.ndarray, np.ndarray]:
    reference = np.zeros((6, 12, 10), dtype=np.uint8)
    reference[2:5, 3:9, 2:6] = 1
    prediction = np.zeros_like(reference)
    prediction[2:4, 4:10, 3:8] = 1  # an asymmetric overlap: a flip or permutation read voxelwise scores otherwise
    return reference, prediction


def _run(tmp_path: Path, prediction, reference=None, **settings) -> dict:
    reference = _pair()[0] if reference is None else reference
    task = CaseTask("m", "case_1", write_volume(tmp_path / "ref.nii.gz", reference, SPACING_XYZ),
                    write_volume(tmp_path / "pred.nii.gz", prediction, SPACING_XYZ))
    return evaluate_case_files(task, EvaluationSettings(**settings))


@pytest.mark.parametrize("reorient", [flipped, permuted])
def test_a_flipped_or_permuted_prediction_is_reoriented_not_compared_voxelwise(tmp_path: Path, reorient) -> None:
    reference, prediction = _pair()
    truth = evaluate_pair(reference.astype(bool), prediction.astype(bool), tuple(reversed(SPACING_XYZ))).as_row()
    row = _run(tmp_path, reorient(volume(prediction, SPACING_XYZ)))
    assert row["status"] == "ok" and row["note"] == REORIENTED_NOTE
    assert row["dice"] == pytest.approx(truth["dice"])
    assert row["hd95"] == pytest.approx(truth["hd95"])
    assert row["vol_pred_ml"] == pytest.approx(truth["vol_pred_ml"])


def test_a_shifted_prediction_is_a_grid_mismatch(tmp_path: Path) -> None:
    row = _run(tmp_path, shifted(volume(_pair()[1], SPACING_XYZ)))
    assert row["status"] == "grid_mismatch" and "origin" in row["note"]


@pytest.mark.parametrize(("prediction", "message"), [
    (np.full((6, 12, 10), -1, dtype=np.int16), "prediction .*pred.nii.gz holds negative values"),
    (np.full((6, 12, 10), 0.3, dtype=np.float32), "prediction .*pred.nii.gz holds non-integer values"),
    (np.zeros((2, 6, 12, 10), dtype=np.uint8), "4 dimensions"),
])
def test_maps_that_are_no_label_maps_are_named_problems(tmp_path: Path, prediction: np.ndarray,
                                                        message: str) -> None:
    reference = _pair()[0]
    if prediction.ndim == 4:
        reference = np.stack([reference, reference])
    row = _run(tmp_path, prediction, reference)
    assert row["status"] == "unreadable"
    assert re.search(message, row["note"])


def _members(prediction: np.ndarray) -> list[np.ndarray]:
    """Two members whose mean is 0.7 on ``prediction`` and 0.2 elsewhere, but which disagree voxel by voxel."""
    base = np.where(prediction > 0, 0.7, 0.2)
    return [base + 0.15, base - 0.15]


def test_an_ensemble_is_scored_by_soft_voting_and_its_labels_must_match(tmp_path: Path) -> None:
    reference, prediction = _pair()
    settings = EvaluationSettings()
    members = _members(prediction)
    values = probability_metrics(members, reference > 0, prediction > 0, prediction > 0, None, settings)
    assert values["uncertainty_index"] == pytest.approx(1.0)  # p̄ = 0.7 on every predicted voxel: unsure
    at_labels = evaluate_pair(reference > 0, prediction > 0, (1.0, 1.0, 1.0)).as_row()["dice"]
    everything = 2 * reference.sum() / (reference.sum() + reference.size)  # t = 0.2 marks every voxel
    assert values["max_dice"] == pytest.approx(max(at_labels, everything))
    assert values["max_dice_threshold"] == pytest.approx(0.7 if at_labels >= everything else 0.2)
    logit_like = prediction.copy()
    logit_like[0, 0, 0] = 1  # a label the soft vote (p̄ = 0.2 there) does not give
    with pytest.raises(Exception, match=r"differs in 1 voxel\(s\) from the soft-voting segmentation"):
        probability_metrics(members, reference > 0, logit_like > 0, logit_like > 0, None, settings)


def test_max_dice_leaves_out_ignore_label_voxels() -> None:
    reference = np.zeros((1, 1, 6), dtype=bool)
    reference[0, 0, :2] = True
    ignored = np.zeros_like(reference)
    ignored[0, 0, 4:] = True
    probability = np.array([[[0.9, 0.9, 0.1, 0.1, 0.95, 0.95]]])
    prediction = probability >= 0.5
    settings = EvaluationSettings(ignore_label=2)
    with_ignore = probability_metrics([probability], reference, prediction & ~ignored, prediction, ignored, settings)
    assert with_ignore["max_dice"] == pytest.approx(1.0)
    assert with_ignore["max_dice_threshold"] == pytest.approx(0.9)
    without = probability_metrics([probability], reference, prediction, prediction, None, settings)
    assert without["max_dice"] < 1.0
