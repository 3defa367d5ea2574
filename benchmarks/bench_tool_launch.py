"""How strokeseg starts a stock nnU-Net tool: the console-script file against ``python -c`` with the same entry point
(``strokeseg.nnunet.runner.nnunet_command``), on one tiny ``nnUNetv2_train`` + ``nnUNetv2_predict`` pair.

nnU-Net starts its workers with ``spawn`` (the validation export and metrics at the end of training; preprocessing
and export in prediction), and a spawned worker imports its parent's main file again: for the console script that
is the whole tool. A toy dataset (16 x 32 x 32 voxels, 6 training and 2 test cases) is planned once; then each
launch trains ``nnUNetTrainer_strokeseg_PreActResUNet_Tiny`` (fold 0) and predicts the test cases, alternating, best
of ``--repeats``. Printed: wall-clock and CPU seconds (the tools and all their workers) and the ratio script / ``-c``.
One worker and one thread everywhere, as in the tests. Usage::

    .venv/bin/python benchmarks/bench_tool_launch.py --repeats 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from child_timing import timed_commands

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import nnunet_command, nnunet_executable, run_nnunet, tool_environment
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.toy import write_toy_dataset

DATASET_ID = 997
TRAINER = "nnUNetTrainer_strokeseg_PreActResUNet_Tiny"
ENVIRONMENT = {"nnUNet_def_n_proc": "1", "nnUNet_n_proc_DA": "0", "OMP_NUM_THREADS": "1", "nnUNet_compile": "false"}
LAUNCHES: dict[str, Callable[[str, Sequence[str]], list[str]]] = {
    "console script": lambda tool, arguments: [nnunet_executable(tool), *arguments],
    "python -c (strokeseg)": nnunet_command,
}


def train_and_predict(paths: NnunetPaths, launch: Callable[[str, Sequence[str]], list[str]], log: Path,
                      predictions: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one training (results removed first) and one prediction."""
    shutil.rmtree(paths.results, ignore_errors=True)
    shutil.rmtree(predictions, ignore_errors=True)
    raw = next(paths.raw.glob(f"Dataset{DATASET_ID}_*"))
    commands = [launch("nnUNetv2_train", [str(DATASET_ID), "3d_fullres", "0", "-tr", TRAINER, "-device", "cpu"]),
                launch("nnUNetv2_predict", ["-i", str(raw / "imagesTs"), "-o", str(predictions), "-d",
                                            str(DATASET_ID), "-c", "3d_fullres", "-f", "0", "-tr", TRAINER,
                                            "-device", "cpu", "-npp", "1", "-nps", "1"])]
    return timed_commands(commands, tool_environment(paths, ENVIRONMENT), log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both launches (best of each is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tool_launch_") as folder:
        paths = NnunetPaths.under(Path(folder))
        paths.create()
        log = Path(folder) / "nnunet.log"
        write_toy_dataset(paths.raw, DATASET_ID, "Launch", num_training=6, num_test=2, shape=(16, 32, 32))
        run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1", "-npfp",
                                                    "1", "-fpe", StrokesegFingerprintExtractor.__name__],
                   paths, log, {**ENVIRONMENT, "nnUNet_n_proc_DA": "1"})  # 0 breaks nnU-Net's planning
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, launch in LAUNCHES.items():
                wall, cpu = train_and_predict(paths, launch, log, Path(folder) / "predictions")
                best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
    print(f"tiny nnUNetv2_train + nnUNetv2_predict, best of {args.repeats} (one worker, one thread)")
    print(f"{'launch':<24}{'wall s':>8}{'CPU s':>8}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<24}{wall:>8.1f}{cpu:>8.1f}")
    (script_wall, script_cpu), (ours_wall, ours_cpu) = best.values()
    print(f"console script / python -c: wall {script_wall / ours_wall:.2f}x, CPU {script_cpu / ours_cpu:.2f}x")


if __name__ == "__main__":
    main()
