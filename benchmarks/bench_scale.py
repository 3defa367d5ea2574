"""Cost at registry scale: convert + preprocess + evaluate phantom registries of growing size, in one run.

For each size N (default 100 and 1,000 cases) a registry manifest of N cases is converted (``strokeseg convert
registry``), planned and preprocessed (``nnUNetv2_plan_and_preprocess -pl StrokeDWIPlanner``, strokeseg's
skull strip + N4 + histogram-peak normalisation) and evaluated (``strokeseg evaluate``, all per-case metrics and
the report). Printed per stage and size: seconds, cases/s and the peak resident memory of the largest process the
stage ran (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of each stage's process tree, measured in a fresh
child per stage); then the checks of issue 23: the largest size's time ≤ 11 × (size ratio / 10) × the smallest
size's (linear cost: 1,000 cases ≤ 11 × 100 cases) and its peak memory ≤ 1.5 × the smallest size's (streaming,
not holding every case).

The phantoms come from ``strokeseg.synthetic`` with coarse sites (3.5 mm in-plane, 7 mm slices: small volumes),
and only ``--distinct`` cases are generated: the manifest's N rows cycle through them under distinct case IDs, so
every stage reads, processes and writes N cases while generating the phantoms (not part of what is measured)
stays short. Predictions are the references dilated by one voxel (a realistic surface-distance workload).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py                 # 100 and 1,000 cases
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py --sizes 20 200 --workdir /tmp/scale
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.synthetic.cohort import generate_cohort
from strokeseg.synthetic.sites import default_sites

#: Coarse phantom grids (mm): small volumes so that 1,000 cases fit in minutes.
IN_PLANE_MM, SLICE_MM = 3.5, 7.0
#: Issue 23's checks: time of 10× the cases ≤ 11× the time; peak memory flat (≤ this factor).
LINEAR_FACTOR, MEMORY_FACTOR = 1.1, 1.5
FIRST_DATASET_ID = 970


def base_cohort(folder: Path, distinct: int, seed: int) -> pd.DataFrame:
    """``distinct`` coarse phantom registry cases (reused when present); their manifest with absolute paths."""
    sites = [dataclasses.replace(site, in_plane_mm=(IN_PLANE_MM, IN_PLANE_MM), slice_thickness_mm=(SLICE_MM,))
             for site in default_sites("registry")]
    generate_cohort(folder, "registry", distinct, seed, sites=sites, montage_cases=0)
    manifest = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    for column in ("dwi", "adc", "b0", "mask"):
        manifest[column] = [str((folder / path).resolve()) for path in manifest[column]]
    return manifest


def registry_manifest(base: pd.DataFrame, size: int, folder: Path) -> Path:
    """A manifest of ``size`` cases cycling through the base cases under distinct IDs."""
    rows = base.iloc[np.arange(size) % len(base)].copy()
    rows["case_id"] = [f"scale{index:06d}" for index in range(size)]
    rows["split"] = "train"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.csv"
    rows.to_csv(path, index=False)
    return path


def write_predictions(labels: Path, predictions: Path) -> None:
    """Each reference mask dilated by one voxel (6-connected), written under the case's name."""
    predictions.mkdir(parents=True, exist_ok=True)
    for label in sorted(labels.glob("*.nii.gz")):
        image = sitk.ReadImage(str(label))
        dilated = sitk.GetImageFromArray(ndimage.binary_dilation(sitk.GetArrayFromImage(image) > 0).astype(np.uint8))
        dilated.CopyInformation(image)
        sitk.WriteImage(dilated, str(predictions / label.name), True)


