"""The prepared GPU check (benchmarks/gpu_check.sh) in its dry-run mode: the same steps on the CPU at tiny sizes,
plus the audit that every distribution those steps import is in the GPU image or in the carried wheels."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).parents[1]
SCRIPT = REPOSITORY / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(REPOSITORY / "benchmarks"))

import gpu_wheels  # noqa: E402


@pytest.mark.slow
def test_gpu_check_dry_run_runs_every_step_and_the_import_audit_passes(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    environment.pop("OUT", None)
    completed = subprocess.run([str(SCRIPT), "--dry-run", "--out", str(tmp_path)], cwd=REPOSITORY, env=environment,
                               capture_output=True, text=True, check=False)
    results = (tmp_path / "gpu_check.txt").read_text()
    assert completed.returncode == 0, completed.stdout + results[-4000:]
    statuses = re.findall(r"^----- (.+): exit (\d+) after", results, flags=re.MULTILINE)
    names = [name for name, _ in statuses]
    for expected in ("CUDA tests (pytest -m cuda)", "inference per case, every preset's network on its own input",
                     "training iterations/s, strokeseg's trainers vs stock nnUNetTrainer",
                     "import audit: every imported distribution is carried or preinstalled"):
        assert expected in names, names
    assert all(status == "0" for _, status in statuses), statuses
    assert "SEUNet_Ensemble (Kim), all members" in results and "Tomita2020 (preset tomita_atlas_zoom" in results


def test_carried_and_image_packages_cover_what_the_carried_distributions_require() -> None:
    """Closure of the bundle as the versions installed here declare it (prepare checks the downloaded wheels)."""
    requirements = {name: gpu_wheels.installed_requirements(name) for name in gpu_wheels.CARRIED}
    assert gpu_wheels.uncovered(requirements) == []
    assert not {gpu_wheels.normalize(n) for n in gpu_wheels.CARRIED} & gpu_wheels.image_packages()


def test_import_audit_names_a_distribution_the_gpu_machine_lacks(tmp_path: Path) -> None:
    (tmp_path / "1.txt").write_text("numpy\nnnunetv2\nos\n")
    gpu_wheels.audit(tmp_path)  # all covered: no exit
    (tmp_path / "2.txt").write_text("ruff\n")
    with pytest.raises(SystemExit, match="imports ruff, which the GPU machine lacks"):
        gpu_wheels.audit(tmp_path)
