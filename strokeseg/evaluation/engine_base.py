"""What every evaluation engine computes (:class:`PairAnalysis`) and the steps all engines share.

An engine turns a reference and a predicted boolean mask plus the voxel spacing into a :class:`PairAnalysis`
(:class:`MetricEngine`). :class:`CroppingEngine` holds the steps; the engines (``engines.CpuEngine``,
``torch_engine.TorchEngine``) supply only the array primitives of their backend, so they differ in where
and how they compute, never in definitions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.evaluation.lesion_matching import LesionCounts
from strokeseg.evaluation.overlap import ConfusionCounts
from strokeseg.evaluation.surface import SurfaceDistances
from strokeseg.lesions import check_connectivity

#: Voxels of background kept around the joint bounding box so that erosion sees every neighbour.
CROP_MARGIN_VOXELS = 1


@dataclass(frozen=True)
class PairAnalysis:
    """What an engine computes for one reference/prediction pair."""

    counts: ConfusionCounts
    distances: SurfaceDistances
    lesions: LesionCounts


class MetricEngine(Protocol):
    """Computes a :class:`PairAnalysis`; implementations must agree to 1e-5 mm."""

    #: Short name recorded in reports ("cpu", "cuda", "torch:cpu").
    name: str

    def analyse(self, reference: np.ndarray, prediction: np.ndarray, spacing_mm: Sequence[float],
                connectivity: int = LESION_CONNECTIVITY) -> PairAnalysis:
        """Analyse boolean masks of one shape; ``spacing_mm`` in the arrays' axis order."""
        ...


def crop_slices(extents: Sequence[tuple[int, int]], shape: Sequence[int],
                margin: int = CROP_MARGIN_VOXELS) -> tuple[slice, ...]:
    """Slices of the box [first, last] per axis widened by ``margin`` voxels, clipped to the array."""
    return tuple(slice(max(first - margin, 0), min(last + 1 + margin, size))
                 for (first, last), size in zip(extents, shape, strict=True))


def empty_analysis() -> PairAnalysis:
    """Analysis of a pair of empty masks."""
    return PairAnalysis(ConfusionCounts(0, 0, 0), SurfaceDistances.empty(pred_empty=True, ref_empty=True),
                        LesionCounts(0, 0, 0, 0, 0))


def check_pair(reference: np.ndarray, prediction: np.ndarray, spacing_mm: Sequence[float]) -> np.ndarray:
    """Validate a pair of 3-D masks and return the spacing as a float64 array."""
    if reference.shape != prediction.shape:
        raise ValueError(f"reference {reference.shape} and prediction {prediction.shape} differ in shape")
    if reference.ndim != 3:
        raise ValueError(f"masks must be 3-D, got {reference.ndim} dimensions")
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise ValueError(f"spacing must be three positive lengths in mm, got {tuple(spacing_mm)}")
    return spacing


class CroppingEngine(ABC):
    """The steps every engine takes; subclasses supply the array primitives of their backend.

    Crop both masks to the joint bounding box plus :data:`CROP_MARGIN_VOXELS`, count TP/FP/FN on the crop,
    label lesions, find both surfaces (voxels with a 6-neighbour outside the mask) and their nearest-surface
    distances.
    """

    name: str

    def analyse(self, reference: np.ndarray, prediction: np.ndarray, spacing_mm: Sequence[float],
                connectivity: int = LESION_CONNECTIVITY) -> PairAnalysis:
        """See :class:`MetricEngine`."""
        spacing = check_pair(reference, prediction, spacing_mm)
        check_connectivity(connectivity)
        reference_full, prediction_full = self._load(reference), self._load(prediction)
        box = self._joint_bounding_box(reference_full, prediction_full)
        if box is None:
            return empty_analysis()
        window = crop_slices(box, tuple(reference_full.shape))
        ref, pred = self._crop(reference_full, window), self._crop(prediction_full, window)
        n_ref, n_pred, tp = self._count(ref), self._count(pred), self._count(ref & pred)
        counts = ConfusionCounts(tp, n_pred - tp, n_ref - tp)
        lesions = self._lesion_counts(ref, pred, connectivity)
        if n_ref == 0 or n_pred == 0:
            return PairAnalysis(counts, SurfaceDistances.empty(pred_empty=n_pred == 0, ref_empty=n_ref == 0), lesions)
        pred_to_ref, ref_to_pred = self._surface_distances(pred, ref, spacing)
        distances = SurfaceDistances(pred_to_ref=pred_to_ref, ref_to_pred=ref_to_pred, pred_empty=False,
                                     ref_empty=False)
        return PairAnalysis(counts, distances, lesions)

    def _crop(self, mask: Any, window: tuple[slice, ...]) -> Any:
        """The part of a loaded mask inside ``window`` (default: a view)."""
        return mask[window]

    @abstractmethod
    def _load(self, mask: np.ndarray) -> Any:
        """The mask as a boolean array of the backend."""

    @abstractmethod
    def _joint_bounding_box(self, reference: Any, prediction: Any) -> list[tuple[int, int]] | None:
        """[(first, last)] voxel index per axis of the union of two masks, or None when both are empty."""

    @abstractmethod
    def _count(self, mask: Any) -> int:
        """Number of voxels of a boolean mask."""

    @abstractmethod
    def _lesion_counts(self, reference: Any, prediction: Any, connectivity: int) -> LesionCounts:
        """Lesion-wise counts of two cropped masks."""

    @abstractmethod
    def _surface_distances(self, first: Any, second: Any, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d(∂first→∂second), d(∂second→∂first)) in mm for two non-empty masks of one cropped grid.

        ∂A is the surface of mask A (:func:`strokeseg.masks.surface`: A without its 6-connected erosion); d(A→B)
        holds, for each voxel of surface A, the distance in mm to the nearest voxel of surface B. Voxels on
        both surfaces come first (distance 0, not searched), then the others in C order; the metrics do not
        depend on the order.
        """
