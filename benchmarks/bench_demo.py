"""Wall-clock time of ``strokeseg demo`` from an empty folder, per job, against the 15-minute budget.

Target (issue 10): the default profile (``cpu-small``) finishes in under 15 minutes on 2 CPU cores, and the
trained model's internal-test mean DSC is reported (aim: >= 0.6). The demo runs as a user runs it (the
``strokeseg`` console script beside this Python, a new output folder); the per-job seconds come from the
demo's job records (``jobs/<job>/state.json``). The comparison printed is the ratio of the measured time to the
budget, and the share of every job, so a regression shows where the time went. Usage::

    .venv/bin/python benchmarks/bench_demo.py                     # cpu-small into a temporary folder
    .venv/bin/python benchmarks/bench_demo.py --profile smoke --keep demo_bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The issue's budget for the default profile on 2 CPU cores, seconds.
BUDGET_S = 15 * 60
#: The issue's aim for the internal-test mean DSC of the default profile.
DICE_AIM = 0.6


def run(profile: str, out: Path) -> float:
    """Run the demo into ``out`` (must not exist); returns the wall-clock seconds."""
    command = [str(Path(sys.executable).parent / "strokeseg"), "demo", "--profile", profile, "--out", str(out)]
    start = time.perf_counter()
    completed = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        print(completed.stdout[-4000:])
        raise SystemExit(f"strokeseg demo failed with exit code {completed.returncode}")
    return seconds


def job_seconds(out: Path) -> list[tuple[str, float]]:
    """(job, seconds) in the order the jobs finished."""
    records = sorted((out / "jobs").glob("*/state.json"), key=lambda path: path.stat().st_mtime)
    return [(record.parent.name, float(json.loads(record.read_text())["seconds"])) for record in records]


def internal_dice(out: Path) -> float:
    """Mean DSC of the post-processed source model on the internal test set (from the evaluation report)."""
    summary = json.loads((out / "evaluation" / "internal_test" / "summary.json").read_text())
    return float(summary["models"]["source"]["overall"]["dice"]["mean"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu-small", help="demo profile (default: %(default)s)")
    parser.add_argument("--keep", type=Path, default=None, help="write the demo here and keep it (must not exist)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strokeseg-bench-demo-") as scratch:
        out = args.keep if args.keep is not None else Path(scratch) / "demo_output"
        if out.exists():
            raise SystemExit(f"{out} exists; the benchmark times a run from an empty folder")
        load = os.getloadavg()[0]
        seconds = run(args.profile, out)
        jobs = job_seconds(out)
        dice = internal_dice(out)
    print(f"strokeseg demo --profile {args.profile}: {os.cpu_count()} CPU(s), load average {load:.1f} at start")
    print(f"{'job':<20} {'seconds':>8} {'share':>7}")
    for name, value in jobs:
        print(f"{name:<20} {value:8.1f} {value / seconds:7.1%}")
    print(f"{'total (wall clock)':<20} {seconds:8.1f}")
    print(f"budget {BUDGET_S} s: measured / budget = {seconds / BUDGET_S:.2f} "
          f"({'within' if seconds <= BUDGET_S else 'OVER'} the budget)")
    print(f"internal-test mean DSC {dice:.3f} (aim >= {DICE_AIM}: {'met' if dice >= DICE_AIM else 'NOT met'})")


if __name__ == "__main__":
    main()
