"""CLI start-up: wall time of ``strokeseg --help`` and of every ``strokeseg <command> --help`` (target <= 1 s on
2 cores).

Peer measured in the same run: ``python -c "import numpy"`` with the same interpreter, the floor of any
scientific Python command; each command's median is printed beside it and as a ratio to it.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from strokeseg.cli import build_parser

TARGET_S = 1.0


def command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every (sub-)command of the CLI, the top level first."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from command_paths(subparser, (*path, name))


def median_wall_s(command: Sequence[str], runs: int) -> float:
    """Median wall time (s) of ``command`` over ``runs`` runs, after one untimed run (warm file cache)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default: %(default)s)")
    args = parser.parse_args()
    strokeseg = str(Path(sys.executable).parent / "strokeseg")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {platform.processor() or platform.machine()}, {cores} usable core(s), Python "
          f"{platform.python_version()}; median of {args.runs} runs")
    numpy_s = median_wall_s([sys.executable, "-c", "import numpy"], args.runs)
    print(f"peer: python -c 'import numpy'  {numpy_s:.3f} s\n")
    print(f"{'command':<40} {'median s':>9} {'x numpy':>8}  target <= {TARGET_S:g} s")
    worst = 0.0
    for path in command_paths(build_parser()):
        seconds = median_wall_s([strokeseg, *path, "--help"], args.runs)
        worst = max(worst, seconds)
        label = " ".join(("strokeseg", *path, "--help"))
        print(f"{label:<40} {seconds:>9.3f} {seconds / numpy_s:>8.2f}  {'ok' if seconds <= TARGET_S else 'SLOW'}")
    verdict = "met" if worst <= TARGET_S else "MISSED"
    print(f"\nslowest: {worst:.3f} s ({worst / numpy_s:.2f} x numpy); target {verdict}")


if __name__ == "__main__":
    main()
