"""Tomita et al.'s preset: every row of its fidelity table, centre-crop prediction, and (slow) the whole study
through the stock CLIs on phantom T1w heads: plan, zoom-in -> zoom-out training, the final, "-F" and snapshot
("-E") predictions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST_FINGERPRINT, SINGLE_CORE_NNUNET_ENV
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
from torch.nn import functional

from strokeseg.errors import ConfigurationError
from strokeseg.io import read_array, read_header_geometry
from strokeseg.modalities import CHANNEL_T1W
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.plans import TOMITA_PLANS_NAME
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.nnunet.zoom_configurations import (
    ZOOM_IN_CHECKPOINT,
    ZOOM_IN_CONFIGURATION,
    ZOOM_OUT_CONFIGURATION,
    snapshot_checkpoint,
)
from strokeseg.papers import get_preset
from strokeseg.papers.fidelity import check_rows, read_fidelity_table
from strokeseg.planners import TomitaAtlasPlanner
from strokeseg.preprocessing.centre_crop import centre_box
from strokeseg.splits import train_dev_test_split
from strokeseg.synthetic.analytic_head import write_phantom_dataset
from strokeseg.trainers import nnUNetTrainer_strokeseg_Tomita2020, nnUNetTrainer_strokeseg_Tomita2020_CPU
from strokeseg.trainers.base import unwrap_network
from strokeseg.trainers.networks.padding import crop_padding, stride_padding
from strokeseg.trainers.networks.spec import count_convolution_layers, count_parameters

REPOSITORY = Path(__file__).resolve().parents[2]
PRESET = get_preset("tomita_atlas_zoom")
DATASET_ID = 931
#: Phantom heads in a 276 x 240 x 240 mm box (the head about 170 x 178 x 150 mm, the size of an MNI head) on a
#: coarse 6 mm grid, so that training fits a CPU.
SHAPE_ZYX, SPACING_MM = (46, 40, 40), (6.0, 6.0, 6.0)
#: The same cohort planned at the paper's 1 mm grid (planning only): the plans the fidelity table checks.
PAPER_GRID_PLANS = f"{TOMITA_PLANS_NAME}_1mm"
CLI_ENV = SINGLE_CORE_NNUNET_ENV
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Planned:
    paths: NnunetPaths
    raw: Path
    preprocessed: Path
    log: Path

    def plans(self, name: str) -> dict[str, Any]:
        plans: dict[str, Any] = json.loads((self.preprocessed / f"{name}.json").read_text())
        plans["continue_training"] = False  # what nnUNetv2_train adds before it builds a trainer
        return plans

    def trainer(self, trainer_class: type, plans_name: str) -> Any:
        dataset_json = json.loads((self.preprocessed / "dataset.json").read_text())
        return trainer_class(plans=self.plans(plans_name), configuration=ZOOM_OUT_CONFIGURATION, fold=0,
                             dataset_json=dataset_json, device=CPU)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planned]:
    """Phantom T1w heads planned with the preset's planner by the stock CLI: preprocessed on their own 6 mm grid,
    and planned (only) at the paper's 1 mm grid."""
    root = tmp_path_factory.mktemp("tomita")
    paths = NnunetPaths.under(root)
    paths.create()
    raw = write_phantom_dataset(paths.raw, DATASET_ID, "TomitaPhantom", channels=(CHANNEL_T1W,), num_training=5,
                                num_test=1, shape=SHAPE_ZYX, spacing=SPACING_MM)
    log = root / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(DATASET_ID), "-pl", PRESET.planner, "-c", "3d_fullres",
                                                "-np", "1", "-npfp", "1", *FAST_FINGERPRINT], paths, log, CLI_ENV)
    run_nnunet("nnUNetv2_plan_experiment", ["-d", str(DATASET_ID), "-pl", PRESET.planner,
                                            "-overwrite_target_spacing", "1", "1", "1", "-overwrite_plans_name",
                                            PAPER_GRID_PLANS], paths, log, CLI_ENV)
    with pytest.MonkeyPatch.context() as env:
        for key, value in paths.environment().items():
            env.setenv(key, value)
        yield Planned(paths, raw, paths.preprocessed / raw.name, log)


def rotation_of(trainer: Any) -> dict[str, Any]:
    rotation, _, _, mirror_axes = trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    return {"rotation": list(rotation), "mirror_axes": list(mirror_axes)}


