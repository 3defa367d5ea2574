"""Choosing the minimum component volume on validation cases (pure computation, no files).

Removing whole components never merges or splits the others, so the effect of every threshold on every
case follows from one table of the case's predicted components: volume (mL), voxels, voxels overlapping
the reference, and the reference lesions each one touches. :func:`sweep_min_volume` removes components in
increasing order of volume and updates the per-case scores incrementally, which gives the exact mean score
of every possible threshold in one pass (docs/evaluation.md definitions: Dice, lesion F1 with the both-empty
convention 1.0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.evaluation import ConfusionCounts, LesionCounts, dice, lesion_f1
from strokeseg.lesions import label_lesions
from strokeseg.postprocessing.choices import OBJECTIVES


@dataclass(frozen=True)
class CaseComponents:
    """The predicted components of one case and how they meet the reference.

    Attributes:
        volumes_ml: volume of each predicted component (mL).
        voxels: voxels of each component.
        overlap_voxels: voxels of each component inside the reference.
        touched: for each component, the reference lesion labels (1..n) it overlaps.
        reference_voxels: |R|.
        reference_lesions: number of reference lesions (components).
        reference_volumes_ml: volume of each reference lesion (mL).
    """

    volumes_ml: np.ndarray
    voxels: np.ndarray
    overlap_voxels: np.ndarray
    touched: tuple[np.ndarray, ...]
    reference_voxels: int
    reference_lesions: int
    reference_volumes_ml: np.ndarray = field(default_factory=lambda: np.zeros(0))


def case_components(prediction: np.ndarray, reference: np.ndarray, voxel_ml: float,
                    connectivity: int = LESION_CONNECTIVITY) -> CaseComponents:
    """Component table of one case from boolean masks on one grid."""
    prediction = np.asarray(prediction, dtype=bool)
    reference = np.asarray(reference, dtype=bool)
    if prediction.shape != reference.shape:
        raise ValueError(f"prediction {prediction.shape} and reference {reference.shape} differ in shape")
    predicted_labels, n_predicted = label_lesions(prediction, connectivity)
    reference_labels, n_reference = label_lesions(reference, connectivity)
    voxels = np.bincount(predicted_labels.ravel(), minlength=n_predicted + 1)[1:]
    both = prediction & reference
    overlap = np.bincount(predicted_labels[both], minlength=n_predicted + 1)[1:]
    pairs = np.unique(np.stack([predicted_labels[both], reference_labels[both]]), axis=1)
    touched = tuple(pairs[1, pairs[0] == label] for label in range(1, n_predicted + 1))
    return CaseComponents(volumes_ml=voxels.astype(np.float64) * voxel_ml, voxels=voxels, overlap_voxels=overlap,
                          touched=touched, reference_voxels=int(np.count_nonzero(reference)),
                          reference_lesions=n_reference,
                          reference_volumes_ml=np.bincount(reference_labels.ravel(), minlength=n_reference + 1)[1:]
                          * voxel_ml)


@dataclass(frozen=True)
class ValidationScores:
    """Mean per-case scores of a set of validation cases."""

    mean_dice: float
    mean_lesion_f1: float
    n_cases: int

    def objective(self, name: str) -> float:
        """The score ``fit`` maximises for objective ``name``."""
        return {"dice": self.mean_dice, "lesion_f1": self.mean_lesion_f1}[check_objective(name)]


def check_objective(objective: str) -> str:
    """Return ``objective`` if it is one of :data:`OBJECTIVES`, else raise ValueError."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return objective


class _CaseState:
    """Incremental Dice / lesion F1 of one case while components are removed."""

    def __init__(self, case: CaseComponents) -> None:
        self.case = case
        self.tp = int(case.overlap_voxels.sum())
        self.predicted = int(case.voxels.sum())
        self.false_lesions = int(np.count_nonzero(case.overlap_voxels == 0))
        self.predicted_lesions = len(case.voxels)
        self.hits = np.zeros(case.reference_lesions + 1, dtype=np.int64)
        for labels in case.touched:
            self.hits[labels] += 1

    def remove(self, index: int) -> None:
        self.tp -= int(self.case.overlap_voxels[index])
        self.predicted -= int(self.case.voxels[index])
        self.predicted_lesions -= 1
        if self.case.overlap_voxels[index] == 0:
            self.false_lesions -= 1
        self.hits[self.case.touched[index]] -= 1

    @property
    def detected_lesions(self) -> int:
        return int(np.count_nonzero(self.hits[1:]))

    def score(self, objective: str) -> float:
        if objective == "dice":
            return dice(ConfusionCounts(self.tp, self.predicted - self.tp, self.case.reference_voxels - self.tp))
        detected = self.detected_lesions
        return lesion_f1(LesionCounts(tp=detected, fp=self.false_lesions, fn=self.case.reference_lesions - detected,
                                      n_reference=self.case.reference_lesions, n_prediction=self.predicted_lesions))


