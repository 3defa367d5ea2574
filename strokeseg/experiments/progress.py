"""Progress lines of a run in this process (``[3/16] title ...``), as ``strokeseg demo`` prints them.

Numbers are the jobs' positions in the graph; durations come from the jobs' records (``state.json``), so a job
finished by an earlier run shows the time it took then. While a job runs an nnU-Net tool, an indented line per
finished training epoch (loss, pseudo-Dice, ETA) or predicted case follows its start line (``tool_output``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.state import DONE, LOG_FILE, failure_message, read_record
from strokeseg.nnunet.live_progress import NnunetProgress


class ProgressLines:
    """Writes one line per job event to ``stream``; does nothing when ``stream`` is None."""

    def __init__(self, graph: JobGraph, stream: TextIO | None) -> None:
        self.graph, self.stream = graph, stream
        self.numbers = {job_id: number for number, job_id in enumerate(graph.jobs, start=1)}

    def _line(self, job_id: str, text: str) -> None:
        if self.stream is not None:
            job = self.graph.jobs[job_id]
            print(f"[{self.numbers[job_id]}/{len(self.graph)}] {job.describe()}{text}", file=self.stream, flush=True)

    def _seconds(self, job_id: str) -> float:
        record = read_record(self.graph.job_folder(job_id))
        return record.seconds if record is not None else 0.0

    def tool_output(self, job_id: str) -> Callable[[str], None] | None:
        """A reader of the nnU-Net tool output of job ``job_id`` that prints its epochs and predicted cases, indented
        under the job's line (None when there is no stream)."""
        stream = self.stream
        if stream is None:
            return None
        status = NnunetProgress()

        def read(line: str) -> None:
            text = status.feed(line)
            if text is not None:
                print(f"    {job_id}: {text}", file=stream, flush=True)

        return read

    def skipped(self, job_id: str) -> None:
        self._line(job_id, f": done in an earlier run ({self._seconds(job_id):.0f} s), skipped")

    def started(self, job_id: str) -> None:
        self._line(job_id, f" ... (log: {self.graph.job_folder(job_id) / LOG_FILE})")

    def finished(self, job_id: str, state: str) -> None:
        if state == DONE:
            self._line(job_id, f": done in {self._seconds(job_id):.0f} s")
        else:
            self._line(job_id, f": {state.upper()} after {self._seconds(job_id):.0f} s: "
                               f"{failure_message(self.graph, job_id)}")

    def blocked(self, job_id: str) -> None:
        self._line(job_id, ": not started, a job it needs failed")