def fidelity_context(planned: Planned) -> dict[str, Any]:
    """What the fidelity table checks: the preset's planner output at 1 mm, its trainer, network and split."""
    plans = planned.plans(PAPER_GRID_PLANS)
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Tomita2020, PAPER_GRID_PLANS)
    manager = PlansManager(plans)
    network = unwrap_network(trainer.build_network_architecture(
        manager, manager.get_configuration(ZOOM_OUT_CONFIGURATION), 1,
        trainer.label_manager.num_segmentation_heads, trainer.enable_deep_supervision))
    layers, parameters = count_convolution_layers(network), count_parameters(network)
    print(f"{trainer.__class__.__name__}: {type(network).__name__}, {layers} convolution layers, "
          f"{parameters:,} parameters (plans at 1 mm)")
    cases = pd.DataFrame({"case_id": [f"atlas_{i:03d}" for i in range(239)]})
    return {
        "preset": PRESET,
        "plans": plans,
        "planner": TomitaAtlasPlanner,
        "trainer": trainer,
        "network": {"family": trainer.network_recipe.family, "class": type(network).__name__,
                    "norm": type(network.encoder.stem.convs[0].norm).__name__, "conv_layers": layers,
                    "pads_to_stride": bool(getattr(network, "pad_to_stride", False))},
        "loss": type(trainer.loss_recipe).__name__,
        "lr": {str(epoch): trainer._zoom_lr(epoch) for epoch in (0, 25, 1200, 1250)},
        "augmentation": rotation_of(trainer),
        "split": train_dev_test_split(cases, **dict(PRESET.split_options)),
        "checkpoints": {"zoom_in": ZOOM_IN_CHECKPOINT,
                        "snapshots": [snapshot_checkpoint(e) for e in trainer.snapshot_epochs]},
    }


def test_every_row_of_the_fidelity_table_holds_and_a_drift_is_caught(planned: Planned) -> None:
    rows = read_fidelity_table(REPOSITORY / PRESET.fidelity_table)
    assert len(rows) >= 25
    context = fidelity_context(planned)
    assert check_rows(rows, context) == []
    context["plans"]["configurations"][ZOOM_OUT_CONFIGURATION]["patch_size"] = [160, 160, 160]
    problems = check_rows(rows, context)
    assert len(problems) == 1 and "patch_size is [160, 160, 160]" in problems[0]


def test_the_cpu_twin_runs_the_same_code_path(planned: Planned) -> None:
    paper = planned.trainer(nnUNetTrainer_strokeseg_Tomita2020, PAPER_GRID_PLANS)
    cpu = planned.trainer(nnUNetTrainer_strokeseg_Tomita2020_CPU, PRESET.plans)
    assert type(cpu).__mro__[1:] == type(paper).__mro__[1:]
    for name in ("network_recipe", "loss_recipe", "optimizer_name", "zoom_in_decay", "epochs_as_passes",
                 "deep_supervision", "rotation_augmentation", "inference_mirroring", "keep_zoom_in_checkpoint"):
        assert getattr(cpu, name) == getattr(paper, name), name
    assert (cpu.zoom_in_epochs, cpu.zoom_out_epochs, cpu.snapshot_epochs) == (2, 6, (2, 4, 6))
    # the snapshots scale with the zoom-out stage: 50/100/150 of 150 epochs -> 2/4/6 of 6
    assert [e / cpu.zoom_out_epochs for e in cpu.snapshot_epochs] == \
        [e / paper.zoom_out_epochs for e in paper.snapshot_epochs]


def test_the_padded_network_keeps_the_field_of_view(planned: Planned) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_Tomita2020_CPU, PRESET.plans)
    manager = PlansManager(planned.plans(PRESET.plans))
    configuration = manager.get_configuration(ZOOM_OUT_CONFIGURATION)
    network = trainer.build_network_architecture(manager, configuration, 1, 2, False).eval()
    patch = tuple(configuration.patch_size)
    assert any(size % stride for size, stride in zip(patch, network.total_stride, strict=True))  # not divisible
    image = torch.randn(1, 1, *patch)
    pads = stride_padding(patch, network.total_stride)
    with torch.no_grad():
        output = network(image)
        network.pad_to_stride = False  # the same network on the zero-padded image, cropped back by hand
        reference = crop_padding(network(functional.pad(image, [v for pair in reversed(pads) for v in pair])), pads)
    assert tuple(output.shape) == (1, 2, *patch)
    assert torch.allclose(output, reference)
    deep = trainer.build_network_architecture(manager, configuration, 1, 2, True)
    with torch.no_grad(), pytest.raises(ConfigurationError, match="needs deep supervision off"):
        deep(image)


def test_snapshots_must_lie_in_the_zoom_out_phase(planned: Planned) -> None:
    class LateSnapshot(nnUNetTrainer_strokeseg_Tomita2020_CPU):
        snapshot_epochs = (2, 7)

    with pytest.raises(ConfigurationError, match=r"snapshot epochs \[7\] lie outside the 6 zoom-out epochs"):
        planned.trainer(LateSnapshot, PRESET.plans)


