"""strokeseg's trainers inside nnU-Net: zoom-in & out switch and resume, fine-tuning, ensemble members (in
process, on a planned toy dataset), and (slow) a stock-CLI train + predict run that finds the trainer through
nnUNet_extTrainer alone. Each network family also trains and predicts through the stock CLIs in its paper preset's
test (tests/papers: PreActResUNet and Swin UNETR in Noh, BiConvLSTMUNet and fine-tuning in Alis, the zoom-in & out
ResGNUNet in Tomita, the SE-UNet ensemble in Kim) and in the demo's smoke run (tests/experiments/test_demo.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from conftest import FAST_FINGERPRINT, SINGLE_CORE_NNUNET_ENV, in_process_nnunet
from nnunetv2.run.run_training import maybe_load_checkpoint

import strokeseg.trainers as trainers_module
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.plugins import MANIFEST_NAME, locate_nnunet
from strokeseg.nnunet.runner import nnunet_executable, run_nnunet, tool_environment
from strokeseg.nnunet.validation_pools import IN_PROCESS_VALIDATION_LOG
from strokeseg.nnunet.zoom_configurations import (
    KEY_SWITCH_FRACTION,
    KEY_ZOOM_IN_CONFIGURATION,
    ZOOM_IN_CONFIGURATION,
    ZOOM_OUT_CONFIGURATION,
)
from strokeseg.synthetic.batches import random_training_batch
from strokeseg.synthetic.toy import write_toy_dataset
from strokeseg.trainers import (
    nnUNetTrainer_strokeseg_Noh2023_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet,
    nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny,
    nnUNetTrainer_strokeseg_PreActResUNet_Tiny,
    nnUNetTrainer_strokeseg_ResGNUNet_Tiny,
    nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny,
    nnUNetTrainer_strokeseg_ZoomInOut_Tiny,
)
from strokeseg.trainers.base import CHECKPOINT_KEY, N_PROC_DA_VARIABLE, unwrap_network
from strokeseg.trainers.zoom import ZOOM_IN, ZOOM_OUT

DATASET_ID = 987
PLANS = "nnUNetPlans"
#: Stock CLIs on 2 shared cores (conftest.SINGLE_CORE_NNUNET_ENV).
CLI_ENV = SINGLE_CORE_NNUNET_ENV
#: Zoom configurations added to the stock 3d_fullres plans (toy patch 16x40x40, network downsampling 4x8x8).
ZOOM_IN_PATCH, ZOOM_OUT_PATCH = (16, 24, 24), (16, 40, 40)
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Planned:
    paths: NnunetPaths
    raw: Path
    preprocessed: Path
    log: Path

    def plans(self) -> dict:
        plans = json.loads((self.preprocessed / f"{PLANS}.json").read_text())
        plans["continue_training"] = False
        return plans

    def trainer(self, trainer_class: type, configuration: str = "3d_fullres", fold: int = 0,
                plans: dict | None = None) -> Any:
        dataset_json = json.loads((self.preprocessed / "dataset.json").read_text())
        return trainer_class(plans=plans or self.plans(), configuration=configuration, fold=fold,
                             dataset_json=dataset_json, device=CPU)


def add_zoom_configurations(plans_file: Path, switch_fraction: float = 0.8) -> None:
    """What strokeseg's planners write (zoom_config contract), added to stock plans."""
    plans = json.loads(plans_file.read_text())
    plans["configurations"][ZOOM_IN_CONFIGURATION] = {
        "inherits_from": "3d_fullres", "patch_size": list(ZOOM_IN_PATCH), "batch_size": 2}
    plans["configurations"][ZOOM_OUT_CONFIGURATION] = {
        "inherits_from": "3d_fullres", "patch_size": list(ZOOM_OUT_PATCH), "batch_size": 2,
        KEY_ZOOM_IN_CONFIGURATION: ZOOM_IN_CONFIGURATION, KEY_SWITCH_FRACTION: switch_fraction}
    plans_file.write_text(json.dumps(plans, indent=1))


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planned]:
    """One toy dataset, planned and preprocessed by the stock CLI, with zoom configurations and 2 member splits."""
    root = tmp_path_factory.mktemp("trainers")
    paths = NnunetPaths.under(root)
    paths.create()
    raw = write_toy_dataset(paths.raw, DATASET_ID, "Trainers", num_training=6, num_test=1)
    log = root / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess",
               ["-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1", "-npfp", "1", *FAST_FINGERPRINT], paths, log,
               CLI_ENV)
    preprocessed = paths.preprocessed / raw.name
    add_zoom_configurations(preprocessed / f"{PLANS}.json")
    cases = [f"toy_{i:03d}" for i in range(6)]
    members = [{"train": cases[:5], "val": cases[5:]}, {"train": cases[1:], "val": cases[:1]}]
    (preprocessed / "splits_final.json").write_text(json.dumps(members))
    with in_process_nnunet(paths):
        yield Planned(paths, raw, preprocessed, log)


