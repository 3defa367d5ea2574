"""Slurm resources of an experiment file: validation before anything is submitted, per-step merging, and the
submitit parameters they become (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from slurm_cluster import start_cluster

from strokeseg.cli import main
from strokeseg.errors import ConfigurationError
from strokeseg.experiments.config import load_config
from strokeseg.experiments.slurm import NodeProblem, job_resources, native_parameters, step_kind
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.synthetic.toy import write_toy_dataset


def load_with_slurm(tmp_path: Path, slurm: dict) -> dict:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "learning-curve", "dataset": 1, "trainer": "T",
        "nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed), "results": str(paths.results)},
        "executor": {"kind": "slurm", "slurm": slurm}}))
    return dict(load_config(path).executor.slurm)


@pytest.mark.parametrize(("slurm", "message"), [
    ({"cpus_per_task": "8"}, r"executor\.slurm\.cpus_per_task: expected an integer, got '8'"),
    ({"mem_gb": -4}, r"executor\.slurm\.mem_gb: must be positive"),
    ({"gpus": 1}, r"executor\.slurm\.gpus: unknown Slurm key \(known: .*partition"),
    ({"dependency": "afterok:1"}, r"executor\.slurm\.dependency: strokeseg sets dependency itself"),
    ({"extra_sbatch": ["exclusive"]}, r"extra_sbatch: 'exclusive' is not an sbatch option"),
    ({"steps": {"training": {"partition": "gpu"}}}, r"executor\.slurm\.steps\.training: unknown step kind"),
    ({"steps": {"train": {"qos": 3}}}, r"executor\.slurm\.steps\.train\.qos: expected a string"),
    ({"steps": {"train": "gpu"}}, r"executor\.slurm\.steps\.train: expected a mapping"),
])
def test_wrong_resources_stop_the_run_naming_the_key(tmp_path: Path, slurm: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_with_slurm(tmp_path, slurm)


def test_resources_per_step_override_the_defaults(tmp_path: Path) -> None:
    slurm = load_with_slurm(tmp_path, {
        "partition": "cpu", "account": "lab", "qos": "normal", "mem_gb": 8, "gpus_per_node": 2, "exclude": "n1",
        "steps": {"train": {"partition": "gpu", "mem_gb": 1.5, "extra_sbatch": ["--exclusive", "--reservation=r1"]},
                  "evaluate": {"cpus_per_task": 4}}})
    assert slurm["timeout_min"] > 0  # the default time limit is filled in
    train = job_resources(slurm, "train/n12", gpu=True)
    assert train["partition"] == "gpu" and train["account"] == "lab" and train["gpus_per_node"] == 2
    evaluate = job_resources(slurm, "evaluate/test", gpu=False)
    assert evaluate["partition"] == "cpu" and evaluate["cpus_per_task"] == 4 and "gpus_per_node" not in evaluate
    parameters = native_parameters(train)
    assert parameters["mem"] == "1536M" and parameters["qos"] == "normal" and parameters["exclude"] == "n1"
    assert parameters["time"] == slurm["timeout_min"] and "timeout_min" not in parameters
    assert parameters["additional_parameters"] == {"exclusive": True, "reservation": "r1"}
    assert native_parameters(evaluate)["mem"] == "8G"
    assert step_kind("aggregate") == "aggregate" and step_kind("move-plans/12") == "move-plans"


def test_a_gpu_job_asks_for_one_gpu_unless_told_otherwise(tmp_path: Path) -> None:
    slurm = load_with_slurm(tmp_path, {"steps": {"predict": {"gpus_per_node": 0}}})
    assert job_resources(slurm, "train/a", gpu=True)["gpus_per_node"] == 1
    assert job_resources(slurm, "predict/a", gpu=True)["gpus_per_node"] == 0
    assert "gpus_per_node" not in job_resources(slurm, "plan/1", gpu=False)


def test_node_problems_read_as_words() -> None:
    assert NodeProblem("n1", "idle*", "none").describe() == "idle, not responding"
    assert NodeProblem("n1", "down", "disk failure").describe() == "down (disk failure)"


def test_the_test_cluster_says_why_it_cannot_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm, no MUNGE on this PATH
    with pytest.raises(RuntimeError, match=r"Slurm/MUNGE not installed \(missing munged, slurmctld"):
        start_cluster(tmp_path / "cluster")


def test_dry_run_prints_sbatch_scripts_without_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``experiment run --dry-run`` on a machine without Slurm: the scripts, in dependency order, nothing written."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    write_toy_dataset(paths.raw, 831, "Dry", num_training=8, num_test=2, shape=(4, 8, 8))
    config_file = tmp_path / "lc.yaml"
    config_file.write_text(yaml.safe_dump({
        "kind": "learning-curve", "dataset": 831, "trainer": "T", "output": "out", "split": {"fractions": [0.5, 1.0]},
        "nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed), "results": str(paths.results)},
        "executor": {"kind": "slurm", "slurm": {"partition": "cpu", "steps": {"train": {"partition": "gpu"}}}}}))
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    assert main(["experiment", "run", str(config_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("# sbatch script")]
    assert [header.split(": ", 1)[1] for header in headers] == [
        "split/831", "plan/831", "train/n4, train/n8 (a job array)", "predict/n4", "predict/n8", "evaluate/test",
        "aggregate"]
    scripts = out.split("# sbatch script")[1:]
    assert "#SBATCH --partition=gpu" in scripts[2] and "#SBATCH --gpus-per-node=1" in scripts[2]
    assert "#SBATCH --partition=cpu" in scripts[1] and "gpus-per-node" not in scripts[1]
    assert "#SBATCH --dependency=afterok:JOB3_1" in scripts[4]
    assert "#SBATCH --dependency=afterok:JOB4:JOB5" in scripts[5]
    assert not (tmp_path / "out").exists()
