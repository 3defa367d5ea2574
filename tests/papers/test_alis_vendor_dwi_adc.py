"""The ``alis_vendor_dwi_adc`` preset: every fidelity-table row against the instantiated planner, plans, trainers,
augmentation and split design; the preprocessed phantom cases (224 x 224 slices, 0-1 windows); and one stock-CLI
plan + train + fine-tune + predict run of the CPU-sized trainers (slow): the stock-CLI test of the BiConvLSTMUNet
family and of fine-tuning through nnU-Net's ``-pretrained_weights``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch
from nnunetv2.training.dataloading.nnunet_dataset import infer_dataset_class
from preset_runs import CLI_ENV, TRAIN_ENV, PlannedDataset, planned_preset

from strokeseg.experiments.config import parse_config
from strokeseg.io import write_image_atomic
from strokeseg.labels import default_votes
from strokeseg.nnunet.raw import dataset_folder_name, image_path, label_path, write_dataset_json
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers import get_preset
from strokeseg.papers.fidelity import check_rows, read_fidelity_table
from strokeseg.preprocessing.normalization import SiteWindowNormalization
from strokeseg.preprocessing.windows import KEY_WINDOWS
from strokeseg.splits.designs import vendor_split
from strokeseg.synthetic.analytic_head import head_phantom
from strokeseg.trainers import (
    nnUNetTrainer_strokeseg_Alis2022,
    nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6,
)
from strokeseg.trainers.base import CHECKPOINT_KEY, unwrap_network
from strokeseg.trainers.finetune import FineTuningTrainer
from strokeseg.trainers.networks.spec import count_parameters

PRESET = get_preset("alis_vendor_dwi_adc")
REPOSITORY = Path(__file__).parents[2]
DATASET_ID = 963
#: Phantom cases (z, y, x voxels; z, y, x mm): 4 slices each, fields of view and matrices differ per case.
CASES: tuple[tuple[str, str, str, tuple[int, int, int], tuple[float, float, float]], ...] = (
    ("alis_000", "S1", "Siemens", (4, 40, 36), (10.0, 5.6, 6.0)),
    ("alis_001", "G1", "GE", (4, 32, 32), (10.0, 7.0, 6.5)),
    ("alis_002", "S1", "Siemens", (4, 44, 40), (10.0, 5.0, 5.4)),
    ("alis_003", "G1", "GE", (4, 36, 30), (10.0, 6.2, 7.0)),
    ("alis_004", "S1", "Siemens", (4, 38, 38), (10.0, 5.8, 5.8)),
)
#: Site S1 has windows in dataset.json; G1 falls back to the percentile window.
WINDOWS = {"S1": {"DWI": [0, 250], "ADC": [0, 3000]}}


def write_alis_phantoms(raw_root: Path) -> Path:
    """A DWI + ADC raw dataset: 4 training cases and 1 test case of two vendors, cases.csv with site and vendor."""
    folder = raw_root / dataset_folder_name(DATASET_ID, "AlisPhantom")
    rows = []
    for index, (case_id, site, vendor, shape, spacing) in enumerate(CASES):
        split = "Tr" if index < len(CASES) - 1 else "Ts"
        phantom = head_phantom(shape, spacing, bias_strength=0.0, lesion_radius_mm=14.0)
        for array, path in ((phantom.image("DWI"), image_path(folder, case_id, 0, split)),
                            (phantom.image("ADC"), image_path(folder, case_id, 1, split)),
                            (phantom.lesion.astype(np.uint8), label_path(folder, case_id, split))):
            image = sitk.GetImageFromArray(array)
            image.SetSpacing(tuple(reversed(spacing)))
            write_image_atomic(image, path)
        rows.append({"case_id": case_id, "site": site, "vendor": vendor})
    write_dataset_json(folder, {0: "DWI", 1: "ADC"}, {"background": 0, "lesion": 1}, len(CASES) - 1,
                       extra={KEY_WINDOWS: WINDOWS})
    pd.DataFrame(rows).to_csv(folder / "cases.csv", index=False)
    return folder


def preprocessed_cases(planned: PlannedDataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Image and label arrays of every preprocessed case, by case id."""
    folder = planned.preprocessed / planned.plans()["configurations"][PRESET.configuration]["data_identifier"]
    dataset = infer_dataset_class(str(folder))(str(folder))
    cases = {}
    for key in dataset.identifiers:
        data, seg, _, _ = dataset.load_case(key)
        cases[key] = (np.asarray(data), np.asarray(seg))
    return cases


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlannedDataset]:
    """The phantom dataset planned and preprocessed by the stock CLI with the preset's planner."""
    with planned_preset(tmp_path_factory.mktemp("alis_preset"), PRESET, DATASET_ID, write_alis_phantoms) as result:
        yield result


