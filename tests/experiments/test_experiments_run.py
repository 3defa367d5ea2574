"""Experiment recipes end to end on toy datasets with tiny CPU trainers through the stock nnU-Net CLIs (slow):
a 2-size learning curve with the sequential local executor (and a rerun that starts nothing), and a one-size
domain-adaptation grid through submitit's local executor (grids of several sizes are built and aggregated in
test_experiments_units.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import FAST_FINGERPRINT, SINGLE_CORE_NNUNET_ENV

from strokeseg.cases import write_cases
from strokeseg.cli import main
from strokeseg.experiments.config import load_config
from strokeseg.experiments.executors import run_graph
from strokeseg.experiments.recipes import build_graph
from strokeseg.experiments.state import DONE
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.synthetic.toy import write_toy_dataset

#: As in test_trainers_nnunet: one worker everywhere and one torch thread on 2 shared cores.
CLI_ENV = SINGLE_CORE_NNUNET_ENV
SMALL_TOY = (16, 32, 32)


def write_cohort(paths: NnunetPaths, dataset_id: int, name: str, training: int, test: int, seed: int) -> Path:
    """A toy dataset with a cases.csv (site, vendor, lesion volume) so that splits and strata have metadata."""
    folder = write_toy_dataset(paths.raw, dataset_id, name, num_training=training, num_test=test, seed=seed,
                               shape=SMALL_TOY)
    ids = [f"toy_{i:03d}" for i in range(training + test)]
    table = pd.DataFrame({"case_id": ids, "site": ["A" if i % 2 else "B" for i in range(len(ids))],
                          "vendor": ["Siemens" if i % 2 else "GE" for i in range(len(ids))],
                          "split": ["train"] * training + ["test"] * test})
    write_cases(table, folder / "cases.csv")
    return folder


def write_config(path: Path, paths: NnunetPaths, content: dict) -> Path:
    base = {"nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed), "results": str(paths.results),
                       "device": "cpu", "processes": 1, "env": CLI_ENV,
                       "fingerprint_extractor": FAST_FINGERPRINT[1]},
            "evaluation": {"bootstrap_resamples": 200}, "output": str(path.parent / "experiment")}
    path.write_text(yaml.safe_dump({**base, **content}))
    return path


@pytest.mark.slow
def test_learning_curve_runs_end_to_end_and_a_rerun_skips_everything(nnunet_paths: NnunetPaths,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_cohort(nnunet_paths, 801, "Curve", training=6, test=2, seed=1)
    config_file = write_config(tmp_path / "lc.yaml", nnunet_paths, {
        "kind": "learning-curve", "dataset": 801, "trainer": "nnUNetTrainer_strokeseg_PreActResUNet_Tiny",
        "split": {"fractions": [0.5, 1.0], "seed": 3}})
    assert main(["experiment", "run", str(config_file)]) == 0
    out = tmp_path / "experiment"
    results = out / "results"
    curve = pd.read_csv(results / "learning_curve.csv")
    overall = curve[(curve["stratification"] == "all") & (curve["metric"] == "dice")]
    assert sorted(overall["training_cases"]) == [3, 6]
    assert overall["n"].tolist() == [2, 2]  # both test cases evaluated for both models
    assert overall["mean"].between(0, 1).all()
    fit = pd.read_csv(results / "learning_curve_fit.csv")
    assert set(fit["metric"]) == {"dice", "sensitivity", "precision"}
    assert (results / "learning_curve.png").stat().st_size > 1000
    assert "n3" in (results / "summary.md").read_text()
    splits = json.loads((nnunet_paths.raw / "Dataset801_Curve" / "splits_final.json").read_text())
    assert [len(f["train"]) + len(f["val"]) for f in splits] == [3, 6]

    # rerun: every job is done, nothing starts, nothing is rewritten
    capsys.readouterr()
    marker = results / "summary.md"
    before = marker.stat().st_mtime_ns
    assert main(["experiment", "run", str(config_file)]) == 0
    assert "started 0" in capsys.readouterr().out
    assert marker.stat().st_mtime_ns == before
    assert main(["experiment", "status", str(config_file)]) == 0
    assert "done: 8" in capsys.readouterr().out


@pytest.mark.slow
def test_adaptation_grid_through_submitit_local_executor(nnunet_paths: NnunetPaths, tmp_path: Path) -> None:
    write_cohort(nnunet_paths, 811, "Source", training=4, test=2, seed=2)
    write_cohort(nnunet_paths, 812, "Target", training=8, test=0, seed=5)
    config_file = write_config(tmp_path / "da.yaml", nnunet_paths, {
        "kind": "domain-adaptation", "dataset": 811, "trainer": "nnUNetTrainer_strokeseg_PreActResUNet_Tiny",
        "finetune_trainer": "nnUNetTrainer_strokeseg_PreActResUNet_FT2ep_lr1e3_Tiny",
        "split": {"fractions": [1.0], "seed": 3},
        "target": {"dataset": 812, "derived_id": 813, "sizes": [2], "test_size": 2},
        "executor": {"kind": "slurm", "cluster": "local", "poll_seconds": 1,
                     "slurm": {"timeout_min": 20, "cpus_per_task": 1}}})
    config = load_config(config_file)
    graph = build_graph(config)
    report = run_graph(graph, config)
    assert report.failed == [] and report.blocked == []
    assert set(report.states.values()) == {DONE}
    assert any((tmp_path / "experiment" / "submitit").glob("*/*_submitted.pkl"))
    grid = pd.read_csv(tmp_path / "experiment" / "results" / "adaptation_grid.csv")
    dice = grid[grid["metric"] == "dice"]
    assert dice["adaptation_cases"].unique().tolist() == [2]
    assert set(dice["test_set"]) == {"source_test", "target_test"}
    assert (dice["n"] == 2).all()
    tuned = json.loads((graph.job_folder("train/pre4_ft2") / "state.json").read_text())
    assert tuned["state"] == DONE
