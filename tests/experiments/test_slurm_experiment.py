"""A one-size learning curve end to end on the private Slurm cluster (tests/slurm_cluster.py) through the stock
nnU-Net CLIs with a tiny CPU trainer (slow): ``experiment run`` submits plan -> train -> predict ->
evaluate -> aggregate with ``afterok`` dependencies and returns; ``experiment status`` shows the Slurm ids; an
interrupted training resumes from nnU-Net's latest checkpoint. The two-size curve runs end to end with the local
executor (test_experiments_run.py); two trainings in one array run on this cluster in test_slurm.py."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from slurm_cluster import SlurmCluster
from test_experiments_run import write_cohort, write_config

from strokeseg.cli import main
from strokeseg.experiments.config import load_config
from strokeseg.experiments.recipes import build_graph
from strokeseg.experiments.state import DONE, IN_FLIGHT, graph_states, read_record
from strokeseg.experiments.steps import RunContext
from strokeseg.nnunet.folders import NnunetPaths

#: Longest the study may take on the test cluster (seconds; a guard against hanging, generous for loaded machines).
STUDY_TIMEOUT = 900


@pytest.mark.slow
def test_learning_curve_runs_on_slurm(slurm: SlurmCluster, nnunet_paths: NnunetPaths, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_cohort(nnunet_paths, 821, "SlurmCurve", training=6, test=2, seed=1)
    config_file = write_config(tmp_path / "lc.yaml", nnunet_paths, {
        "kind": "learning-curve", "dataset": 821, "trainer": "nnUNetTrainer_strokeseg_PreActResUNet_Tiny",
        "split": {"fractions": [1.0], "seed": 3},
        "executor": {"kind": "slurm", "slurm": {"partition": slurm.partition, "timeout_min": 20, "cpus_per_task": 1,
                                                "steps": {"train": {"gpus_per_node": 0},
                                                          "predict": {"gpus_per_node": 0}}}}})
    assert main(["experiment", "run", str(config_file)]) == 0  # submits and returns
    assert "started 6" in capsys.readouterr().out
    config = load_config(config_file)
    graph = build_graph(config)
    ids = {job.id: read_record(graph.job_folder(job.id)).executor_id for job in graph}  # type: ignore[union-attr]
    assert main(["experiment", "status", str(config_file)]) == 0
    assert f"aggregate  [Slurm {ids['aggregate']}: PENDING, Dependency]" in capsys.readouterr().out

    context = RunContext(config.nnunet, config.output / "experiment.log")
    deadline = time.monotonic() + STUDY_TIMEOUT
    states = graph_states(graph, context)
    while any(state in IN_FLIGHT for state in states.values()):
        assert time.monotonic() < deadline, f"the study did not finish in {STUDY_TIMEOUT} s: {states}"
        time.sleep(2)
        states = graph_states(graph, context)
    assert set(states.values()) == {DONE}, states
    curve = pd.read_csv(config.output / "results" / "learning_curve.csv")
    overall = curve[(curve["stratification"] == "all") & (curve["metric"] == "dice")]
    assert overall["training_cases"].tolist() == [6] and overall["n"].tolist() == [2]
    assert (graph.job_folder("train/n6") / "log.txt").read_text().count("nnUNetv2_train") >= 1
    capsys.readouterr()
    assert main(["experiment", "run", str(config_file)]) == 0
    assert "started 0" in capsys.readouterr().out

    # a training interrupted after a checkpoint (its latest checkpoint there, no final one): the rerun submits it
    # alone and nnUNetv2_train --c continues from that checkpoint
    train = graph.jobs["train/n6"].step
    final = train.model.checkpoint(nnunet_paths.raw, train.fold)  # type: ignore[attr-defined]
    final.rename(final.with_name("checkpoint_latest.pth"))
    assert main(["experiment", "run", str(config_file)]) == 0
    assert "started 1, skipped 5" in capsys.readouterr().out
    while graph_states(graph, context)["train/n6"] in IN_FLIGHT:
        assert time.monotonic() < deadline + 120, "the resumed training did not finish"
        time.sleep(2)
    assert graph_states(graph, context)["train/n6"] == DONE and final.is_file()
    assert "resuming nnUNetTrainer_strokeseg_PreActResUNet_Tiny fold 0" in \
        (graph.job_folder("train/n6") / "log.txt").read_text()