# ------------------------------------------------------------------------------------------------------------
# The study through the stock CLIs
# ------------------------------------------------------------------------------------------------------------
def predict(planned: Planned, output: Path, trainer: str, checkpoint: str) -> Path:
    run_nnunet("nnUNetv2_predict", ["-i", str(planned.raw / "imagesTs"), "-o", str(output), "-d", str(DATASET_ID),
                                    "-c", ZOOM_OUT_CONFIGURATION, "-f", "0", "-tr", trainer, "-p", PRESET.plans,
                                    "-chk", checkpoint, "-device", "cpu", "-npp", "0", "-nps", "0"],
               planned.paths, planned.log, CLI_ENV)
    return output


def predict_in_process(planned: Planned, output: Path, model: Path, checkpoint: str) -> Path:
    """What ``nnUNetv2_predict -chk CHECKPOINT --save_probabilities -npp 0 -nps 0`` runs, through nnU-Net's own
    predictor started in this process (the snapshot members; the "-F" prediction takes the stock CLI)."""
    predictor = nnUNetPredictor(device=CPU, verbose=False, allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(model), use_folds=(0,), checkpoint_name=checkpoint)
    output.mkdir(parents=True, exist_ok=True)  # the stock CLI makes it; nnU-Net's sequential mode does not
    predictor.predict_from_files_sequential(str(planned.raw / "imagesTs"), str(output), save_probabilities=True)
    return output


def check_centre_cropped_prediction(planned: Planned, folder: Path) -> None:
    """Every test image gets a prediction on its own grid that is background outside the centre box."""
    crop_mm = planned.plans(PRESET.plans)["configurations"][ZOOM_OUT_CONFIGURATION]["strokeseg_centre_crop_mm"]
    for image in sorted((planned.raw / "imagesTs").glob("*_0000.nii.gz")):
        prediction = folder / image.name.replace("_0000.nii.gz", ".nii.gz")
        array, geometry = read_array(prediction)
        assert geometry.differences(read_header_geometry(image)) == []
        assert set(np.unique(array).tolist()) <= {0, 1}
        outside = np.ones(array.shape, dtype=bool)
        outside[centre_box(array.shape, SPACING_MM, tuple(reversed(crop_mm)))] = False
        assert outside.any() and not array[outside].any()


@pytest.mark.slow
def test_cli_zoom_in_out_snapshots_ensemble_and_ablation_models(planned: Planned, tmp_path: Path) -> None:
    trainer = PRESET.cpu_trainer
    run_nnunet("nnUNetv2_train", [str(DATASET_ID), PRESET.configuration, "0", "-tr", trainer, "-p", PRESET.plans,
                                  "-device", "cpu"], planned.paths, planned.log, CLI_ENV)
    model = planned.paths.results / planned.raw.name / f"{trainer}__{PRESET.plans}__{PRESET.configuration}"
    fold = model / "fold_0"
    log_text = "\n".join(p.read_text() for p in fold.glob("training_log_*.txt"))
    assert "zoom-out phase from epoch 2" in log_text and "rotation augmentation off" in log_text
    assert "epochs as passes over the data: 4 training" in log_text
    assert "parameters" in log_text  # the parameter count is logged
    snapshots = [snapshot_checkpoint(epoch) for epoch in (2, 4, 6)]
    for name in (ZOOM_IN_CHECKPOINT, *snapshots, "checkpoint_final.pth"):
        assert (fold / name).is_file(), name
    zoom_in, last, final = (torch.load(fold / name, map_location="cpu", weights_only=False)
                            for name in (ZOOM_IN_CHECKPOINT, snapshots[-1], "checkpoint_final.pth"))
    assert zoom_in["current_epoch"] == 2  # written after the last zoom-in epoch (nnU-Net stores epoch + 1)
    assert any(not torch.equal(zoom_in["network_weights"][k], final["network_weights"][k])
               for k in final["network_weights"])
    # the last snapshot is the final model (it predicts as "final" below)
    assert all(torch.equal(last["network_weights"][k], final["network_weights"][k]) for k in final["network_weights"])
    saved = json.loads((model / "plans.json").read_text())["configurations"]  # the model's own copy of the plans
    assert saved[ZOOM_IN_CONFIGURATION]
    assert saved[ZOOM_OUT_CONFIGURATION]["patch_size"] == \
        planned.plans(PRESET.plans)["configurations"][ZOOM_OUT_CONFIGURATION]["patch_size"]
    # the same run's zoom-in result ("-F"), the snapshots (the last = final) and their ensemble ("-E")
    check_centre_cropped_prediction(planned, predict(planned, tmp_path / "F", trainer, ZOOM_IN_CHECKPOINT))
    members = [predict_in_process(planned, tmp_path / name.removesuffix(".pth"), model, name) for name in snapshots]
    check_centre_cropped_prediction(planned, members[-1])
    run_nnunet("nnUNetv2_ensemble", ["-i", *map(str, members), "-o", str(tmp_path / "E"), "-np", "1"],
               planned.paths, planned.log, CLI_ENV)
    check_centre_cropped_prediction(planned, tmp_path / "E")