@dataclass(frozen=True)
class SweepResult:
    """Best minimum volume of one component table set.

    Attributes:
        min_volume_ml: the chosen threshold (0: remove nothing); midway between the largest removed and the
            smallest kept component volume of the validation cases, and never above the sweep's cap.
        score: mean objective at that threshold.
        unprocessed_score: mean objective without removal.
        feasible: False when the tables detect fewer reference lesions than required before anything is
            removed (then ``min_volume_ml`` is 0 and ``score`` the unprocessed score).
    """

    min_volume_ml: float
    score: float
    unprocessed_score: float
    feasible: bool = True


def sweep_min_volume(cases: Sequence[CaseComponents], objective: str = "dice", *,
                     max_volume_ml: float = math.inf, min_detected_lesions: int = 0) -> SweepResult:
    """The minimum component volume that maximises the mean objective over ``cases`` (exact over all thresholds).

    Ties go to the smaller threshold (the least removal), so a threshold is chosen only when it improves
    the validation score.

    Args:
        cases: component tables of the validation cases.
        objective: ``dice`` or ``lesion_f1``.
        max_volume_ml: the threshold never exceeds this (mL), so no component of this volume or larger is
            ever removed (the small-lesion guard).
        min_detected_lesions: thresholds after which fewer reference lesions (all cases together) are
            detected are not considered (lesion-wise sensitivity must not drop below this count).
    """
    check_objective(objective)
    if not cases:
        raise ValueError("no validation cases to fit on")
    states = [_CaseState(case) for case in cases]
    scores = np.array([state.score(objective) for state in states])
    total = float(scores.sum())
    unprocessed = best = total
    n = len(cases)
    detected = sum(state.detected_lesions for state in states)
    if detected < min_detected_lesions:
        return SweepResult(0.0, unprocessed / n, unprocessed / n, feasible=False)
    best_threshold = 0.0
    order = sorted((float(volume), case_index, component)
                   for case_index, case in enumerate(cases) for component, volume in enumerate(case.volumes_ml))
    position = 0
    while position < len(order) and order[position][0] < max_volume_ml:
        volume = order[position][0]
        touched_cases = set()
        while position < len(order) and order[position][0] == volume:  # remove every component of this volume
            _, case_index, component = order[position]
            detected -= states[case_index].detected_lesions
            states[case_index].remove(component)
            detected += states[case_index].detected_lesions
            touched_cases.add(case_index)
            position += 1
        if detected < min_detected_lesions:  # removal only ever loses lesions: larger thresholds are worse
            break
        for case_index in touched_cases:
            new = states[case_index].score(objective)
            total += new - scores[case_index]
            scores[case_index] = new
        if total > best + 1e-12:
            best = total
            following = order[position][0] if position < len(order) else 2.0 * volume
            best_threshold = min((volume + following) / 2.0, max_volume_ml)
    return SweepResult(min_volume_ml=best_threshold, score=best / n, unprocessed_score=unprocessed / n)


@dataclass(frozen=True)
class CaseScores:
    """Per-case scores of a set of validation cases after removing components below one threshold.

    Attributes:
        dice: Dice of each case.
        lesion_f1: lesion F1 of each case.
        detected_lesions: reference lesions touched by a kept component, all cases together.
        reference_lesions: reference lesions, all cases together.
    """

    dice: np.ndarray
    lesion_f1: np.ndarray
    detected_lesions: int
    reference_lesions: int

    def of(self, objective: str) -> np.ndarray:
        """The per-case values of ``objective``."""
        return {"dice": self.dice, "lesion_f1": self.lesion_f1}[check_objective(objective)]

    @property
    def lesion_sensitivity(self) -> float:
        """Detected / reference lesions of all cases together (NaN without reference lesions)."""
        return self.detected_lesions / self.reference_lesions if self.reference_lesions else math.nan


def case_scores(cases: Sequence[CaseComponents], min_volume_ml: float = 0.0) -> CaseScores:
    """Per-case Dice and lesion F1 of ``cases`` after removing components below ``min_volume_ml`` (mL)."""
    dices, f1s, detected = [], [], 0
    for case in cases:
        state = _CaseState(case)
        for index in np.flatnonzero(case.volumes_ml < min_volume_ml):
            state.remove(int(index))
        dices.append(state.score("dice"))
        f1s.append(state.score("lesion_f1"))
        detected += state.detected_lesions
    return CaseScores(np.asarray(dices, dtype=np.float64), np.asarray(f1s, dtype=np.float64), detected,
                      sum(case.reference_lesions for case in cases))


def validation_scores(cases: Sequence[CaseComponents], min_volume_ml: float = 0.0) -> ValidationScores:
    """Mean Dice and mean lesion F1 of ``cases`` after removing components below ``min_volume_ml``."""
    scores = case_scores(cases, min_volume_ml)
    return ValidationScores(float(np.mean(scores.dice)) if len(cases) else float("nan"),
                            float(np.mean(scores.lesion_f1)) if len(cases) else float("nan"), len(cases))


def reference_lesion_volumes(cases: Sequence[CaseComponents]) -> np.ndarray:
    """Volumes (mL) of every reference lesion of ``cases``, in case order."""
    return np.concatenate([case.reference_volumes_ml for case in cases]) if cases else np.zeros(0)
