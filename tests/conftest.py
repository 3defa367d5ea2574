"""Shared fixtures: nnU-Net data folders in a temp dir, the environment for CPU runs of the stock CLIs, and the
test suite's own trainers, registered with nnU-Net through ``nnUNet_extTrainer``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from strokeseg.nnunet.ext_trainer import EXT_TRAINER_VARIABLE, ext_trainer_folder, with_ext_trainer_folder
from strokeseg.nnunet.folders import NnunetPaths

#: The private Slurm cluster's fixtures (``slurm_cluster``, ``slurm``) for every test module.
pytest_plugins = ("slurm_cluster",)

#: Environment for the stock nnU-Net CLIs on a 2-core CI machine: one augmentation worker, no compile.
CPU_NNUNET_ENV: dict[str, str] = {"nnUNet_n_proc_DA": "1", "nnUNet_compile": "false"}
#: ...plus one worker in nnU-Net's process pools and one torch thread (two spinning OpenMP threads next to the
#: augmentation worker slow tiny networks down many times): the stock-CLI end-to-end tests.
SINGLE_CORE_NNUNET_ENV: dict[str, str] = {**CPU_NNUNET_ENV, "nnUNet_def_n_proc": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture
def nnunet_paths(tmp_path: Path) -> NnunetPaths:
    """Empty nnUNet_raw / nnUNet_preprocessed / nnUNet_results folders under a temp dir."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    return paths


@pytest.fixture
def cpu_nnunet_env() -> dict[str, str]:
    """Extra environment for running the stock nnU-Net CLIs on the CPU."""
    return dict(CPU_NNUNET_ENV)


#: Folder of the trainers only the tests run (``nnunet_trainers/strokeseg_test_trainers.py``).
TEST_TRAINERS_FOLDER = Path(__file__).parent / "nnunet_trainers"


@pytest.fixture(scope="session", autouse=True)
def test_trainers_registered() -> Iterator[str]:
    """``nnUNet_extTrainer`` lists strokeseg's trainer folder and the tests' for the whole session, so that nnU-Net's
    own lookup (in this process and in the stock CLIs) finds both; yields the variable's value."""
    value = with_ext_trainer_folder(os.environ.get(EXT_TRAINER_VARIABLE), ext_trainer_folder(), TEST_TRAINERS_FOLDER)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(EXT_TRAINER_VARIABLE, value)
        yield value
