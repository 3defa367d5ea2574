"""Shared fixtures: nnU-Net data folders in a temp dir, the environment for CPU runs of the stock CLIs, and the
test suite's own trainers, registered with nnU-Net through ``nnUNet_extTrainer``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from strokeseg.nnunet.ext_trainer import EXT_TRAINER_VARIABLE, ext_trainer_folder, with_ext_trainer_folder
from strokeseg.nnunet.folders import NnunetPaths

#: The private Slurm cluster's fixtures (``slurm_cluster``, ``slurm``) for every test module, and the order of the
#: test files (costliest first; tests/file_order.py).
pytest_plugins = ("slurm_cluster", "file_order")

#: Thread pools of the libraries the tests drive (torch/OpenMP, BLAS, ITK), here and in every tool started.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    # `make test` runs one pytest worker per core: each worker, and the stock tools it starts, gets one thread unless
    # the caller chose otherwise; two workers each spinning a thread per core make a 2-core machine thrash.
    for _variable in THREAD_VARIABLES:
        os.environ.setdefault(_variable, "1")


#: Environment for the stock nnU-Net CLIs on a 2-core CI machine: one augmentation worker, no compile.
CPU_NNUNET_ENV: dict[str, str] = {"nnUNet_n_proc_DA": "1", "nnUNet_compile": "false"}
#: ...plus one worker in nnU-Net's process pools and one torch thread (two spinning OpenMP threads next to the
#: augmentation worker slow tiny networks down many times): the stock-CLI end-to-end tests.
SINGLE_CORE_NNUNET_ENV: dict[str, str] = {**CPU_NNUNET_ENV, "nnUNet_def_n_proc": "1", "OMP_NUM_THREADS": "1"}
#: ``-fpe`` of the tests' planning runs: nnU-Net's fingerprint with 10^6 instead of 10^8 intensity samples, which
#: none of the tests' normalizations read (strokeseg.planners.fingerprint): ~7 s instead of ~27 s per planning.
FAST_FINGERPRINT: tuple[str, ...] = ("-fpe", "StrokesegFingerprintExtractor")


@contextmanager
def in_process_nnunet(paths: NnunetPaths) -> Iterator[None]:
    """nnU-Net run inside the test process (trainers built and trained in process, nnU-Net's own lookups): its
    folders in the environment, augmentation in this process (no workers), no compile, one torch thread; all restored
    on leaving."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in {**paths.environment(), "nnUNet_n_proc_DA": "0", "nnUNet_compile": "false"}.items():
                env.setenv(key, value)
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def nnunet_paths(tmp_path: Path) -> NnunetPaths:
    """Empty nnUNet_raw / nnUNet_preprocessed / nnUNet_results folders under a temp dir."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    return paths


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
