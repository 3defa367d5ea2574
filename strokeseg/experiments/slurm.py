"""Slurm vocabulary of the experiments: resources per step, sbatch scripts (submitted or printed), live job states.

Resources come from the experiment file's ``executor.slurm`` section (every job) and its ``steps`` sub-section
(per step kind: ``plan``, ``train``, ``predict``, ``evaluate``, ``aggregate``, ... = the first part of a job id),
checked by :func:`check_resources` before anything is submitted. Jobs are submitted through submitit's
``SlurmExecutor`` (:func:`slurm_executor`); :func:`sbatch_script` renders the script ``sbatch`` would get
without submitting it (``experiment run --dry-run``).

Job states are read with ``squeue`` (jobs queued, running, and those that ended within Slurm's ``MinJobAge``,
300 s by default), then ``sacct`` for the rest where the cluster keeps accounting. A job Slurm no longer knows
ended; strokeseg's own record (``state.json``, written by the job itself) says whether it finished.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: Keys of a Slurm section that strokeseg names itself, and the type each takes. Any other key must be one of
#: submitit's ``SlurmExecutor`` parameters (e.g. ``exclude``, ``gres``, ``mail_user``) and is passed on as is.
RESOURCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "partition": str, "account": str, "qos": str, "constraint": str, "timeout_min": int, "gpus_per_node": int,
    "cpus_per_task": int, "mem_gb": (int, float), "nodes": int, "tasks_per_node": int, "setup": list,
    "additional_parameters": dict, "extra_sbatch": list,
}
#: strokeseg's names -> submitit's ``SlurmExecutor`` names.
_NATIVE_NAMES = {"timeout_min": "time", "tasks_per_node": "ntasks_per_node"}
#: The sub-section of per-step resources, and the step kinds of experiment files.
STEPS_KEY = "steps"
STEP_KINDS: tuple[str, ...] = ("split", "move-plans", "plan", "train", "predict", "evaluate", "aggregate")
#: Parameters strokeseg sets itself per job (dependencies, names, arrays).
_RESERVED = ("dependency", "job_name", "array_parallelism", "kill_on_invalid_dep")
#: Slurm states of a job that is still expected to run or finish by itself.
LIVE_STATES: tuple[str, ...] = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
                                "RESIZING", "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD")
#: Node states (``sinfo``) in which a node runs no job.
NODE_DOWN_STATES = "down,drain,fail,no_respond"


def step_kind(job_id: str) -> str:
    """The step kind of a job id (``train/n12`` -> ``train``): the key of its resources in ``steps``."""
    return job_id.split("/", 1)[0]


def running_slurm_job() -> str:
    """The Slurm job id this process runs in (``123``, or ``123_4`` for an array task); empty outside Slurm."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID", "")


def _submitit_parameters() -> set[str]:
    from submitit.slurm.slurm import SlurmExecutor

    return set(SlurmExecutor._valid_parameters())


