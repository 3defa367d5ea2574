"""The Slurm executor against a real single-node Slurm (tests/slurm_cluster.py; skipped with the reason where
slurm-wlm and munge are missing): submission with job arrays and ``afterok`` dependencies, status with Slurm
ids and states, a failing step, ``scancel`` and resume, a node that goes down. The steps are cheap marker
steps; test_slurm_experiment.py runs a real experiment through nnU-Net on the same cluster."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml
from slurm_cluster import MarkerStep, SlurmCluster

from strokeseg.experiments.config import ExperimentConfig, load_config
from strokeseg.experiments.executors import run_graph
from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.state import (
    BLOCKED,
    DONE,
    FAILED,
    IN_FLIGHT,
    RUNNING,
    graph_states,
    read_record,
    status_lines,
)
from strokeseg.experiments.steps import RunContext
from strokeseg.nnunet.folders import NnunetPaths

#: Longest a test waits for its jobs (seconds); the cluster schedules every 2 s.
SETTLE_TIMEOUT = 120


def slurm_config(tmp_path: Path, slurm: dict | None = None) -> ExperimentConfig:
    """An experiment file with the Slurm executor: one CPU per job, no GPU (the test node has none)."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    content = {"kind": "learning-curve", "dataset": 1, "trainer": "T", "output": "out",
               "nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed),
                          "results": str(paths.results)},
               "executor": {"kind": "slurm", "slurm": slurm or {"timeout_min": 10, "cpus_per_task": 1,
                                                               "gpus_per_node": 0}}}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(content))
    return load_config(path)


def context(config: ExperimentConfig) -> RunContext:
    return RunContext(config.nnunet, config.output / "experiment.log")


def wait_until_settled(graph: JobGraph, config: ExperimentConfig, timeout: float = SETTLE_TIMEOUT) -> dict[str, str]:
    """Poll the graph's states until no job is submitted or running."""
    deadline = time.monotonic() + timeout
    while True:
        states = graph_states(graph, context(config))
        if not any(state in IN_FLIGHT for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(1)


def wait_for(condition, what: str, timeout: float = SETTLE_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)


def study_graph(tmp_path: Path, failing: str = "") -> JobGraph:
    """prepare -> train/a, train/b (one array) -> predict/a, predict/b -> aggregate; ``failing``: a job that raises."""
    graph = JobGraph(tmp_path / "out")
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)

    def add(job_id: str, needs: tuple[str, ...] = ()) -> None:
        graph.add(job_id, MarkerStep(marks / job_id.replace("/", "_"), 0.5, job_id == failing), needs)

    add("prepare")
    add("train/a", ("prepare",))
    add("train/b", ("prepare",))
    add("predict/a", ("train/a",))
    add("predict/b", ("train/b",))
    add("aggregate", ("predict/a", "predict/b"))
    return graph


def test_graph_runs_on_slurm_with_arrays_and_dependencies(slurm: SlurmCluster, tmp_path: Path) -> None:
    config = slurm_config(tmp_path)
    graph = study_graph(tmp_path)
    report = run_graph(graph, config)
    assert report.started == ["prepare", "train/a", "train/b", "predict/a", "predict/b", "aggregate"]
    ids = {job.id: read_record(graph.job_folder(job.id)).executor_id for job in graph}  # type: ignore[union-attr]
    main, task = ids["train/a"].split("_")
    assert (task, ids["train/b"]) == ("0", f"{main}_1")  # the two trainings are one job array
    dependency = slurm.command("scontrol", "show", "job", ids["aggregate"])
    assert f"Dependency=afterok:{ids['predict/a']}(unfulfilled),afterok:{ids['predict/b']}" in dependency \
        or f"afterok:{ids['predict/a']}" in dependency  # while aggregate waits (Slurm's own spelling)
    lines = status_lines(graph, context(config))
    assert any(f"[Slurm {ids['aggregate']}: PENDING, Dependency]" in line for line in lines)

    states = wait_until_settled(graph, config)
    assert set(states.values()) == {DONE}
    for job in graph:
        record = read_record(graph.job_folder(job.id))
        assert record is not None and record.executor == "slurm" and record.executor_id == ids[job.id]
        assert "started as Slurm job" in (graph.job_folder(job.id) / "log.txt").read_text()
    submitit_logs = graph.output / "submitit"
    assert (submitit_logs / ids["train/b"] / f"{ids['train/b']}_0_log.out").exists()
    # the dependencies held: every job started after the jobs it needs were done
    finished = {job.id: (tmp_path / "marks" / job.id.replace("/", "_")).stat().st_mtime for job in graph}
    assert finished["aggregate"] >= max(finished["predict/a"], finished["predict/b"])
    assert finished["predict/b"] >= finished["train/b"] >= finished["prepare"]
    assert run_graph(graph, config).started == []  # nothing finished is submitted again


