"""Wall-clock and CPU time of work done in child processes (the stock tools and their workers), for the
benchmarks that race commands."""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def children_cpu_s() -> float:
    """User + system CPU seconds of every finished child process so far (their own children included once waited
    for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_commands(commands: Sequence[Sequence[str]], env: Mapping[str, str],
                   log: Path | None = None) -> tuple[float, float]:
    """Run ``commands`` one after another; (wall seconds, CPU seconds of the child processes). Output goes to
    ``log`` (appended) or is captured; a failing command stops the benchmark with its output's end."""
    cpu, start = children_cpu_s(), time.perf_counter()
    for command in commands:
        if log is None:
            completed = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
        else:
            with log.open("a") as stream:
                completed = subprocess.run(command, env=dict(env), stdout=stream, stderr=subprocess.STDOUT,
                                           check=False)
        if completed.returncode != 0:
            output = completed.stdout + completed.stderr if log is None else log.read_text(errors="replace")
            raise SystemExit(f"{' '.join(command)} failed ({completed.returncode}):\n{output[-3000:]}")
    return time.perf_counter() - start, children_cpu_s() - cpu
