"""How strokeseg starts a stock nnU-Net tool: the console-script file against ``python -c`` with the same entry point
(``strokeseg.nnunet.runner.nnunet_command``), on one tiny ``nnUNetv2_train`` + ``nnUNetv2_predict`` pair.

nnU-Net starts its workers with ``spawn`` (the validation export and metrics at the end of training; preprocessing
and export in prediction), and a spawned worker imports its parent's main file again: for the console script that
is the whole tool. A toy dataset (16 x 32 x 32 voxels, 6 training and 2 test cases) is planned once; then each
launch trains ``nnUNetTrainer_strokeseg_PreActResUNet_Tiny`` (fold 0) and predicts the test cases, alternating, best
of ``--repeats``. Printed: wall-clock and CPU seconds (the tools and all their workers) and the ratio script / ``-c``.
One worker and one thread everywhere, as in the tests.

Then the last trained model predicts the test cases with one nnU-Net worker of each kind (``-npp 1 -nps 1``) and
with none (``-npp 0 -nps 0``: preprocessing, prediction and export in the tool's own process), alternating, best of
``--repeats``: what an experiment with one process (``nnunet.processes: 1``, ``strokeseg demo -j 1``) chooses.
Usage::

    .venv/bin/python benchmarks/bench_tool_launch.py --repeats 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from child_timing import timed_commands

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import nnunet_command, nnunet_executable, run_nnunet, tool_environment
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.toy import write_toy_dataset

DATASET_ID = 997
TRAINER = "nnUNetTrainer_strokeseg_PreActResUNet_Tiny"
ENVIRONMENT = {"nnUNet_def_n_proc": "1", "nnUNet_n_proc_DA": "0", "OMP_NUM_THREADS": "1", "nnUNet_compile": "false"}
#: nnUNetv2_predict's worker processes: one preprocessing and one export worker, or none.
ONE_WORKER_EACH: tuple[str, ...] = ("-npp", "1", "-nps", "1")
PREDICTION_WORKERS: dict[str, tuple[str, ...]] = {
    "one worker each (-npp 1 -nps 1)": ONE_WORKER_EACH,
    "no workers (-npp 0 -nps 0)": ("-npp", "0", "-nps", "0"),
}
LAUNCHES: dict[str, Callable[[str, Sequence[str]], list[str]]] = {
    "console script": lambda tool, arguments: [nnunet_executable(tool), *arguments],
    "python -c (strokeseg)": nnunet_command,
}


def plan_toy_dataset(paths: NnunetPaths, dataset_id: int, name: str, num_training: int, num_test: int,
                     shape: tuple[int, int, int], log: Path) -> None:
    """Write a toy dataset into ``paths.raw`` and plan + preprocess its 3d_fullres configuration with the stock tool
    (one worker, strokeseg's fast fingerprint)."""
    write_toy_dataset(paths.raw, dataset_id, name, num_training=num_training, num_test=num_test, shape=shape)
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(dataset_id), "-c", "3d_fullres", "-np", "1", "-npfp", "1",
                                                "-fpe", StrokesegFingerprintExtractor.__name__],
               paths, log, {**ENVIRONMENT, "nnUNet_n_proc_DA": "1"})  # 0 breaks nnU-Net's planning


@contextmanager
def planned_toy_folder(name: str) -> Iterator[tuple[NnunetPaths, Path, Path]]:
    """A temporary folder with the planned toy dataset ``name`` (6 training and 2 test cases of 16 x 32 x 32
    voxels): (its nnU-Net folders, the tools' log, a predictions folder), removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"bench_{name.lower()}_") as folder:
        paths = NnunetPaths.under(Path(folder))
        paths.create()
        log = Path(folder) / "nnunet.log"
        plan_toy_dataset(paths, DATASET_ID, name, 6, 2, (16, 32, 32), log)
        yield paths, log, Path(folder) / "predictions"


def predict_arguments(paths: NnunetPaths, predictions: Path, workers: Sequence[str]) -> list[str]:
    """nnUNetv2_predict of the toy dataset's test cases with the trained fold 0."""
    raw = next(paths.raw.glob(f"Dataset{DATASET_ID}_*"))
    return ["-i", str(raw / "imagesTs"), "-o", str(predictions), "-d", str(DATASET_ID), "-c", "3d_fullres", "-f",
            "0", "-tr", TRAINER, "-device", "cpu", *workers]


def train_and_predict(paths: NnunetPaths, launch: Callable[[str, Sequence[str]], list[str]], log: Path,
                      predictions: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one training (results removed first) and one prediction."""
    shutil.rmtree(paths.results, ignore_errors=True)
    shutil.rmtree(predictions, ignore_errors=True)
    commands = [launch("nnUNetv2_train", [str(DATASET_ID), "3d_fullres", "0", "-tr", TRAINER, "-device", "cpu"]),
                launch("nnUNetv2_predict", predict_arguments(paths, predictions, ONE_WORKER_EACH))]
    return timed_commands(commands, tool_environment(paths, ENVIRONMENT), log)


def predict_only(paths: NnunetPaths, workers: Sequence[str], log: Path, predictions: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one prediction (earlier predictions removed first) started as strokeseg starts it."""
    shutil.rmtree(predictions, ignore_errors=True)
    command = nnunet_command("nnUNetv2_predict", predict_arguments(paths, predictions, workers))
    return timed_commands([command], tool_environment(paths, ENVIRONMENT), log)


def print_pair(title: str, best: dict[str, tuple[float, float]]) -> None:
    """The two rows of ``best`` and the ratio first / second."""
    print(title)
    print(f"{'':<34}{'wall s':>8}{'CPU s':>8}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<34}{wall:>8.1f}{cpu:>8.1f}")
    (first_wall, first_cpu), (second_wall, second_cpu) = best.values()
    first, second = best
    print(f"{first} / {second}: wall {first_wall / second_wall:.2f}x, CPU {first_cpu / second_cpu:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both launches (best of each is kept)")
    args = parser.parse_args()
    with planned_toy_folder("Launch") as (paths, log, predictions):
        launches: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, launch in LAUNCHES.items():
                wall, cpu = train_and_predict(paths, launch, log, predictions)
                launches[name] = min(launches.get(name, (wall, cpu)), (wall, cpu))
        workers: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, arguments in PREDICTION_WORKERS.items():
                wall, cpu = predict_only(paths, arguments, log, predictions)
                workers[name] = min(workers.get(name, (wall, cpu)), (wall, cpu))
    print_pair(f"tiny nnUNetv2_train + nnUNetv2_predict, best of {args.repeats} (one worker, one thread)", launches)
    print_pair(f"nnUNetv2_predict of the 2 test cases, best of {args.repeats} (one thread)", workers)


if __name__ == "__main__":
    main()
