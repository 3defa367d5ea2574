"""``nnUNetv2_predict`` on the CPU with nnU-Net's worker processes against none, on a finished demo's test sets.

What ``NnunetSettings.prediction_worker_arguments`` chooses for a CPU experiment with 2 processes (the demo on a
2-core machine): ``-npp 0 -nps 0`` (preprocessing, prediction and export in the tool's own process) instead of
``-npp N -nps N``. nnU-Net spawns its workers, and each imports torch and nnU-Net before its first case; on the CPU
the network already uses every core. The demo's source model predicts both test sets (internal and external, as the
demo's ``predict-source`` job does, as strokeseg starts a tool), alternating the two settings, best of ``--repeats``.
Printed: wall-clock and CPU seconds (the tool and its workers), the ratio workers / in process, and whether both
wrote the same segmentations. Needs a finished demo folder::

    .venv/bin/python benchmarks/bench_demo.py --keep /tmp/demo_bench        # once (about 13 minutes)
    .venv/bin/python benchmarks/bench_prediction_workers.py --demo /tmp/demo_bench --repeats 2
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from child_timing import timed_commands
from finished_demo import demo_parser, finished_demo

from strokeseg.experiments.recipes.demo.layout import CONFIGURATION, TEST_SETS
from strokeseg.experiments.steps import link_test_set_images
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import nnunet_command, tool_environment

ENVIRONMENT = {"nnUNet_def_n_proc": "2", "nnUNet_compile": "false"}


def workers_arguments(workers: int) -> tuple[str, ...]:
    """``-npp N -nps N`` (0: no workers)."""
    return ("-npp", str(workers), "-nps", str(workers))


def main() -> None:
    args = demo_parser(__doc__.split("\n\n")[0], "nnU-Net's workers of each kind to race (default 2)").parse_args()
    study = finished_demo(args.demo)
    model = study.source_model()
    settings = {f"{args.workers} workers of each kind": workers_arguments(args.workers),
                "in process": workers_arguments(0)}
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_prediction_workers_") as folder:
        inputs = Path(folder) / "input"
        files = link_test_set_images(study.paths.raw, tuple(TEST_SETS.items()), inputs)
        outputs = {name: Path(folder) / name.replace(" ", "_") for name in settings}
        env = tool_environment(NnunetPaths(study.paths.raw, study.paths.preprocessed, model.results), ENVIRONMENT)
        for _ in range(args.repeats):
            for name, workers in settings.items():
                shutil.rmtree(outputs[name], ignore_errors=True)
                command = nnunet_command("nnUNetv2_predict", [
                    "-i", str(inputs), "-o", str(outputs[name]), "-d", model.dataset, "-c", CONFIGURATION, "-f",
                    str(study.profile.source_fold), "-tr", model.trainer, "-p", model.plans, "-device", "cpu",
                    *workers, "--disable_progress_bar"])
                wall, cpu = timed_commands([command], env, Path(folder) / "nnunet.log")
                best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
        first, second = outputs.values()
        segmentations = sorted(path.name for path in first.glob("*.nii.gz"))
        same = bool(segmentations) and all(filecmp.cmp(first / name, second / name, shallow=False)
                                           for name in segmentations)
    print(f"nnUNetv2_predict of {files} image files ({len(segmentations)} cases), {study.profile.name} source model, "
          f"CPU, best of {args.repeats}")
    print(f"{'':<28}{'wall s':>8}{'CPU s':>8}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<28}{wall:>8.1f}{cpu:>8.1f}")
    (workers_wall, workers_cpu), (own_wall, own_cpu) = best.values()
    print(f"workers / in process: wall {workers_wall / own_wall:.2f}x, CPU {workers_cpu / own_cpu:.2f}x")
    print(f"same segmentations: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
