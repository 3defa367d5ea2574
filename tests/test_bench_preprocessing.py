"""benchmarks/bench_preprocessing.py cannot rot: its rehearsal (``--tiny``) plans every pipeline with its preset's
planner and times it beside its peers, and its case builders write the papers' grids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

REPOSITORY = Path(__file__).parents[1]
SCRIPT = REPOSITORY / "benchmarks" / "bench_preprocessing.py"
sys.path.insert(0, str(REPOSITORY / "benchmarks"))

import bench_preprocessing  # noqa: E402

PIPELINES = {pipeline.key: pipeline for pipeline in bench_preprocessing.PIPELINES}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's atlas cache (shared with the location and synthetic tests)."""
    return tmp_path_factory.getbasetemp() / "strokeseg_cache"


@pytest.mark.slow  # ~40 s of CPU (three plannings, each starting nnU-Net workers): run it among the first
def test_tiny_rehearsal_times_every_pipeline_beside_its_peers(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--cases", "1", "--threads", "1"],
                               cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    out = completed.stdout
    for pipeline in PIPELINES.values():
        assert f"{pipeline.key}: preset {pipeline.preset} (" in out
        assert re.search(rf"^{pipeline.key}: wall: strokeseg / DefaultPreprocessor [\d.]+×, target ≤ 1\.5 s per "
                         r"case (met|NOT met).*; CPU \(all threads\): strokeseg / DefaultPreprocessor [\d.]+×", out,
                         flags=re.MULTILINE), out
    rows = re.findall(r"^(nnU-Net DefaultPreprocessor|strokeseg|naive full-resolution N4) +[\d.]+ ", out,
                      flags=re.MULTILINE)
    assert rows.count("strokeseg") == rows.count("nnU-Net DefaultPreprocessor") == 3
    assert rows.count("naive full-resolution N4") == 2, "the N4 pipelines (DWI, T1w) race a full-resolution N4"
    assert re.search(r"^dwi: white-matter CV .* -> strokeseg [\d.]+ .*, naive [\d.]+", out, flags=re.MULTILINE)


def test_case_builders_write_flair_on_thick_slices_and_t1w_on_the_atlas_grid(tmp_path: Path, cache_dir: Path) -> None:
    flair = PIPELINES["flair"].write_cases(tmp_path, 991, 1, cache_dir=cache_dir)  # type: ignore[call-arg]
    t1w = PIPELINES["t1w"].write_cases(tmp_path, 992, 1, cache_dir=cache_dir)  # type: ignore[call-arg]
    for folder, channel in ((flair, "FLAIR"), (t1w, "T1w")):
        dataset = json.loads((folder / "dataset.json").read_text())
        assert dataset["channel_names"] == {"0": channel} and dataset["numTraining"] == 1
        assert len(list((folder / "labelsTr").glob("*.nii.gz"))) == 1
    flair_image = sitk.ReadImage(str(next((flair / "imagesTr").glob("*_0000.nii.gz"))))
    assert 2.5 <= flair_image.GetSpacing()[2] <= 5.0 and max(flair_image.GetSpacing()[:2]) <= 1.1
    t1w_image = sitk.ReadImage(str(next((t1w / "imagesTr").glob("*_0000.nii.gz"))))
    assert t1w_image.GetSize() == (197, 233, 189) and t1w_image.GetSpacing() == (1.0, 1.0, 1.0)
    assert json.loads((flair / "dataset.json").read_text())["labels"]["ignore"] == 2
