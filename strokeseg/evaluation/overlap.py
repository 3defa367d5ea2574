"""Voxel-wise overlap metrics from confusion counts (definitions: docs/evaluation.md, "Definitions", "Overlap").

R is the reference mask, P the predicted mask. Every function here works on counts, so that the same
formulas serve one case, a stratum, or a whole dataset (micro Dice), and both evaluation engines.
Volumes are in mL (1 mL = 1000 mm³).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConfusionCounts:
    """Voxel counts of one case: ``tp`` = |R ∩ P|, ``fp`` = |P \\ R|, ``fn`` = |R \\ P|."""

    tp: int
    fp: int
    fn: int

    @property
    def n_reference(self) -> int:
        """|R|, reference voxels."""
        return self.tp + self.fn

    @property
    def n_prediction(self) -> int:
        """|P|, predicted voxels."""
        return self.tp + self.fp


def confusion_counts(reference: np.ndarray, prediction: np.ndarray) -> ConfusionCounts:
    """TP, FP and FN voxel counts of two boolean masks of one shape."""
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if reference.shape != prediction.shape:
        raise ValueError(f"reference {reference.shape} and prediction {prediction.shape} differ in shape")
    tp = int(np.count_nonzero(reference & prediction))
    return ConfusionCounts(tp, int(np.count_nonzero(prediction)) - tp, int(np.count_nonzero(reference)) - tp)


def dice(counts: ConfusionCounts) -> float:
    """2TP / (2TP + FP + FN); both masks empty -> 1.0 (ISLES'22 convention, docs/evaluation.md)."""
    denominator = 2 * counts.tp + counts.fp + counts.fn
    return 1.0 if denominator == 0 else 2.0 * counts.tp / denominator


def sensitivity(counts: ConfusionCounts) -> float:
    """Voxel recall TP / (TP + FN); empty reference -> NaN."""
    return math.nan if counts.n_reference == 0 else counts.tp / counts.n_reference


def precision(counts: ConfusionCounts) -> float:
    """TP / (TP + FP); empty prediction -> NaN."""
    return math.nan if counts.n_prediction == 0 else counts.tp / counts.n_prediction


def micro_dice(tp: Sequence[int] | np.ndarray, fp: Sequence[int] | np.ndarray,
               fn: Sequence[int] | np.ndarray) -> float:
    """Dataset-level Dice 2ΣTP / (2ΣTP + ΣFP + ΣFN) over cases (Tomita's microDSC); all empty -> 1.0."""
    return dice(ConfusionCounts(int(np.sum(tp)), int(np.sum(fp)), int(np.sum(fn))))
