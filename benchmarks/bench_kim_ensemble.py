"""Per-case prediction time of Kim et al.'s 5-member 2D SE-U-Net ensemble (preset ``kim_wmh_flair``), and the
parameter counts of the paper's networks.

1. Parameter counts of the 2D U-Net and the 2D SE-U-Net (2-channel head) in the preset's reading of the paper
   (features 32, 64, 128) and in the other reading (32, 64, 128 and a 256-feature bottleneck); the SE-U-Net's
   convolution multiply-adds per slice and the arithmetic rate the ensemble needs to meet the goal.
2. Prediction of one FLAIR case (25 slices of 256 x 256 after the planner's in-plane resize) by nnU-Net's
   predictor (sliding window, Gaussian weighting, no mirroring: what ``nnUNetv2_predict`` does with the preset's
   models), once per member of a 5-member ensemble (members with their own random weights), plus the soft vote
   (mean of the members' softmax probabilities). Peer, in the same run: one member, and nnU-Net's default 2D
   network from the same plans (``nnUNetTrainer``). Goal: <= 10 s per case for the ensemble on 2 CPU cores.

The plans come from ``nnUNetv2_plan_and_preprocess -pl KimWMHPlanner -c 2d`` on three FLAIR phantoms of the
benchmark's geometry (in a temporary folder unless ``--workdir`` is given). Wall-clock time depends on what else the
machine runs, so process CPU time and the load average are printed too; ``--rounds N`` keeps each model's best.
Usage::

    .venv/bin/python benchmarks/bench_kim_ensemble.py                 # CPU, 2 threads
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from strokeseg.defaults import ENSEMBLE_MEMBERS, KIM_FEATURES
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers import get_preset
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.analytic_head import write_phantom_dataset
from strokeseg.trainers import nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble
from strokeseg.trainers.networks.kim_unet import KimUNet
from strokeseg.trainers.networks.spec import count_parameters

PRESET = get_preset("kim_wmh_flair")
DATASET_ID = 951
#: One axial FLAIR case: 25 slices of 256 x 256 at 0.9 x 0.9 x 6 mm (z, y, x).
FLAIR_SHAPE_ZYX = (25, 256, 256)
FLAIR_SPACING_ZYX = (6.0, 0.9, 0.9)
#: Per-case goal for the whole ensemble on 2 CPU cores (seconds).
GOAL_S = 10.0
#: The other reading of the paper's "3 resolution steps": three poolings and a 256-feature bottleneck.
OTHER_READING = (*KIM_FEATURES, 256)


def parameter_rows() -> list[tuple[str, tuple[int, ...], int, int]]:
    """(reading, features, U-Net parameters, SE-U-Net parameters) of both readings."""
    return [(name, features, count_parameters(KimUNet(1, 2, features, squeeze_excitation=False)),
             count_parameters(KimUNet(1, 2, features, squeeze_excitation=True)))
            for name, features in (("preset (3 steps incl. bottleneck)", KIM_FEATURES),
                                   ("other (3 poolings + bottleneck)", OTHER_READING))]


def multiply_adds(network: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds of the 2D convolutions (transposed ones included) in one forward pass of an input of ``shape``
    (batch 1, ungrouped convolutions)."""
    total = 0

    def count(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.ConvTranspose2d):  # every input pixel meets every weight once
            total += inputs[0][0, 0].numel() * module.weight.numel()
        else:  # every output value: in-channels x kernel multiply-adds
            total += output.numel() * module.weight[0].numel()

    hooks = [m.register_forward_hook(count) for m in network.modules()
             if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    with torch.no_grad():
        network.eval()(torch.zeros(shape))
    for hook in hooks:
        hook.remove()
    return total


def prepare_plans(workdir: Path) -> tuple[dict, dict]:
    """Plans and dataset.json of three FLAIR phantoms planned by the preset's planner (reused when present)."""
    paths = NnunetPaths.under(workdir)
    paths.create()
    folder = paths.preprocessed / f"Dataset{DATASET_ID}_BenchFLAIR"
    if not (folder / f"{PRESET.plans}.json").is_file():
        write_phantom_dataset(paths.raw, DATASET_ID, "BenchFLAIR", channels=("FLAIR",), num_training=3, num_test=0,
                              shape=FLAIR_SHAPE_ZYX, spacing=FLAIR_SPACING_ZYX, overwrite=True)
        run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(DATASET_ID), "-pl", PRESET.planner, "-c",
                                                    PRESET.configuration, "-np", "1", "-npfp", "1", "-fpe",
                                                    StrokesegFingerprintExtractor.__name__], paths,
                   workdir / "nnunet.log", {"nnUNet_n_proc_DA": "1", "OMP_NUM_THREADS": "1"})
    os.environ.update(paths.environment())
    return (json.loads((folder / f"{PRESET.plans}.json").read_text()),
            json.loads((folder / "dataset.json").read_text()))


