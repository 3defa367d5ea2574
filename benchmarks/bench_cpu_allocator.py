"""CPU prediction with glibc's default allocator against the heap settings strokeseg gives the tools it starts.

Every measurement runs in a fresh process, because glibc reads its settings at process start: the environment is
either this one without glibc's ``MALLOC_*`` variables (``system``) or
:func:`strokeseg.cpu_allocator.allocator_environment` of it (``heap``: what strokeseg sets for every nnU-Net tool).
Each process predicts the prediction benchmark's 256x256x30 DWI case twice with one network
(``bench_trainers.time_prediction``: sliding window, step 0.5, no TTA, random weights), as a cohort's prediction
does, and reports wall-clock, user and system CPU seconds and minor page faults of the second case, and the
process's peak resident memory. Rounds alternate system and heap; the best wall time of each is kept. Printed per
network: both rows and the ratios heap / system.

Run: ``.venv/bin/python benchmarks/bench_cpu_allocator.py [--trainers NAME ...] [--rounds 2] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from strokeseg.cpu_allocator import HEAP_ENVIRONMENT, MALLOC_CHOICE_VARIABLE, allocator_environment  # noqa: E402

#: Networks timed by default: nnU-Net's stock 3d_fullres network and the registry preset's.
DEFAULT_TRAINERS = ("nnUNetTrainer", "nnUNetTrainer_strokeseg_Noh2023")
CHOICES = ("system", "heap")


def choice_environment(choice: str) -> dict[str, str]:
    """This process's environment for a child measuring ``choice`` (``system`` or ``heap``)."""
    base = {key: value for key, value in os.environ.items() if key not in HEAP_ENVIRONMENT}
    base[MALLOC_CHOICE_VARIABLE] = choice
    return allocator_environment(base)


def measure_child(trainer: str, workdir: Path, threads: int) -> dict[str, Any]:
    """In the child: predict the DWI case twice with ``trainer``'s network; the second prediction's figures."""
    import bench_trainers
    import torch

    torch.set_num_threads(threads)
    geometry = bench_trainers.GEOMETRIES["dwi"]
    plans, dataset_json = bench_trainers.load_plans(bench_trainers.plan_geometries(workdir, [geometry]), geometry)
    cls = bench_trainers.trainer_class(trainer)
    # a first case as a cohort's prediction has it (the network built, the heap grown), then the timed one
    bench_trainers.time_prediction(cls, plans, dataset_json, torch.device("cpu"), None, geometry.shape_zyx)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    bench_trainers.time_prediction(cls, plans, dataset_json, torch.device("cpu"), None, geometry.shape_zyx)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "system_s": after.ru_stime - before.ru_stime,
            "minor_faults": after.ru_minflt - before.ru_minflt, "peak_rss_mib": after.ru_maxrss / 1024}


def run_child(trainer: str, choice: str, workdir: Path, threads: int) -> dict[str, Any]:
    """One measurement in a fresh process with ``choice``'s environment."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", trainer, "--workdir", str(workdir),
               "--threads", str(threads)]
    completed = subprocess.run(command, env=choice_environment(choice), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{trainer} ({choice}) failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trainers", nargs="+", default=list(DEFAULT_TRAINERS))
    parser.add_argument("--rounds", type=int, default=2, help="alternating system/heap rounds (best wall kept)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2: the 2-core target)")
    parser.add_argument("--workdir", type=Path, help="keep the plans here and reuse them (default: a temp folder)")
    parser.add_argument("--child", metavar="TRAINER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("nnUNet_compile", "false")
    if args.child:
        print(json.dumps(measure_child(args.child, args.workdir, args.threads)))
        return

    import bench_trainers

    with tempfile.TemporaryDirectory(prefix="bench_cpu_allocator_") as temp:
        workdir = args.workdir or Path(temp)
        bench_trainers.plan_geometries(workdir, [bench_trainers.GEOMETRIES["dwi"]])
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(args.rounds):
            for trainer in args.trainers:
                for choice in CHOICES:
                    results.setdefault((trainer, choice), []).append(run_child(trainer, choice, workdir,
                                                                               args.threads))
    print(f"Prediction of a 256x256x30 DWI case after a first one, no TTA, {args.threads} threads, best wall of "
          f"{args.rounds} round(s); heap = {' '.join(f'{k}={v}' for k, v in HEAP_ENVIRONMENT.items())}")
    header = f"{'network':34} {'malloc':7} {'wall s':>7} {'user s':>7} {'sys s':>7} {'faults':>10} {'peak MiB':>9}"
    print(header)
    for trainer in args.trainers:
        best = {choice: min(results[(trainer, choice)], key=lambda r: r["wall_s"]) for choice in CHOICES}
        for choice, row in best.items():
            print(f"{trainer.removeprefix('nnUNetTrainer_strokeseg_'):34} {choice:7} {row['wall_s']:7.1f} "
                  f"{row['user_s']:7.1f} {row['system_s']:7.1f} {row['minor_faults']:10d} {row['peak_rss_mib']:9.0f}")
        heap, system = best["heap"], best["system"]
        print(f"{'':34} heap / system: wall {heap['wall_s'] / system['wall_s']:.2f}x, CPU "
              f"{(heap['user_s'] + heap['system_s']) / (system['user_s'] + system['system_s']):.2f}x, peak memory "
              f"{heap['peak_rss_mib'] / system['peak_rss_mib']:.2f}x")


if __name__ == "__main__":
    main()
