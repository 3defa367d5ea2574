"""Job state on disk (``jobs/<id>/state.json``) and the status of every job of a graph.

A job records ``submitted`` (queued on Slurm or a submitit executor), ``running`` (host, process id, start),
``done`` (the step's signature, finish time, seconds it ran) or ``failed`` (the error and the log path). A job
counts as done only when its record says so, its signature matches the current configuration and its outputs
exist, so deleting a model's checkpoint makes its job run again. Derived states: ``pending`` (never run, or its outputs
are gone), ``stale`` (done with another configuration), ``interrupted`` (recorded as running on this host by a
process that no longer exists), ``blocked`` (a job it needs failed).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from strokeseg.experiments.graph import SUBMITIT_FOLDER, Job, JobGraph
from strokeseg.experiments.steps import RunContext
from strokeseg.io import write_json_atomic

STATE_FILE, LOG_FILE = "state.json", "log.txt"
PENDING, SUBMITTED, RUNNING, DONE, FAILED = "pending", "submitted", "running", "done", "failed"
STALE, INTERRUPTED, BLOCKED = "stale", "interrupted", "blocked"
#: Slurm states of a job that ended without running to its end (``CANCELLED by ...`` included).
SLURM_ENDED_STATES: tuple[str, ...] = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                                       "BOOT_FAIL", "DEADLINE")
#: States in which a job is still expected to finish without strokeseg doing anything.
IN_FLIGHT: frozenset[str] = frozenset({SUBMITTED, RUNNING})


@dataclass(frozen=True)
class JobRecord:
    """What ``state.json`` holds."""

    state: str
    signature: str
    log: str
    updated: str
    host: str = ""
    pid: int = 0
    executor_id: str = ""
    error: str = ""
    seconds: float = 0.0


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_record(folder: Path) -> JobRecord | None:
    """The job's record, or None when it never ran (an unreadable record counts as none)."""
    try:
        content = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return JobRecord(**content)
    except (OSError, ValueError, TypeError):
        return None


def write_record(folder: Path, job: Job, state: str, *, error: str = "", executor_id: str = "",
                 seconds: float = 0.0) -> JobRecord:
    """Write the job's state (atomically); running records carry this host and process id, finished ones the
    seconds the step ran."""
    folder.mkdir(parents=True, exist_ok=True)
    record = JobRecord(state, job.signature(), str(folder / LOG_FILE), now(), socket.gethostname(), os.getpid(),
                       executor_id, error, round(seconds, 2))
    write_json_atomic(folder / STATE_FILE, asdict(record))
    return record


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_state(graph: JobGraph, job: Job, context: RunContext) -> str:
    """The state of one job, ignoring its dependencies (see the module docstring)."""
    record = read_record(graph.job_folder(job.id))
    if record is None:
        return PENDING
    if record.state == DONE:
        if record.signature != job.signature():
            return STALE
        return DONE if all(path.exists() for path in job.step.outputs(context)) else PENDING
    if record.state == RUNNING and record.host == socket.gethostname() and record.pid != os.getpid() \
            and not _process_alive(record.pid):
        return INTERRUPTED
    return record.state


def graph_states(graph: JobGraph, context: RunContext) -> dict[str, str]:
    """State of every job; jobs that cannot start because a job they need failed are ``blocked``.

    Jobs recorded as submitted to Slurm or running there are checked with ``sacct`` (one call, through
    submitit) where it exists: a job that Slurm ended without strokeseg recording a result (cancelled, timeout,
    out of memory, node failure) is recorded as failed, naming its submitit log.
    """
    states = {job.id: job_state(graph, job, context) for job in graph}
    _check_slurm(graph, states)
    for job in graph:
        # a Slurm job waiting for a failed job never starts (kill-on-invalid-dep): blocked as well
        if states[job.id] in (PENDING, INTERRUPTED, SUBMITTED) and any(states[n] in (FAILED, BLOCKED)
                                                                       for n in job.needs):
            states[job.id] = BLOCKED
    return states


def _check_slurm(graph: JobGraph, states: dict[str, str]) -> None:
    records = {job_id: read_record(graph.job_folder(job_id)) for job_id, state in states.items() if state in IN_FLIGHT}
    slurm_ids = {job_id: r.executor_id for job_id, r in records.items() if r is not None and r.executor_id.isdigit()}
    if not slurm_ids or shutil.which("sacct") is None:
        return
    import submitit

    folder = graph.output / SUBMITIT_FOLDER / "%j"
    submitit.SlurmJob.watcher.clear()  # fresh states: the watcher would otherwise reuse answers for minutes
    handles: dict[str, submitit.SlurmJob[object]] = {
        job_id: submitit.SlurmJob(folder=folder, job_id=slurm_id) for job_id, slurm_id in slurm_ids.items()}
    for index, (job_id, handle) in enumerate(handles.items()):  # one sacct call asks about every job at once
        slurm_state = str(handle.get_info(mode="cache" if index else "force").get("State") or "UNKNOWN")
        if slurm_state.startswith(SLURM_ENDED_STATES):
            log = handle.paths.stderr
            write_record(graph.job_folder(job_id), graph.jobs[job_id], FAILED,
                         error=f"Slurm job {handle.job_id} ended as {slurm_state} before finishing; see {log}",
                         executor_id=handle.job_id)
            states[job_id] = FAILED
        elif slurm_state == "RUNNING":
            states[job_id] = RUNNING


def failure_message(graph: JobGraph, job_id: str) -> str:
    """``<error> (log: <path>)`` of a failed job."""
    record = read_record(graph.job_folder(job_id))
    if record is None:
        return f"(no record; log: {graph.job_folder(job_id) / LOG_FILE})"
    first_line = record.error.strip().splitlines()[0] if record.error.strip() else "failed"
    return f"{first_line} (log: {record.log})"


def count_states(states: Mapping[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    return dict(sorted(counts.items()))
