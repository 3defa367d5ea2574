"""Lesion-wise detection (definitions: docs/evaluation.md, "Lesion-wise"; ISLES'22 and ATLAS R2.0).

Lesions are connected components (:mod:`strokeseg.lesions`; 26-connectivity by default). A reference lesion
that overlaps the prediction by at least one voxel is a lesion TP, otherwise a lesion FN; a predicted
lesion that overlaps no reference voxel is a lesion FP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.lesions import label_lesions


@dataclass(frozen=True)
class LesionCounts:
    """Lesion-wise counts of one case.

    Attributes:
        tp: reference lesions overlapping the prediction.
        fp: predicted lesions overlapping no reference voxel.
        fn: reference lesions overlapping no predicted voxel.
        n_reference, n_prediction: numbers of reference / predicted lesions (components).
    """

    tp: int
    fp: int
    fn: int
    n_reference: int
    n_prediction: int

    @property
    def count_difference(self) -> int:
        """|n_ref − n_pred| (ISLES'22 absolute lesion-count difference)."""
        return abs(self.n_reference - self.n_prediction)


def lesion_f1(counts: LesionCounts) -> float:
    """TP / (TP + (FP + FN) / 2); both masks empty -> 1.0."""
    denominator = counts.tp + (counts.fp + counts.fn) / 2.0
    # TP = FP = FN = 0 happens only when both masks are empty
    return 1.0 if denominator == 0 else counts.tp / denominator


def count_touched_labels(labels: np.ndarray, count: int, voxels: np.ndarray) -> int:
    """How many of the components 1..``count`` in ``labels`` have a voxel among the C-order flat indices ``voxels``."""
    touched = np.zeros(count + 1, dtype=bool)
    touched[labels.reshape(-1)[voxels]] = True
    return int(np.count_nonzero(touched[1:]))


def lesion_counts(reference: np.ndarray, prediction: np.ndarray,
                  connectivity: int = LESION_CONNECTIVITY) -> LesionCounts:
    """Lesion TP/FP/FN and lesion numbers of two boolean masks (CPU, cc3d)."""
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    reference_labels, n_reference = label_lesions(reference, connectivity)
    prediction_labels, n_prediction = label_lesions(prediction, connectivity)
    overlap = np.flatnonzero(reference & prediction)
    detected = count_touched_labels(reference_labels, n_reference, overlap)
    overlapping = count_touched_labels(prediction_labels, n_prediction, overlap)
    return LesionCounts(tp=detected, fp=n_prediction - overlapping, fn=n_reference - detected,
                        n_reference=n_reference, n_prediction=n_prediction)
