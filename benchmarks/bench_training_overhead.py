"""Per-iteration overhead of strokeseg's trainers over stock ``nnUNetTrainer`` with the same network, in one run.

For each trainer of :data:`TRAINERS`, its "stock twin" is nnU-Net's own ``nnUNetTrainer`` whose
``build_network_architecture`` returns the strokeseg trainer's network (same class, widths, deep-supervision
setting), on the same plans, patch and batch. Both run ``train_step`` (forward, loss, backward, gradient clipping,
optimizer step; AMP on CUDA) on the same random batch, round-robin; the best of ``--rounds`` is kept. What differs
is what the strokeseg trainer adds (its loss, schedule and hooks). Printed: s/iteration of both, the overhead
(strokeseg / twin − 1) and whether it is within the issue's ≤ 10 % target.

    .venv/bin/python benchmarks/bench_training_overhead.py                  # CUDA if available, else 2 CPU threads
    .venv/bin/python benchmarks/bench_training_overhead.py --tiny --device cpu --iterations 1 --rounds 1
    .venv/bin/python benchmarks/bench_training_overhead.py --trainers SEUNet BiConvLSTMUNet   # only these two
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from bench_trainers import (
    CONFIGURATION,
    GEOMETRIES,
    PREDICTION_ROWS,
    best,
    load_plans,
    make_trainer,
    prepare_plans,
    reduced_patch,
    time_training,
    tiny,
    total_downsampling,
    trainer_class,
)

from strokeseg.synthetic.batches import random_training_batch

#: Target of issue 23: strokeseg's per-iteration time at most this much above its stock twin's.
OVERHEAD_TARGET = 0.10
#: strokeseg trainers whose per-iteration overhead is measured (one per network family and loss).
TRAINERS: tuple[str, ...] = (
    "nnUNetTrainer_strokeseg_Tversky", "nnUNetTrainer_strokeseg_BCEDice", "nnUNetTrainer_strokeseg_DiceOnly",
    "nnUNetTrainer_strokeseg_PreActResUNet", "nnUNetTrainer_strokeseg_Noh2023", "nnUNetTrainer_strokeseg_ResGNUNet",
    "nnUNetTrainer_strokeseg_SEUNet", "nnUNetTrainer_strokeseg_BiConvLSTMUNet",
)


#: Prefix of strokeseg's trainer names.
PREFIX = "nnUNetTrainer_strokeseg_"


def chosen_trainers(names: list[str] | None) -> tuple[str, ...]:
    """The trainers of :data:`TRAINERS` named in ``names`` (full or without :data:`PREFIX`), in the list's order;
    all of them when ``names`` is empty.

    Raises:
        ValueError: a name the benchmark does not measure.
    """
    if not names:
        return TRAINERS
    wanted = {name if name.startswith(PREFIX) else PREFIX + name for name in names}
    if unknown := wanted - set(TRAINERS):
        raise ValueError(f"not measured by this benchmark: {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(name.removeprefix(PREFIX) for name in TRAINERS)}")
    return tuple(name for name in TRAINERS if name in wanted)


def stock_twin(strokeseg_trainer: type) -> type:
    """nnU-Net's ``nnUNetTrainer`` building ``strokeseg_trainer``'s network (and its deep-supervision setting)."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    class StockTwin(nnUNetTrainer):
        def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                     device: torch.device = torch.device("cuda")) -> None:  # nnU-Net records the named arguments
            super().__init__(plans, configuration, fold, dataset_json, device)
            self.enable_deep_supervision = getattr(strokeseg_trainer, "deep_supervision", True)

        @staticmethod
        def build_network_architecture(plans_manager: Any, configuration_manager: Any, num_input_channels: int,
                                       num_output_channels: int, enable_deep_supervision: bool = True,
                                       ) -> torch.nn.Module:  # nnU-Net's current signature (it inspects the names)
            return strokeseg_trainer.build_network_architecture(plans_manager, configuration_manager,
                                                                num_input_channels, num_output_channels,
                                                                enable_deep_supervision)

        def _get_deep_supervision_scales(self) -> list[list[float]] | None:
            """The strokeseg trainer's targets: in plane only for a network that downsamples in plane only (the
            Alis ConvLSTM U-Net); nnU-Net's own scales would not match its outputs."""
            return strokeseg_trainer.network_deep_supervision_scales(super()._get_deep_supervision_scales())

    StockTwin.__name__ = f"nnUNetTrainer_twin_of_{strokeseg_trainer.__name__}"
    return StockTwin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations (default 20 CUDA, 3 CPU)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="round-robin repetitions; the best of each is kept")
    parser.add_argument("--patch-factor", type=float, default=None,
                        help="patch = plans' patch times this (default 1 on CUDA, 0.5 on CPU)")
    parser.add_argument("--tiny", action="store_true", help="quarter-size DWI plans (a quick check that it runs)")
    parser.add_argument("--workdir", type=Path, help="keep the plans here and reuse them")
    parser.add_argument("--trainers", nargs="+", metavar="NAME",
                        help="only these trainers, with or without the nnUNetTrainer_strokeseg_ prefix (default: all)")
    args = parser.parse_args()
    try:
        names = chosen_trainers(args.trainers)
    except ValueError as error:
        parser.error(str(error))

    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("nnUNet_compile", "false")
    dwi = tiny(GEOMETRIES, PREDICTION_ROWS)[0]["dwi"] if args.tiny else GEOMETRIES["dwi"]
    iterations = args.iterations or (20 if device.type == "cuda" else 3)
    with tempfile.TemporaryDirectory(prefix="bench_overhead_") as temporary:
        workdir = args.workdir or Path(temporary)
        plans, dataset_json = load_plans(prepare_plans(workdir, dwi, preprocess=True), dwi)
        configuration = plans["configurations"][CONFIGURATION]
        factor = args.patch_factor if args.patch_factor is not None else (1.0 if device.type == "cuda" else 0.5)
        patch = reduced_patch(configuration["patch_size"], total_downsampling(plans), factor)
        batch_size = configuration["batch_size"]
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} CPU threads"
        print(f"{where}; patch {patch}, batch {batch_size}, {iterations} timed iterations, best of {args.rounds}")
        print(f"{'trainer':42s} {'s/it':>8s} {'stock twin s/it':>16s} {'overhead':>9s}  ≤ {OVERHEAD_TARGET:.0%}")
        for name in names:
            ours_class = trainer_class(name)
            pair = {"ours": make_trainer(ours_class, plans, dataset_json, device, patch, batch_size),
                    "twin": make_trainer(stock_twin(ours_class), plans, dataset_json, device, patch, batch_size)}
            batches = {key: random_training_batch(trainer, patch, batch_size) for key, trainer in pair.items()}
            watches: dict[str, list] = {"ours": [], "twin": []}
            for _ in range(args.rounds):
                for key, trainer in pair.items():
                    watches[key].append(time_training(trainer, batches[key], args.warmup, iterations, device)[0])
            ours, twin = best(watches["ours"]).wall / iterations, best(watches["twin"]).wall / iterations
            overhead = ours / twin - 1
            print(f"{name:42s} {ours:8.3f} {twin:16.3f} {overhead:+9.1%}  "
                  f"{'met' if overhead <= OVERHEAD_TARGET else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
