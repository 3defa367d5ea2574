"""Running a job graph: in this process, on local GPUs or on Slurm, always through submitit for anything parallel.

* ``local`` with ``gpus: 0`` or ``1``: jobs run one after another in this process; their stock nnU-Net tools are
  forked from a warm interpreter (:class:`strokeseg.nnunet.tool_server.ToolLauncher`).
* ``local`` with ``gpus: N`` (N ≥ 2): submitit's ``LocalExecutor`` runs up to N jobs at once, each GPU job
  pinned to one free GPU (``CUDA_VISIBLE_DEVICES``); jobs are submitted as soon as the jobs they need are done.
* ``slurm`` with ``cluster: slurm``: every job is submitted at once with ``sbatch`` through submitit, with
  Slurm dependencies (``afterok`` on the jobs it needs, ``kill-on-invalid-dep``), so that the cluster schedules
  the study and ``strokeseg experiment run`` returns; jobs of one step kind that need the same jobs form one
  job array, and each job gets its step kind's resources (:mod:`strokeseg.experiments.slurm`).
  ``strokeseg experiment status`` follows it; a dry run prints the sbatch scripts instead.
* ``slurm`` with ``cluster: local`` or ``debug``: submitit's local/debug executors with the same parameters
  (they know no dependencies, so jobs are submitted when the jobs they need are done), for tests and dry runs.

Whatever the executor, a job runs :func:`execute_job`, which records its state, so jobs that are done are
skipped on the next run, and a failed job is reported with its log while independent jobs go on. An experiment
file and the demo run through the same :func:`run_graph`; runs in this process can print progress lines.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import submitit

from strokeseg.errors import OutputExistsError, StrokesegError
from strokeseg.experiments.config import ExecutorSettings, NnunetSettings
from strokeseg.experiments.graph import SUBMITIT_FOLDER, Job, JobGraph
from strokeseg.experiments.progress import ProgressLines
from strokeseg.experiments.slurm import job_resources, running_slurm_job, sbatch_script, slurm_executor, step_kind
from strokeseg.experiments.state import (
    BLOCKED,
    DONE,
    FAILED,
    IN_FLIGHT,
    LOG_FILE,
    RUNNING,
    SLURM_EXECUTOR,
    STALE,
    SUBMITTED,
    graph_states,
    read_record,
    write_record,
)
from strokeseg.experiments.steps import RunContext
from strokeseg.nnunet.tool_server import ToolLauncher

logger = logging.getLogger(__name__)

#: State of a job an executor still has to run (only inside a run, never written).
TODO = "todo"


class JobFailedError(StrokesegError):
    """A job's step raised; the job's record holds the error and its log path."""


class RunSettings(Protocol):
    """What running a graph needs (an experiment file's :class:`ExperimentConfig` has both)."""

    @property
    def nnunet(self) -> NnunetSettings: ...

    @property
    def executor(self) -> ExecutorSettings: ...


def execute_job(job: Job, folder: Path, nnunet: NnunetSettings, raise_on_failure: bool = False,
                on_tool_line: Callable[[str], None] | None = None, launcher: ToolLauncher | None = None) -> str:
    """Run one job's step and record the outcome (``done`` or ``failed``); returns the state.

    Log records of strokeseg and the stock tools' output go to ``folder/log.txt``; ``on_tool_line`` also gets every
    line of the tools' output (a live progress display); ``launcher`` starts the stock tools from warm
    interpreters (None: new ones). With ``raise_on_failure``
    (Slurm: a failed job must fail so that its dependants are cancelled) a failure raises JobFailedError.
    """
    log = folder / LOG_FILE
    folder.mkdir(parents=True, exist_ok=True)
    slurm_id = running_slurm_job()
    executor = SLURM_EXECUTOR if slurm_id else ""
    write_record(folder, job, RUNNING, executor_id=slurm_id, executor=executor)
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("strokeseg")
    package_logger.addHandler(handler)
    previous_level = package_logger.level
    if package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    context = RunContext(nnunet, log, on_tool_line, launcher)
    start = time.perf_counter()
    try:
        logger.info("job %s started%s", job.id, f" as Slurm job {slurm_id}" if slurm_id else "")
        job.step.run(context)
        missing = [str(path) for path in job.step.outputs(context) if not path.exists()]
        if missing:
            raise JobFailedError(f"job {job.id} finished without writing {', '.join(missing)}")
        logger.info("job %s done", job.id)
    except Exception as error:
        package_logger.error("job %s failed:\n%s", job.id, traceback.format_exc())
        write_record(folder, job, FAILED, error=f"{type(error).__name__}: {error}",
                     seconds=time.perf_counter() - start,
                     executor_id=slurm_id, executor=executor)
        if raise_on_failure:
            raise JobFailedError(f"job {job.id} failed: {error} (log: {log})") from error
        return FAILED
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
        handler.close()
    write_record(folder, job, DONE, seconds=time.perf_counter() - start,
                     executor_id=slurm_id, executor=executor)
    return DONE


@dataclass
class RunReport:
    """What one ``experiment run`` did: job id -> state after the run, and the jobs it started."""

    states: dict[str, str]
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [job for job, state in self.states.items() if state == FAILED]

    @property
    def blocked(self) -> list[str]:
        return [job for job, state in self.states.items() if state == BLOCKED]


def run_graph(graph: JobGraph, config: RunSettings, overwrite: bool = False,
              progress: TextIO | None = None, dry_run: TextIO | None = None) -> RunReport:
    """Run every job of ``graph`` that is not done (see the module docstring).

    ``progress``: where runs in this process (not Slurm submissions) print a line per job (None: nowhere).
    ``dry_run``: run nothing; print there the sbatch scripts a Slurm run would submit, or the jobs a local run
    would run.

    Raises:
        OutputExistsError: jobs finished under another configuration (stale) and ``overwrite`` is off.
    """
    context = RunContext(config.nnunet, graph.output / "experiment.log")
    states = graph_states(graph, context)
    stale = [job for job, state in states.items() if state == STALE]
    if stale and not overwrite:
        raise OutputExistsError(
            f"{len(stale)} job(s) of {graph.output} finished with another configuration: {', '.join(stale[:8])}; "
            "pass --overwrite to run them again with this one, or choose another output folder")
    skipped = [job for job, state in states.items() if state == DONE]
    in_flight = [job for job, state in states.items() if state in IN_FLIGHT]
    if in_flight:
        logger.warning("%d job(s) are recorded as submitted or running and are not started again: %s",
                       len(in_flight), ", ".join(in_flight[:8]))
    todo = [job.id for job in graph if states[job.id] not in (DONE, *IN_FLIGHT)]
    # what the executors start from: jobs to run are "todo"; done and in-flight jobs keep their state
    initial = {job_id: TODO if job_id in todo else state for job_id, state in states.items()}
    logger.info("%d job(s): %d done, %d in flight, %d to run", len(graph), len(skipped), len(in_flight), len(todo))
    executor = config.executor
    lines = ProgressLines(graph, progress)
    if dry_run is not None and not (executor.kind == "slurm" and executor.cluster == "slurm"):
        dry_run.writelines(f"would run {job_id}\n" for job_id in todo)
        started = []
    elif executor.kind == "slurm" and executor.cluster == "slurm":
        started = _submit_to_slurm(graph, config, todo, dry_run)
    elif executor.kind == "slurm" or executor.gpus >= 2:
        started = _run_in_waves(graph, config, initial, lines)
    else:
        started = _run_sequentially(graph, config, initial, lines)
    return RunReport(graph_states(graph, context), started, skipped)


def _ready(job: Job, states: dict[str, str]) -> bool | None:
    """True when every job it needs is done, None when one failed (blocked), False while waiting."""
    needed = [states[need] for need in job.needs]
    if any(state in (FAILED, BLOCKED) for state in needed):
        return None
    return all(state == DONE for state in needed)


def _run_sequentially(graph: JobGraph, config: RunSettings, initial: dict[str, str],
                      lines: ProgressLines) -> list[str]:
    states = dict(initial)
    started = []
    with ToolLauncher() as launcher:  # the stock tools of all jobs from warm interpreters
        for job in graph:
            if initial[job.id] == DONE:
                lines.skipped(job.id)
            if initial[job.id] != TODO:
                continue
            ready = _ready(job, states)
            if not ready:
                states[job.id] = BLOCKED
                logger.warning("job %s not started: a job it needs failed or is still running elsewhere", job.id)
                lines.blocked(job.id)
                continue
            started.append(job.id)
            lines.started(job.id)
            states[job.id] = execute_job(job, graph.job_folder(job.id), config.nnunet,
                                         on_tool_line=lines.tool_output(job.id), launcher=launcher)
            _log_outcome(graph, job.id, states[job.id])
            lines.finished(job.id, states[job.id])
    return started


def _log_outcome(graph: JobGraph, job_id: str, state: str) -> None:
    if state == FAILED:
        record = read_record(graph.job_folder(job_id))
        logger.error("job %s failed: %s (log: %s); independent jobs go on", job_id,
                     record.error if record else "?", graph.job_folder(job_id) / LOG_FILE)
    else:
        logger.debug("job %s: %s", job_id, state)


def make_submitit_executor(graph: JobGraph, settings: ExecutorSettings, cluster: str, gpu: bool = True) -> Any:
    """A submitit executor for the test clusters ``local`` and ``debug`` with the experiment's Slurm time limit.

    ``gpu``: for jobs that use a GPU (training, prediction): ``gpus_per_node`` of the Slurm section, default 1;
    the others ask for none. ``local`` is submitit's ``LocalExecutor`` itself (its ``visible_gpus`` pins a job
    to a GPU, which the ``AutoExecutor`` does not expose); it also takes the Slurm section's ``setup``. Jobs for a
    real cluster go through :func:`strokeseg.experiments.slurm.slurm_executor`.
    """
    if cluster == "local":
        local = submitit.LocalExecutor(folder=graph.output / SUBMITIT_FOLDER / "%j")
        local.update_parameters(timeout_min=settings.slurm["timeout_min"],
                                **({"setup": list(settings.slurm["setup"])} if settings.slurm.get("setup") else {}))
        return local
    executor = submitit.AutoExecutor(folder=graph.output / SUBMITIT_FOLDER / "%j", cluster=cluster)
    generic: dict[str, Any] = {key: settings.slurm[key] for key in ("timeout_min", "cpus_per_task", "mem_gb", "nodes",
                                                                   "tasks_per_node") if key in settings.slurm}
    gpus = settings.slurm.get("gpus_per_node", 1)
    if gpu and gpus:
        generic["gpus_per_node"] = gpus
    executor.update_parameters(name="strokeseg", **generic)
    return executor


def _run_in_waves(graph: JobGraph, config: RunSettings, initial: dict[str, str], lines: ProgressLines) -> list[str]:
    """Submit jobs to submitit as soon as the jobs they need are done; at most one job per GPU at a time."""
    settings = config.executor
    cluster = settings.cluster if settings.kind == "slurm" else "local"
    executors = {gpu: make_submitit_executor(graph, settings, cluster, gpu) for gpu in (True, False)}
    free_gpus = list(range(settings.gpus)) if settings.kind == "local" else []
    states = dict(initial)
    todo = [job_id for job_id, state in initial.items() if state == TODO]
    slots = settings.gpus if settings.kind == "local" else len(todo) or 1
    waiting, started = list(todo), []
    running: dict[str, tuple[Any, int | None]] = {}
    for job_id, state in initial.items():
        if state == DONE:
            lines.skipped(job_id)
    while waiting or running:
        for job_id in list(waiting):
            ready = _ready(graph.jobs[job_id], states)
            if ready is None:
                states[job_id] = BLOCKED
                waiting.remove(job_id)
                lines.blocked(job_id)
            elif ready and len(running) < slots:
                gpu = free_gpus.pop(0) if free_gpus and graph.jobs[job_id].gpu else None
                handle = _submit(executors[graph.jobs[job_id].gpu], graph, config, job_id, cluster, gpu)
                running[job_id] = (handle, gpu)
                states[job_id] = SUBMITTED
                started.append(job_id)
                waiting.remove(job_id)
                lines.started(job_id)
        if not running:
            if waiting:
                logger.warning("%d job(s) wait for jobs that run elsewhere: %s", len(waiting), ", ".join(waiting[:8]))
            break
        finished = [job_id for job_id, (handle, _) in running.items() if handle.done()]
        if not finished:
            time.sleep(settings.poll_seconds)
        for job_id in finished:
            handle, gpu = running.pop(job_id)
            if gpu is not None:
                free_gpus.append(gpu)
            states[job_id] = _outcome(handle, graph, job_id)
            _log_outcome(graph, job_id, states[job_id])
            lines.finished(job_id, states[job_id])
    return started


def _submit(executor: Any, graph: JobGraph, config: RunSettings, job_id: str, cluster: str,
            gpu: int | None) -> Any:
    job = graph.jobs[job_id]
    folder = graph.job_folder(job_id)
    if cluster == "local":
        executor.update_parameters(visible_gpus=() if gpu is None else (gpu,), gpus_per_node=0 if gpu is None else 1)
    else:
        executor.update_parameters(name=f"strokeseg-{job_id}")
    handle = executor.submit(execute_job, job, folder, config.nnunet, cluster == "slurm")
    write_record(folder, job, SUBMITTED, executor_id=str(handle.job_id))
    return handle


def _outcome(handle: Any, graph: JobGraph, job_id: str) -> str:
    """The state a finished submitit job left (its record; a job killed before recording counts as failed)."""
    try:
        result = handle.result()
    except Exception as error:
        record = read_record(graph.job_folder(job_id))
        if record is None or record.state != FAILED:
            write_record(graph.job_folder(job_id), graph.jobs[job_id], FAILED,
                         error=f"the job died before finishing: {error}")
        return FAILED
    return str(result)


def _submit_to_slurm(graph: JobGraph, config: RunSettings, todo: list[str], dry_run: TextIO | None = None
                     ) -> list[str]:
    """Submit every job at once with sbatch: jobs that need the same jobs and share a step kind form one job
    array, and dependencies become ``afterok`` on the Slurm ids of the jobs needed.

    ``dry_run``: print the sbatch scripts there instead of submitting (nothing is written).
    """
    settings = config.executor.slurm
    groups = slurm_groups(graph, todo)
    # every executor first: a resource submitit refuses stops the run before anything is submitted
    executors = {key: slurm_executor(graph.output / SUBMITIT_FOLDER / "%j",
                                     job_resources(settings, key[0], key[1]), dry_run is not None)
                 for key in {(step_kind(group[0]), graph.jobs[group[0]].gpu) for group in groups}}
    slurm_ids: dict[str, str] = {}
    for job in graph:
        record = read_record(graph.job_folder(job.id))
        if job.id not in todo and record is not None and record.state in IN_FLIGHT and record.executor_id:
            slurm_ids[job.id] = record.executor_id
    for number, group in enumerate(groups, start=1):
        first = graph.jobs[group[0]]
        executor = executors[(step_kind(first.id), first.gpu)]
        after = sorted({slurm_ids[need] for need in first.needs if need in slurm_ids})
        name = f"strokeseg-{step_kind(first.id)}" if len(group) > 1 else f"strokeseg-{first.id}"
        executor.update_parameters(job_name=name, dependency=f"afterok:{':'.join(after)}" if after else None)
        extra = dict(executor.parameters.get("additional_parameters") or {})
        executor.update_parameters(additional_parameters=extra | ({"kill_on_invalid_dep": "yes"} if after else {}))
        if dry_run is not None:
            for index, job_id in enumerate(group):  # stand-ins for the ids sbatch would answer
                slurm_ids[job_id] = f"JOB{number}" + (f"_{index}" if len(group) > 1 else "")
            dry_run.write(f"# sbatch script {number} of {len(groups)} (JOB{number}): {', '.join(group)}"
                          f"{' (a job array)' if len(group) > 1 else ''}\n")
            dry_run.write(sbatch_script(executor, len(group)) + "\n")
            executor.update_parameters(additional_parameters=extra)
            continue
        jobs = [graph.jobs[job_id] for job_id in group]
        with executor.batch():
            handles = [executor.submit(execute_job, job, graph.job_folder(job.id), config.nnunet, True)
                       for job in jobs]
        executor.update_parameters(additional_parameters=extra)
        for job, handle in zip(jobs, handles, strict=True):
            slurm_id = str(handle.job_id)
            write_record(graph.job_folder(job.id), job, SUBMITTED, executor_id=slurm_id, executor=SLURM_EXECUTOR)
            slurm_ids[job.id] = slurm_id
            logger.info("submitted %s as Slurm job %s%s", job.id, slurm_id,
                        f" (after {', '.join(after)})" if after else "")
    return [] if dry_run is not None else [job_id for group in groups for job_id in group]


def slurm_groups(graph: JobGraph, todo: list[str]) -> list[list[str]]:
    """``todo`` in submission order, as groups: one group = one sbatch call (a job array when it has several
    jobs). Jobs of a group share their step kind, the jobs they need and whether they use a GPU."""
    groups: dict[tuple[str, tuple[str, ...], bool], list[str]] = {}
    for job in graph:
        if job.id in todo:
            groups.setdefault((step_kind(job.id), job.needs, job.gpu), []).append(job.id)
    return list(groups.values())