class SimulatedCrashError(RuntimeError):
    """Stops a training run after a chosen epoch, as a killed job would."""


class RecordingZoom(nnUNetTrainer_strokeseg_ZoomInOut_Tiny):
    """Zoom trainer that records (epoch, phase, patch size of the batch, LR) of every training iteration."""

    num_epochs_override: ClassVar[int | None] = 4
    iterations_per_epoch_override: ClassVar[int | None] = 1
    val_iterations_per_epoch_override: ClassVar[int | None] = 1
    zoom_switch_epoch_override: ClassVar[int | None] = 2
    crash_after_epoch: int | None = None

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = CPU) -> None:  # nnU-Net records the named arguments
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.save_every = 1
        self.records: list[tuple[int, str, tuple[int, ...], float]] = []
        self.logger.plot_progress_png = lambda output_folder: None  # seconds per epoch; not what is tested here

    def train_step(self, batch: dict) -> dict:
        self.records.append((self.current_epoch, self.zoom_phase, tuple(batch["data"].shape[2:]),
                             self.optimizer.param_groups[0]["lr"]))
        return super().train_step(batch)

    def on_epoch_end(self) -> None:
        finished = self.current_epoch
        super().on_epoch_end()
        if finished == self.crash_after_epoch:
            raise SimulatedCrashError(f"stopped after epoch {finished}")


def by_epoch(records: list[tuple[int, str, tuple[int, ...], float]]) -> dict[int, set[tuple[str, tuple, float]]]:
    result: dict[int, set[tuple[str, tuple, float]]] = {}
    for epoch, phase, patch, lr in records:
        result.setdefault(epoch, set()).add((phase, patch, round(lr, 12)))
    return result


EXPECTED_ZOOM = {0: {(ZOOM_IN, ZOOM_IN_PATCH, 1e-3)}, 1: {(ZOOM_IN, ZOOM_IN_PATCH, 1e-3)},
                 2: {(ZOOM_OUT, ZOOM_OUT_PATCH, 1e-4)}, 3: {(ZOOM_OUT, ZOOM_OUT_PATCH, 1e-4)}}


def test_zoom_switch_epoch_and_patches_come_from_the_plans(planned: Planned) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_ZoomInOut_Tiny, ZOOM_OUT_CONFIGURATION)
    assert trainer.zoom_switch_epoch == 2  # round(0.8 * 3 epochs)
    assert tuple(trainer.zoom_schedule.zoom_in_patch_size) == ZOOM_IN_PATCH
    assert tuple(trainer.configuration_manager.patch_size) == ZOOM_OUT_PATCH  # prediction uses zoom-out

    class Overridden(nnUNetTrainer_strokeseg_ZoomInOut_Tiny):
        zoom_in_patch_size_override = (8, 16, 16)
        zoom_switch_epoch_override = 1

    overridden = planned.trainer(Overridden, ZOOM_OUT_CONFIGURATION)
    assert overridden.zoom_switch_epoch == 1
    assert overridden.plans_manager.get_configuration(ZOOM_IN_CONFIGURATION).patch_size == [8, 16, 16]

    class Indivisible(nnUNetTrainer_strokeseg_ZoomInOut_Tiny):
        zoom_in_patch_size_override = (16, 20, 20)

    with pytest.raises(ConfigurationError, match="divisible"):
        planned.trainer(Indivisible, ZOOM_OUT_CONFIGURATION)
    stock_plans = planned.plans()
    for name in (ZOOM_IN_CONFIGURATION, ZOOM_OUT_CONFIGURATION):
        del stock_plans["configurations"][name]
    with pytest.raises(ConfigurationError, match="no configuration '3d_zoomout'"):
        planned.trainer(nnUNetTrainer_strokeseg_ZoomInOut_Tiny, ZOOM_OUT_CONFIGURATION, plans=stock_plans)


