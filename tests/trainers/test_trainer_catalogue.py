"""Which trainers strokeseg exports to nnU-Net, and how they are composed (flat classes, settings bundles)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from conftest import TEST_TRAINERS_FOLDER
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

import strokeseg.trainers as trainers
from strokeseg.experiments.recipes.demo.profiles import PROFILES
from strokeseg.nnunet.ext_trainer import EXT_TRAINER_MODULE, ext_trainer_folder, find_trainer_class
from strokeseg.trainers.base import StrokesegTrainer, TrainerSettings
from strokeseg.trainers.finetune import FINE_TUNING_TRAINERS, FineTuningTrainer
from strokeseg.trainers.recipes import NOH, TINY

#: Levels of classes between nnU-Net's trainer and an exported one: StrokesegTrainer, a family, the variant.
MAX_LEVELS_BELOW_NNUNET_TRAINER = 3
EXAMPLES = Path(__file__).parents[2] / "examples"


def exported() -> dict[str, type]:
    return {name: getattr(trainers, name) for name in trainers.__all__}


@pytest.mark.parametrize("name", trainers.__all__)
def test_exported_trainers_are_at_most_three_single_parent_levels_below_nnunets(name: str) -> None:
    chain = []
    cls: type = exported()[name]
    while cls is not nnUNetTrainer:
        assert len(cls.__bases__) == 1, f"{cls.__name__} has several parents: {cls.__bases__}"
        chain.append(cls.__name__)
        cls = cls.__bases__[0]
    assert 1 <= len(chain) <= MAX_LEVELS_BELOW_NNUNET_TRAINER, " -> ".join(chain)


def _trainer_names(value: object) -> set[str]:
    """Every ``nnUNetTrainer_strokeseg_*`` string in a parsed YAML document."""
    if isinstance(value, dict):
        return set().union(*(_trainer_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_trainer_names(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) and value.startswith("nnUNetTrainer_strokeseg_") else set()


def test_the_trainers_users_run_are_exported_and_the_tests_own_are_not() -> None:
    used_by_examples = set().union(*(_trainer_names(yaml.safe_load(path.read_text()))
                                     for path in sorted(EXAMPLES.glob("*.yaml"))))
    used_by_demo = {name for profile in PROFILES.values() for name in (profile.trainer, profile.finetune_trainer)}
    assert used_by_examples and used_by_demo
    assert used_by_examples | used_by_demo <= set(trainers.__all__)
    test_only = importlib.import_module("nnunet_trainers.strokeseg_test_trainers")
    test_trainers = [name for name in vars(test_only) if name.startswith("nnUNetTrainer_strokeseg_")]
    assert test_trainers and not set(test_trainers) & set(trainers.__all__)


def test_every_fine_tuning_trainer_of_the_package_is_exported_and_suggested() -> None:
    fine_tuners = {name for name, cls in exported().items() if issubclass(cls, FineTuningTrainer)}
    assert fine_tuners == {cls.__name__ for cls in FINE_TUNING_TRAINERS}


def test_the_ext_trainer_folder_re_exports_exactly_the_exported_trainers() -> None:
    folder = ext_trainer_folder()
    assert sorted(p.name for p in folder.glob("*.py")) == ["__init__.py", f"{EXT_TRAINER_MODULE}.py"]
    module = importlib.import_module(f"strokeseg.trainers.nnunet_ext.{EXT_TRAINER_MODULE}")
    assert list(module.__all__) == trainers.__all__
    assert all(getattr(module, name) is cls for name, cls in exported().items())


@pytest.mark.parametrize("name", ["nnUNetTrainer_strokeseg_ZoomInOut", "nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny"])
def test_nnunets_own_lookup_finds_exported_and_test_trainers(name: str, test_trainers_registered: str) -> None:
    assert str(TEST_TRAINERS_FOLDER) in test_trainers_registered
    found = find_trainer_class(name)
    assert found is not None and found.__name__ == name and issubclass(found, StrokesegTrainer)


def test_settings_bundles_apply_in_order_and_the_class_body_wins() -> None:
    faster = TrainerSettings(num_epochs_override=7, width_scale=0.5)

    class Composed(StrokesegTrainer, settings=(NOH, TINY, faster)):
        width_scale: ClassVar[float] = 0.75

    assert Composed.network_recipe is NOH.network_recipe and Composed.inference_mirroring == "left_right"
    assert Composed.num_epochs_override == 7  # the later bundle wins over TINY's 2
    assert Composed.iterations_per_epoch_override == TINY.iterations_per_epoch_override
    assert Composed.width_scale == 0.75  # the class body wins over every bundle
    assert StrokesegTrainer.num_epochs_override is None and StrokesegTrainer.width_scale == 1.0  # base untouched
