"""The torch evaluation engine (CUDA GPU; also runs on a torch CPU device for testing).

Same steps and definitions as :class:`strokeseg.evaluation.engines.CpuEngine`, as tensor operations on the
device: joint bounding box and crop, confusion counts, surfaces by 6-connected erosion (the shared
:func:`strokeseg.masks.surface`), nearest-surface distances by exact pairwise distances between
surface voxel centres in float64, computed in chunks that bound memory, and lesions by connected-component
labelling through max-pooling label propagation (every voxel starts with a unique label; each step takes
the maximum over the connectivity's neighbourhood inside the mask, until nothing changes).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.evaluation.engine_base import CroppingEngine
from strokeseg.evaluation.lesion_matching import LesionCounts
from strokeseg.lesions import check_connectivity
from strokeseg.masks import surface

#: Pairwise distance matrices are computed in chunks of at most this many entries (float64: 128 MiB).
DEFAULT_CHUNK_ENTRIES = 1 << 24

#: Label propagation checks for convergence after this many steps (each check synchronises the device).
_STEPS_PER_CONVERGENCE_CHECK = 8

#: Max-pooling kernels whose union is the neighbourhood of each connectivity (centre included).
_POOL_KERNELS: dict[int, tuple[tuple[int, int, int], ...]] = {
    6: ((3, 1, 1), (1, 3, 1), (1, 1, 3)),
    18: ((3, 3, 1), (3, 1, 3), (1, 3, 3)),
    26: ((3, 3, 3),),
}


class TorchEngine(CroppingEngine):
    """Evaluation engine on a torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"`` ...)."""

    def __init__(self, device: str = "cuda", chunk_entries: int = DEFAULT_CHUNK_ENTRIES) -> None:
        self.device = torch.device(device)
        self.chunk_entries = int(chunk_entries)
        self.name = "cuda" if self.device.type == "cuda" else f"torch:{self.device.type}"

    def _load(self, mask: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(mask, dtype=bool)).to(self.device)

    def _joint_bounding_box(self, reference: torch.Tensor, prediction: torch.Tensor) -> list[tuple[int, int]] | None:
        return _bounding_box(reference | prediction)

    def _count(self, mask: torch.Tensor) -> int:
        return int(torch.count_nonzero(mask))

    def _lesion_counts(self, reference: torch.Tensor, prediction: torch.Tensor, connectivity: int) -> LesionCounts:
        return _lesion_counts(reference, prediction, connectivity)

    def _surface_distances(self, first: torch.Tensor, second: torch.Tensor,
                           spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first, second = surface(first), surface(second)
        return self._nearest_distances(first, second, spacing), self._nearest_distances(second, first, spacing)

    def _nearest_distances(self, source: torch.Tensor, target: torch.Tensor, spacing: np.ndarray) -> np.ndarray:
        """For each voxel of surface ``source``: distance in mm to the nearest voxel of surface ``target``."""
        spacing_tensor = torch.as_tensor(spacing, dtype=torch.float64, device=self.device)
        shared = int(torch.count_nonzero(source & target))
        others = torch.nonzero(source & ~target).to(torch.float64) * spacing_tensor
        result = torch.zeros(shared + others.shape[0], dtype=torch.float64, device=self.device)
        if others.shape[0]:
            targets = torch.nonzero(target).to(torch.float64) * spacing_tensor
            rows_per_chunk = max(1, self.chunk_entries // max(1, targets.shape[0]))
            for start in range(0, others.shape[0], rows_per_chunk):
                block = others[start: start + rows_per_chunk]
                pairwise = torch.cdist(block, targets, compute_mode="donot_use_mm_for_euclid_dist")
                result[shared + start: shared + start + block.shape[0]] = pairwise.min(dim=1).values
        return result.cpu().numpy()


def _bounding_box(mask: torch.Tensor) -> list[tuple[int, int]] | None:
    """[(first, last)] per axis of a 3-D boolean tensor, or None when it is empty."""
    extents = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hits = torch.nonzero(mask.any(dim=others)).flatten()
        if hits.numel() == 0:
            return None
        extents.append((int(hits[0]), int(hits[-1])))
    return extents


def label_components(mask: torch.Tensor, connectivity: int = LESION_CONNECTIVITY) -> tuple[torch.Tensor, int]:
    """Connected components of a 3-D boolean tensor: (labels, number of components).

    Labels are arbitrary positive numbers per component (float tensor; background 0), not 1..n.
    """
    check_connectivity(connectivity)
    if not bool(mask.any()):
        return torch.zeros(mask.shape, dtype=torch.float32, device=mask.device), 0
    # float32 holds every integer label exactly up to 2**24 voxels; larger crops use float64
    dtype = torch.float32 if mask.numel() < (1 << 24) else torch.float64
    inside = mask[None, None]
    labels = torch.arange(1, mask.numel() + 1, dtype=dtype, device=mask.device).reshape(inside.shape)
    labels = torch.where(inside, labels, torch.zeros((), dtype=dtype, device=mask.device))
    while True:
        previous = labels
        for _ in range(_STEPS_PER_CONVERGENCE_CHECK):
            labels = torch.where(inside, _neighbourhood_max(labels, connectivity), labels)
        if torch.equal(labels, previous):
            break
    labels = labels[0, 0]
    return labels, int(torch.unique(labels[mask]).numel())


def _neighbourhood_max(labels: torch.Tensor, connectivity: int) -> torch.Tensor:
    pooled = [functional.max_pool3d(labels, kernel, stride=1, padding=tuple(k // 2 for k in kernel))
              for kernel in _POOL_KERNELS[connectivity]]
    result = pooled[0]
    for other in pooled[1:]:
        result = torch.maximum(result, other)
    return result


def _lesion_counts(reference: torch.Tensor, prediction: torch.Tensor, connectivity: int) -> LesionCounts:
    reference_labels, n_reference = label_components(reference, connectivity)
    prediction_labels, n_prediction = label_components(prediction, connectivity)
    overlap = reference & prediction
    detected = int(torch.unique(reference_labels[overlap]).numel())
    overlapping = int(torch.unique(prediction_labels[overlap]).numel())
    return LesionCounts(tp=detected, fp=n_prediction - overlapping, fn=n_reference - detected,
                        n_reference=n_reference, n_prediction=n_prediction)