@pytest.mark.parametrize(("crash_after", "resumed_phase"), [(0, ZOOM_IN), (2, ZOOM_OUT)])
def test_zoom_switches_and_resumes_on_either_side(planned: Planned, crash_after: int, resumed_phase: str) -> None:
    """Patch size (of the batches actually drawn) and LR per epoch, across a crash and nnU-Net's --c resume."""
    # a class of its own per case: nnU-Net names the output folder after the trainer class
    trainer_class = type(f"RecordingZoomCrash{crash_after}", (RecordingZoom,), {})
    first = planned.trainer(trainer_class, ZOOM_OUT_CONFIGURATION)
    first.crash_after_epoch = crash_after
    with pytest.raises(SimulatedCrashError):
        first.run_training()
    assert by_epoch(first.records) == {e: EXPECTED_ZOOM[e] for e in range(crash_after + 1)}
    checkpoint = torch.load(Path(first.output_folder) / "checkpoint_latest.pth", map_location="cpu",
                            weights_only=False)
    assert checkpoint["current_epoch"] == crash_after + 1
    assert checkpoint[CHECKPOINT_KEY] == {"zoom_switch_epoch": 2, "zoom_phase": resumed_phase}

    resumed = planned.trainer(trainer_class, ZOOM_OUT_CONFIGURATION)
    maybe_load_checkpoint(resumed, continue_training=True, validation_only=False)  # what --c does
    assert resumed.current_epoch == crash_after + 1
    resumed.run_training()
    assert by_epoch(resumed.records) == {e: EXPECTED_ZOOM[e] for e in range(crash_after + 1, 4)}
    assert resumed.zoom_phase == ZOOM_OUT
    assert tuple(resumed.configuration_manager.patch_size) == ZOOM_OUT_PATCH  # what validation/prediction use


@pytest.fixture(scope="module")
def preact_source(planned: Planned) -> Path:
    """A briefly trained PreActResUNet_Tiny model (in process), the source of fine-tuning."""
    trainer = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_Tiny)
    trainer.num_epochs, trainer.num_iterations_per_epoch, trainer.num_val_iterations_per_epoch = 1, 3, 1
    trainer.run_training()
    return Path(trainer.output_folder) / "checkpoint_final.pth"


def first_validation_loss(trainer: Any, batch: dict) -> float:
    trainer.on_validation_epoch_start()
    with torch.no_grad():
        return float(trainer.validation_step(batch)["loss"])


def test_fine_tuning_loads_the_source_weights(planned: Planned, preact_source: Path) -> None:
    source = torch.load(preact_source, map_location="cpu", weights_only=False)["network_weights"]
    tuned = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    tuned.pretrained_weights_file = str(preact_source)
    torch.manual_seed(1)
    tuned.initialize()
    weights = unwrap_network(tuned.network).state_dict()
    heads = [k for k in weights if ".seg_layers." in k]
    # source and target define the same labels (the same dataset here), so the heads are transferred too
    assert heads and all(torch.equal(weights[k], source[k]) for k in weights)
    assert tuned.pretrained_source["loaded_tensors"] == len(weights)
    assert tuned.pretrained_source["loaded_heads"] == len(heads) and tuned.pretrained_source["skipped_heads"] == 0

    scratch = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    torch.manual_seed(1)
    scratch.initialize()
    _, loader = tuned.get_dataloaders()
    batch = next(loader)
    assert first_validation_loss(tuned, batch) != pytest.approx(first_validation_loss(scratch, batch), abs=1e-4)


