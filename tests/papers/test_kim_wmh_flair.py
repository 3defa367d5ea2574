"""The kim_wmh_flair preset: every fidelity row against the planner, the plans it wrote, the paper's trainers and
networks, the split designs on cohorts of the paper's sizes and the uncertainty defaults; and (slow) the CPU-sized
ensemble planned, trained, predicted by the stock CLIs and combined by soft voting with the uncertainty index."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from preset_runs import CLI_ENV, TRAIN_ENV, PlannedDataset, planned_preset
from torch import nn

from strokeseg.evaluation import ensemble_mean_probability
from strokeseg.experiments.config import parse_config
from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet.probabilities import read_foreground_probability
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.papers import get_preset
from strokeseg.papers.fidelity import check_rows, read_fidelity_table
from strokeseg.planners import KimWMHPlanner
from strokeseg.postprocessing.uncertainty import MEAN_PROBABILITY_FOLDER, run_uncertainty
from strokeseg.preprocessing.normalization import WMHFlairNormalization
from strokeseg.splits import split_dataset
from strokeseg.splits.designs import ensemble_split, learning_curve_split, train_dev_test_split
from strokeseg.synthetic.analytic_head import write_phantom_dataset
from strokeseg.trainers import (
    nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble,
    nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny,
    nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble,
)
from strokeseg.trainers.networks.layers import SqueezeExcitation
from strokeseg.trainers.networks.spec import count_parameters

REPOSITORY = Path(__file__).resolve().parents[2]
PRESET = get_preset("kim_wmh_flair")
DATASET_ID = 964
#: Ensemble members of the CPU run (the paper: 5).
CPU_MEMBERS = 2


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlannedDataset]:
    """A FLAIR phantom dataset (3 training cases of 6 slices, 1 test case) planned and preprocessed by the stock CLI
    with the preset's planner, and a 2-member ensemble split."""
    with planned_preset(tmp_path_factory.mktemp("kim_preset"), PRESET, DATASET_ID,
                        lambda raw: write_phantom_dataset(raw, DATASET_ID, "KimFlair", channels=("FLAIR",),
                                                          num_training=3, num_test=1, shape=(6, 48, 48))) as planned:
        split_dataset(planned.paths.raw, DATASET_ID, PRESET.split_design or "", members=CPU_MEMBERS,
                      preprocessed_root=planned.paths.preprocessed)
        yield planned


def cohort(n: int) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"case{i:05d}" for i in range(n)], "site": [f"H{i % 3}" for i in range(n)]})


def layers(network: nn.Module) -> dict[str, Any]:
    """The paper's layer-level description read off a network."""
    def convs(stage: nn.Module) -> int:
        return sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in stage.modules())
    return {
        "encoder_convs": [convs(stage) for stage in network.encoder.stages],
        "decoder_convs": [convs(stage) for stage in network.decoder.stages],
        "se_down": sum(isinstance(m, SqueezeExcitation) for m in network.encoder.modules()),
        "se_up": sum(isinstance(m, SqueezeExcitation) for m in network.decoder.modules()),
        "pool": network.encoder.pool.kernel_size,
        "up_kernels": [list(up.kernel_size) for up in network.decoder.transpconvs],
        "parameters": count_parameters(network),
    }


def fidelity_context(planned: PlannedDataset, tmp_path: Path) -> dict[str, Any]:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble)
    trainer.initialize()
    unet = planned.trainer(nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble)
    unet.initialize()
    options = PRESET.split_options
    n = options["n_training_images"]
    ensemble = ensemble_split(cohort(n), members=options["members"], subset_fraction=options["subset_fraction"])
    curve = learning_curve_split(cohort(n), sizes=options["learning_curve_sizes"],
                                 train_fraction=options["learning_curve_train_fraction"])
    development = train_dev_test_split(cohort(n), counts=options["split_percent"])
    fold = development.folds[0]
    defaults = inspect.signature(run_uncertainty).parameters
    members = [np.array([0.2, 0.9]), np.array([0.6, 0.5])]
    experiment = parse_config({**PRESET.experiment, "dataset": DATASET_ID}, tmp_path / "kim.yaml")
    return {
        "preset": PRESET,
        "dataset": json.loads((planned.raw / "dataset.json").read_text()),
        "planner": KimWMHPlanner,
        "plans": planned.plans(),
        "normalization": WMHFlairNormalization,
        "trainer": trainer,
        "network": trainer.network,
        "se_unet": layers(trainer.network),
        "unet": layers(unet.network),
        "optimizer": type(trainer.optimizer).__name__,
        "member_seeds": [planned.trainer(nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble, fold=k).member_seed
                         for k in range(options["members"])],
        "ensemble": {"plan": ensemble, "train": [len(f.train) for f in ensemble.folds]},
        "learning_curve": {"plan": curve, "train": [len(f.train) + len(f.val) for f in curve.folds]},
        "development": [len(fold.train), len(fold.val), len(development.test)],
        "uncertainty": {name: defaults[name].default for name in ("prior", "divergence_threshold",
                                                                   "label_threshold")},
        "soft_voting": bool(np.allclose(ensemble_mean_probability(members), np.mean(members, axis=0))),
        "experiment": experiment,
    }


