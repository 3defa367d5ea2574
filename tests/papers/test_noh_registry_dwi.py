"""The ``noh_registry_dwi`` preset: every fidelity-table row against the instantiated planner, plans, trainers,
augmentation and split designs; the paper's augmentation on a patch; and one stock-CLI train + predict run of the
CPU-sized trainer, predicting the real ISLES'22 sample converted with DWI only (slow)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from preset_runs import CLI_ENV, TRAIN_ENV, PlannedDataset, planned_preset

from strokeseg.dataset_conversion.convert import convert
from strokeseg.dataset_conversion.isles22 import isles22_spec
from strokeseg.experiments.config import parse_config
from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet.plans import spaced_plans_name, target_spacing_arguments
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers import get_preset
from strokeseg.papers.fidelity import check_rows, read_fidelity_table
from strokeseg.planners import StrokeDWIPlanner
from strokeseg.preprocessing.normalization import HistogramPeakNormalization
from strokeseg.splits.designs import domain_adaptation_split, learning_curve_split, single_site_split
from strokeseg.synthetic.toy import write_toy_dataset
from strokeseg.trainers import (
    nnUNetTrainer_strokeseg_Noh2023,
    nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3,
    nnUNetTrainer_strokeseg_Noh2023_Tiny,
    nnUNetTrainer_strokeseg_Noh2023SwinUNETR,
    nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny,
)
from strokeseg.trainers.augmentation import TorchioTransform

PRESET = get_preset("noh_registry_dwi")
REPOSITORY = Path(__file__).parents[2]
ISLES22_SAMPLE = REPOSITORY / "tests" / "data" / "isles22_sample"
DATASET_ID, ISLES22_ID = 961, 962
#: A coarse grid (z, y, x mm) for the CPU run: the toy cases become 12 x 20 x 20 voxels, the ISLES'22 case 37 x 75 x 75.
SPACING = (4.0, 3.0, 3.0)
PLANS = spaced_plans_name(PRESET.plans, SPACING)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlannedDataset]:
    """A DWI toy dataset planned and preprocessed by the stock CLI with the preset's planner."""
    with planned_preset(tmp_path_factory.mktemp("noh_preset"), PRESET, DATASET_ID,
                        lambda raw: write_toy_dataset(raw, DATASET_ID, "NohToy", num_training=6, num_test=0),
                        PLANS, target_spacing_arguments(SPACING, PLANS)) as planned:
        yield planned


def training_pipeline(trainer: Any) -> tuple[Any, tuple[int, ...]]:
    """The trainer's training augmentation pipeline as nnU-Net builds it, and the data loader's patch size."""
    rotation, dummy_2d, initial_patch_size, mirror_axes = \
        trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    pipeline = trainer.get_training_transforms(
        trainer.configuration_manager.patch_size, rotation, trainer._get_deep_supervision_scales(), mirror_axes,
        dummy_2d, use_mask_for_norm=trainer.configuration_manager.use_mask_for_norm,
        foreground_labels=trainer.label_manager.foreground_labels)
    return pipeline, tuple(int(size) for size in initial_patch_size)


def cohort(n: int, sites: tuple[str, ...] = ("A", "B")) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"case{i:05d}" for i in range(n)], "site": [sites[i % len(sites)]
                                                                                  for i in range(n)]})


