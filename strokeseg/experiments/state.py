"""Job state on disk (``jobs/<id>/state.json``) and the status of every job of a graph.

A job records ``submitted`` (queued on Slurm or a submitit executor), ``running`` (host, process id, start),
``done`` (the step's signature, finish time, seconds it ran) or ``failed`` (the error and the log path); jobs
submitted with sbatch also carry their Slurm job id. A job counts as done only when its record says so, its
signature matches the current configuration and its outputs exist, so deleting a model's checkpoint makes its
job run again. Derived states: ``pending`` (never run, or its outputs are gone), ``stale`` (done with another
configuration), ``interrupted`` (recorded as running on this host by a process that no longer exists),
``blocked`` (a job it needs failed).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from strokeseg.experiments.graph import SUBMITIT_FOLDER, Job, JobGraph
from strokeseg.experiments.slurm import SlurmJobState, query_jobs, unavailable_nodes
from strokeseg.experiments.steps import RunContext
from strokeseg.io import write_json_atomic

STATE_FILE, LOG_FILE = "state.json", "log.txt"
PENDING, SUBMITTED, RUNNING, DONE, FAILED = "pending", "submitted", "running", "done", "failed"
STALE, INTERRUPTED, BLOCKED = "stale", "interrupted", "blocked"
#: ``executor`` of a record submitted with sbatch; the Slurm state of a job Slurm no longer knows.
SLURM_EXECUTOR, ENDED = "slurm", "ENDED"
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
    executor: str = ""


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
                 seconds: float = 0.0, executor: str = "") -> JobRecord:
    """Write the job's state (atomically); running records carry this host and process id, finished ones the
    seconds the step ran. ``executor``: ``slurm`` for jobs submitted with sbatch (``executor_id``: the Slurm job
    id, ``123`` or array task ``123_4``)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = JobRecord(state, job.signature(), str(folder / LOG_FILE), now(), socket.gethostname(), os.getpid(),
                       executor_id, error, round(seconds, 2), executor)
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

    Jobs submitted to Slurm and not finished are checked with Slurm (:func:`slurm_states`): a job that Slurm
    ended (cancelled, timeout, out of memory, node failure) without strokeseg recording a result is recorded as
    failed, naming its Slurm log; one that Slurm ended before it started, because a job it needs failed,
    is blocked.
    """
    states = {job.id: job_state(graph, job, context) for job in graph}
    slurm = slurm_states(graph, states)
    for job in graph:  # graph order: the jobs a job needs are settled before it
        blocked = any(states[need] in (FAILED, BLOCKED) for need in job.needs)
        answer = slurm.get(job.id)
        if answer is not None and not answer.live and states[job.id] in (*IN_FLIGHT, INTERRUPTED):
            states[job.id] = _ended_without_result(graph, job, answer, blocked)
        elif answer is not None and answer.state == "RUNNING" and states[job.id] == SUBMITTED:
            states[job.id] = RUNNING
        # a Slurm job waiting for a failed job never starts (kill-on-invalid-dep): blocked as well
        if states[job.id] in (PENDING, INTERRUPTED, SUBMITTED) and blocked:
            states[job.id] = BLOCKED
    return states


def slurm_states(graph: JobGraph, states: Mapping[str, str]) -> dict[str, SlurmJobState]:
    """What Slurm says about the graph's unfinished jobs that went through ``sbatch`` (job id -> answer).

    A job Slurm no longer knows (it forgets ended jobs after ``MinJobAge`` where there is no accounting) is
    answered as ``ENDED``; when no Slurm controller answers at all, such jobs are left out.
    """
    records = {job_id: read_record(graph.job_folder(job_id)) for job_id, state in states.items()
               if state in (*IN_FLIGHT, INTERRUPTED)}
    slurm_ids = {job_id: r.executor_id for job_id, r in records.items()
                 if r is not None and r.executor == SLURM_EXECUTOR and r.executor_id}
    if not slurm_ids:
        return {}
    answers, reachable = query_jobs(slurm_ids.values())
    found = {job_id: answers[slurm_id] for job_id, slurm_id in slurm_ids.items() if slurm_id in answers}
    if reachable:
        found |= {job_id: SlurmJobState(ENDED) for job_id in slurm_ids if job_id not in found}
    return found


def _ended_without_result(graph: JobGraph, job: Job, answer: SlurmJobState, blocked: bool) -> str:
    """Record (and return) the state of a job that Slurm ended while its record says submitted or running."""
    folder = graph.job_folder(job.id)
    record = read_record(folder)
    if record is None or record.state not in IN_FLIGHT:  # it recorded a result meanwhile
        return record.state if record is not None and record.state in (DONE, FAILED) else PENDING
    if record.state == SUBMITTED and blocked:
        return BLOCKED
    how = "ended" if answer.state == ENDED else f"ended as {answer.state}"
    if answer.reason and answer.reason != "None":
        how += f" ({answer.reason})"
    when = "before it started" if record.state == SUBMITTED else "while running (a rerun resumes it)"
    log = f"{graph.output / SUBMITIT_FOLDER / record.executor_id}/{record.executor_id}_0_log.err"
    write_record(folder, job, FAILED, error=f"Slurm job {record.executor_id} {how} {when}; see {log}",
                 executor_id=record.executor_id, executor=SLURM_EXECUTOR)
    return FAILED


def failure_message(graph: JobGraph, job_id: str) -> str:
    """``<error> (log: <path>)`` of a failed job."""
    record = read_record(graph.job_folder(job_id))
    if record is None:
        return f"(no record; log: {graph.job_folder(job_id) / LOG_FILE})"
    first_line = record.error.strip().splitlines()[0] if record.error.strip() else "failed"
    return f"{first_line} (log: {record.log})"


def status_lines(graph: JobGraph, context: RunContext, show_all: bool = False) -> list[str]:
    """What ``experiment status`` prints: the counts, then one line per job that is not done (``show_all``:
    every job) with its Slurm job id and Slurm's state and reason, and a warning per Slurm node that is down."""
    states = graph_states(graph, context)
    slurm = slurm_states(graph, states)
    lines = ["  " + ", ".join(f"{state}: {count}" for state, count in count_states(states).items())]
    for job in graph:
        state = states[job.id]
        if not show_all and state == DONE:
            continue
        record = read_record(graph.job_folder(job.id))
        where = ""
        if record is not None and record.executor == SLURM_EXECUTOR:
            answer = slurm.get(job.id)
            reason = f", {answer.reason}" if answer is not None and answer.reason not in ("", "None") else ""
            where = f"  [Slurm {record.executor_id}" + (f": {answer.state}{reason}]" if answer else "]")
        detail = f"  {failure_message(graph, job.id)}" if state == FAILED else \
            "  (a job it needs failed)" if state == BLOCKED else ""
        lines.append(f"  {state:<11} {job.id}{where}{detail}")
    if slurm:
        lines += [f"warning: Slurm node {node.node} is {node.describe()}: jobs waiting for it do not start, and "
                  "jobs running on it fail (a rerun resubmits them); see 'sinfo -R'" for node in unavailable_nodes()]
    return lines


def count_states(states: Mapping[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    return dict(sorted(counts.items()))
