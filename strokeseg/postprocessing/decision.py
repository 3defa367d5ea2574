"""Whether fitted post-processing is worth applying: the small-lesion guard and the evidence of a gain.

Pure computation on component tables (:mod:`strokeseg.postprocessing.selection`), no files. Post-processing must
never hurt, so ``fit`` keeps the identity unless all of these hold:

* **small-lesion guard**: the minimum component volume is at most the ``POSTPROCESS_SMALL_LESION_QUANTILE``
  quantile of the reference lesion volumes (mL) the fit sees, so no component as large as the small lesions of the
  training labels is ever removed (no reference lesion at all: nothing may be removed);
* **lesion-wise sensitivity does not drop**: the reference lesions detected by the candidate (all cases together)
  are at least those detected without post-processing;
* **the gain is robust**: the lower end of the bootstrap percentile interval of the mean per-case difference
  (candidate − identity) of the objective is above zero (cases resampled; ``BOOTSTRAP_*`` and
  ``CONFIDENCE_LEVEL`` of the evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from strokeseg.defaults import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE_LEVEL
from strokeseg.evaluation import describe
from strokeseg.postprocessing.selection import CaseComponents, CaseScores, reference_lesion_volumes


@dataclass(frozen=True)
class SmallLesionGuard:
    """The largest minimum component volume ``fit`` may choose.

    Attributes:
        quantile: quantile of the reference lesion volumes used.
        max_min_volume_ml: the cap (mL): that quantile, 0 when there is no reference lesion.
        reference_lesions: number of reference lesions (all cases).
        smallest_reference_lesion_ml: volume of the smallest reference lesion (mL; None without lesions).
    """

    quantile: float
    max_min_volume_ml: float
    reference_lesions: int
    smallest_reference_lesion_ml: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


def small_lesion_guard(cases: Sequence[CaseComponents], quantile: float) -> SmallLesionGuard:
    """The guard of the module docstring from the reference lesions of ``cases``.

    Raises:
        ValueError: ``quantile`` outside [0, 1].
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"the small-lesion quantile must lie in [0, 1], got {quantile}")
    volumes = reference_lesion_volumes(cases)
    if volumes.size == 0:
        return SmallLesionGuard(quantile, 0.0, 0, None)
    return SmallLesionGuard(quantile, float(np.quantile(volumes, quantile)), int(volumes.size), float(volumes.min()))


@dataclass(frozen=True)
class GainEvidence:
    """How a candidate compares with the identity on the validation cases (differences are candidate − identity).

    Attributes:
        objective: the score compared (``dice`` or ``lesion_f1``), per case.
        n_cases: validation cases.
        mean_gain: mean per-case difference of the objective.
        ci_low, ci_high: bootstrap percentile interval of ``mean_gain``.
        confidence, resamples, seed: the bootstrap's settings.
        cases_improved, cases_worse: cases whose objective rose / fell.
        detected_lesions_before, detected_lesions_after: reference lesions detected (all cases).
        reference_lesions: reference lesions (all cases).
        lesion_sensitivity_before, lesion_sensitivity_after: detected / reference lesions (NaN without any).
    """

    objective: str
    n_cases: int
    mean_gain: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    seed: int
    cases_improved: int
    cases_worse: int
    detected_lesions_before: int
    detected_lesions_after: int
    reference_lesions: int
    lesion_sensitivity_before: float
    lesion_sensitivity_after: float

    @property
    def robust(self) -> bool:
        """The interval lies above zero."""
        return bool(self.ci_low > 0.0)

    @property
    def sensitivity_kept(self) -> bool:
        """No reference lesion detected without post-processing is lost."""
        return self.detected_lesions_after >= self.detected_lesions_before

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (NaN sensitivities become None)."""
        values = asdict(self)
        return {key: None if isinstance(value, float) and np.isnan(value) else value for key, value in values.items()}


def gain_evidence(before: CaseScores, after: CaseScores, objective: str, *, resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE_LEVEL) -> GainEvidence:
    """Paired comparison of a candidate (``after``) with the identity (``before``) on the same cases."""
    difference = after.of(objective) - before.of(objective)
    if difference.size == 0:
        raise ValueError("no validation cases to compare")
    summary = describe(difference, resamples=resamples, seed=seed, confidence=confidence)
    return GainEvidence(
        objective=objective, n_cases=int(difference.size), mean_gain=float(difference.mean()),
        ci_low=summary.ci_low, ci_high=summary.ci_high, confidence=confidence, resamples=resamples, seed=seed,
        cases_improved=int(np.count_nonzero(difference > 0)), cases_worse=int(np.count_nonzero(difference < 0)),
        detected_lesions_before=before.detected_lesions, detected_lesions_after=after.detected_lesions,
        reference_lesions=before.reference_lesions, lesion_sensitivity_before=before.lesion_sensitivity,
        lesion_sensitivity_after=after.lesion_sensitivity)


def decision_reason(evidence: GainEvidence, changes_anything: bool) -> tuple[bool, str]:
    """(apply the candidate?, why) from its evidence; ``changes_anything``: the candidate is not the identity."""
    interval = (f"mean {evidence.objective} gain {evidence.mean_gain:+.4f}, {evidence.confidence:.0%} bootstrap "
                f"interval [{evidence.ci_low:+.4f}, {evidence.ci_high:+.4f}]")
    if not changes_anything:
        return False, "identity: no post-processing improves the validation score within the guards"
    if not evidence.sensitivity_kept:
        return False, (f"identity: the best candidate loses reference lesions ({evidence.detected_lesions_before} "
                       f"-> {evidence.detected_lesions_after} detected)")
    if not evidence.robust:
        return False, f"identity: the gain is not robust ({interval}: its lower end is not above 0)"
    return True, f"post-processing: {interval}; {evidence.cases_improved} case(s) improved, " \
                 f"{evidence.cases_worse} worse; no reference lesion lost"