def fidelity_context(planned: PlannedDataset, tmp_path: Path) -> dict[str, Any]:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Noh2023)
    trainer.initialize()
    pipeline, _ = training_pipeline(trainer)
    augmentation = pipeline.transforms[0].transform
    split = PRESET.split_options
    curve = learning_curve_split(cohort(split["n_internal_images"]), fractions=split["fractions"],
                                 train_fraction=split["train_fraction"], stratify_by=("site",))
    target = PRESET.experiment["target"]
    adaptation = domain_adaptation_split(cohort(target["pool_size"] + target["test_size"]), sizes=target["sizes"],
                                         pool_size=target["pool_size"], test_size=target["test_size"])
    experiment = parse_config({**PRESET.experiment, "dataset": DATASET_ID,
                               "target": {**target, "dataset": ISLES22_ID, "derived_id": 972},
                               "single_site": {"site": "A", "derived_id": 973}}, tmp_path / "noh.yaml")
    swin = planned.trainer(nnUNetTrainer_strokeseg_Noh2023SwinUNETR)
    swin.initialize()
    monai_network = swin.network.network
    return {
        "swin": swin,
        "swin_network": swin.network,
        "swin_channels": [monai_network.swinViT.patch_embed.proj.in_channels,
                          monai_network.out.conv.conv.out_channels],
        "swin_schedule": [swin.num_epochs, swin.num_iterations_per_epoch, swin.lr_schedule_name],
        "preset": PRESET,
        "dataset": json.loads((planned.raw / "dataset.json").read_text()),
        "planner": StrokeDWIPlanner(DATASET_ID),
        "plans": planned.plans(),
        "normalization": HistogramPeakNormalization,
        "trainer": trainer,
        "network": trainer.network,
        "finetune": planned.trainer(nnUNetTrainer_strokeseg_Noh2023_FT50ep_lr1e3),
        "pipeline_steps": [type(step).__name__ for step in pipeline.transforms],
        "augmentation": augmentation,
        "augmentation_library": type(augmentation).__module__.split(".")[0],
        "learning_curve": {"plan": curve, "sizes": [len(f.train) + len(f.val) for f in curve.folds],
                           "validation": [len(f.val) for f in curve.folds]},
        "single_site": single_site_split(cohort(40), "A"),
        "adaptation": adaptation,
        "adaptation_validation": [len(f.val) for f in adaptation.folds],
        "experiment": experiment,
        "isles22": isles22_spec(channels=split["channels"]),
    }


