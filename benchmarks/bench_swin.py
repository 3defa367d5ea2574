"""Swin UNETR (the registry study's transformer arm) beside the Noh U-Net, measured in one run.

For ``nnUNetTrainer_strokeseg_Noh2023SwinUNETR`` and ``nnUNetTrainer_strokeseg_Noh2023`` on the same stock plans of
a 256x256x30 DWI case at 0.94x0.94x5 mm (``bench_trainers``' synthetic DWI geometry):

1. parameters of each network;
2. prediction: nnU-Net's sliding-window prediction (step 0.5, Gaussian weighting, no test-time augmentation) of
   one 256x256x30 case, wall and process CPU time (target of issue 25: <= 10 s on 2 CPU cores);
3. training: iterations per second of each trainer's ``train_step`` on the same random batch (patch scaled by
   ``--patch-factor``, default 0.5 on a CPU; batch ``--batch-size``, default 1 on a CPU to keep memory low);
then the ratios Swin UNETR / U-Net. ``--rounds N`` repeats every measurement round-robin and keeps the best.

    .venv/bin/python benchmarks/bench_swin.py                          # CUDA if available, else 2 CPU threads
    .venv/bin/python benchmarks/bench_swin.py --tiny --device cpu      # quarter-size input: checks the steps run
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path
from typing import Any

import torch
from bench_trainers import (
    CONFIGURATION,
    GEOMETRIES,
    PREDICTION_ROWS,
    PREDICTION_TARGET_S,
    add_timing_arguments,
    best,
    load_plans,
    make_trainer,
    prediction_network,
    prepare_plans,
    reduced_patch,
    selected_device,
    time_prediction,
    time_training,
    tiny,
    total_downsampling,
)

from strokeseg.synthetic.batches import random_training_batch
from strokeseg.trainers import nnUNetTrainer_strokeseg_Noh2023, nnUNetTrainer_strokeseg_Noh2023SwinUNETR
from strokeseg.trainers.networks import count_parameters

#: The two arms, the U-Net (reference) first.
ARMS: dict[str, type] = {"U-Net (Noh2023)": nnUNetTrainer_strokeseg_Noh2023,
                         "Swin UNETR (Noh2023SwinUNETR)": nnUNetTrainer_strokeseg_Noh2023SwinUNETR}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_arguments(parser, "the plans' on CUDA, 1 on CPU", warmup=1)
    parser.add_argument("--tiny", action="store_true", help="quarter-size input: checks that the steps run")
    args = parser.parse_args()

    device = selected_device(args.device)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("nnUNet_compile", "false")
    cpu = device.type == "cpu"
    with tempfile.TemporaryDirectory(prefix="bench_swin_") as temp:
        workdir = args.workdir or Path(temp)
        dwi = tiny(GEOMETRIES, PREDICTION_ROWS)[0]["dwi"] if args.tiny else GEOMETRIES["dwi"]
        plans, dataset_json = load_plans(prepare_plans(workdir, dwi, preprocess=True), dwi)
        configuration = plans["configurations"][CONFIGURATION]
        where = torch.cuda.get_device_name(device) if not cpu else f"CPU, {torch.get_num_threads()} threads"
        print(f"device: {where}; case {dwi.shape_zyx} (z, y, x) at {dwi.spacing_zyx} mm; plans patch "
              f"{configuration['patch_size']}, batch {configuration['batch_size']}")
        rows: dict[str, dict[str, Any]] = {}
        for name, cls in ARMS.items():
            network = prediction_network(cls, plans, dataset_json, device)[0]
            rows[name] = {"parameters": count_parameters(network)}
            del network
        predictions: dict[str, list[Any]] = {name: [] for name in ARMS}
        for _ in range(args.rounds):
            for name, cls in ARMS.items():
                predictions[name].append(time_prediction(cls, plans, dataset_json, device, None, dwi.shape_zyx))
        for name, watches in predictions.items():
            watch = best(watches)
            rows[name].update(predict_s=watch.wall, predict_cpu_s=watch.cpu)
        print(f"peak memory after prediction: {peak_rss_mib():,.0f} MiB")

        factor = args.patch_factor if args.patch_factor is not None else (0.5 if cpu else 1.0)
        patch = reduced_patch(configuration["patch_size"], total_downsampling(plans), factor)
        batch_size = args.batch_size or (1 if cpu else configuration["batch_size"])
        iterations = args.iterations or (3 if cpu else 20)
        trainers = {name: make_trainer(cls, plans, dataset_json, device, patch, batch_size)
                    for name, cls in ARMS.items()}
        batches = {name: random_training_batch(trainer, patch, batch_size) for name, trainer in trainers.items()}
        trainings: dict[str, list[Any]] = {name: [] for name in ARMS}
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                trainings[name].append(time_training(trainer, batches[name], args.warmup, iterations, device)[0])
        for name, watches in trainings.items():
            watch = best(watches)
            rows[name].update(it_per_s=iterations / watch.wall, cpu_s_per_it=watch.cpu / iterations)
        print(f"peak memory after training: {peak_rss_mib():,.0f} MiB")

        print(f"\nSwin UNETR beside the U-Net ({where}); prediction of one {dwi.shape_zyx[::-1]} case, no TTA "
              f"(target ≤ {PREDICTION_TARGET_S:g} s); training patch {patch}, batch {batch_size}, {iterations} "
              "timed iterations")
        print(f"{'network':32} {'parameters':>12} {'predict s':>10} {'CPU s':>8} {'≤ target':>9} {'train it/s':>11} "
              f"{'CPU s/it':>9}")
        for name, row in rows.items():
            met = "yes" if row["predict_s"] <= PREDICTION_TARGET_S else "NO"
            print(f"{name:32} {row['parameters']:>12,} {row['predict_s']:>10.1f} {row['predict_cpu_s']:>8.1f} "
                  f"{met:>9} {row['it_per_s']:>11.3f} {row['cpu_s_per_it']:>9.2f}")
        unet, swin = rows[next(iter(ARMS))], rows[list(ARMS)[1]]
        cpu_ratio = swin["predict_cpu_s"] / unet["predict_cpu_s"]
        print(f"ratios Swin UNETR / U-Net: parameters {swin['parameters'] / unet['parameters']:.1f}x, prediction "
              f"time {swin['predict_s'] / unet['predict_s']:.1f}x (CPU {cpu_ratio:.1f}x), "
              f"training speed {swin['it_per_s'] / unet['it_per_s']:.2f}x (<1: slower)")


if __name__ == "__main__":
    main()
