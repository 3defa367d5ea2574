"""Demo profiles: how big the phantom study is and which CPU- or GPU-sized trainers it uses.

The study is always the same (see ``recipe``); a profile only sizes it. Every number is a
documented choice for the demo, not a paper's: the papers' own settings are in ``strokeseg.defaults`` and the
full-size trainers (``nnUNetTrainer_strokeseg_ZoomInOut``, ``..._FT50ep_lr1e3``) in ``docs/trainers.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from strokeseg.defaults import DEFAULT_SEED
from strokeseg.errors import ConfigurationError

#: Phantom hospitals of the internal registry (trained on) and the held-out external hospital (another vendor): the
#: ``shifted`` site set (``strokeseg synth --site-set shifted``), whose external hospital has a built-in domain shift.
INTERNAL_SITES: tuple[str, ...] = ("ShiftA", "ShiftB")
EXTERNAL_SITE: str = "ShiftC"


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
        trainer: trainer of the source model (``-tr``, configuration ``3d_fullres``): Noh et al.'s network.
        finetune_trainer: fine-tuning trainer of the domain adaptation and of its control arm (the source model
            trained for the same steps on its own training data); same network as ``trainer``.
        bootstrap_resamples: resamples of the evaluation's confidence intervals.
        learning_curve_fractions: nested subsamples of the internal training cases (Noh et al.'s learning curve),
            ascending, the last 1.0: the source model is trained on all of them, every smaller subsample trains
            one more model (same trainer) for the learning curve on the internal test set.
        learning_curve_draws: independent draws of every smaller subsample, one model each (the learning curve
            then averages over which cases a small training set holds, not only over its size).
        seed: seed of the phantom cohort and the splits.
        phantom_in_plane_mm: in-plane voxel size of every hospital's phantoms, mm; None: each hospital's own
            range (0.9-1.8 mm). Only for a profile whose network sees coarser voxels anyway (``smoke``: 4 mm), where
            finer phantoms would only cost generation, conversion and resampling time.
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
    learning_curve_fractions: tuple[float, ...] = (1.0,)
    learning_curve_draws: int = 1
    seed: int = DEFAULT_SEED
    phantom_in_plane_mm: float | None = None

    def __post_init__(self) -> None:
        fractions = self.learning_curve_fractions
        if not fractions or list(fractions) != sorted(set(fractions)) or fractions[-1] != 1.0 or fractions[0] <= 0:
            raise ConfigurationError(f"demo profile {self.name}: learning-curve fractions must ascend in (0, 1] and "
                                     f"end with 1.0, got {list(fractions)}")
        if self.learning_curve_draws < 1:
            raise ConfigurationError(f"demo profile {self.name}: learning-curve draws must be at least 1, got "
                                     f"{self.learning_curve_draws}")
        if self.phantom_in_plane_mm is not None and not self.phantom_in_plane_mm > 0:
            raise ConfigurationError(f"demo profile {self.name}: the phantoms' in-plane voxel size must be positive, "
                                     f"got {self.phantom_in_plane_mm} mm")

    @property
    def source_fold(self) -> int:
        """Fold of the source model in the internal split: the last learning-curve subsample (all cases), after
        every draw of the smaller ones."""
        return (len(self.learning_curve_fractions) - 1) * self.learning_curve_draws

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
        """JSON-ready settings (recorded in the demo folder; a rerun with other settings is refused). Settings
        added later are recorded only when set, so that a folder written before them still resumes."""
        settings = asdict(self)
        for name, unset in _RECORDED_WHEN_SET.items():
            if settings[name] == unset:
                del settings[name]
        return json_ready(settings)


#: :class:`DemoProfile` fields left out of its recorded settings while they hold the value before they existed
#: (added after demo folders existed).
_RECORDED_WHEN_SET: dict[str, Any] = {"phantom_in_plane_mm": None, "learning_curve_draws": 1}


def json_ready(value: Any) -> Any:
    """Tuples as lists, recursively (what a JSON round trip gives)."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


#: The findings profile's learning curve: 25 %, 50 % and 100 % of the internal training cases (7, 14 and 27 cases).
FINDINGS_LEARNING_CURVE_FRACTIONS: tuple[float, ...] = (0.25, 0.5, 1.0)
#: Draws of each smaller subsample in the findings profile: one model per draw, so that the learning curve does not
#: rest on which cases one draw of 7 or 14 happened to hold (docs/demo.md, runs J and Q: with two draws the models
#: of one size differ by up to 0.075 DSC, more than any rise with size).
FINDINGS_LEARNING_CURVE_DRAWS: int = 2

#: The default profile: the study sized for 2 CPU cores.
CPU_SMALL = DemoProfile(
    "cpu-small", "54 phantom cases on a 2 x 2 x 5 mm grid, CPU-sized Noh2023 model (budget: 12 minutes, idle 2 cores)",
    cases_per_site=18, internal_test_every=4, external_test_cases=10, adaptation_cases=8,
    target_spacing_mm=(5.0, 2.0, 2.0), trainer="nnUNetTrainer_strokeseg_Noh2023_CPU",
    finetune_trainer="nnUNetTrainer_strokeseg_Noh2023_FT3ep_lr3e3_CPU", bootstrap_resamples=1000)

PROFILES: dict[str, DemoProfile] = {
    profile.name: profile for profile in (
        DemoProfile(
            "smoke", "a few cases and 2-epoch trainers: checks that every stage runs (minutes; used by the tests)",
            cases_per_site=4, internal_test_every=3, external_test_cases=2, adaptation_cases=2,
            target_spacing_mm=(5.0, 4.0, 4.0), trainer="nnUNetTrainer_strokeseg_Noh2023_Tiny",
            finetune_trainer="nnUNetTrainer_strokeseg_Noh2023_FT2ep_lr1e3_Tiny", bootstrap_resamples=200,
            phantom_in_plane_mm=2.0),
        CPU_SMALL,
        replace(CPU_SMALL, name="findings", description="the cpu-small study plus Noh et al.'s learning curve: four "
                "more source models, two independent draws each of 25 % and 50 % of the internal training cases "
                "(budget: 45 minutes, idle 2 cores)", learning_curve_fractions=FINDINGS_LEARNING_CURVE_FRACTIONS,
                learning_curve_draws=FINDINGS_LEARNING_CURVE_DRAWS),
        DemoProfile(
            "gpu", "120 phantom cases on the native grid, the Noh2023 model at full width (one GPU)",
            cases_per_site=40, internal_test_every=5, external_test_cases=15, adaptation_cases=25,
            target_spacing_mm=None, trainer="nnUNetTrainer_strokeseg_Noh2023",
            finetune_trainer="nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3", bootstrap_resamples=1000),
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
