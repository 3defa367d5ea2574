"""Experiment recipes without nnU-Net: config validation, job graphs of every kind, failure isolation and
reruns of the executors, Slurm submission scripts, the paper tables on hand-made per-case tables, and the
device reaching the evaluation."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from strokeseg.cli import main
from strokeseg.device import cuda_available
from strokeseg.errors import ConfigurationError, OutputExistsError
from strokeseg.experiments import tables
from strokeseg.experiments.aggregate import aggregate
from strokeseg.experiments.config import KINDS, EvaluationSettings, NnunetSettings, load_config
from strokeseg.experiments.executors import run_graph, slurm_groups
from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.recipes import RECIPES, build_graph
from strokeseg.experiments.state import (
    BLOCKED,
    DONE,
    FAILED,
    SUBMITTED,
    failure_message,
    graph_states,
    read_record,
)
from strokeseg.experiments.steps import EvaluatedModel, EvaluateStep, RunContext, copy_splits_for_training
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.synthetic.toy import write_toy_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class TouchStep:
    """Writes a file, or fails when ``fail`` is set (a stand-in for nnU-Net work in executor tests)."""

    target: Path
    fail: bool = False

    def run(self, context: RunContext) -> None:
        if self.fail:
            raise RuntimeError(f"simulated failure writing {self.target.name}")
        self.target.write_text("done")

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.target,)


@dataclass(frozen=True)
class GpuProbeStep:
    """Writes the CUDA_VISIBLE_DEVICES its process was given."""

    target: Path

    def run(self, context: RunContext) -> None:
        self.target.write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.target,)


def write_config(tmp_path: Path, content: dict) -> Path:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    base = {"nnunet": {"raw": str(paths.raw), "preprocessed": str(paths.preprocessed),
                       "results": str(paths.results)}, "output": "out"}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({**base, **content}))
    return path


def diamond(tmp_path: Path, failing: str = "") -> JobGraph:
    """a -> (b, c) -> d, with e independent; ``failing`` names a job whose step raises."""
    graph = JobGraph(tmp_path / "out")
    for job_id, needs in (("a", ()), ("b", ("a",)), ("c", ("a",)), ("d", ("b", "c")), ("e", ())):
        graph.add(job_id, TouchStep(tmp_path / f"{job_id}.txt", job_id == failing), needs)
    return graph


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="kind: 'curve' is not one of"):
        load_config(write_config(tmp_path, {"kind": "curve", "dataset": 1, "trainer": "T"}))
    with pytest.raises(ConfigurationError, match=r"split\.fractions\[1\]: expected a number"):
        load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                            "split": {"fractions": [0.5, "all"]}}))
    with pytest.raises(ConfigurationError, match="trainerr: unknown key"):
        load_config(write_config(tmp_path, {"kind": "ensemble", "dataset": 1, "trainer": "T", "trainerr": "x"}))
    with pytest.raises(ConfigurationError, match="finetune_trainer: is required"):
        load_config(write_config(tmp_path, {"kind": "vendor-transfer", "dataset": 1, "trainer": "T",
                                            "vendors": [{"group": "A", "derived_id": 2}]}))
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                                 "planner": "StrokeDWIPlanner"}))
    assert config.plans == "strokesegDWIPlans" and config.output == (tmp_path / "out").resolve()
    assert config.plan_arguments() == ()


def test_one_process_or_a_small_cpu_predicts_without_nnunet_worker_processes(tmp_path: Path) -> None:
    paths = NnunetPaths.under(tmp_path)
    in_process = ("-npp", "0", "-nps", "0")
    for device in ("cpu", "cuda"):
        assert NnunetSettings(paths, processes=1).prediction_worker_arguments(device) == in_process
    assert NnunetSettings(paths, processes=2).prediction_worker_arguments("cpu") == in_process
    assert NnunetSettings(paths, processes=2).prediction_worker_arguments("cuda") == ("-npp", "2", "-nps", "2")
    assert NnunetSettings(paths, processes=3).prediction_worker_arguments("cpu") == ("-npp", "3", "-nps", "3")


def test_processes_size_nnunets_own_pools_unless_the_env_says_otherwise(tmp_path: Path) -> None:
    paths = NnunetPaths.under(tmp_path)
    assert NnunetSettings(paths, processes=1).tool_env() == {"nnUNet_def_n_proc": "1"}
    custom = NnunetSettings(paths, processes=1, env={"nnUNet_def_n_proc": "4", "nnUNet_n_proc_DA": "2"})
    assert custom.tool_env() == {"nnUNet_def_n_proc": "4", "nnUNet_n_proc_DA": "2"}


def test_target_spacing_names_its_plans_and_reaches_the_planning_job(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="target_spacing: expected three positive spacings"):
        load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                            "target_spacing": [4, 4]}))
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                                 "planner": "StrokeDWIPlanner", "target_spacing": [5, 2.5, 2.5]}))
    assert config.plans == "strokesegDWIPlans_5x2p5x2p5mm"
    assert config.plan_arguments() == ("-overwrite_target_spacing", "5", "2.5", "2.5", "-overwrite_plans_name",
                                       "strokesegDWIPlans_5x2p5x2p5mm")


def test_sequential_executor_isolates_failures_and_reruns_only_what_is_not_done(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T"}))
    graph = diamond(tmp_path, failing="b")
    report = run_graph(graph, config)
    assert report.states == {"a": DONE, "b": FAILED, "c": DONE, "d": BLOCKED, "e": DONE}
    record = read_record(graph.job_folder("b"))
    assert record is not None and "simulated failure" in record.error
    assert "simulated failure" in Path(record.log).read_text()
    assert failure_message(graph, "b") == f"RuntimeError: simulated failure writing b.txt (log: {record.log})"
    fixed = diamond(tmp_path)  # same ids; b's step no longer fails, so its signature changed: b is not done
    report = run_graph(fixed, config)
    assert report.started == ["b", "d"] and set(report.states.values()) == {DONE}
    assert run_graph(fixed, config).started == []
    (tmp_path / "c.txt").unlink()  # an output removed by hand: the job runs again, and so does nothing else
    assert run_graph(fixed, config).started == ["c"]


def test_changed_configuration_needs_overwrite(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T"}))
    run_graph(diamond(tmp_path), config)
    changed = JobGraph(tmp_path / "out")
    changed.add("a", TouchStep(tmp_path / "other.txt"))
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_graph(changed, config)
    assert run_graph(changed, config, overwrite=True).started == ["a"]


def test_local_gpu_executor_pins_one_job_per_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # submitit's processes unpickle the test steps
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                                 "executor": {"kind": "local", "gpus": 2, "poll_seconds": 0.2}}))
    graph = JobGraph(tmp_path / "out")
    for job_id in ("first", "second"):
        graph.add(job_id, GpuProbeStep(tmp_path / f"{job_id}.txt"), gpu=True)
    graph.add("cpu", GpuProbeStep(tmp_path / "cpu.txt"), ("first", "second"))
    report = run_graph(graph, config)
    assert set(report.states.values()) == {DONE}
    assert sorted((tmp_path / f"{job}.txt").read_text() for job in ("first", "second")) == ["0", "1"]
    assert (tmp_path / "cpu.txt").read_text() == ""  # a job that needs no GPU sees none


def test_submitit_debug_executor_runs_the_graph(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                                 "executor": {"kind": "slurm", "cluster": "debug"}}))
    graph = diamond(tmp_path, failing="c")
    report = run_graph(graph, config)
    assert report.states == {"a": DONE, "b": DONE, "c": FAILED, "d": BLOCKED, "e": DONE}


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Slurm here: a stand-in ``sbatch`` keeps each script submitit writes (``<job id>.sh`` in the returned
    folder) and answers with job ids 100, 101, ...; ``srun`` only has to exist."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    sbatch = bin_folder / "sbatch"
    sbatch.write_text('#!/bin/sh\nn=$(ls "$SBATCH_RECORD" | wc -l)\ncp "$1" "$SBATCH_RECORD/$((n + 100)).sh"\n'
                      'echo "Submitted batch job $((n + 100))"\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    (bin_folder / "srun").write_text("#!/bin/sh\nexit 0\n")  # submitit only checks that srun exists
    (bin_folder / "srun").chmod(sbatch.stat().st_mode)
    sacct = bin_folder / "sacct"  # jobs wait in the queue, except $SACCT_CANCELLED, which was cancelled
    sacct.write_text('#!/bin/sh\necho "JobID|State|NodeList"\nfor id in 100 101 102 103 104; do\n'
                     '  if [ "$id" = "$SACCT_CANCELLED" ]; then echo "$id|CANCELLED by 42|n1"; '
                     'else echo "$id|PENDING|"; fi\ndone\n')
    sacct.chmod(sbatch.stat().st_mode)
    record = tmp_path / "scripts"
    record.mkdir()
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_RECORD", str(record))
    return record


def test_slurm_submission_writes_sbatch_scripts_with_dependencies(tmp_path: Path, fake_slurm: Path) -> None:
    record = fake_slurm
    config = load_config(write_config(tmp_path, {
        "kind": "learning-curve", "dataset": 1, "trainer": "T",
        "executor": {"kind": "slurm", "slurm": {"partition": "gpu", "timeout_min": 600, "cpus_per_task": 8,
                                                "gpus_per_node": 1, "mem_gb": 64}}}))
    graph = diamond(tmp_path)
    report = run_graph(graph, config)
    assert report.started == ["a", "b", "c", "d", "e"]
    assert read_record(graph.job_folder("e")).state == SUBMITTED  # type: ignore[union-attr]
    scripts = {path.stem: path.read_text() for path in record.iterdir()}
    ids = {job: read_record(graph.job_folder(job)).executor_id for job in "abcde"}  # type: ignore[union-attr]
    assert ids == {"a": "100", "b": "101", "c": "102", "d": "103", "e": "104"}
    assert "#SBATCH --partition=gpu" in scripts["100"] and "#SBATCH --time=600" in scripts["100"]
    assert "#SBATCH --dependency=afterok:100" in scripts["101"]
    assert "#SBATCH --dependency=afterok:101:102" in scripts["103"]
    assert "#SBATCH --kill-on-invalid-dep=yes" in scripts["103"]
    assert "dependency" not in scripts["104"]
    assert "--gpus-per-node" not in scripts["100"]  # the test steps use no GPU
    assert run_graph(graph, config).started == []  # submitted jobs are not submitted twice


def test_status_asks_slurm_about_submitted_jobs(tmp_path: Path, fake_slurm: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_config(tmp_path, {"kind": "learning-curve", "dataset": 1, "trainer": "T",
                                                 "executor": {"kind": "slurm"}}))
    graph = diamond(tmp_path)
    run_graph(graph, config)
    monkeypatch.setenv("SACCT_CANCELLED", "100")
    states = graph_states(graph, RunContext(config.nnunet, tmp_path / "x.log"))
    assert states == {"a": FAILED, "b": BLOCKED, "c": BLOCKED, "d": BLOCKED, "e": SUBMITTED}
    record = read_record(graph.job_folder("a"))
    assert record is not None and "ended as CANCELLED by 42" in record.error


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_configs_build_valid_graphs_and_slurm_jobs(example: str, tmp_path: Path, fake_slurm: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    for variable, folder in paths.environment().items():
        monkeypatch.setenv(variable, folder)
    content = yaml.safe_load((EXAMPLES / example).read_text())
    datasets = {content["dataset"]} | ({content["target"]["dataset"]} if "target" in content else set())
    for dataset in datasets:
        write_toy_dataset(paths.raw, int(dataset), "Example", num_training=24, num_test=2, shape=(4, 8, 8))
        if content["kind"] == "vendor-transfer":
            ids = [f"toy_{i:03d}" for i in range(24)]
            groups = [v["group"] for v in content["vendors"]]
            pd.DataFrame({"case_id": ids, "vendor": [groups[i % 2] for i in range(24)]}).to_csv(
                paths.raw / f"Dataset{int(dataset):03d}_Example" / "cases.csv", index=False)
        if "single_site" in content:
            ids = [f"toy_{i:03d}" for i in range(24)]
            sites = [content["single_site"]["site"], "OtherSite"]
            pd.DataFrame({"case_id": ids, "site": [sites[i % 2] for i in range(24)]}).to_csv(
                paths.raw / f"Dataset{int(dataset):03d}_Example" / "cases.csv", index=False)
    config_file = tmp_path / example
    content["output"] = str(tmp_path / "out")
    content.pop("nnunet", None)
    content["executor"] = {"kind": "local"}
    config_file.write_text(yaml.safe_dump(content))
    graph = build_graph(load_config(config_file))
    ids = list(graph.jobs)
    assert ids[-1] == "aggregate" and any(i.startswith("train/") for i in ids)
    for job in graph:
        assert all(ids.index(need) < ids.index(job.id) for need in job.needs)
    # the same file with a Slurm section: every job is submitted in an sbatch script (siblings as one job
    # array), after the jobs it needs, dependencies as afterok
    content["executor"] = {"kind": "slurm", "slurm": {"partition": "gpu", "gpus_per_node": 1}}
    config_file.write_text(yaml.safe_dump(content))
    config = load_config(config_file)
    started = run_graph(build_graph(config), config).started
    assert sorted(started) == sorted(ids)
    for job in graph:
        assert all(started.index(need) < started.index(job.id) for need in job.needs)
    scripts = [path.read_text() for path in sorted(fake_slurm.iterdir())]
    assert len(scripts) == len(slurm_groups(graph, ids))
    assert sum(array_size(script) for script in scripts) == len(ids)  # every job in exactly one script
    assert "--dependency=afterok:" in scripts[-1]  # aggregate waits for the evaluations
    assert all("#SBATCH --partition=gpu" in script for script in scripts)
    gpu_jobs = [job.id for job in build_graph(config) if job.gpu]
    assert gpu_jobs and sum(array_size(script) for script in scripts
                            if "#SBATCH --gpus-per-node=1" in script) == len(gpu_jobs)


def array_size(script: str) -> int:
    """How many jobs an sbatch script runs (``#SBATCH --array=0-N%M``: N + 1)."""
    found = re.search(r"#SBATCH --array=0-(\d+)", script)
    return int(found.group(1)) + 1 if found else 1


def per_case(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["model", "case_id", "dice"])
    table["status"] = "ok"
    for column in ("sensitivity", "precision"):
        table[column] = table["dice"]
    return table


def test_learning_curve_table_fits_log_size() -> None:
    rows = [(m, f"c{i}", v + 0.01 * i) for m, v in (("n10", 0.5), ("n100", 0.7)) for i in range(4)]
    table = per_case(rows)
    table["volume_stratum"] = ["small", "large"] * 4
    points, fits = tables.learning_curve_tables(table, {"n10": 10, "n100": 100}, ["volume_stratum"])
    fit = fits[(fits["stratification"] == "all") & (fits["metric"] == "dice")].iloc[0]
    assert fit["slope"] == pytest.approx(0.2 / math.log(10))
    assert set(points["stratum"]) == {"all", "small", "large"}


def test_adaptation_table_pairs_cases() -> None:
    rows = [("pre", f"c{i}", 0.5) for i in range(5)] + [("pre_ft", f"c{i}", 0.6 + 0.01 * i) for i in range(5)]
    grid = tables.adaptation_table({"target_test": per_case(rows)},
                                   [{"pretraining_cases": 10, "adaptation_cases": 4, "before": "pre",
                                     "after": "pre_ft"}])
    row = grid[grid["metric"] == "dice"].iloc[0]
    assert row["n"] == 5 and row["mean_diff"] == pytest.approx(0.12)
    assert row["wilcoxon_pvalue"] == pytest.approx(0.0625)  # exact: all 5 differences positive


def test_vendor_table_uses_medians_and_the_right_tests() -> None:
    source = per_case([("A", f"s{i}", v) for i, v in enumerate([0.8, 0.9, 0.7])])
    target = per_case([("A", f"t{i}", v) for i, v in enumerate([0.2, 0.3, 0.1])]
                      + [("A_to_B", f"t{i}", v) for i, v in enumerate([0.6, 0.75, 0.45])])
    table = tables.vendor_table({"A": source, "B": target},
                                [{"source": "A", "target": "B", "model": "A", "finetuned": "A_to_B"}])
    row = table[table["metric"] == "dice"].iloc[0]
    assert (row["internal_median"], row["external_median"], row["finetuned_median"]) == pytest.approx((0.8, 0.2, 0.6))
    assert row["internal_vs_external_mwu_p"] == pytest.approx(0.1)  # exact two-sided U test, 3 vs 3, separated
    # exact signed-rank test: 3 distinct positive paired differences, two-sided p = 2 / 2**3
    assert row["external_vs_finetuned_wilcoxon_p"] == pytest.approx(0.25)


def test_zoom_table_has_micro_dice_and_cis() -> None:
    table = per_case([("zoom-in", "c0", 0.5), ("zoom-in", "c1", 0.7)])
    table["tp"], table["fp"], table["fn"] = [10, 30], [10, 0], [0, 10]
    for column in ("hd", "assd"):
        table[column] = [4.0, 2.0]
    result = tables.zoom_table(table, ["zoom-in"], bootstrap=tables.BootstrapSettings(resamples=50))
    micro = result[result["metric"] == "micro_dice"].iloc[0]
    assert micro["mean"] == pytest.approx(80 / 100)  # 2·40 / (2·40 + 10 + 10)
    assert set(result["metric"]) == {"micro_dice", "dice", "hd", "assd", "sensitivity", "precision"}
    assert (result["ci_low"] <= result["mean"]).all() and (result["mean"] <= result["ci_high"]).all()


def test_ensemble_table_and_aggregate_files(tmp_path: Path) -> None:
    rows = [("ensemble", f"c{i}", 0.8 + 0.01 * i) for i in range(4)] + \
           [(f"member_{m}", f"c{i}", 0.7 + 0.02 * i + 0.01 * m) for m in range(2) for i in range(4)]
    table = per_case(rows)
    table["vol_ref_ml"] = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    table["vol_pred_ml"] = table["vol_ref_ml"]
    table["uncertainty_index"] = 0.1
    table["needs_review"] = ["yes"] + ["no"] * 11  # as strokeseg evaluate writes the flag into per_case.csv
    report = tmp_path / "evaluation"
    report.mkdir()
    table.to_csv(report / "per_case.csv", index=False)
    (report / "summary.json").write_text('{"settings": {"bootstrap": {"resamples": 50, "seed": 0, '
                                         '"confidence": 0.95}}, "stratifications": []}')
    written = aggregate("ensemble", "kim", {"evaluation": str(report), "ensemble": "ensemble",
                                            "members": ["member_0", "member_1"]}, tmp_path / "results")
    assert [path.name for path in written] == ["ensemble.csv", "ensemble.png", "summary.md"]
    result = pd.read_csv(tmp_path / "results" / "ensemble.csv")
    assert result["volume_ccc"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert result["needs_review_fraction"].tolist() == pytest.approx([0.25, 0.0, 0.0])
    assert result.loc[1, "wilcoxon_p_vs_ensemble"] == pytest.approx(0.125)  # 4 distinct differences of one sign, exact
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert "| ensemble | 4 | 0.815 |" in summary and "![ensemble](ensemble.png)" in summary


def test_cli_status_lists_pending_jobs_and_reports_config_errors(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    write_toy_dataset(paths.raw, 5, "Status", num_training=6, num_test=1, shape=(4, 8, 8))
    config_file = write_config(tmp_path, {"kind": "learning-curve", "dataset": 5, "trainer": "T",
                                          "split": {"fractions": [0.5, 1.0]}})
    assert main(["experiment", "status", str(config_file)]) == 0
    output = capsys.readouterr().out
    assert "pending: 8" in output and "pending     train/n6" in output
    config_file.write_text(config_file.read_text() + "evaluation: {location: moon}\n")
    assert main(["experiment", "run", str(config_file)]) == 2
    assert "evaluation.location: 'moon' is not one of" in capsys.readouterr().err


def test_a_study_without_a_test_set_stops_before_any_job(tmp_path: Path) -> None:
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    write_toy_dataset(paths.raw, 6, "NoTest", num_training=6, num_test=0, shape=(4, 8, 8))
    config = load_config(write_config(tmp_path, {"kind": "ensemble", "dataset": 6, "trainer": "T"}))
    with pytest.raises(ConfigurationError, match="Dataset006_NoTest has no labelled test set"):
        build_graph(config)


def test_fine_tuning_fold_goes_to_the_preprocessed_copy_only(tmp_path: Path) -> None:
    raw, preprocessed = tmp_path / "raw", tmp_path / "preprocessed"
    raw.mkdir()
    preprocessed.mkdir()
    original = '[{"train": ["a", "b", "c"], "val": ["d", "e"]}]'
    (raw / "splits_final.json").write_text(original)
    written = copy_splits_for_training(raw, preprocessed, finetune_fold=True)
    assert (raw / "splits_final.json").read_text() == original  # the user's split is never rewritten
    assert json.loads(written.read_text()) == [{"train": ["a", "b", "c"], "val": ["d", "e"]},
                                               {"train": ["d", "e"], "val": ["d", "e"]}]
    assert json.loads(copy_splits_for_training(raw, preprocessed).read_text()) == json.loads(original)


def test_every_kind_of_experiment_file_has_a_recipe() -> None:
    assert set(RECIPES) == set(KINDS)


def _evaluation_of_a_perfect_model(tmp_path: Path, device: str) -> tuple[EvaluateStep, RunContext]:
    """An evaluate job of toy test labels copied as a model's predictions, run with ``nnunet.device = device``."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    dataset = write_toy_dataset(paths.raw, 7, "Device", num_training=1, num_test=2, shape=(4, 8, 8))
    predictions = tmp_path / "predictions"
    shutil.copytree(dataset / "labelsTs", predictions)
    step = EvaluateStep("7", (EvaluatedModel("copy", predictions),), tmp_path / "evaluation",
                        EvaluationSettings(bootstrap_resamples=10, plots=False))
    return step, RunContext(NnunetSettings(paths, device, processes=1), tmp_path / "log.txt")


def test_evaluate_step_runs_strokeseg_evaluate_on_the_jobs_device(tmp_path: Path) -> None:
    step, context = _evaluation_of_a_perfect_model(tmp_path, "cpu")
    step.run(context)
    summary = json.loads((tmp_path / "evaluation" / "summary.json").read_text())
    assert summary["engine"] == "cpu" and summary["settings"]["device"] == "cpu"
    assert summary["models"]["copy"]["overall"]["dice"]["mean"] == pytest.approx(1.0)
    if not cuda_available():  # the device is resolved on the machine that runs the job: no GPU here
        on_cuda = RunContext(replace(context.nnunet, device="cuda"), context.log)
        with pytest.raises(ConfigurationError, match="--device cuda was requested but torch sees no CUDA GPU"):
            step.run(on_cuda)


@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU")
def test_evaluate_step_uses_the_gpu_of_the_machine_that_runs_it(tmp_path: Path) -> None:
    step, context = _evaluation_of_a_perfect_model(tmp_path, "auto")
    step.run(context)
    summary = json.loads((tmp_path / "evaluation" / "summary.json").read_text())
    assert summary["engine"] == "cuda"
    assert summary["models"]["copy"]["overall"]["dice"]["mean"] == pytest.approx(1.0)


def test_adaptation_grid_sizes_and_single_site_arm_shape_the_graph(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Noh et al.'s study: absolute subsample sizes, a fine-tuning grid instead of every pair, a single-site arm."""
    paths = NnunetPaths.under(tmp_path)
    paths.create()
    for variable, folder in paths.environment().items():
        monkeypatch.setenv(variable, folder)
    for dataset in (907, 908):
        write_toy_dataset(paths.raw, dataset, "Example", num_training=24, num_test=2, shape=(4, 8, 8))
    ids = [f"toy_{i:03d}" for i in range(24)]
    pd.DataFrame({"case_id": ids, "site": ["HospitalA" if i % 2 else "HospitalB" for i in range(24)]}).to_csv(
        paths.raw / "Dataset907_Example" / "cases.csv", index=False)
    content = yaml.safe_load((EXAMPLES / "noh_registry_dwi.yaml").read_text())
    content.update(output=str(tmp_path / "out"), executor={"kind": "local"})
    content.pop("nnunet")
    config_file = tmp_path / "noh.yaml"
    config_file.write_text(yaml.safe_dump(content))
    config = load_config(config_file)
    assert config.subsample_sizes == (4, 8, 24) and config.pool_size == 12
    assert config.fine_tunes(24, 10) and config.fine_tunes(4, 5) and not config.fine_tunes(4, 10)
    assert not config.fine_tunes(8, 5)
    jobs = list(build_graph(config).jobs)
    trained = sorted(job.removeprefix("train/") for job in jobs if job.startswith("train/"))
    assert trained == ["pre24", "pre24_ft10", "pre24_ft5", "pre4", "pre4_ft5", "pre8", "site_HospitalA_n12"]
    assert "split/915" in jobs and "plan/915" in jobs and "predict/site_HospitalA_n12" in jobs
    with pytest.raises(ConfigurationError, match="either fractions or sizes"):
        load_config(write_config(tmp_path / "both", {**content, "split": {"fractions": [0.5], "sizes": [4]}}))
