"""Connected-component post-processing of one predicted lesion mask (pure array computation, no files).

Three steps, always in this order (each optional):

1. **Hysteresis** on the foreground probability: a component of {p ≥ low} is kept when it holds at least one
   voxel with p ≥ high (a high threshold seeds a lesion, a low one grows it).
2. **Brain-mask restriction**: voxels outside the brain mask are removed.
3. **Minimum component volume**: connected components smaller than ``min_volume_ml`` are removed.

Every component is judged on its own: nothing here keeps only the largest component, which would delete all
but one infarct of a multifocal (embolic) stroke.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY
from strokeseg.lesions import check_connectivity, label_lesions


@dataclass(frozen=True)
class PostprocessingParams:
    """Parameters of :func:`postprocess_mask`; the identity when every step is off.

    Attributes:
        min_volume_ml: components with a volume below this (mL) are removed (0: none).
        hysteresis_high: seed threshold on the foreground probability (None: no hysteresis).
        hysteresis_low: growth threshold (≤ ``hysteresis_high``; None: no hysteresis).
        restrict_to_brain: remove voxels outside the brain mask.
        connectivity: connectivity of components, 6, 18 or 26.
    """

    min_volume_ml: float = 0.0
    hysteresis_high: float | None = None
    hysteresis_low: float | None = None
    restrict_to_brain: bool = False
    connectivity: int = LESION_CONNECTIVITY

    def __post_init__(self) -> None:
        check_connectivity(self.connectivity)
        if not self.min_volume_ml >= 0:
            raise ValueError(f"min_volume_ml must be ≥ 0, got {self.min_volume_ml}")
        if (self.hysteresis_high is None) != (self.hysteresis_low is None):
            raise ValueError("hysteresis needs both thresholds (high and low) or neither")
        if self.hysteresis_high is not None and self.hysteresis_low is not None and not (
                0.0 < self.hysteresis_low <= self.hysteresis_high <= 1.0):
            raise ValueError(f"hysteresis thresholds must satisfy 0 < low ≤ high ≤ 1, got low "
                             f"{self.hysteresis_low}, high {self.hysteresis_high}")

    @property
    def uses_hysteresis(self) -> bool:
        """Whether step 1 runs (it needs probability maps)."""
        return self.hysteresis_high is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (field name -> value)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PostprocessingParams:
        """Inverse of :meth:`as_dict`; unknown keys raise ValueError."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown post-processing parameter(s): {', '.join(sorted(unknown))}")
        return cls(**dict(values))


def hysteresis_mask(probability: np.ndarray, high: float, low: float,
                    connectivity: int = LESION_CONNECTIVITY) -> np.ndarray:
    """Components of {p ≥ low} that contain at least one voxel with p ≥ high (boolean mask)."""
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"hysteresis thresholds must satisfy 0 < low ≤ high ≤ 1, got low {low}, high {high}")
    labels, count = label_lesions(probability >= low, connectivity)
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[labels[probability >= high]] = True
    seeded[0] = False
    return seeded[labels]


def component_volumes_ml(mask: np.ndarray, voxel_ml: float,
                         connectivity: int = LESION_CONNECTIVITY) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1..n) of the mask's components and the volume of each in mL (index i-1 for label i)."""
    labels, count = label_lesions(mask, connectivity)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return labels, sizes.astype(np.float64) * voxel_ml


def remove_small_components(mask: np.ndarray, min_volume_ml: float, voxel_ml: float,
                            connectivity: int = LESION_CONNECTIVITY) -> np.ndarray:
    """The mask without its components smaller than ``min_volume_ml`` (mL); a new boolean array.

    Args:
        mask: lesion mask (non-zero = lesion).
        min_volume_ml: components with a volume strictly below this are removed.
        voxel_ml: volume of one voxel in mL.
        connectivity: 6, 18 or 26.
    """
    mask = np.asarray(mask, dtype=bool)
    if min_volume_ml <= 0:
        return mask.copy()
    labels, volumes = component_volumes_ml(mask, voxel_ml, connectivity)
    keep = np.concatenate(([False], volumes >= min_volume_ml))
    return keep[labels]


def postprocess_mask(prediction: np.ndarray, params: PostprocessingParams, voxel_ml: float, *,
                     probability: np.ndarray | None = None, brain_mask: np.ndarray | None = None) -> np.ndarray:
    """Apply the three steps of the module docstring to one case; a boolean mask.

    Args:
        prediction: predicted lesion mask (non-zero = lesion); used when hysteresis is off.
        params: the parameters.
        voxel_ml: volume of one voxel in mL.
        probability: foreground probability (same shape), needed for hysteresis.
        brain_mask: brain mask (same shape, non-zero = brain), needed for the restriction.

    Raises:
        ValueError: a needed array is missing or has another shape.
    """
    mask = np.asarray(prediction) != 0
    if params.uses_hysteresis:
        if probability is None:
            raise ValueError("hysteresis needs the foreground probability map")
        _require_shape(probability, mask.shape, "probability map")
        assert params.hysteresis_high is not None and params.hysteresis_low is not None
        mask = hysteresis_mask(probability, params.hysteresis_high, params.hysteresis_low, params.connectivity)
    if params.restrict_to_brain:
        if brain_mask is None:
            raise ValueError("the brain-mask restriction needs a brain mask")
        _require_shape(brain_mask, mask.shape, "brain mask")
        mask = mask & (np.asarray(brain_mask) != 0)
    return remove_small_components(mask, params.min_volume_ml, voxel_ml, params.connectivity)


def _require_shape(array: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    if array.shape != shape:
        raise ValueError(f"{what} has shape {array.shape}, the prediction {shape}")
