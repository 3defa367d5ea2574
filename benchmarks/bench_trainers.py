"""Speed of strokeseg's trainers versus nnU-Net's stock ``nnUNetTrainer``, measured in one run.

1. Training: iterations per second of each trainer's own ``train_step`` (network, loss with deep supervision,
   backward, gradient clipping, optimizer step; AMP on CUDA) on synthetic batches, all trainers on the same
   plans, patch size and batch size. On CUDA the peak GPU memory of the timed iterations is reported too.
   Target: >= 0.9x stock for networks of similar size.
2. Prediction: sliding-window prediction (nnU-Net's predictor, step 0.5, Gaussian weighting) of one case by every
   network a preset or paper uses, each on its own input (:data:`PREDICTION_ROWS`, one row per network: a
   256x256x30 DWI case at 0.94x0.94x5 mm, the ATLAS preset's 144x172x168 centre crop at 1 mm, a 240x240x48 FLAIR
   volume), without mirroring and with the fast left-right TTA that strokeseg's DWI models store, beside nnU-Net's
   stock 3d_fullres network on the same input. Targets on 2 CPU cores: <= 10 s per case without mirroring
   (an ensemble: all its members), fast TTA <= 2x that.
3. Paper presets: the network of each preset's paper-exact trainer with its parameter count beside the paper's,
   where the paper states one.
4. Alis et al.'s preset (``alis_vendor_dwi_adc``) on its own plans (``AlisVendorPlanner``: 224 x 224 slices, the
   whole stack as one patch) for 256x256x30 DWI + ADC cases: the parameters of ``Alis2022``'s network beside the
   paper's 8,228,401, and the sliding-window prediction time of one case's preprocessed 30 x 224 x 224 stack
   (target <= 10 s on 2 CPU cores), with its ratio against the stock network's time on the 256x256x30 case.

The plans come from the stock ``nnUNetv2_plan_and_preprocess`` (planning only) on three synthetic cases of each
input's geometry (in a temporary folder unless ``--workdir`` is given). ``--tiny`` runs the same steps on
quarter-size inputs (the GPU check's dry run). Wall-clock times depend on whatever else the machine runs, so
the process CPU time is reported as well and the ratios against stock are given for both; ``--rounds N`` repeats
every measurement round-robin and keeps each model's best. The process uses the memory-allocator settings of
strokeseg's own processes (``strokeseg.cpu_allocator``; ``STROKESEG_MALLOC=system`` measures with glibc's
defaults). Usage::

    .venv/bin/python benchmarks/bench_trainers.py                 # CUDA if available, else CPU (2 threads)
    .venv/bin/python benchmarks/bench_trainers.py --skip-training --full-tta
    .venv/bin/python benchmarks/bench_trainers.py --skip-training --tiny --no-tta --device cpu   # seconds
    .venv/bin/python benchmarks/bench_trainers.py --skip-training --inputs dwi --rounds 3        # DWI networks only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from strokeseg.cpu_allocator import use_heap_allocator
from strokeseg.defaults import ALIS_PAPER_PARAMETERS
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.raw import dataset_folder_name
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.batches import random_training_batch
from strokeseg.synthetic.toy import write_toy_dataset
from strokeseg.trainers import (
    nnUNetTrainer_strokeseg_Alis2022,
    nnUNetTrainer_strokeseg_BCEDice,
    nnUNetTrainer_strokeseg_BiConvLSTMUNet,
    nnUNetTrainer_strokeseg_DiceOnly,
    nnUNetTrainer_strokeseg_Noh2023,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_ResGNUNet,
    nnUNetTrainer_strokeseg_SEUNet,
    nnUNetTrainer_strokeseg_Tversky,
)
from strokeseg.trainers.base import left_right_mirror_axes
from strokeseg.trainers.networks import count_parameters

DATASET_ID = 950
#: One DWI case: 30 slices of 256 x 256 at 0.9375 x 0.9375 x 5 mm (z, y, x).
DWI_SHAPE_ZYX = (30, 256, 256)
DWI_SPACING_ZYX = (5.0, 0.9375, 0.9375)
CONFIGURATION = "3d_fullres"
#: Target of issue 23: prediction of one case without TTA on 2 CPU cores, s.
PREDICTION_TARGET_S = 10.0
#: Parameter counts the papers state for their networks, by preset (None: the paper states none).
PAPER_PARAMETERS: dict[str, int | None] = {"noh_registry_dwi": None, "alis_vendor_dwi_adc": ALIS_PAPER_PARAMETERS}
#: Presets whose networks only make sense on their own planner's plans (measured in their own block).
OWN_PLANS_PRESETS = frozenset({"alis_vendor_dwi_adc"})


def _full_width(trainer_class: type) -> type:
    """The same trainer with the plans' widths (for a like-for-like size comparison)."""
    return type(f"{trainer_class.__name__}_fullWidth", (trainer_class,), {"width_scale": 1.0})