def timed_stage(command: list[str], environment: dict[str, str], log: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB of the largest process of the stage's tree), the stage run in a fresh child.

    A small Python wrapper runs the command so that RUSAGE_CHILDREN covers this stage alone.
    """
    wrapper = ("import resource, subprocess, sys, time\n"
               "started = time.perf_counter()\n"
               "with open(sys.argv[1], 'a') as log:\n"
               "    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode\n"
               "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(code)\n")
    completed = subprocess.run([sys.executable, "-c", wrapper, str(log), *command], env=environment,
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed; see {log}:\n{completed.stderr[-2000:]}")
    seconds, peak_kib = completed.stdout.split()
    return float(seconds), int(peak_kib) / 1024


def run_size(base: pd.DataFrame, size: int, dataset_id: int, work: Path) -> dict[str, tuple[float, float]]:
    """Convert, preprocess and evaluate a registry of ``size`` cases; stage -> (seconds, peak MiB)."""
    folder = work / f"n{size}"
    raw, preprocessed, results = folder / "raw", folder / "preprocessed", folder / "results"
    for path in (raw, preprocessed, results):
        path.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "nnUNet_raw": str(raw), "nnUNet_preprocessed": str(preprocessed),
                   "nnUNet_results": str(results), "OMP_NUM_THREADS": "1", "nnUNet_n_proc_DA": "1"}
    manifest = registry_manifest(base, size, folder / "cohort")
    tools = Path(sys.executable).parent
    stages: dict[str, tuple[float, float]] = {}
    log = folder / "stages.log"
    stages["convert"] = timed_stage([str(tools / "strokeseg"), "convert", "registry", str(manifest), "-d",
                                     str(dataset_id), "--name", f"Scale{size}", "--channels", "DWI,ADC", "-j", "1"],
                                    environment, log)
    dataset = next(raw.glob(f"Dataset{dataset_id}_*"))
    stages["preprocess"] = timed_stage([str(tools / "nnUNetv2_plan_and_preprocess"), "-d", str(dataset_id), "-pl",
                                        "StrokeDWIPlanner", "-c", "3d_fullres", "-np", "1", "-npfp", "1"],
                                       environment, log)
    write_predictions(dataset / "labelsTr", folder / "predictions")
    stages["evaluate"] = timed_stage([str(tools / "strokeseg"), "evaluate", "-ref", str(dataset), "-pred",
                                      str(folder / "predictions"), "-o", str(folder / "evaluation"), "--no-plots",
                                      "--location", "none", "--device", "cpu", "-j", "1"], environment, log)
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="registry sizes (cases)")
    parser.add_argument("--distinct", type=int, default=6, help="phantom cases generated (default: 6)")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as temporary:
        work = arguments.workdir or Path(temporary)
        base = base_cohort(work / "phantoms", arguments.distinct, arguments.seed)
        rows = []
        for offset, size in enumerate(sorted(arguments.sizes)):
            for stage, (seconds, peak) in run_size(base, size, FIRST_DATASET_ID + offset, work).items():
                rows.append({"cases": size, "stage": stage, "seconds": seconds, "cases_per_s": size / seconds,
                             "peak_mib": peak})
                print(f"{size:6d} cases  {stage:10s} {seconds:9.1f} s  {size / seconds:7.2f} cases/s  "
                      f"peak {peak:7.0f} MiB", flush=True)
    table = pd.DataFrame(rows)
    totals = table.groupby("cases").agg(seconds=("seconds", "sum"), peak_mib=("peak_mib", "max"))
    small, large = totals.index.min(), totals.index.max()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nphantoms {IN_PLANE_MM:g}×{IN_PLANE_MM:g}×{SLICE_MM:g} mm, {arguments.distinct} distinct; one worker "
          f"per stage; load average {load}")
    for cases, row in totals.iterrows():
        print(f"{cases:6d} cases: {row.seconds:.1f} s in all ({cases / row.seconds:.2f} cases/s), "
              f"peak {row.peak_mib:.0f} MiB")
    if large > small:
        allowed = LINEAR_FACTOR * large / small
        ratio = totals.seconds[large] / totals.seconds[small]
        memory = totals.peak_mib[large] / totals.peak_mib[small]
        print(f"time {large} / {small} cases = {ratio:.2f}× (linear: ≤ {allowed:.1f}×): "
              f"{'met' if ratio <= allowed else 'NOT met'}")
        print(f"peak memory {large} / {small} cases = {memory:.2f}× (flat: ≤ {MEMORY_FACTOR:g}×): "
              f"{'met' if memory <= MEMORY_FACTOR else 'NOT met'}")
        for stage, group in table.groupby("stage"):
            stage_ratio = group.set_index("cases").seconds
            stage_memory = group.set_index("cases").peak_mib
            print(f"  {stage:10s} time {stage_ratio[large] / stage_ratio[small]:.2f}×, peak memory "
                  f"{stage_memory[large] / stage_memory[small]:.2f}×")


if __name__ == "__main__":
    main()
