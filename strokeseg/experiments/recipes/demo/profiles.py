"""Demo profiles: how big the phantom study is and which CPU- or GPU-sized trainers it uses.

The study is always the same (see ``recipe``); a profile only sizes it. Every number is a
documented choice for the demo, not a paper's: the papers' own settings are in ``strokeseg.defaults`` and the
full-size trainers (``nnUNetTrainer_strokeseg_ZoomInOut``, ``..._FT50ep_lr1e3``) in ``docs/trainers.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from strokeseg.defaults import DEFAULT_SEED
from strokeseg.errors import ConfigurationError

#: Phantom hospitals of the internal registry (trained on) and the held-out external hospital (another vendor).
INTERNAL_SITES: tuple[str, ...] = ("HospitalA", "HospitalB")
EXTERNAL_SITE: str = "HospitalC"


@dataclass(frozen=True)
class DemoProfile:
    """Size and schedule of one demo run.

    Attributes:
        name: profile name (``--profile``).
        description: one line for ``--help`` and SUMMARY.md.
        cases_per_site: phantom cases generated per hospital (three hospitals).
        internal_test_every: every k-th internal case is an internal test case (5: 20 %).
        external_test_cases: external cases held out as the fixed external test pool.
        adaptation_cases: external cases the source model is fine-tuned on (train + validation, 8:2).
        target_spacing_mm: 3d_fullres spacing (z, y, x) in mm passed to the planner with
            ``-overwrite_target_spacing``; None keeps nnU-Net's choice (the native ~1 x 1 x 3-5 mm grid).
        trainer: zoom-in & out trainer of the source model (``-tr``, configuration ``3d_zoomout``).
        finetune_trainer: fine-tuning trainer of the domain adaptation (same network as ``trainer``).
        bootstrap_resamples: resamples of the evaluation's confidence intervals.
        seed: seed of the phantom cohort and the splits.
    """

    name: str
    description: str
    cases_per_site: int
    internal_test_every: int
    external_test_cases: int
    adaptation_cases: int
    target_spacing_mm: tuple[float, float, float] | None
    trainer: str
    finetune_trainer: str
    bootstrap_resamples: int
    seed: int = DEFAULT_SEED

    @property
    def total_cases(self) -> int:
        """Phantom cases of the whole registry (internal hospitals and the external one)."""
        return self.cases_per_site * (len(INTERNAL_SITES) + 1)

    def is_internal_test_case(self, index: int) -> bool:
        """Whether the ``index``-th internal case (0-based, manifest order) is an internal test case."""
        return (index + 1) % self.internal_test_every == 0

    @property
    def internal_training_cases(self) -> int:
        """Training + validation cases of the source model: the internal cases that are not test cases."""
        internal = self.cases_per_site * len(INTERNAL_SITES)
        return sum(not self.is_internal_test_case(index) for index in range(internal))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings (recorded in the demo folder; a rerun with other settings is refused)."""
        return json_ready(asdict(self))


def json_ready(value: Any) -> Any:
    """Tuples as lists, recursively (what a JSON round trip gives)."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


PROFILES: dict[str, DemoProfile] = {
    profile.name: profile for profile in (
        DemoProfile(
            "smoke", "a few cases and 3-epoch trainers: checks that every stage runs (minutes; used by the tests)",
            cases_per_site=4, internal_test_every=3, external_test_cases=2, adaptation_cases=2,
            target_spacing_mm=(5.0, 4.0, 4.0), trainer="nnUNetTrainer_strokeseg_ZoomInOut_Tiny",
            finetune_trainer="nnUNetTrainer_strokeseg_ResGNUNet_FT2ep_lr1e4_Tiny", bootstrap_resamples=200),
        DemoProfile(
            "cpu-small", "45 phantom cases on a 2 x 2 x 5 mm grid, CPU-sized zoom-in & out (about 12 minutes "
            "on 2 CPU cores)",
            cases_per_site=15, internal_test_every=5, external_test_cases=6, adaptation_cases=9,
            target_spacing_mm=(5.0, 2.0, 2.0), trainer="nnUNetTrainer_strokeseg_ZoomInOut_CPU",
            finetune_trainer="nnUNetTrainer_strokeseg_ResGNUNet_FT3ep_lr1e4_CPU", bootstrap_resamples=1000),
        DemoProfile(
            "gpu", "120 phantom cases on the native grid, 100-epoch zoom-in & out at full width (one GPU)",
            cases_per_site=40, internal_test_every=5, external_test_cases=15, adaptation_cases=25,
            target_spacing_mm=None, trainer="nnUNetTrainer_strokeseg_ZoomInOut_100ep",
            finetune_trainer="nnUNetTrainer_strokeseg_ResGNUNet_FT20ep_lr1e4", bootstrap_resamples=1000),
    )
}
#: The profile ``strokeseg demo`` (and ``make demo``) runs without ``--profile``.
DEFAULT_PROFILE = "cpu-small"


def get_profile(name: str) -> DemoProfile:
    """The profile called ``name``.

    Raises:
        ConfigurationError: unknown name (the message lists the profiles).
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigurationError(f"unknown demo profile {name!r}; choose one of {', '.join(PROFILES)}") from None