def training_trainers() -> dict[str, type]:
    """Trainers timed in the training benchmark, the stock trainer first."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    return {
        "nnUNetTrainer (stock)": nnUNetTrainer,
        "Tversky (stock net)": nnUNetTrainer_strokeseg_Tversky,
        "BCEDice (stock net)": nnUNetTrainer_strokeseg_BCEDice,
        "DiceOnly (stock net)": nnUNetTrainer_strokeseg_DiceOnly,
        "SEUNet": nnUNetTrainer_strokeseg_SEUNet,
        "ResGNUNet": nnUNetTrainer_strokeseg_ResGNUNet,
        "PreActResUNet": nnUNetTrainer_strokeseg_PreActResUNet,
        "PreActResUNet full width": _full_width(nnUNetTrainer_strokeseg_PreActResUNet),
        "Noh2023 (preset noh_registry_dwi)": nnUNetTrainer_strokeseg_Noh2023,
        "BiConvLSTMUNet": nnUNetTrainer_strokeseg_BiConvLSTMUNet,
        "BiConvLSTMUNet full width": _full_width(nnUNetTrainer_strokeseg_BiConvLSTMUNet),
    }


@dataclass(frozen=True)
class Geometry:
    """An input the prediction benchmark times: one synthetic case's shape and spacing (z, y, x; mm)."""

    dataset_id: int
    name: str
    shape_zyx: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float]


#: Inputs of the prediction rows: a DWI case, the ATLAS preset's 144x172x168 centre crop at 1 mm (Tomita et al.),
#: a WMH-challenge-like FLAIR volume (240x240x48 at 0.96x0.96x3 mm; Kim et al.'s SE-U-Nets).
GEOMETRIES: dict[str, Geometry] = {
    "dwi": Geometry(DATASET_ID, "BenchDWI", DWI_SHAPE_ZYX, DWI_SPACING_ZYX),
    "atlas_crop": Geometry(951, "BenchAtlasCrop", (168, 172, 144), (1.0, 1.0, 1.0)),
    "flair": Geometry(952, "BenchFLAIR", (48, 240, 240), (3.0, 0.9583, 0.9583)),
}


@dataclass(frozen=True)
class PredictionRow:
    """One network timed in the prediction benchmark.

    Attributes:
        name: printed name (the preset or paper in brackets).
        trainer: the trainer class whose ``build_network_architecture`` builds the network (random weights).
        geometry: key of :data:`GEOMETRIES` (the row's own input).
        patch_zyx: sliding-window patch replacing the plans' (None: the plans' patch).
        members: networks of this kind run one after another on the case (an ensemble's members).
        configuration: the plans' configuration the network predicts with (``2d``: slice by slice).
    """

    name: str
    trainer: str
    geometry: str
    patch_zyx: tuple[int, int, int] | None = None
    members: int = 1
    configuration: str = CONFIGURATION


#: Every network a preset or paper uses, on its own input, beside the stock 3d_fullres network of each input. Other
#: networks add one row each (the trainer is looked up by name in strokeseg.trainers or nnU-Net).
PREDICTION_ROWS: tuple[PredictionRow, ...] = (
    PredictionRow("nnU-Net 3d_fullres (stock) on DWI", "nnUNetTrainer", "dwi"),
    PredictionRow("PreActResUNet (Noh)", "nnUNetTrainer_strokeseg_PreActResUNet", "dwi"),
    PredictionRow("Noh2023 (preset noh_registry_dwi)", "nnUNetTrainer_strokeseg_Noh2023", "dwi"),
    PredictionRow("BiConvLSTMUNet (Alis)", "nnUNetTrainer_strokeseg_BiConvLSTMUNet", "dwi"),
    PredictionRow("nnU-Net 3d_fullres (stock) on the ATLAS crop", "nnUNetTrainer", "atlas_crop"),
    PredictionRow("ResGNUNet (Tomita, zoom-in network)", "nnUNetTrainer_strokeseg_ResGNUNet", "atlas_crop"),
    PredictionRow("Tomita2020 (preset tomita_atlas_zoom, zoom-out patch = crop)", "nnUNetTrainer_strokeseg_Tomita2020",
                  "atlas_crop", patch_zyx=(168, 172, 144)),
    PredictionRow("nnU-Net 3d_fullres (stock) on FLAIR", "nnUNetTrainer", "flair"),
    PredictionRow("SEUNet (Kim), one network", "nnUNetTrainer_strokeseg_SEUNet", "flair"),
    PredictionRow("SEUNet_Ensemble (Kim), all members", "nnUNetTrainer_strokeseg_SEUNet_Ensemble", "flair",
                  members=5),
    PredictionRow("Kim2024SEUNet_Ensemble (preset kim_wmh_flair, 2D), all members",
                  "nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble", "flair", members=5, configuration="2d"),
)