def check_resources(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate one Slurm section (``where``: the file and dotted key, for messages); returns a copy.

    Raises:
        ConfigurationError: an unknown key, a wrong type, a non-positive amount, or a key strokeseg sets itself.
    """
    checked: dict[str, Any] = {}
    allowed = None
    for key in section:
        value: Any = section[key]
        native = key[6:] if key.startswith("slurm_") else key
        if native in _RESERVED:
            raise ConfigurationError(f"{where}.{key}: strokeseg sets {key} itself (dependencies and arrays "
                                     "follow the job graph)")
        kind = RESOURCE_KEYS.get(key)
        if kind is None:
            allowed = allowed if allowed is not None else _submitit_parameters()
            if native not in allowed:
                raise ConfigurationError(
                    f"{where}.{key}: unknown Slurm key (known: {', '.join(sorted(RESOURCE_KEYS))}, or one of "
                    f"submitit's: {', '.join(sorted(allowed - set(_NATIVE_NAMES.values()) - set(_RESERVED)))})")
            checked[native] = value
            continue
        if not _has_type(value, kind):
            raise ConfigurationError(f"{where}.{key}: expected {_type_name(kind)}, got {value!r}")
        if key in ("timeout_min", "cpus_per_task", "nodes", "tasks_per_node", "mem_gb") and value <= 0:
            raise ConfigurationError(f"{where}.{key}: must be positive, got {value}")
        if key == "gpus_per_node" and value < 0:
            raise ConfigurationError(f"{where}.{key}: must be 0 or more, got {value}")
        if key in ("setup", "extra_sbatch") and not all(isinstance(line, str) for line in value):
            raise ConfigurationError(f"{where}.{key}: expected a list of strings, got {value!r}")
        if key == "extra_sbatch":
            for line in value:
                if not line.startswith("--") or len(line) < 3:
                    raise ConfigurationError(f"{where}.extra_sbatch: {line!r} is not an sbatch option "
                                             "(write '--exclusive' or '--reservation=NAME')")
        checked[key] = list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
    return checked


def _has_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    return not isinstance(value, bool) and isinstance(value, kind)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {"str": "a string", "int": "an integer", "float": "a number", "list": "a list", "dict": "a mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k.__name__, k.__name__) for k in kinds)


def job_resources(slurm: Mapping[str, Any], job_id: str, gpu: bool) -> dict[str, Any]:
    """The resources of one job: the section's defaults, then its step kind's entries in ``steps``.

    The defaults' ``gpus_per_node`` (1 when not given) applies to GPU jobs only; a step's own entry applies as
    given.
    """
    defaults = {key: value for key, value in slurm.items() if key != STEPS_KEY}
    gpus = defaults.pop("gpus_per_node", 1)
    resources = defaults | ({"gpus_per_node": gpus} if gpu and gpus else {})
    return resources | dict(slurm.get(STEPS_KEY, {}).get(step_kind(job_id), {}))


def native_parameters(resources: Mapping[str, Any]) -> dict[str, Any]:
    """submitit ``SlurmExecutor`` parameters for ``resources`` (mem_gb -> ``--mem``, extra_sbatch lines)."""
    parameters: dict[str, Any] = {}
    additional = dict(resources.get("additional_parameters", {}))
    for line in resources.get("extra_sbatch", ()):
        name, _, value = line[2:].partition("=")
        additional[name.replace("-", "_")] = value if value else True
    for key, value in resources.items():
        if key in ("additional_parameters", "extra_sbatch"):
            continue
        if key == "mem_gb":
            parameters["mem"] = f"{int(value)}G" if float(value).is_integer() else f"{math.ceil(value * 1024)}M"
        else:
            parameters[_NATIVE_NAMES.get(key, key)] = value
    if additional:
        parameters["additional_parameters"] = additional
    return parameters


def slurm_executor(folder: Path, resources: Mapping[str, Any], dry_run: bool = False) -> Any:
    """A submitit ``SlurmExecutor`` writing to ``folder`` (``%j`` = job id) with ``resources``.

    ``dry_run``: an executor that renders scripts on a machine without Slurm (never submit with it).

    Raises:
        ConfigurationError: no ``srun`` here (not a Slurm login node), or submitit refuses a parameter.
    """
    from submitit.slurm.slurm import SlurmExecutor

    executor_class = _script_only_class() if dry_run else SlurmExecutor
    try:
        executor = executor_class(folder=folder)
        executor.update_parameters(**native_parameters(resources))
    except RuntimeError as error:
        raise ConfigurationError(f"executor cluster 'slurm': {error}; submit from a Slurm login node, try the "
                                 "experiment with 'cluster: local', or look at the scripts with --dry-run") from None
    except ValueError as error:
        raise ConfigurationError(f"executor.slurm: submitit refuses the resources {dict(resources)}: "
                                 f"{str(error).splitlines()[0]}") from None
    return executor


def _script_only_class() -> type:
    from submitit.slurm.slurm import SlurmExecutor

    class ScriptOnly(SlurmExecutor):
        """Renders sbatch scripts where no ``srun`` exists (dry runs)."""

        @classmethod
        def affinity(cls) -> int:
            return 2

    return ScriptOnly


def sbatch_script(executor: Any, array_size: int = 1) -> str:
    """The script ``sbatch`` gets from ``executor`` for one job (``array_size`` > 1: a job array)."""
    if array_size > 1:
        executor.parameters["map_count"] = array_size
    try:
        return str(executor._make_submission_file_text(executor._submitit_command_str, "dry-run"))
    finally:
        executor.parameters.pop("map_count", None)


@dataclass(frozen=True)
class SlurmJobState:
    """What Slurm says about one job: its state (``PENDING``, ``RUNNING``, ``CANCELLED``, ...), the reason it
    waits or ended (``Dependency``, ``NodeDown``, ``None``, ...) and its node(s)."""

    state: str
    reason: str = ""
    nodes: str = ""

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


def _run(command: Sequence[str]) -> str | None:
    """stdout of a Slurm client command, or None when it is missing or fails (no cluster, no accounting)."""
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.debug("%s: %s", command[0], error)
        return None
    if result.returncode != 0:
        logger.debug("%s failed: %s", " ".join(command), result.stderr.strip())
        return None
    return result.stdout


def query_jobs(job_ids: Iterable[str]) -> tuple[dict[str, SlurmJobState], bool]:
    """Slurm's state of each job id (``123`` or array task ``123_4``) that Slurm still knows, and whether a Slurm
    controller answered (``squeue``); ids it does not know ended longer ago than its ``MinJobAge``.

    ``squeue`` first (live jobs and those that ended recently); ``sacct`` for the others where the cluster
    keeps accounting.
    """
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}, False
    found: dict[str, SlurmJobState] = {}
    mains = sorted({job_id.split("_")[0] for job_id in wanted})
    output = _run(["squeue", "--noheader", "--states=all", f"--jobs={','.join(mains)}", "--format=%i|%T|%r|%N"])
    for line in (output or "").splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            found[parts[0]] = SlurmJobState(parts[1], parts[2], parts[3])
    for job_id in wanted:  # array tasks that have not started show as 123_[0-3]
        main = job_id.split("_")[0]
        if job_id not in found and "_" in job_id:
            pending = [state for key, state in found.items() if key.startswith(f"{main}_[")]
            if pending:
                found[job_id] = pending[0]
    missing = [job_id for job_id in wanted if job_id not in found]
    if missing:
        answer = _run(["sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(missing)}",
                       "--format=JobID,State,Reason,NodeList"])
        for line in (answer or "").splitlines():
            parts = line.strip().split("|")
            if len(parts) >= 3 and parts[0] in missing:
                found[parts[0]] = SlurmJobState(parts[1], parts[2] if len(parts) == 4 else "", parts[-1])
    return {job_id: found[job_id] for job_id in wanted if job_id in found}, output is not None


@dataclass(frozen=True)
class NodeProblem:
    """A node Slurm reports as down, drained, failing or not responding, and why."""

    node: str
    state: str
    reason: str

    def describe(self) -> str:
        """``down (reason)``; ``not responding`` for Slurm's ``*`` suffix (slurmd silent)."""
        state = self.state.rstrip("*~#!%$@^-")
        words = f"{state}, not responding" if self.state.endswith("*") else state
        return f"{words} ({self.reason})" if self.reason and self.reason != "none" else words


def unavailable_nodes() -> list[NodeProblem]:
    """Nodes that run no job now (``sinfo``); empty where there is no Slurm."""
    output = _run(["sinfo", "--noheader", "--Node", f"--states={NODE_DOWN_STATES}", "--format=%N|%T|%E"])
    problems = {}
    for line in (output or "").splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            problems[parts[0]] = NodeProblem(*parts)
    return list(problems.values())