def save_initialized_checkpoint(planned: Planned, trainer_class: type, name: str) -> Path:
    trainer = planned.trainer(trainer_class)
    trainer.initialize()
    path = Path(trainer.output_folder) / name
    trainer.save_checkpoint(str(path))
    return path


def test_fine_tuning_refuses_a_mismatched_architecture(planned: Planned) -> None:
    wider = save_initialized_checkpoint(planned, nnUNetTrainer_strokeseg_PreActResUNet, "wider.pth")
    tuned = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    tuned.pretrained_weights_file = str(wider)
    with pytest.raises(ConfigurationError) as refused:
        tuned.initialize()
    message = str(refused.value)
    assert "differ in shape" in message
    assert f"nnUNetv2_move_plans_between_datasets -s {planned.raw.name} -t {planned.raw.name} -sp {PLANS}" in message

    other_family = save_initialized_checkpoint(planned, nnUNetTrainer_strokeseg_ResGNUNet_Tiny, "resgn.pth")
    tuned = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    tuned.pretrained_weights_file = str(other_family)
    with pytest.raises(ConfigurationError, match="network family differs"):
        tuned.initialize()


def test_nnunets_pretrained_weights_option_runs_strokesegs_check_first(planned: Planned, preact_source: Path) -> None:
    """What ``nnUNetv2_train -pretrained_weights PATH`` does (nnU-Net's maybe_load_checkpoint): strokeseg's check
    runs inside nnU-Net's loading, carries the heads over (same labels) and records the source."""
    source = torch.load(preact_source, map_location="cpu", weights_only=False)["network_weights"]
    tuned = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    maybe_load_checkpoint(tuned, continue_training=False, validation_only=False,
                          pretrained_weights_file=str(preact_source))
    weights = unwrap_network(tuned.network).state_dict()
    assert any(".seg_layers." in k for k in weights) and all(torch.equal(weights[k], source[k]) for k in weights)
    assert tuned.pretrained_weights_file == str(preact_source)
    assert tuned.pretrained_source["path"] == str(preact_source)
    assert tuned.pretrained_source["loaded_heads"] > 0

    wider = save_initialized_checkpoint(planned, nnUNetTrainer_strokeseg_PreActResUNet, "wider_for_nnunet.pth")
    refused = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    with pytest.raises(ConfigurationError, match="differ in shape"):  # before nnU-Net's own assertion
        maybe_load_checkpoint(refused, continue_training=False, validation_only=False,
                              pretrained_weights_file=str(wider))


def test_fine_tuning_without_pretrained_weights_is_refused(planned: Planned) -> None:
    tuned = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny)
    with pytest.raises(ConfigurationError, match="-pretrained_weights"):
        tuned.on_train_start()


def test_ensemble_members_are_seeded_by_fold(planned: Planned) -> None:
    def initial_weights(fold: int) -> torch.Tensor:
        trainer = planned.trainer(nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny, fold=fold)
        trainer.initialize()
        return torch.cat([p.detach().flatten() for p in trainer.network.parameters()])

    assert torch.equal(initial_weights(0), initial_weights(0))
    assert not torch.equal(initial_weights(0), initial_weights(1))
    member = planned.trainer(nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny, fold=1)
    assert member.do_split() == ([f"toy_{i:03d}" for i in range(1, 6)], ["toy_000"])
    with pytest.raises(InputDataError, match="no ensemble member 2"):
        planned.trainer(nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny, fold=2).do_split()


class UnseededNoh2023Tiny(nnUNetTrainer_strokeseg_Noh2023_Tiny):
    """The same trainer without a training seed: nnU-Net's background augmentation workers, unseeded."""

    training_seed: ClassVar[int | None] = None


