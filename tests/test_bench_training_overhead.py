"""benchmarks/bench_training_overhead.py: ``--trainers`` picks trainers of its list by short or full name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import bench_training_overhead as overhead


def test_trainers_are_chosen_by_short_or_full_name_in_the_lists_order() -> None:
    assert overhead.chosen_trainers(None) == overhead.TRAINERS
    assert overhead.chosen_trainers(["BiConvLSTMUNet", "nnUNetTrainer_strokeseg_SEUNet"]) == (
        "nnUNetTrainer_strokeseg_SEUNet", "nnUNetTrainer_strokeseg_BiConvLSTMUNet")
    with pytest.raises(ValueError, match="not measured by this benchmark: nnUNetTrainer_strokeseg_Nope; choose from "
                                         "Tversky, BCEDice"):
        overhead.chosen_trainers(["Nope", "SEUNet"])


@pytest.mark.slow  # plans and preprocesses a tiny dataset with the stock nnU-Net tool (~15 s)
def test_the_stock_twin_trains_the_in_plane_convlstm_unet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin of the Alis network takes its in-plane deep-supervision targets: on plans whose deepest stage pools
    the slices too (as the full-size DWI plans do), nnU-Net's own targets would not fit its outputs."""
    import torch
    from bench_trainers import CONFIGURATION, GEOMETRIES, PREDICTION_ROWS, load_plans, make_trainer, prepare_plans, tiny

    from strokeseg.nnunet.folders import NnunetPaths
    from strokeseg.synthetic.batches import random_training_batch

    for key, value in NnunetPaths.under(tmp_path).environment().items():
        monkeypatch.setenv(key, value)  # prepare_plans sets them too; restored after the test
    monkeypatch.setenv("nnUNet_compile", "false")
    dwi = tiny(GEOMETRIES, PREDICTION_ROWS)[0]["dwi"]
    plans, dataset_json = load_plans(prepare_plans(tmp_path, dwi, preprocess=True), dwi)
    configuration = plans["configurations"][CONFIGURATION]
    configuration["architecture"]["arch_kwargs"]["strides"][-1] = [2, 2, 2]
    patch, cpu = configuration["patch_size"], torch.device("cpu")
    ours_class = overhead.trainer_class("nnUNetTrainer_strokeseg_BiConvLSTMUNet")
    ours = make_trainer(ours_class, plans, dataset_json, cpu, patch, 2)
    twin = make_trainer(overhead.stock_twin(ours_class), plans, dataset_json, cpu, patch, 2)
    assert twin._get_deep_supervision_scales() == ours._get_deep_supervision_scales()
    assert all(scale[0] == 1.0 for scale in twin._get_deep_supervision_scales())
    twin.network.train()
    twin.train_step(random_training_batch(twin, patch, 2))  # nnU-Net's own targets: a shape error here
