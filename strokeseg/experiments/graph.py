"""The shared step graph: jobs (a step, the jobs it needs, whether it uses a GPU) in dependency order.

A recipe (``strokeseg.experiments.recipes``) fills a :class:`JobGraph`; an executor runs it. Folder layout of
a study's output folder::

    jobs/<job id>/state.json, log.txt      one folder per job (``/`` in ids becomes ``__``)
    predictions/<model>/<test set>/        nnUNetv2_predict output
    evaluation/<test set>/                 strokeseg evaluate report of every model on that test set
    finetune_results/...                   nnUNet_results of fine-tuned models
    results/                               the study's tables (CSV), figures (PNG) and summary.md
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from strokeseg.experiments.steps import Step

#: Folder names inside a study's output folder.
JOBS_FOLDER, PREDICTIONS_FOLDER, EVALUATION_FOLDER = "jobs", "predictions", "evaluation"
FINETUNE_FOLDER, RESULTS_FOLDER = "finetune_results", "results"
#: submitit's own files (pickled jobs, stdout/stderr) of parallel and Slurm runs.
SUBMITIT_FOLDER = "submitit"


@dataclass(frozen=True)
class Job:
    """One unit of work.

    Attributes:
        needs: ids of the jobs that must have finished first.
        gpu: the step uses an accelerator (training, prediction).
        title: what the job does, for progress lines (the id when empty); not part of the signature.
    """

    id: str
    step: Step
    needs: tuple[str, ...] = ()
    gpu: bool = False
    title: str = ""

    def signature(self) -> str:
        """Hash of everything the step does: a changed configuration gives a different signature."""
        return hashlib.sha1(repr(self.step).encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        return self.title or self.id


def job_folder(output: Path, job_id: str) -> Path:
    """The folder of job ``job_id`` in the output folder ``output``."""
    return output / JOBS_FOLDER / job_id.replace("/", "__")


@dataclass
class JobGraph:
    """Jobs in an order where every job comes after the jobs it needs."""

    output: Path
    jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, job_id: str, step: Step, needs: tuple[str, ...] = (), gpu: bool = False, title: str = "") -> str:
        unknown = [need for need in needs if need not in self.jobs]
        if job_id in self.jobs or unknown:
            raise ValueError(f"job {job_id!r}: duplicate id or unknown dependencies {unknown}")
        self.jobs[job_id] = Job(job_id, step, tuple(needs), gpu, title)
        return job_id

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs.values())

    def __len__(self) -> int:
        return len(self.jobs)

    def job_folder(self, job_id: str) -> Path:
        return job_folder(self.output, job_id)

    def dependents(self, job_id: str) -> list[str]:
        """Every job that needs ``job_id``, directly or indirectly."""
        found: list[str] = []
        for job in self.jobs.values():
            if any(need == job_id or need in found for need in job.needs):
                found.append(job.id)
        return found


def safe_name(text: str) -> str:
    """``text`` usable as a folder and model name (characters outside [A-Za-z0-9_.+-] become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "x"
