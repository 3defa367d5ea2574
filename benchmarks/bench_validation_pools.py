"""End-of-training validation with one process (``nnUNet_def_n_proc=1``), or ``--processes`` on the CPU: nnU-Net's
spawned pools against strokeseg's trainers exporting and scoring in their own process
(``strokeseg.nnunet.validation_pools``).

A toy dataset (``--cases`` training cases of 24 x 64 x 64 voxels) is planned, ``--trainer`` trains fold 0 through
the stock ``nnUNetv2_train``; then one child process loads the final checkpoint (as ``nnUNetv2_train --val`` does)
and runs the validation of fold 0 alternately through nnU-Net's own ``perform_actual_validation`` (its spawn pools)
and through the trainer's (in process), best of ``--repeats``. Printed: wall-clock and CPU seconds (the process and
its pools' workers) of each, their ratio, and whether both wrote the same ``summary.json`` metrics. As many torch
threads as processes (one by default). Usage::

    .venv/bin/python benchmarks/bench_validation_pools.py --repeats 3
    .venv/bin/python benchmarks/bench_validation_pools.py --repeats 3 --processes 2   # the demo on 2 cores
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

from bench_tool_launch import ENVIRONMENT, plan_toy_dataset
from child_timing import children_cpu_s

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet, tool_environment

DATASET_ID = 996
WAYS = ("nnU-Net's spawn pools", "in process (strokeseg)")


def process_cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pools' workers, once joined)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + children_cpu_s()


def child(trainer_name: str, repeats: int) -> None:
    """In the child: validate fold 0 both ways, alternating; print one JSON line of the best times and metrics."""
    import torch
    from nnunetv2.run.run_training import get_trainer_from_args
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    trainer = get_trainer_from_args(str(DATASET_ID), "3d_fullres", 0, trainer_name, device=torch.device("cpu"))
    trainer.load_checkpoint(os.path.join(trainer.output_folder, "checkpoint_final.pth"))
    summary = Path(trainer.output_folder) / "validation" / "summary.json"
    validations = {WAYS[0]: lambda: nnUNetTrainer.perform_actual_validation(trainer, False),
                   WAYS[1]: lambda: trainer.perform_actual_validation(False)}
    best: dict[str, tuple[float, float]] = {}
    metrics: dict[str, object] = {}
    for _ in range(repeats):
        for way, validate in validations.items():
            cpu, start = process_cpu_s(), time.perf_counter()
            validate()
            timing = (time.perf_counter() - start, process_cpu_s() - cpu)
            best[way] = min(best.get(way, timing), timing)
            metrics[way] = json.loads(summary.read_text())["metric_per_case"]
    print(json.dumps({"best": best, "same_metrics": metrics[WAYS[0]] == metrics[WAYS[1]],
                      "cases": len(metrics[WAYS[1]])}))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of both validations (best of each is kept)")
    parser.add_argument("--cases", type=int, default=15, help="training cases of the toy dataset (a fifth validate)")
    parser.add_argument("--trainer", default="nnUNetTrainer_strokeseg_PreActResUNet_Tiny")
    parser.add_argument("--processes", type=int, default=1,
                        help="nnUNet_def_n_proc and torch threads of the validation (default 1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.trainer, args.repeats)
        return
    with tempfile.TemporaryDirectory(prefix="bench_validation_pools_") as folder:
        paths = NnunetPaths.under(Path(folder))
        paths.create()
        log = Path(folder) / "nnunet.log"
        plan_toy_dataset(paths, DATASET_ID, "Validation", args.cases, 1, (24, 64, 64), log)
        run_nnunet("nnUNetv2_train", [str(DATASET_ID), "3d_fullres", "0", "-tr", args.trainer, "-device", "cpu"],
                   paths, log, ENVIRONMENT)
        validation_env = {**ENVIRONMENT, "nnUNet_def_n_proc": str(args.processes),
                          "OMP_NUM_THREADS": str(args.processes)}
        completed = subprocess.run([sys.executable, __file__, "--child", "--trainer", args.trainer, "--repeats",
                                    str(args.repeats)], env=tool_environment(paths, validation_env),
                                   capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"validation child failed:\n{(completed.stdout + completed.stderr)[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"validation of fold 0 ({result['cases']} cases of 24x64x64, {args.trainer}), "
          f"nnUNet_def_n_proc={args.processes}, "
          f"best of {args.repeats}")
    print(f"{'':<28}{'wall s':>8}{'CPU s':>8}")
    for way in WAYS:
        wall, cpu = result["best"][way]
        print(f"{way:<28}{wall:>8.2f}{cpu:>8.2f}")
    (pool_wall, pool_cpu), (own_wall, own_cpu) = (result["best"][way] for way in WAYS)
    print(f"pools / in process: wall {pool_wall / own_wall:.1f}x, CPU {pool_cpu / own_cpu:.1f}x; "
          f"same summary.json metrics: {result['same_metrics']}")


if __name__ == "__main__":
    main()
