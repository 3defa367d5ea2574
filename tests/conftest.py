"""Shared fixtures: nnU-Net data folders in a temp dir and the environment for CPU runs of the stock CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from strokeseg.nnunet.folders import NnunetPaths

#: Environment for the stock nnU-Net CLIs on a 2-core CI machine: one augmentation worker, no compile.
CPU_NNUNET_ENV: dict[str, str] = {"nnUNet_n_proc_DA": "1", "nnUNet_compile": "false"}


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