def test_failing_step_blocks_only_its_dependants(slurm: SlurmCluster, tmp_path: Path) -> None:
    config = slurm_config(tmp_path)
    graph = study_graph(tmp_path, failing="predict/b")
    run_graph(graph, config)
    states = wait_until_settled(graph, config)
    assert states == {"prepare": DONE, "train/a": DONE, "train/b": DONE, "predict/a": DONE, "predict/b": FAILED,
                      "aggregate": BLOCKED}
    text = "\n".join(status_lines(graph, context(config)))
    assert "predict_b fails on purpose" in text
    assert "blocked     aggregate" in text and "(a job it needs failed)" in text
    # a rerun submits the failed job and its dependant again, nothing that finished
    marks = {job.id: (tmp_path / "marks" / job.id.replace("/", "_")) for job in graph}
    before = {job_id: path.stat().st_mtime_ns for job_id, path in marks.items() if path.exists()}
    report = run_graph(graph, config)
    assert report.started == ["predict/b", "aggregate"]
    wait_until_settled(graph, config)
    assert {job_id: marks[job_id].stat().st_mtime_ns for job_id in before} == before


def test_cancelled_training_resumes_on_rerun(slurm: SlurmCluster, tmp_path: Path) -> None:
    config = slurm_config(tmp_path)
    graph = JobGraph(tmp_path / "out")
    checkpoint = tmp_path / "checkpoint_latest.pth"
    graph.add("train/x", MarkerStep(tmp_path / "final.pth", 300, checkpoint=checkpoint))
    graph.add("predict/x", MarkerStep(tmp_path / "prediction.nii.gz"), ("train/x",))
    run_graph(graph, config)
    folder = graph.job_folder("train/x")
    wait_for(lambda: checkpoint.exists() and getattr(read_record(folder), "state", "") == RUNNING,
             "the training to write its checkpoint")
    slurm_id = read_record(folder).executor_id  # type: ignore[union-attr]
    slurm.command("scancel", slurm_id)
    wait_for(lambda: graph_states(graph, context(config))["train/x"] == FAILED, "Slurm to end the cancelled job")
    states = graph_states(graph, context(config))
    assert states["predict/x"] == BLOCKED  # Slurm dropped it (kill-on-invalid-dep)
    text = "\n".join(status_lines(graph, context(config)))
    assert f"Slurm job {slurm_id} ended as CANCELLED" in text and "a rerun resumes it" in text

    report = run_graph(graph, config)
    assert report.started == ["train/x", "predict/x"]
    assert set(wait_until_settled(graph, config).values()) == {DONE}
    assert (tmp_path / "final.pth").read_text() == "resumed"


def test_status_reports_a_node_that_went_down(slurm: SlurmCluster, tmp_path: Path) -> None:
    config = slurm_config(tmp_path)
    graph = JobGraph(tmp_path / "out")
    graph.add("train/x", MarkerStep(tmp_path / "final.pth"))
    slurm.stop_slurmd()
    try:
        slurm.wait_for_node(tuple(f"{state}*" for state in ("idle", "down", "mixed", "allocated")))
        run_graph(graph, config)
        text = "\n".join(status_lines(graph, context(config)))
        assert f"warning: Slurm node {slurm.node} is" in text and "not responding" in text
        assert "submitted   train/x  [Slurm" in text
    finally:
        slurm.start_slurmd()
        slurm.wait_for_node(("idle", "mixed", "allocated"))
    assert wait_until_settled(graph, config) == {"train/x": DONE}  # the job runs once the node is back


def test_dry_run_prints_the_scripts_and_submits_nothing(slurm: SlurmCluster, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Per-step resources reach the scripts; placeholders JOB<n> stand for the ids sbatch would answer."""
    config = slurm_config(tmp_path, {"partition": slurm.partition, "timeout_min": 10, "gpus_per_node": 0,
                                     "steps": {"train": {"cpus_per_task": 2, "extra_sbatch": ["--exclusive"]}}})
    graph = study_graph(tmp_path)
    known_jobs = slurm.command("squeue", "--noheader", "--states=all", "--format=%i")
    assert run_graph(graph, config, dry_run=sys.stdout).started == []
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 5  # train/a and train/b are one array
    assert "# sbatch script 2 of 5 (JOB2): train/a, train/b (a job array)" in out
    train_script = out.split("# sbatch script 2")[1].split("# sbatch script 3")[0]
    assert "#SBATCH --array=0-1%2" in train_script and "#SBATCH --cpus-per-task=2" in train_script
    assert "#SBATCH --exclusive" in train_script and "#SBATCH --dependency=afterok:JOB1" in train_script
    assert all(read_record(graph.job_folder(job.id)) is None for job in graph)
    assert slurm.command("squeue", "--noheader", "--states=all", "--format=%i") == known_jobs
