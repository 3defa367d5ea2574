"""The zoom ablation's two forms: one run's "-F", final and "-E" models (in-run), and separately trained arms."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_experiments_units import write_config

from strokeseg.errors import ConfigurationError
from strokeseg.experiments.config import load_config
from strokeseg.experiments.recipes import build_graph
from strokeseg.experiments.recipes.zoom_ablation import (
    FINAL_MODEL,
    SNAPSHOT_ENSEMBLE_MODEL,
    ZOOM_IN_MODEL,
    kept_checkpoints,
)
from strokeseg.experiments.steps import FINAL_CHECKPOINT, EnsembleStep, EvaluateStep, PredictStep
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.synthetic.toy import write_toy_dataset

IN_RUN = {"kind": "zoom-ablation", "dataset": 41, "planner": "TomitaAtlasPlanner", "configuration": "3d_zoomout",
          "trainer": "nnUNetTrainer_strokeseg_Tomita2020_CPU", "folds": [0]}


def in_run_config(tmp_path: Path, **changes: object) -> Path:
    path = write_config(tmp_path, {**IN_RUN, **changes})
    write_toy_dataset(NnunetPaths.under(tmp_path).raw, 41, "Zoom", num_training=6, num_test=2, shape=(4, 8, 8))
    return path


def test_in_run_ablation_predicts_the_runs_zoom_in_final_and_snapshot_models(tmp_path: Path) -> None:
    graph = build_graph(load_config(in_run_config(tmp_path)))
    ids = list(graph.jobs)
    assert [i for i in ids if i.startswith("train/")] == ["train/zoom_in_out/fold_0"]  # one run, not two arms
    predictions = {job.id: job.step for job in graph if isinstance(job.step, PredictStep)}
    assert {name: (step.checkpoint, step.save_probabilities) for name, step in predictions.items()} == {
        "predict/zoom_in": ("checkpoint_zoomin.pth", False),
        "predict/final": (FINAL_CHECKPOINT, False),
        "predict/snapshot_002": ("checkpoint_snapshot_002.pth", True),
        "predict/snapshot_004": ("checkpoint_snapshot_004.pth", True),
        "predict/snapshot_006": ("checkpoint_snapshot_006.pth", True),
    }
    assert all(step.model.trainer == IN_RUN["trainer"] for step in predictions.values())
    ensemble = graph.jobs["ensemble/snapshot_ensemble/test"]
    assert isinstance(ensemble.step, EnsembleStep)
    assert set(ensemble.needs) == {"predict/snapshot_002", "predict/snapshot_004", "predict/snapshot_006"}
    assert [p.parent.name for p in ensemble.step.inputs] == ["snapshot_002", "snapshot_004", "snapshot_006"]
    evaluation = graph.jobs["evaluate/test"].step
    assert isinstance(evaluation, EvaluateStep)
    assert [m.name for m in evaluation.models] == [ZOOM_IN_MODEL, FINAL_MODEL, SNAPSHOT_ENSEMBLE_MODEL]
    assert evaluation.models[2].predictions == ensemble.step.output


def test_predict_step_passes_the_checkpoint_to_nnunet(tmp_path: Path) -> None:
    graph = build_graph(load_config(in_run_config(tmp_path)))
    calls: list[list[str]] = []

    class Recorder:
        nnunet = load_config(tmp_path / "experiment.yaml").nnunet

        def device(self) -> str:
            return "cpu"

        def run_tool(self, tool: str, arguments: list[str], results: Path | None = None) -> None:
            calls.append([tool, *arguments])
            Path(arguments[arguments.index("-o") + 1]).mkdir(parents=True)

    for job_id in ("predict/zoom_in", "predict/final"):
        graph.jobs[job_id].step.run(Recorder())  # type: ignore[arg-type]
    assert calls[0][calls[0].index("-chk") + 1] == "checkpoint_zoomin.pth"
    assert "-chk" not in calls[1]


def test_zoom_ablation_needs_a_trainer_that_keeps_its_checkpoints_or_arms(tmp_path: Path) -> None:
    assert kept_checkpoints("nnUNetTrainer_strokeseg_Tomita2020") == (50, 100, 150)
    with pytest.raises(ConfigurationError, match="keeps no zoom-in result and zoom-out snapshots"):
        build_graph(load_config(in_run_config(tmp_path, trainer="nnUNetTrainer_strokeseg_ZoomInOut_Tiny")))
    with pytest.raises(ConfigurationError, match="trainer 'nnUNetTrainer_nope' not found"):
        kept_checkpoints("nnUNetTrainer_nope")
    content = dict(IN_RUN)
    del content["trainer"]
    with pytest.raises(ConfigurationError, match="needs either the trainer of one run"):
        load_config(write_config(tmp_path, content))


def test_separately_trained_arms_stay_valid(tmp_path: Path) -> None:
    arms = [{"name": "zoom-in", "trainer": "nnUNetTrainer_strokeseg_ResGNUNet_Tiny", "configuration": "3d_zoomin"},
            {"name": "zoom-in-and-out", "trainer": "nnUNetTrainer_strokeseg_ZoomInOut_Tiny",
             "configuration": "3d_zoomout"}]
    graph = build_graph(load_config(in_run_config(tmp_path, trainer=None, arms=arms)))
    assert [i for i in graph.jobs if i.startswith("train/")] == ["train/zoom-in/fold_0", "train/zoom-in-and-out/fold_0"]
    assert yaml.safe_load((tmp_path / "experiment.yaml").read_text())["arms"] == arms