def vendor_cohort(vendor: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"{vendor}{i:05d}" for i in range(n)], "vendor": [vendor] * n})


def training_pipeline(trainer: Any) -> Any:
    """The trainer's training pipeline as nnU-Net's ``on_train_start`` builds it (no deep supervision)."""
    rotation, dummy_2d, _, mirror_axes = trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    return trainer.get_training_transforms(trainer.configuration_manager.patch_size, rotation, None, mirror_axes,
                                           dummy_2d, use_mask_for_norm=trainer.configuration_manager.use_mask_for_norm,
                                           foreground_labels=trainer.label_manager.foreground_labels)


def fidelity_context(planned: PlannedDataset, tmp_path: Path) -> dict[str, Any]:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Alis2022)
    trainer.initialize()
    network = unwrap_network(trainer.network)
    configuration = planned.plans()["configurations"][PRESET.configuration]
    split = PRESET.split_options
    splits = {vendor: vendor_split(vendor_cohort(vendor, n), vendor, split["column"], split["fractions"],
                                   stratify_by=(split["column"],)) for vendor, n in split["cases"].items()}
    experiment = parse_config({**PRESET.experiment, "dataset": DATASET_ID}, tmp_path / "alis.yaml")
    preprocessed = preprocessed_cases(planned)
    values = np.concatenate([data.ravel() for data, _ in preprocessed.values()])
    pipeline = training_pipeline(trainer)
    return {
        "preset": PRESET,
        "dataset": json.loads((planned.raw / "dataset.json").read_text()),
        "plans": planned.plans(),
        "configuration": configuration,
        "normalization": SiteWindowNormalization,
        "trainer": trainer,
        "network": network,
        "network_class": type(network).__name__,
        "convlstm_after_every_encoder_stage": len(network.lstms) == len(network.encoder.stages),
        "finetune": planned.trainer(nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6),
        "finetune_from_pretrained": issubclass(nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6, FineTuningTrainer),
        "pipeline": pipeline,
        "pipeline_steps": [type(step).__name__ for step in pipeline.transforms[:5]],
        "augmentation_library": type(pipeline.transforms[1]).__module__.split(".")[0],
        "parameters": count_parameters(network),
        "preprocessed_shapes": sorted({data.shape[1:] for data, _ in preprocessed.values()}),
        "intensities_within_0_1": bool(values.min() >= 0 and values.max() <= 1),
        "whole_stack": configuration["patch_size"][0] == CASES[0][3][0],
        "splits": splits,
        "experiment": experiment,
        "consensus_votes_of_3": default_votes(3),
    }