def trainer_class(name: str) -> type:
    """A trainer by class name: strokeseg's exported trainers first, then nnU-Net's."""
    import strokeseg.trainers as trainers

    if hasattr(trainers, name):
        return getattr(trainers, name)
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    if name == nnUNetTrainer.__name__:
        return nnUNetTrainer
    raise SystemExit(f"unknown trainer {name!r} in PREDICTION_ROWS")


def tiny(geometries: dict[str, Geometry], rows: tuple[PredictionRow, ...],
         ) -> tuple[dict[str, Geometry], tuple[PredictionRow, ...]]:
    """A quarter of each input's size per axis, the plans' patches and two ensemble members: the same steps in
    seconds (the GPU check's dry run on a CPU)."""
    small = {key: dataclasses.replace(g, dataset_id=g.dataset_id + 10, name=f"{g.name}Tiny",
                                      shape_zyx=tuple(max(8, n // 4) for n in g.shape_zyx))  # type: ignore[arg-type]
             for key, g in geometries.items()}
    return small, tuple(dataclasses.replace(r, patch_zyx=None, members=min(r.members, 2)) for r in rows)


def select_inputs(geometries: dict[str, Geometry], rows: tuple[PredictionRow, ...], inputs: list[str] | None,
                  ) -> tuple[dict[str, Geometry], tuple[PredictionRow, ...]]:
    """The inputs named by ``--inputs`` (keys of ``geometries``; None: all) and the prediction rows on them, in
    their order (each input's stock row stays its first)."""
    if inputs is None:
        return geometries, rows
    unknown = sorted(set(inputs) - set(geometries))
    if unknown:
        raise SystemExit(f"unknown input(s) {', '.join(unknown)}; choose from {', '.join(geometries)}")
    return ({key: geometry for key, geometry in geometries.items() if key in inputs},
            tuple(row for row in rows if row.geometry in inputs))


def preset_parameter_rows(plans: dict, dataset_json: dict) -> list[dict[str, Any]]:
    """Each preset's paper-exact network on the benchmark's plans: its parameters and the paper's count."""
    import strokeseg.trainers as trainers
    from strokeseg.papers import get_preset, preset_keys
    from strokeseg.trainers import __all__ as exported

    rows = []
    for key in preset_keys():
        preset = get_preset(key)
        if preset.trainer not in exported or key in OWN_PLANS_PRESETS:
            continue
        # a preset planner's own configurations (Tomita's 3d_zoomout) are 3d_fullres with another patch, which does
        # not change the parameters: the stock plans' 3d_fullres stands in for them
        configuration = preset.configuration if preset.configuration in plans["configurations"] else CONFIGURATION
        network = prediction_network(getattr(trainers, preset.trainer), plans, dataset_json, torch.device("cpu"),
                                     configuration)[0]
        rows.append({"preset": key, "trainer": preset.trainer, "parameters": count_parameters(network),
                     "paper": PAPER_PARAMETERS.get(key)})
    return rows


def prepare_plans(workdir: Path, geometry: Geometry = GEOMETRIES["dwi"], preprocess: bool = False) -> NnunetPaths:
    """Three synthetic cases of ``geometry``, planned by the stock CLI and, with ``preprocess`` (the training
    benchmark's trainers need the data), preprocessed; reused when present."""
    return plan_geometries(workdir, [geometry], preprocess)


def plan_geometries(workdir: Path, geometries: Iterable[Geometry], preprocess: bool = False) -> NnunetPaths:
    """:func:`prepare_plans` for several geometries: those not yet planned (or, with ``preprocess``, preprocessed)
    in one ``nnUNetv2_plan_and_preprocess -d A B ...`` run, which pays nnU-Net's start-up once."""
    paths = NnunetPaths.under(workdir)
    paths.create()
    missing = []
    for geometry in geometries:
        folder = paths.preprocessed / dataset_folder_name(geometry.dataset_id, geometry.name)
        if not ((folder / f"nnUNetPlans_{CONFIGURATION}").is_dir() if preprocess
                else (folder / "nnUNetPlans.json").is_file()):
            write_toy_dataset(paths.raw, geometry.dataset_id, geometry.name, num_training=3, num_test=0,
                              shape=geometry.shape_zyx, spacing_zyx=geometry.spacing_zyx, overwrite=True)
            missing.append(str(geometry.dataset_id))
    if missing:
        run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", *missing, "-c", CONFIGURATION, "-np", "1", "-npfp", "1",
                                                    "-fpe", StrokesegFingerprintExtractor.__name__,
                                                    *([] if preprocess else ["--no_pp"])],
                   paths, workdir / "nnunet.log", {"nnUNet_n_proc_DA": "1", "OMP_NUM_THREADS": "1"})
    os.environ.update(paths.environment())
    return paths


def load_plans(paths: NnunetPaths, geometry: Geometry = GEOMETRIES["dwi"]) -> tuple[dict, dict]:
    """The plans and dataset.json of ``geometry``'s synthetic dataset."""
    folder = paths.preprocessed / dataset_folder_name(geometry.dataset_id, geometry.name)
    return (json.loads((folder / "nnUNetPlans.json").read_text()),
            json.loads((folder / "dataset.json").read_text()))


def total_downsampling(plans: dict) -> np.ndarray:
    strides = plans["configurations"][CONFIGURATION]["architecture"]["arch_kwargs"]["strides"]
    return np.prod(np.array(strides), axis=0)


def reduced_patch(patch: list[int], divisor: np.ndarray, factor: float) -> list[int]:
    """``patch`` scaled by ``factor`` and rounded down to multiples of the network's downsampling."""
    return [int(max(d, (int(p * factor) // d) * d)) for p, d in zip(patch, divisor, strict=True)]


def make_trainer(trainer_class: type, plans: dict, dataset_json: dict, device: torch.device, patch: list[int],
                 batch_size: int) -> Any:
    plans = json.loads(json.dumps(plans))
    plans["configurations"][CONFIGURATION].update(patch_size=patch, batch_size=batch_size)
    plans["continue_training"] = False
    trainer = trainer_class(plans=plans, configuration=CONFIGURATION, fold=0, dataset_json=dataset_json,
                            device=device)
    trainer.print_to_log_file = lambda *args, **kwargs: None  # keep the benchmark's output readable
    trainer.initialize()
    return trainer


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Wall-clock and process CPU seconds of a block (CUDA work is synchronized before reading)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def time_training(trainer: Any, batch: dict, warmup: int, iterations: int,
                  device: torch.device) -> tuple[Stopwatch, float | None]:
    """Timing of ``iterations`` calls of ``trainer.train_step`` and the peak GPU memory (MiB) meanwhile."""
    trainer.network.train()
    for _ in range(warmup):
        trainer.train_step(batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Stopwatch(device) as watch:
        for _ in range(iterations):
            trainer.train_step(batch)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return watch, peak


def mirror_axes_of(trainer_class: type, plans: dict, configuration: str = CONFIGURATION) -> tuple[int, ...]:
    """The test-time mirroring a trained model of ``trainer_class`` on ``configuration`` stores for nnUNetv2_predict."""
    dimensions = len(plans["configurations"][configuration]["patch_size"])
    if getattr(trainer_class, "inference_mirroring", "all") == "left_right":
        return left_right_mirror_axes(plans["transpose_forward"], dimensions)
    return tuple(range(dimensions))


def prediction_network(trainer_class: type, plans: dict, dataset_json: dict, device: torch.device,
                       configuration_name: str = CONFIGURATION) -> Any:
    """The network a trained model of ``trainer_class`` predicts with, in evaluation mode (random weights)."""
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    manager = PlansManager(plans)
    configuration = manager.get_configuration(configuration_name)
    channels = determine_num_input_channels(manager, configuration, dataset_json)
    heads = manager.get_label_manager(dataset_json).num_segmentation_heads
    network = trainer_class.build_network_architecture(manager, configuration, channels, heads, False).to(device)
    return network.eval(), manager, configuration, channels


def with_patch(plans: dict, patch_zyx: tuple[int, int, int] | None, configuration: str = CONFIGURATION) -> dict:
    """A copy of ``plans`` whose ``configuration`` patch is ``patch_zyx`` (unchanged when None)."""
    plans = json.loads(json.dumps(plans))
    if patch_zyx is not None:
        plans["configurations"][configuration]["patch_size"] = list(patch_zyx)
    return plans


def time_prediction(cls: type, plans: dict, dataset_json: dict, device: torch.device,
                    axes: tuple[int, ...] | None, shape_zyx: tuple[int, int, int], members: int = 1,
                    configuration_name: str = CONFIGURATION) -> Stopwatch:
    """Sliding-window prediction of one case of ``shape_zyx`` by ``members`` networks of ``cls``, mirroring
    ``axes`` (None: no test-time augmentation); a 2D configuration predicts the case slice by slice."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictors = []
    for _ in range(members):
        network, manager, configuration, channels = prediction_network(cls, plans, dataset_json, device,
                                                                       configuration_name)
        predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=axes is not None,
                                    perform_everything_on_device=device.type == "cuda", device=device, verbose=False,
                                    verbose_preprocessing=False, allow_tqdm=False)
        predictor.manual_initialization(network, manager, configuration, None, dataset_json, cls.__name__, axes)
        predictors.append(predictor)
    image = torch.randn((channels, *shape_zyx), generator=torch.Generator().manual_seed(1))
    patch = tuple(configuration.patch_size)
    warm_up = (1,) * (3 - len(patch)) + patch  # one patch (one slice of a 2D configuration)
    predictors[0].predict_sliding_window_return_logits(image[(slice(None), *(slice(0, n) for n in warm_up))])
    with Stopwatch(device) as watch:
        for predictor in predictors:
            predictor.predict_sliding_window_return_logits(image)
    return watch


def best(watches: list[Stopwatch]) -> Stopwatch:
    return min(watches, key=lambda w: w.wall)


def run_training_benchmark(plans: dict, dataset_json: dict, device: torch.device, patch: list[int],
                           batch_size: int, warmup: int, iterations: int, rounds: int) -> list[dict[str, Any]]:
    trainers = {name: make_trainer(cls, plans, dataset_json, device, patch, batch_size)
                for name, cls in training_trainers().items()}
    batches = {name: random_training_batch(t, patch, batch_size) for name, t in trainers.items()}
    watches: dict[str, list[Stopwatch]] = {name: [] for name in trainers}
    peaks: dict[str, float | None] = {}
    for _ in range(rounds):
        for name, trainer in trainers.items():
            watch, peaks[name] = time_training(trainer, batches[name], warmup, iterations, device)
            watches[name].append(watch)
    rows = [{"trainer": name, "parameters": count_parameters(trainers[name].network),
             "it_per_s": iterations / best(w).wall, "cpu_s_per_it": best(w).cpu / iterations,
             "peak_gpu_mib": peaks[name]} for name, w in watches.items()]
    stock = rows[0]
    for row in rows:
        row["ratio_vs_stock"] = row["it_per_s"] / stock["it_per_s"]
        row["cpu_ratio_vs_stock"] = stock["cpu_s_per_it"] / row["cpu_s_per_it"]
    return rows


def run_prediction_benchmark(plans_by_geometry: dict[str, tuple[dict, dict]], device: torch.device,
                             full_tta: bool, rounds: int, rows: tuple[PredictionRow, ...] = PREDICTION_ROWS,
                             geometries: dict[str, Geometry] = GEOMETRIES, tta: bool = True) -> list[dict[str, Any]]:
    """Time every row without and, unless ``tta`` is False, with TTA (the rows whose trainers store fast left-right
    mirroring; every row with ``full_tta``)."""
    cases: list[tuple[PredictionRow, tuple[int, ...] | None]] = []
    for row in rows:
        cls = trainer_class(row.trainer)
        cases.append((row, None))
        if (getattr(cls, "inference_mirroring", "all") == "left_right" or full_tta) and tta:
            cases.append((row, mirror_axes_of(cls, plans_by_geometry[row.geometry][0], row.configuration)))
    watches: dict[tuple[str, tuple[int, ...] | None], list[Stopwatch]] = {(r.name, a): [] for r, a in cases}
    for _ in range(rounds):
        for row, axes in cases:
            plans, dataset_json = plans_by_geometry[row.geometry]
            watches[(row.name, axes)].append(time_prediction(
                trainer_class(row.trainer), with_patch(plans, row.patch_zyx, row.configuration), dataset_json, device,
                axes, geometries[row.geometry].shape_zyx, row.members, row.configuration))
    results = []
    for row in rows:
        plans, dataset_json = plans_by_geometry[row.geometry]
        network = prediction_network(trainer_class(row.trainer), with_patch(plans, row.patch_zyx, row.configuration),
                                     dataset_json, torch.device("cpu"), row.configuration)[0]
        no_tta = best(watches[(row.name, None)])
        tta_axes = next((a for r, a in cases if r.name == row.name and a is not None), None)
        tta = best(watches[(row.name, tta_axes)]) if tta_axes is not None else None
        shape = geometries[row.geometry].shape_zyx
        results.append({"model": row.name, "members": row.members, "input": "x".join(map(str, reversed(shape))),
                        "geometry": row.geometry, "parameters": count_parameters(network) * row.members,
                        "no_tta_s": no_tta.wall, "no_tta_cpu_s": no_tta.cpu,
                        "tta_axes": list(tta_axes) if tta_axes else None, "tta_s": tta.wall if tta else None,
                        "tta_over_no_tta": tta.wall / no_tta.wall if tta else None,
                        "target_met": no_tta.wall <= PREDICTION_TARGET_S})
    for result in results:  # against the stock network on the same input (the first row of that geometry)
        stock = next(r for r in results if r["geometry"] == result["geometry"])
        result["ratio_vs_stock"] = result["no_tta_s"] / stock["no_tta_s"]
        result["cpu_ratio_vs_stock"] = result["no_tta_cpu_s"] / stock["no_tta_cpu_s"]
    return results


def print_table(title: str, rows: list[dict[str, Any]], columns: list[Column]) -> None:
    print(f"\n{title}")
    widths = [max(len(header), *(len(fmt(row[key])) for row in rows)) for header, key, fmt in columns]
    print("  ".join(header.ljust(w) for (header, _, _), w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(fmt(row[key]).ljust(w) for (_, key, fmt), w in zip(columns, widths, strict=True)))


def optional(fmt: str) -> Callable[[Any], str]:
    return lambda value: "-" if value is None else format(value, fmt)


Column = tuple[str, str, Callable[[Any], str]]


def timing_columns(name_key: str, wall: tuple[str, str, str], cpu: tuple[str, str, str]) -> list[Column]:
    """Name, parameters, a wall-clock value and a CPU-time value, each with its ratio against stock."""
    return [(name_key, name_key, str), ("parameters", "parameters", lambda v: f"{v / 1e6:.1f} M"),
            (wall[0], wall[1], optional(wall[2])), ("vs stock", "ratio_vs_stock", optional(".2f")),
            (cpu[0], cpu[1], optional(cpu[2])), ("vs stock (CPU time)", "cpu_ratio_vs_stock", optional(".2f"))]


# --------------------------------------------------------------------------------------------------
# Alis et al.'s preset on its own plans (224 x 224 slices, DWI + ADC)
# --------------------------------------------------------------------------------------------------
ALIS_DATASET_ID = 953
ALIS_DATASET_NAME = "Dataset953_BenchDWIADC"


def prepare_alis_plans(workdir: Path) -> tuple[dict, dict]:
    """AlisVendorPlanner's plans for three synthetic 256x256x30 DWI + ADC cases (planning only; reused)."""
    import SimpleITK as sitk

    from strokeseg.io import write_image_atomic
    from strokeseg.nnunet.plans import ALIS_PLANS_NAME
    from strokeseg.nnunet.raw import image_path, label_path, write_dataset_json
    from strokeseg.synthetic.analytic_head import head_phantom

    paths = NnunetPaths.under(workdir)
    paths.create()
    folder = paths.preprocessed / ALIS_DATASET_NAME
    if not (folder / f"{ALIS_PLANS_NAME}.json").is_file():
        raw = paths.raw / ALIS_DATASET_NAME
        for index in range(3):
            phantom = head_phantom(DWI_SHAPE_ZYX, DWI_SPACING_ZYX)
            for array, path in ((phantom.image("DWI"), image_path(raw, f"case_{index}", 0)),
                                (phantom.image("ADC"), image_path(raw, f"case_{index}", 1)),
                                (phantom.lesion.astype(np.uint8), label_path(raw, f"case_{index}"))):
                image = sitk.GetImageFromArray(array)
                image.SetSpacing(tuple(reversed(DWI_SPACING_ZYX)))
                write_image_atomic(image, path)
        write_dataset_json(raw, {0: "DWI", 1: "ADC"}, {"background": 0, "lesion": 1}, 3)
        environment = {"nnUNet_n_proc_DA": "1", "OMP_NUM_THREADS": "1"}
        log = workdir / "nnunet.log"
        run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(ALIS_DATASET_ID), "-pl", "AlisVendorPlanner", "-npfp",
                                                    "1", "-fpe", StrokesegFingerprintExtractor.__name__, "--no_pp"],
                   paths, log, environment)
    return (json.loads((folder / f"{ALIS_PLANS_NAME}.json").read_text()),
            json.loads((paths.raw / ALIS_DATASET_NAME / "dataset.json").read_text()))


def run_alis_benchmark(workdir: Path, device: torch.device, rounds: int, slices: int = DWI_SHAPE_ZYX[0],
                       stack_patch: bool = False) -> dict[str, Any]:
    """Parameters of the Alis preset's network and its prediction time for one case's ``slices`` x 224 x 224 stack
    (30 slices: a 256x256x30 DWI case; fewer with ``--tiny``). ``stack_patch`` (``--tiny``) sets the patch to the
    stack, so that a short stack is not padded to the preset's 32 slices (the parameters do not change)."""
    plans, dataset_json = prepare_alis_plans(workdir)
    configuration = plans["configurations"][CONFIGURATION]
    stack = (slices, *configuration["strokeseg_in_plane_size"])
    if stack_patch:
        plans = with_patch(plans, stack)
    network = prediction_network(nnUNetTrainer_strokeseg_Alis2022, plans, dataset_json, torch.device("cpu"))[0]
    watch = best([time_prediction(nnUNetTrainer_strokeseg_Alis2022, plans, dataset_json, device, None, stack)
                  for _ in range(rounds)])
    return {"trainer": nnUNetTrainer_strokeseg_Alis2022.__name__,
            "patch_size": plans["configurations"][CONFIGURATION]["patch_size"],
            "parameters": count_parameters(network), "paper_parameters": ALIS_PAPER_PARAMETERS,
            "stack": list(stack), "prediction_s": watch.wall, "prediction_cpu_s": watch.cpu}


def add_timing_arguments(parser: argparse.ArgumentParser, batch_size_default: str, warmup: int) -> None:
    """The options this script shares with the other network benchmarks (device, threads, plans folder, training
    patch and batch, warm-up, iterations, rounds)."""
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2: the 2-core target)")
    parser.add_argument("--workdir", type=Path, help="keep plans here and reuse them (default: a temp folder)")
    parser.add_argument("--patch-factor", type=float, default=None,
                        help="training patch = plans' patch times this (default 1 on CUDA, 0.5 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"training batch size (default: {batch_size_default})")
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations (default 20 CUDA, 3 CPU)")
    parser.add_argument("--rounds", type=int, default=1, help="round-robin repetitions; the best of each is kept")


def selected_device(choice: str) -> torch.device:
    """``--device``: CUDA when asked for, or with ``auto`` when torch sees a GPU; else the CPU."""
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_arguments(parser, "the plans'", warmup=2)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-prediction", action="store_true")
    parser.add_argument("--full-tta", action="store_true", help="also time the stock network with all mirrorings")
    parser.add_argument("--no-tta", action="store_true", help="time prediction without test-time mirroring only")
    parser.add_argument("--compile", action="store_true", help="let nnU-Net torch.compile the networks (CUDA)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--tiny", action="store_true",
                        help="quarter-size inputs and plans' patches: checks the steps run (GPU check dry run)")
    parser.add_argument("--inputs", nargs="+", metavar="INPUT",
                        help=f"time prediction on these inputs only ({', '.join(GEOMETRIES)}; default: all); the Alis "
                             "preset runs with dwi")
    args = parser.parse_args()

    device = selected_device(args.device)
    torch.set_num_threads(args.threads)
    use_heap_allocator()  # as strokeseg's own processes do (STROKESEG_MALLOC=system: glibc's defaults)
    os.environ.setdefault("nnUNet_compile", "true" if args.compile else "false")
    with tempfile.TemporaryDirectory(prefix="bench_trainers_") as temp:
        workdir = args.workdir or Path(temp)
        geometries, prediction_rows = tiny(GEOMETRIES, PREDICTION_ROWS) if args.tiny else (GEOMETRIES, PREDICTION_ROWS)
        dwi = geometries["dwi"]  # the training block's and the presets' plans, whatever the inputs timed
        geometries, prediction_rows = select_inputs(geometries, prediction_rows, args.inputs)
        if not args.skip_training:
            plan_geometries(workdir, [dwi], preprocess=True)
        timed = [] if args.skip_prediction else [g for g in geometries.values() if g != dwi]
        planned = plan_geometries(workdir, [dwi, *timed])
        plans, dataset_json = load_plans(planned, dwi)
        configuration = plans["configurations"][CONFIGURATION]
        factor = args.patch_factor if args.patch_factor is not None else (1.0 if device.type == "cuda" else 0.5)
        patch = reduced_patch(configuration["patch_size"], total_downsampling(plans), factor)
        batch_size = args.batch_size or configuration["batch_size"]
        iterations = args.iterations or (20 if device.type == "cuda" else 3)
        gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
        where = gpu if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
        print(f"device: {gpu}; plans patch {configuration['patch_size']}, spacing {configuration['spacing']}")
        results: dict[str, Any] = {"device": gpu}
        if not args.skip_training:
            rows = run_training_benchmark(plans, dataset_json, device, patch, batch_size, args.warmup, iterations,
                                          args.rounds)
            results["training"] = {"patch_size": patch, "batch_size": batch_size, "rows": rows}
            print_table(f"Training: patch {patch}, batch {batch_size}, {iterations} timed iterations "
                        "(speed ratio vs stock: >1 is faster)", rows,
                        [*timing_columns("trainer", ("it/s", "it_per_s", ".3f"), ("CPU s/it", "cpu_s_per_it", ".2f")),
                         ("peak GPU MiB", "peak_gpu_mib", optional(".0f"))])
        if not args.skip_prediction:
            plans_by_geometry = {key: load_plans(planned, geometry) for key, geometry in geometries.items()}
            rows = run_prediction_benchmark(plans_by_geometry, device, args.full_tta, args.rounds, prediction_rows,
                                            geometries, tta=not args.no_tta)
            results["prediction"] = rows
            print_table(f"Prediction of one case per network on its own input, {where} (sliding window, step 0.5, "
                        f"no TTA unless stated; target ≤ {PREDICTION_TARGET_S:g} s; time ratio vs the stock network on "
                        "the same input: <1 is faster)", rows,
                        [("input", "input", str),
                         *timing_columns("model", ("no TTA s", "no_tta_s", ".1f"), ("CPU s", "no_tta_cpu_s", ".1f")),
                         ("members", "members", str), ("≤ target", "target_met", lambda v: "yes" if v else "NO"),
                         ("TTA axes", "tta_axes", lambda v: "-" if v is None else str(v)),
                         ("TTA s", "tta_s", optional(".1f")), ("TTA / no TTA", "tta_over_no_tta", optional(".2f"))])
        if not args.skip_prediction and "dwi" in geometries:
            alis = run_alis_benchmark(workdir, device, args.rounds, dwi.shape_zyx[0], stack_patch=args.tiny)
            stock = results["prediction"][0]["no_tta_s"]
            alis["ratio_vs_stock"] = alis["prediction_s"] / stock
            results["alis_preset"] = alis
            case = "x".join(map(str, reversed(dwi.shape_zyx)))
            print(f"\nAlis preset ({alis['trainer']}, patch {alis['patch_size']}): {alis['parameters']:,} parameters "
                  f"(paper: {alis['paper_parameters']:,}); prediction of one preprocessed {alis['stack']} DWI + ADC "
                  f"stack ({case} case resampled to 224 x 224): {alis['prediction_s']:.1f} s wall, "
                  f"{alis['prediction_cpu_s']:.1f} s CPU ({alis['ratio_vs_stock']:.2f}x the stock network's time on "
                  f"the {case} case)")
        rows = preset_parameter_rows(plans, dataset_json)
        results["presets"] = rows
        print_table("Paper presets: parameters of the paper-exact network on these plans", rows,
                    [("preset", "preset", str), ("trainer", "trainer", str),
                     ("parameters", "parameters", lambda v: f"{v:,}"),
                     ("paper", "paper", lambda v: "not stated" if v is None else f"{v:,}")])
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