def test_every_fidelity_row_holds(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    assert len(rows) >= 40
    assert check_rows(rows, fidelity_context(planned, tmp_path)) == []


def test_a_changed_value_is_caught(planned: PlannedDataset, tmp_path: Path) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    context = fidelity_context(planned, tmp_path)
    context["se_unet"]["se_up"] = 2  # SE blocks on the up path too: not the paper's network
    problems = check_rows(rows, context)
    assert len(problems) == 1 and "se_unet.se_up" in problems[0]


def test_the_2d_configuration_resamples_slices_to_256(planned: PlannedDataset) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny)
    trainer.initialize()
    dataset = trainer.dataset_class(trainer.preprocessed_dataset_folder, ["phantom_000"])
    data = dataset.load_case("phantom_000")[0]
    assert tuple(data.shape) == (1, 6, 256, 256)  # slices keep their number, every slice is 256 x 256
    # a pass over the training data is its slices: 2 members' 2 training cases of 6 slices, batch 8
    assert trainer._samples_per_pass(["phantom_000", "phantom_001"]) == 12


@pytest.mark.slow
def test_cpu_ensemble_trains_predicts_and_soft_votes(planned: PlannedDataset, tmp_path: Path) -> None:
    trainer = nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny.__name__
    assert trainer == PRESET.cpu_trainer
    images = planned.raw / "imagesTs"

    def train_and_predict(member: int) -> Path:
        log = tmp_path / f"member{member}.log"
        run_nnunet("nnUNetv2_train", [str(DATASET_ID), PRESET.configuration, str(member), "-tr", trainer, "-p",
                                      PRESET.plans, "-device", "cpu"], planned.paths, log, TRAIN_ENV)
        out = tmp_path / f"member{member}"
        run_nnunet("nnUNetv2_predict", ["-i", str(images), "-o", str(out), "-d", str(DATASET_ID), "-c",
                                        PRESET.configuration, "-f", str(member), "-tr", trainer, "-p", PRESET.plans,
                                        "-device", "cpu", "-npp", "0", "-nps", "0", "--save_probabilities"],
                   planned.paths, log, CLI_ENV)
        return out

    # members are independent runs: one per core, as a cluster would run them
    with ThreadPoolExecutor(max_workers=CPU_MEMBERS) as pool:
        member_dirs = list(pool.map(train_and_predict, range(CPU_MEMBERS)))
    model = planned.paths.results / planned.raw.name / f"{trainer}__{PRESET.plans}__{PRESET.configuration}"
    for member in range(CPU_MEMBERS):
        log_text = "\n".join(p.read_text() for p in (model / f"fold_{member}").glob("training_log_*.txt"))
        assert f"ensemble member {member}: seed {12345 + member}" in log_text
        assert "2D SE-U-Net (Kim 2024)" in log_text and "training augmentation: none" in log_text
        assert "epochs as passes over the data: 12 training and 6 validation slices" in log_text
    table = run_uncertainty(member_dirs, tmp_path / "ensemble")
    assert table["status"].tolist() == ["ok"] and table["n_members"].tolist() == [CPU_MEMBERS]
    image = images / "phantom_003_0000.nii.gz"
    segmentation, geometry = read_array(tmp_path / "ensemble" / "phantom_003.nii.gz")
    assert geometry.differences(read_header_geometry(image)) == []  # back on the original 48 x 48 grid
    assert set(np.unique(segmentation).tolist()) <= {0, 1}
    # soft voting: the ensemble's probability is the members' mean, its segmentation that mean >= 0.5
    members = [read_foreground_probability(d / "phantom_003.npz", segmentation.shape) for d in member_dirs]
    mean, _ = read_array(tmp_path / "ensemble" / MEAN_PROBABILITY_FOLDER / "phantom_003.nii.gz")
    assert np.allclose(mean, np.mean(members, axis=0), atol=1e-6)
    assert np.array_equal(segmentation == 1, mean >= 0.5)
