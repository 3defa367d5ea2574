"""The trained model every ``strokeseg predict`` test uses: a two-member ensemble of a CPU-sized strokeseg trainer on
the toy DWI dataset, planned by the stock CLI and trained in process (about half a minute on 2 cores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import FAST_FINGERPRINT, SINGLE_CORE_NNUNET_ENV, in_process_nnunet

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.synthetic.toy import write_toy_dataset
from strokeseg.trainers import nnUNetTrainer_strokeseg_PreActResUNet_Tiny

DATASET_ID = 986
TRAINER = nnUNetTrainer_strokeseg_PreActResUNet_Tiny
PLANS = "nnUNetPlans"
CONFIGURATION = "3d_fullres"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$nnUNet_results/Dataset986_Predict/<trainer>__nnUNetPlans__3d_fullres`` with folds 0 and 1 (the members)."""
    root = tmp_path_factory.mktemp("predict_model")
    paths = NnunetPaths.under(root)
    paths.create()
    raw = write_toy_dataset(paths.raw, DATASET_ID, "Predict", num_training=6, num_test=0)
    run_nnunet("nnUNetv2_plan_and_preprocess",
               ["-d", str(DATASET_ID), "-c", CONFIGURATION, "-np", "1", "-npfp", "1", *FAST_FINGERPRINT],
               paths, root / "nnunet.log", SINGLE_CORE_NNUNET_ENV)
    preprocessed = paths.preprocessed / raw.name
    cases = [f"toy_{i:03d}" for i in range(6)]
    (preprocessed / "splits_final.json").write_text(json.dumps([{"train": cases[:5], "val": cases[5:]},
                                                                 {"train": cases[1:], "val": cases[:1]}]))
    plans = json.loads((preprocessed / f"{PLANS}.json").read_text())
    dataset_json = json.loads((preprocessed / "dataset.json").read_text())
    with in_process_nnunet(paths):
        for fold in (0, 1):
            trainer = TRAINER(plans={**plans, "continue_training": False}, configuration=CONFIGURATION, fold=fold,
                              dataset_json=dataset_json, device=torch.device("cpu"))
            trainer.run_training()
    yield paths.results / raw.name / f"{TRAINER.__name__}__{PLANS}__{CONFIGURATION}"