def test_every_fidelity_row_holds(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    assert len(rows) >= 50
    assert check_rows(rows, fidelity_context(planned, tmp_path)) == []


def test_a_changed_value_is_caught(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    context = fidelity_context(planned, tmp_path)
    context["learning_curve"]["sizes"][4] = 4331  # what rounding half up would give
    problems = check_rows(rows, context)
    assert len(problems) == 1 and "learning_curve.sizes" in problems[0]


def test_the_swin_unetr_rows_are_checked(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = [row for row in read_fidelity_table(REPOSITORY / PRESET.fidelity_table) if row.detail.startswith(
        ("Swin UNETR", "Transformer arm"))]
    assert len(rows) >= 14 and all(row.attribute.startswith(("swin", "preset.variants")) for row in rows)
    context = fidelity_context(planned, tmp_path)
    assert check_rows(rows, context) == []
    context["swin"].optimizer_name = "sgd"  # the U-Net arm's optimizer
    context["swin_network"].divisor = (16, 32, 32)
    problems = check_rows(rows, context)
    assert len(problems) == 2 and "swin_network.divisor" in problems[0] and "swin.optimizer_name" in problems[1]


def test_the_swin_unetr_trainer_has_one_output_and_nnunets_switch_leaves_it_so(planned: PlannedDataset) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny)
    trainer.initialize()
    assert trainer.enable_deep_supervision is False and trainer._get_deep_supervision_scales() is None
    trainer.set_deep_supervision_enabled(True)  # nnU-Net calls this after its validation: a no-op here
    optimizer, _ = trainer.configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["weight_decay"] == pytest.approx(1e-5)
    patch = tuple(trainer.configuration_manager.patch_size)
    with torch.no_grad():
        output = trainer.network(torch.zeros(1, 1, *patch))
    assert tuple(output.shape) == (1, 2, *patch)


def test_the_papers_augmentation_transforms_a_patch_and_its_label_alike(planned: PlannedDataset) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Noh2023)
    trainer.initialize()
    pipeline, initial_patch_size = training_pipeline(trainer)
    assert isinstance(pipeline.transforms[0], TorchioTransform)
    torch.manual_seed(0)
    image = torch.zeros((1, *initial_patch_size))
    label = torch.zeros((1, *initial_patch_size), dtype=torch.int16)
    centre = tuple(slice(size // 2 - size // 4, size // 2 + size // 4) for size in initial_patch_size)
    image[(0, *centre)] = 150.0
    label[(0, *centre)] = 1
    out = pipeline(image=image, segmentation=label)
    patch_size = tuple(trainer.configuration_manager.patch_size)
    assert tuple(out["image"].shape[1:]) == tuple(out["segmentation"].shape[1:]) == patch_size
    assert set(torch.unique(out["segmentation"]).tolist()) == {0, 1}
    # the label moves with the image: bright voxels are mostly labelled lesion and the other way round
    bright, lesion = out["image"][0] > 60, out["segmentation"][0] == 1
    assert (bright & lesion).sum() >= 0.9 * lesion.sum()
    # nnU-Net-flavoured variants keep nnU-Net's augmentation
    assert PRESET.variants["nnunet_flavoured"] == "nnUNetTrainer_strokeseg_PreActResUNet"


def cli_train(planned: PlannedDataset, trainer: str, log: Path) -> str:
    """``nnUNetv2_train`` of fold 0 with ``trainer`` on the CPU; returns nnU-Net's training log."""
    run_nnunet("nnUNetv2_train", [str(DATASET_ID), PRESET.configuration, "0", "-tr", trainer, "-p", PLANS,
                                  "-device", "cpu"], planned.paths, log, TRAIN_ENV)
    model = planned.paths.results / planned.raw.name / f"{trainer}__{PLANS}__{PRESET.configuration}"
    assert (model / "fold_0" / "checkpoint_final.pth").is_file()
    return "\n".join(path.read_text() for path in (model / "fold_0").glob("training_log_*.txt"))


@pytest.mark.slow
def test_cpu_trainer_trains_and_predicts_isles22_with_dwi_only(planned: PlannedDataset, tmp_path: Path) -> None:
    trainer = nnUNetTrainer_strokeseg_Noh2023_Tiny.__name__
    assert trainer == PRESET.cpu_trainer
    log = tmp_path / "nnunet.log"
    assert "training augmentation: registry DWI augmentation" in cli_train(planned, trainer, log)
    isles22 = convert("isles22", ISLES22_SAMPLE, planned.paths.raw, ISLES22_ID, "ISLES22DWI",
                      channels=list(PRESET.split_options["channels"])).dataset_dir
    predictions = tmp_path / "predictions"
    run_nnunet("nnUNetv2_predict", ["-i", str(isles22 / "imagesTr"), "-o", str(predictions), "-d", str(DATASET_ID),
                                    "-c", PRESET.configuration, "-f", "0", "-tr", trainer, "-p", PLANS,
                                    "-device", "cpu", "-npp", "0", "-nps", "0", "--disable_tta"],
               planned.paths, log, CLI_ENV)
    image = isles22 / "imagesTr" / "strokecase0009_0000.nii.gz"
    array, geometry = read_array(predictions / "strokecase0009.nii.gz")
    assert set(np.unique(array).tolist()) <= {0, 1}
    assert geometry.differences(read_header_geometry(image)) == []


@pytest.mark.slow
def test_cpu_swin_unetr_trainer_trains_and_predicts_through_the_stock_clis(planned: PlannedDataset,
                                                                          tmp_path: Path) -> None:
    """The transformer arm the nnU-Net way: nnUNetv2_train with the CPU-sized Swin UNETR trainer on the planned DWI
    toy dataset, then nnUNetv2_predict (no test-time augmentation) on one of its images."""
    trainer = nnUNetTrainer_strokeseg_Noh2023SwinUNETR_Tiny.__name__
    assert trainer == PRESET.variants["transformer_arm_cpu"]
    log = tmp_path / "nnunet.log"
    training_log = cli_train(planned, trainer, log)
    assert "network: PadToMultiple (Swin UNETR (MONAI))" in training_log
    assert "training augmentation: registry DWI augmentation" in training_log
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    image = sorted((planned.raw / "imagesTr").glob("*_0000.nii.gz"))[0]
    (inputs / image.name).write_bytes(image.read_bytes())
    predictions = tmp_path / "predictions"
    run_nnunet("nnUNetv2_predict", ["-i", str(inputs), "-o", str(predictions), "-d", str(DATASET_ID),
                                    "-c", PRESET.configuration, "-f", "0", "-tr", trainer, "-p", PLANS,
                                    "-device", "cpu", "-npp", "0", "-nps", "0", "--disable_tta"],
               planned.paths, log, CLI_ENV)
    predicted = predictions / image.name.replace("_0000.nii.gz", ".nii.gz")
    array, geometry = read_array(predicted)
    assert set(np.unique(array).tolist()) <= {0, 1}
    assert geometry.differences(read_header_geometry(image)) == []