def trained_weights(planned: Planned, trainer_class: type) -> tuple[dict[str, torch.Tensor], Any]:
    """Weights after one epoch of 3 iterations (fold 1: no other test trains these classes on it)."""
    trainer = planned.trainer(trainer_class, fold=1)
    trainer.num_epochs, trainer.num_iterations_per_epoch, trainer.num_val_iterations_per_epoch = 1, 3, 1
    trainer.run_training()
    return {k: v.clone() for k, v in unwrap_network(trainer.network).state_dict().items()}, trainer


def test_seeded_trainer_reproduces_its_weights(planned: Planned, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's and the tests' trainers (``training_seed``: TorchIO augmentation, case sampling, initialization)
    give the same weights from the same seed, also where nnU-Net is told to use a background augmentation worker
    (as the demo's jobs are); without the seed two runs differ."""
    monkeypatch.setenv(N_PROC_DA_VARIABLE, "1")
    first, trainer = trained_weights(planned, nnUNetTrainer_strokeseg_Noh2023_Tiny)
    second, _ = trained_weights(planned, nnUNetTrainer_strokeseg_Noh2023_Tiny)
    assert trainer.training_seed is not None
    assert type(trainer.dataloader_train).__name__ == "SingleThreadedAugmenter"
    assert os.environ[N_PROC_DA_VARIABLE] == "1"  # restored after building the loaders
    assert all(torch.equal(first[k], second[k]) for k in first)
    log = Path(trainer.log_file).read_text()
    assert f"reproducible training: seed {trainer.training_seed}" in log
    unseeded = [trained_weights(planned, UnseededNoh2023Tiny)[0] for _ in range(2)]
    assert not all(torch.equal(unseeded[0][k], unseeded[1][k]) for k in unseeded[0])


def test_dwi_families_store_fast_left_right_tta(planned: Planned) -> None:
    trainer = planned.trainer(nnUNetTrainer_strokeseg_PreActResUNet_Tiny)
    trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    assert trainer.inference_allowed_mirroring_axes == (2,)  # image x of the (z, y, x) toy arrays


class PaperSchedule(nnUNetTrainer_strokeseg_PreActResUNet_Tiny):
    """The papers' schedule choices on the toy dataset: passes over the data, no deep supervision, best epoch."""

    num_epochs_override: ClassVar[int | None] = 3
    iterations_per_epoch_override: ClassVar[int | None] = None
    val_iterations_per_epoch_override: ClassVar[int | None] = None
    epochs_as_passes: ClassVar[bool] = True
    deep_supervision: ClassVar[bool] = False
    checkpoint_selection: ClassVar[str] = "best"
    selection_metric: ClassVar[str] = "mean_fg_dice"
    #: pseudo Dice logged per epoch instead of the measured one, so that the selected epoch is known (epoch 1)
    scripted_dice: ClassVar[tuple[float, ...]] = (0.2, 0.7, 0.4)

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = CPU) -> None:
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.logger.plot_progress_png = lambda output_folder: None
        self.weights_after_epoch: dict[int, dict[str, torch.Tensor]] = {}

    def on_validation_epoch_end(self, val_outputs: list[dict]) -> None:
        super().on_validation_epoch_end(val_outputs)
        self.logger.log("mean_fg_dice", self.scripted_dice[self.current_epoch], self.current_epoch)

    def on_epoch_end(self) -> None:
        self.weights_after_epoch[self.current_epoch] = {
            k: v.detach().clone() for k, v in self.network.state_dict().items()}
        super().on_epoch_end()


def test_papers_schedule_choices(planned: Planned) -> None:
    trainer = planned.trainer(PaperSchedule)
    trainer.run_training()
    batch_size = trainer.batch_size
    assert trainer.num_iterations_per_epoch == -(-5 // batch_size)  # fold 0: 5 training cases
    assert trainer.num_val_iterations_per_epoch == 1  # 1 validation case
    assert not trainer.enable_deep_supervision
    assert isinstance(trainer.loss, torch.nn.Module) and type(trainer.loss).__name__ != "DeepSupervisionWrapper"
    assert trainer.selected_epoch == 1 and trainer.selected_value == pytest.approx(0.7)
    final = torch.load(Path(trainer.output_folder) / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    for name, value in trainer.weights_after_epoch[1].items():
        assert torch.equal(final["network_weights"][name], value), name
    assert any(not torch.equal(final["network_weights"][name], value)
               for name, value in trainer.weights_after_epoch[2].items())
    assert final[CHECKPOINT_KEY] == {"selected_value": pytest.approx(0.7), "selected_epoch": 1}


def test_unknown_schedule_choices_are_refused(planned: Planned) -> None:
    class BadSelection(nnUNetTrainer_strokeseg_PreActResUNet_Tiny):
        checkpoint_selection = "median"

    class BadMetric(nnUNetTrainer_strokeseg_PreActResUNet_Tiny):
        checkpoint_selection = "best"
        selection_metric = "accuracy"

    with pytest.raises(ConfigurationError, match="checkpoint_selection must be one of last, best"):
        planned.trainer(BadSelection)
    with pytest.raises(ConfigurationError, match="selection_metric must be one of"):
        planned.trainer(BadMetric)


# ------------------------------------------------------------------------------------------------------------
# Stock CLIs: nnU-Net's own trainer route
# ------------------------------------------------------------------------------------------------------------
def run_console_script(tool: str, arguments: list[str], paths: NnunetPaths, log: Path,
                       env: Mapping[str, str]) -> None:
    """``tool arguments...`` through nnunetv2's console-script file, as a user types it in a shell where
    nnUNet_extTrainer lists strokeseg's trainer folder (``run_nnunet`` calls the same function with ``python -c``)."""
    with log.open("a") as output:
        completed = subprocess.run([nnunet_executable(tool), *arguments], env=tool_environment(paths, env),
                                   stdout=output, stderr=subprocess.STDOUT, check=False)
    assert completed.returncode == 0, log.read_text()[-3000:]


def cli_train_and_predict(planned: Planned, trainer: str, configuration: str, fold: int, tmp_path: Path,
                          train_args: tuple[str, ...] = (), predict_args: tuple[str, ...] = (),
                          env: Mapping[str, str] = CLI_ENV, device: str = "cpu", console_scripts: bool = False) -> Path:
    log = tmp_path / f"{trainer}.log"
    run = run_console_script if console_scripts else run_nnunet
    run("nnUNetv2_train", [str(DATASET_ID), configuration, str(fold), "-tr", trainer, "-p", PLANS,
                           "-device", device, *train_args], planned.paths, log, env)
    model = planned.paths.results / planned.raw.name / f"{trainer}__{PLANS}__{configuration}" / f"fold_{fold}"
    assert (model / "checkpoint_final.pth").is_file()
    predictions = tmp_path / "predictions"
    run("nnUNetv2_predict", ["-i", str(planned.raw / "imagesTs"), "-o", str(predictions), "-d", str(DATASET_ID),
                             "-c", configuration, "-f", str(fold), "-tr", trainer, "-p", PLANS, "-device", device,
                             "-npp", "1", "-nps", "1", *predict_args], planned.paths, log, env)
    for image in sorted((planned.raw / "imagesTs").glob("*_0000.nii.gz")):
        prediction = predictions / image.name.replace("_0000.nii.gz", ".nii.gz")
        array, geometry = read_array(prediction)
        assert set(np.unique(array).tolist()) <= {0, 1}
        assert geometry.differences(read_header_geometry(image)) == []
    return model


@pytest.mark.slow
def test_cli_train_predict_finds_the_trainer_through_nnunet_ext_trainer_alone(planned: Planned,
                                                                               tmp_path: Path) -> None:
    """nnU-Net's own route, end to end, as a user types it: the console scripts of a copy of nnunetv2 without any
    strokeseg file (and without its Primus trainers, which need a torchvision build matching torch) find the trainer
    only through nnUNet_extTrainer, in nnUNetv2_train and in nnUNetv2_predict with its worker processes."""
    site = tmp_path / "site"
    shutil.copytree(locate_nnunet(), site / "nnunetv2",
                    ignore=shutil.ignore_patterns("__pycache__", "strokeseg_*.py", MANIFEST_NAME, "primus"))
    trainer = "nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny"
    model = cli_train_and_predict(planned, trainer, "3d_fullres", 1, tmp_path, predict_args=("--save_probabilities",),
                                  env={**CLI_ENV, "PYTHONPATH": str(site), "nnUNet_def_n_proc": "2"},
                                  console_scripts=True)
    log_text = "\n".join(p.read_text() for p in model.glob("training_log_*.txt"))
    assert "ensemble member 1: seed 12346" in log_text  # the fold is the member: its own seed
    # two processes on the CPU: the validation ran in the trainer's process (no spawned pools), nnU-Net scored it
    assert f"{IN_PROCESS_VALIDATION_LOG} (nnUNet_def_n_proc=2, device cpu)" in log_text
    assert json.loads((model / "validation" / "summary.json").read_text())["metric_per_case"]
    # a training shorter than progress_plot_interval_s: progress.png is the one drawn when training ended
    assert (model / "progress.png").is_file()
    assert len(list((tmp_path / "predictions").glob("*.npz"))) == 1  # member 1's probabilities, for soft voting
    assert not list((site / "nnunetv2").rglob("strokeseg_*.py"))
    tool_log = (tmp_path / f"{trainer}.log").read_text()
    assert tool_log.count(f"Using trainer '{trainer}' from: ") == 2  # nnU-Net's message: train and predict


# ------------------------------------------------------------------------------------------------------------
# On a CUDA GPU (benchmarks/gpu_check.sh); skipped without one
# ------------------------------------------------------------------------------------------------------------
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)")


def train_steps(planned: Planned, name: str, device: torch.device, steps: int = 2) -> list[float]:
    """Losses of ``steps`` training iterations of exported trainer ``name`` on ``device`` (random batch of its
    patch; zoom trainers in their zoom-out configuration); checks that finite gradients reached the weights (all but
    the unweighted deep-supervision heads: at least 99 % of the trained elements)."""
    import strokeseg.trainers as trainers
    from strokeseg.trainers.zoom import ZoomInOutTrainer

    cls = getattr(trainers, name)
    configuration = ZOOM_OUT_CONFIGURATION if issubclass(cls, ZoomInOutTrainer) else "3d_fullres"
    dataset_json = json.loads((planned.preprocessed / "dataset.json").read_text())
    trainer = cls(plans=planned.plans(), configuration=configuration, fold=0, dataset_json=dataset_json,
                  device=device)
    trainer.initialize()
    trainer.network.train()
    batch = random_training_batch(trainer, trainer.configuration_manager.patch_size, batch_size=2)
    losses = [float(trainer.train_step(batch)["loss"]) for _ in range(steps)]
    trained = [p for p in unwrap_network(trainer.network).parameters() if p.requires_grad]
    assert trained and all(p.device.type == device.type for p in trained)
    reached = [p for p in trained if p.grad is not None]
    assert all(bool(torch.isfinite(p.grad).all()) for p in reached)
    assert sum(p.numel() for p in reached) >= 0.99 * sum(p.numel() for p in trained)
    return losses


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", trainers_module.__all__)
def test_every_exported_trainer_trains_on_cuda(planned: Planned, name: str) -> None:
    losses = train_steps(planned, name, torch.device("cuda"))
    assert all(np.isfinite(losses)), losses


@pytest.mark.cuda
@pytest.mark.slow
@needs_cuda
def test_cli_train_predict_on_cuda(planned: Planned, tmp_path: Path) -> None:
    """The stock nnUNetv2_train and nnUNetv2_predict with ``-device cuda`` and one of strokeseg's trainers."""
    trainer = "nnUNetTrainer_strokeseg_PreActResUNet_Tiny"
    model = cli_train_and_predict(planned, trainer, "3d_fullres", 0, tmp_path, device="cuda")
    checkpoint = torch.load(model / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == trainer
