"""Stock nnU-Net tools from a warm server (``strokeseg.nnunet.tool_server.ToolLauncher``, what the demo and every
experiment run in this process use) against a new interpreter per tool (what a Slurm job or a user's shell does).

A toy dataset (16 x 32 x 32 voxels, 6 training and 2 test cases) is planned once; then one round runs
``--pairs`` times a tiny ``nnUNetv2_train`` of ``nnUNetTrainer_strokeseg_PreActResUNet_Tiny`` (fold 0, results
removed first) followed by ``nnUNetv2_predict`` of the test cases without worker processes: the demo's pattern of
trainings and predictions, at a size where starting the tools is most of the work. Rounds alternate between the two
ways, best of ``--repeats``. Printed: wall-clock and CPU seconds (the tools, their workers and the server, which is
stopped and waited for inside the round) and the ratio new / warm. One worker and one thread everywhere, as in the
tests. Usage::

    .venv/bin/python benchmarks/bench_tool_server.py --repeats 2
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bench_tool_launch import DATASET_ID, ENVIRONMENT, TRAINER, planned_toy_folder, predict_arguments, print_pair
from child_timing import children_cpu_s

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.nnunet.tool_server import ToolLauncher

WAYS = ("new interpreter per tool", "warm server (ToolLauncher)")


def one_round(paths: NnunetPaths, pairs: int, warm: bool, log: Path, predictions: Path) -> tuple[float, float]:
    """(wall s, CPU s) of ``pairs`` trainings and predictions, started one way."""
    cpu, start = children_cpu_s(), time.perf_counter()
    with ToolLauncher() as launcher:
        for _ in range(pairs):
            shutil.rmtree(paths.results, ignore_errors=True)
            shutil.rmtree(predictions, ignore_errors=True)
            run_nnunet("nnUNetv2_train", [str(DATASET_ID), "3d_fullres", "0", "-tr", TRAINER, "-device", "cpu"],
                       paths, log, ENVIRONMENT, launcher=launcher if warm else None)
            run_nnunet("nnUNetv2_predict", predict_arguments(paths, predictions, ("-npp", "0", "-nps", "0")),
                       paths, log, ENVIRONMENT, launcher=launcher if warm else None)
    return time.perf_counter() - start, children_cpu_s() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="rounds of each way (best of each is kept)")
    parser.add_argument("--pairs", type=int, default=3, help="trainings + predictions per round")
    args = parser.parse_args()
    with planned_toy_folder("Server") as (paths, log, predictions):
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for way in WAYS:
                wall, cpu = one_round(paths, args.pairs, way != WAYS[0], log, predictions)
                print(f"{way}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
                best[way] = min(best.get(way, (wall, cpu)), (wall, cpu))
    print_pair(f"{args.pairs} x (tiny nnUNetv2_train + nnUNetv2_predict), best of {args.repeats} (one worker, "
               "one thread)", best)


if __name__ == "__main__":
    main()
