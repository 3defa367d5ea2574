"""Evaluation engines: the heavy part of a case's metrics (confusion counts, surface distances, lesions).

An engine turns a reference and a predicted boolean mask plus the voxel spacing into a ``PairAnalysis``
(``engine_base``, which also holds the steps all engines share); the metric formulas on top of it
(``case_metrics``) are shared, so engines differ only in where and how they compute, never in definitions.
Two engines give identical results (the torch code agrees with the CPU engine to 1e-5 mm in the tests on the CPU;
benchmarks/gpu_check.sh runs the same check on a CUDA GPU):

* :class:`CpuEngine` (numpy/scipy): crops both masks to their joint bounding box plus a one-voxel margin
  (a contiguous copy), counts TP/FP/FN on the crop, finds the surface voxels (those with a 6-neighbour outside
  the mask, read from the mask's voxels only) and every surface voxel's nearest surface voxel of the other mask
  exactly (``nearest_surface``: direct look-up of the nearest neighbour offsets, then a k-d tree on the physical,
  spacing-scaled voxel centres for the rest) — the same distances a Euclidean distance transform with that
  spacing gives, found faster because only surface voxels are touched. Lesions: ``cc3d`` connected components.
* ``TorchEngine`` (``strokeseg.evaluation.torch_engine``, torch on a CUDA GPU or any torch device): the same
  steps as tensor operations, distances by chunked exact pairwise distances between surface voxels (float64)
  and lesions by label propagation with max-pooling.

``select_engine("auto")`` picks CUDA when a GPU is visible, the CPU engine otherwise.
"""

from __future__ import annotations

import numpy as np

from strokeseg.device import resolve_device
from strokeseg.evaluation.engine_base import CroppingEngine, MetricEngine
from strokeseg.evaluation.lesion_matching import LesionCounts, lesion_counts
from strokeseg.evaluation.nearest_surface import mask_surface_distances


class CpuEngine(CroppingEngine):
    """numpy/scipy engine (single-threaded; use processes for parallelism)."""

    name = "cpu"

    def _load(self, mask: np.ndarray) -> np.ndarray:
        return np.asarray(mask, dtype=bool)

    def _crop(self, mask: np.ndarray, window: tuple[slice, ...]) -> np.ndarray:
        # a contiguous copy: labelling, erosion and counting run faster on it than on a strided view
        return np.ascontiguousarray(mask[window])

    def _joint_bounding_box(self, reference: np.ndarray, prediction: np.ndarray) -> list[tuple[int, int]] | None:
        return joint_bounding_box(reference, prediction)

    def _count(self, mask: np.ndarray) -> int:
        return int(np.count_nonzero(mask))

    def _lesion_counts(self, reference: np.ndarray, prediction: np.ndarray, connectivity: int) -> LesionCounts:
        return lesion_counts(reference, prediction, connectivity)

    def _surface_distances(self, first: np.ndarray, second: np.ndarray,
                           spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mask_surface_distances(first, second, spacing)


def joint_bounding_box(reference: np.ndarray, prediction: np.ndarray) -> list[tuple[int, int]] | None:
    """[(first, last)] per axis of the union of two 3-D boolean masks, or None when both are empty.

    The first and last occupied z-planes are found by scanning from each end (numpy's boolean ``argmax`` stops at
    the first True voxel), so the empty planes are read once at memory speed; only the occupied z-slab is then
    projected onto (y, x). No union array is formed.
    """
    masks = (reference.reshape(reference.shape[0], -1), prediction.reshape(prediction.shape[0], -1))
    first = _first_occupied_plane(masks)
    if first is None:
        return None
    last = _last_occupied_plane(masks, first)
    plane: np.ndarray = np.any(reference[first: last + 1], axis=0) | np.any(prediction[first: last + 1], axis=0)
    along_y = np.flatnonzero(plane.any(axis=1))
    along_x = np.flatnonzero(plane.any(axis=0))
    return [(first, last), (int(along_y[0]), int(along_y[-1])), (int(along_x[0]), int(along_x[-1]))]


#: z-planes per block of the backward scan for the last occupied plane.
_PLANES_PER_BLOCK = 8


def _first_true(flat: np.ndarray) -> int | None:
    """Index of the first True entry of a 1-D boolean array, or None (boolean ``argmax`` stops at it)."""
    index = int(np.argmax(flat)) if flat.size else 0
    return index if flat.size and flat[index] else None


def _first_occupied_plane(masks: tuple[np.ndarray, ...]) -> int | None:
    """Index of the first row holding a True voxel in any of the (planes, voxels) masks, or None."""
    hits = [index for index in (_first_true(mask.reshape(-1)) for mask in masks) if index is not None]
    return min(hits) // masks[0].shape[1] if hits else None


def _last_occupied_plane(masks: tuple[np.ndarray, ...], first: int) -> int:
    """Index of the last row (>= ``first``, which is occupied) holding a True voxel in any of the masks."""
    stop = masks[0].shape[0]
    while stop > first:
        start = max(stop - _PLANES_PER_BLOCK, first)
        blocks = [mask[start:stop] for mask in masks]
        if any(_first_true(block.reshape(-1)) is not None for block in blocks):
            rows = np.logical_or.reduce([block.any(axis=1) for block in blocks])
            return start + int(np.flatnonzero(rows)[-1])
        stop = start
    return first


def select_engine(device: str = "auto") -> MetricEngine:
    """The engine for ``--device`` (``auto``, ``cpu``, ``cuda``), or ``torch:<device>`` for any torch device.

    ``torch:cpu`` runs the CUDA engine's code on the CPU (used by the tests to check it agrees with the
    CPU engine where no GPU exists).
    """
    if device.startswith("torch:"):
        from strokeseg.evaluation.torch_engine import TorchEngine

        return TorchEngine(device.removeprefix("torch:"))
    resolved = resolve_device(device)
    if resolved == "cuda":
        from strokeseg.evaluation.torch_engine import TorchEngine

        return TorchEngine("cuda")
    return CpuEngine()