def test_every_fidelity_row_holds(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    assert len(rows) >= 40
    assert check_rows(rows, fidelity_context(planned, tmp_path)) == []


def test_a_changed_value_is_caught(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    context = fidelity_context(planned, tmp_path)
    context["trainer"].initial_lr = 1e-2
    problems = check_rows(rows, context)
    assert len(problems) == 1 and "trainer.initial_lr" in problems[0]


def test_preprocessed_slices_are_224_and_windowed_per_site(planned: PlannedDataset) -> None:
    cases = preprocessed_cases(planned)
    assert {data.shape[1:] for data, _ in cases.values()} == {(4, 224, 224)}
    assert all(seg.shape[1:] == (4, 224, 224) and set(np.unique(seg)) <= {0, 1} for _, seg in cases.values())
    # site S1's DWI window is [0, 250]: the phantom's brightest DWI (about 270) saturates at 1; G1's percentile
    # window maps its 99.5th percentile to 1, so fewer voxels saturate
    saturated = {key: float(np.mean(data[0] >= 1.0 - 1e-6)) for key, (data, _) in cases.items()}
    assert saturated["alis_000"] > 0 and all(data.min() >= 0 and data.max() <= 1 for data, _ in cases.values())
    plans = planned.plans()["configurations"][PRESET.configuration]
    assert plans[KEY_WINDOWS] == {"S1": [[0.0, 250.0], [0.0, 3000.0]]}


@pytest.mark.slow
def test_cpu_preset_trains_fine_tunes_and_predicts_through_the_stock_clis(planned: PlannedDataset,
                                                                          tmp_path: Path) -> None:
    training = sorted(case_id for case_id, *_ in CASES[:-1])
    (planned.preprocessed / "splits_final.json").write_text(json.dumps([
        {"train": training[:3], "val": training[3:]}, {"train": training[1:], "val": training[:1]}]))
    dataset, configuration = str(DATASET_ID), PRESET.configuration
    run_nnunet("nnUNetv2_train", [dataset, configuration, "0", "-tr", PRESET.cpu_trainer, "-p", PRESET.plans,
                                  "-device", "cpu"], planned.paths, planned.log, TRAIN_ENV)
    model = planned.paths.results / planned.raw.name / f"{PRESET.cpu_trainer}__{PRESET.plans}__{configuration}"
    log = next((model / "fold_0").glob("training_log_*.txt")).read_text()
    assert "epochs as passes over the data: 3 training and 1 validation cases" in log
    assert "final model = epoch" in log
    checkpoint = model / "fold_0" / "checkpoint_final.pth"
    run_nnunet("nnUNetv2_train", [dataset, configuration, "1", "-tr", PRESET.cpu_finetune_trainer, "-p",
                                  PRESET.plans, "-device", "cpu", "-pretrained_weights", str(checkpoint)],
               planned.paths, planned.log, TRAIN_ENV)
    tuned = model.parent / f"{PRESET.cpu_finetune_trainer}__{PRESET.plans}__{configuration}" / "fold_1"
    tuned_log = "\n".join(path.read_text() for path in tuned.glob("training_log_*.txt"))
    assert "Loaded layers:" in tuned_log  # strokeseg's check ran inside nnU-Net's -pretrained_weights route
    tuned_checkpoint = torch.load(tuned / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert tuned_checkpoint[CHECKPOINT_KEY]["pretrained_weights"]["path"] == str(checkpoint)
    # the mirroring axes prediction uses come from the checkpoint: the trainer's own choice
    reference = planned.trainer(nnUNetTrainer_strokeseg_Alis2022)
    reference.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    source_checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert source_checkpoint["inference_allowed_mirroring_axes"] == reference.inference_allowed_mirroring_axes
    out = tmp_path / "predicted"
    run_nnunet("nnUNetv2_predict", ["-i", str(planned.raw / "imagesTs"), "-o", str(out), "-d", dataset, "-c",
                                    configuration, "-f", "0", "-tr", PRESET.cpu_trainer, "-p", PRESET.plans,
                                    "-device", "cpu", "-npp", "0", "-nps", "0"], planned.paths, planned.log, CLI_ENV)
    predicted = sitk.ReadImage(str(out / "alis_004.nii.gz"))
    reference = sitk.ReadImage(str(planned.raw / "labelsTs" / "alis_004.nii.gz"))
    assert predicted.GetSize() == reference.GetSize()
    assert np.allclose(predicted.GetSpacing(), reference.GetSpacing())
