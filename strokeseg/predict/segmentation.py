"""From the members' predictions of one case to its lesion mask: ensemble, uncertainty, post-processing.

* one member: the mask is its label map (any lesion label = lesion), its probability is the member's;
* an ensemble: the mask is mean probability ≥ ``label_threshold`` and Kim et al.'s uncertainty index and review
  flag are computed on it (:func:`strokeseg.postprocessing.uncertainty.case_uncertainty`, as ``strokeseg
  uncertainty`` does);
* then the model's fitted post-processing, when it has one (:func:`strokeseg.postprocessing.components.
  postprocess_mask`, as ``strokeseg postprocess apply`` does). The uncertainty index describes the ensemble's
  mask before post-processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strokeseg.defaults import (
    ENSEMBLE_LABEL_THRESHOLD,
    POSTPROCESS_MIN_FIT_CASES,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
    UNCERTAINTY_REVIEW_CUT,
)
from strokeseg.errors import ConfigurationError
from strokeseg.postprocessing.components import PostprocessingParams, postprocess_mask
from strokeseg.postprocessing.fitting import read_fit
from strokeseg.postprocessing.uncertainty import case_uncertainty
from strokeseg.predict.inference import MemberPrediction


@dataclass(frozen=True)
class UncertaintySettings:
    """Kim et al.'s index: segmentation threshold, divergence threshold (nats), prior, review cut."""

    label_threshold: float = ENSEMBLE_LABEL_THRESHOLD
    divergence_threshold: float = UNCERTAINTY_DIVERGENCE_THRESHOLD
    prior: float = UNCERTAINTY_PRIOR
    review_cut: float = UNCERTAINTY_REVIEW_CUT


@dataclass(frozen=True)
class Postprocessing:
    """The model's fitted post-processing: its file and parameters (None: none applied)."""

    file: Path | None = None
    params: PostprocessingParams | None = None
    n_fit_cases: int | None = None

    def describe(self) -> dict[str, Any]:
        """What the report says about it."""
        if self.params is None:
            return {"applied": False, "file": None, "params": None}
        return {"applied": True, "file": str(self.file), "params": self.params.as_dict(),
                "fitted_on_cases": self.n_fit_cases}


def load_postprocessing(file: Path | None, allow_small_fit: bool = False) -> Postprocessing:
    """The post-processing in ``file`` (a ``strokeseg postprocess fit`` output), checked as ``apply`` checks it.

    Raises:
        InputDataError: the file is not a post-processing file.
        ConfigurationError: it was fitted on too few cases (without ``allow_small_fit``), or it restricts lesions to
            the brain, which needs brain masks that ``strokeseg predict`` does not have.
    """
    if file is None:
        return Postprocessing()
    fit = read_fit(file)
    if fit.n_cases is not None and fit.n_cases < POSTPROCESS_MIN_FIT_CASES and not allow_small_fit:
        raise ConfigurationError(f"{file} was fitted on {fit.n_cases} validation case(s), fewer than "
                                 f"{POSTPROCESS_MIN_FIT_CASES}: too few to trust; pass --allow-small-fit to apply it "
                                 "anyway, or --no-postprocessing")
    if fit.params.restrict_to_brain:
        raise ConfigurationError(f"{file} restricts lesions to brain masks, which strokeseg predict does not "
                                 "compute; pass --no-postprocessing, or refit without --brain-masks")
    return Postprocessing(file, fit.params, fit.n_cases)


@dataclass(frozen=True)
class CaseSegmentation:
    """The lesion mask of a case, its (mean) lesion probability and the ensemble's uncertainty record."""

    mask: np.ndarray
    probability: np.ndarray
    uncertainty: dict[str, Any] = field(default_factory=dict)
    voxels_before_postprocessing: int = 0


def segment(members: Sequence[MemberPrediction], voxel_ml: float, postprocessing: Postprocessing,
            settings: UncertaintySettings = UncertaintySettings()) -> CaseSegmentation:
    """The case's mask from its members' predictions (module docstring); ``voxel_ml``: one voxel's volume (mL)."""
    uncertainty: dict[str, Any] = {}
    if len(members) == 1:
        probability, mask = members[0].probability, members[0].label_map != 0
    else:
        probability, mask, uncertainty = case_uncertainty(
            [member.probability for member in members], voxel_ml, label_threshold=settings.label_threshold,
            divergence_threshold=settings.divergence_threshold, prior=settings.prior, review_cut=settings.review_cut)
    before = int(np.count_nonzero(mask))
    if postprocessing.params is not None:
        mask = postprocess_mask(mask, postprocessing.params, voxel_ml, probability=probability)
    return CaseSegmentation(np.asarray(mask, dtype=bool), np.asarray(probability, dtype=np.float32), uncertainty,
                            before)