def predictor_for(trainer_class: type, plans: dict, dataset_json: dict, seed: int) -> Any:
    """nnU-Net's predictor holding a freshly initialized network of ``trainer_class`` (no mirroring)."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    manager = PlansManager(plans)
    configuration = manager.get_configuration(PRESET.configuration)
    channels = determine_num_input_channels(manager, configuration, dataset_json)
    heads = manager.get_label_manager(dataset_json).num_segmentation_heads
    torch.manual_seed(seed)
    network = trainer_class.build_network_architecture(manager, configuration, channels, heads, False).eval()
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=False,
                                perform_everything_on_device=False, device=torch.device("cpu"), verbose=False,
                                verbose_preprocessing=False, allow_tqdm=False)
    predictor.manual_initialization(network, manager, configuration, None, dataset_json, trainer_class.__name__,
                                    None)
    return predictor


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall-clock s, process CPU s, result) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def ensemble_prediction(predictors: list[Any], image: torch.Tensor) -> torch.Tensor:
    """Soft vote: the mean of the members' softmax probabilities (what ``strokeseg uncertainty`` averages)."""
    total = torch.zeros(())
    for predictor in predictors:
        total = total + torch.softmax(predictor.predict_sliding_window_return_logits(image).float(), dim=0)
    return total / len(predictors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    parser.add_argument("--members", type=int, default=ENSEMBLE_MEMBERS, help="ensemble size (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the timings, keep the best (default: 1)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the planned dataset here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print("Parameters (2-channel head):")
    for name, features, unet, se_unet in parameter_rows():
        print(f"  {name:36s} features {list(features)}: U-Net {unet:,}, SE-U-Net {se_unet:,}")
    slice_macs = multiply_adds(KimUNet(1, 2, KIM_FEATURES, squeeze_excitation=True), (1, 1, *FLAIR_SHAPE_ZYX[1:]))
    case_flop = 2 * slice_macs * FLAIR_SHAPE_ZYX[0] * args.members
    print(f"SE-U-Net convolutions: {slice_macs / 1e9:.2f} G multiply-adds per 256 x 256 slice; the "
          f"{args.members}-member ensemble needs {case_flop / 1e12:.2f} TFLOP per {FLAIR_SHAPE_ZYX[0]}-slice case, "
          f"{case_flop / GOAL_S / 1e9:.0f} GFLOP/s to meet the goal")

    with tempfile.TemporaryDirectory() as scratch:
        plans, dataset_json = prepare_plans(args.workdir or Path(scratch))
        from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

        configuration = plans["configurations"][PRESET.configuration]
        image = torch.randn((1, *FLAIR_SHAPE_ZYX), generator=torch.Generator().manual_seed(1))
        members = [predictor_for(nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble, plans, dataset_json, seed)
                   for seed in range(args.members)]
        stock = predictor_for(nnUNetTrainer, plans, dataset_json, 0)
        members[0].predict_sliding_window_return_logits(image[:, :2])  # warm-up
        rows: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, work in (("one SE-U-Net member", lambda: members[0].predict_sliding_window_return_logits(image)),
                               (f"{args.members}-member SE-U-Net ensemble + soft vote",
                                lambda: ensemble_prediction(members, image)),
                               ("nnU-Net default 2d network (peer)",
                                lambda: stock.predict_sliding_window_return_logits(image))):
                wall, cpu, _ = timed(work)
                rows[name] = min(rows.get(name, (wall, cpu)), (wall, cpu))
    load = os.getloadavg()
    print(f"\nPrediction of one FLAIR case {list(FLAIR_SHAPE_ZYX)} (patch {configuration['patch_size']}, batch of "
          f"sliding windows 1, no mirroring), CPU, {torch.get_num_threads()} threads, load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}:")
    member_wall = rows["one SE-U-Net member"][0]
    for name, (wall, cpu) in rows.items():
        print(f"  {name:46s} wall {wall:7.2f} s  CPU {cpu:7.2f} s  ({wall / member_wall:.2f} x one member)")
    ensemble_wall = rows[f"{args.members}-member SE-U-Net ensemble + soft vote"][0]
    verdict = "met" if ensemble_wall <= GOAL_S else \
        f"missed by {ensemble_wall - GOAL_S:.1f} s ({ensemble_wall / GOAL_S:.1f} x the goal)"
    print(f"goal <= {GOAL_S:g} s per case for the ensemble: {verdict}")


if __name__ == "__main__":
    main()
