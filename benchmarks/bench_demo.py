"""Wall-clock time of ``strokeseg demo`` from an empty folder, per stage (job), against the profile's budget.

Targets (issue 22): the default profile (``cpu-small``) finishes in at most 12 minutes on an idle 2-core machine,
``--profile findings`` in at most 45; every finding of ``findings.json`` holds on the default seed. The demo runs
as a user runs it (the ``strokeseg`` console script beside this Python, a new output folder); the per-job seconds
come from the demo's job records (``jobs/<job>/state.json``). The comparison printed is the ratio of the measured
time to the budget, and the share of every job, so a regression shows where the time went; the load average at
the start says whether the machine was idle. Usage::

    .venv/bin/python benchmarks/bench_demo.py                     # cpu-small into a temporary folder
    .venv/bin/python benchmarks/bench_demo.py --profile smoke --keep demo_bench
    .venv/bin/python benchmarks/bench_demo.py --existing demo_output   # the stages of a finished run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The issue's budgets on an idle 2-core machine, seconds, by profile (others: the default profile's).
BUDGETS_S = {"cpu-small": 12 * 60, "findings": 45 * 60}
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


def findings(out: Path) -> list[tuple[str, bool, str]]:
    """(name, holds, explanation) of every finding in the run's findings.json."""
    entries = json.loads((out / "findings.json").read_text())["findings"]
    return [(entry["name"], bool(entry["holds"]), entry["explanation"]) for entry in entries]


def report(out: Path, profile: str, seconds: float, load: float) -> None:
    """Print the stages, the total against the budget, the internal DSC and the findings."""
    budget = BUDGETS_S.get(profile, BUDGETS_S["cpu-small"])
    jobs = job_seconds(out)
    dice = internal_dice(out)
    print(f"strokeseg demo --profile {profile}: {os.cpu_count()} CPU(s), load average {load:.1f} at start")
    print(f"{'job':<22} {'seconds':>8} {'share':>7}")
    for name, value in jobs:
        print(f"{name:<22} {value:8.1f} {value / seconds:7.1%}")
    print(f"{'total':<22} {seconds:8.1f}")
    print(f"budget {budget} s: measured / budget = {seconds / budget:.2f} "
          f"({'within' if seconds <= budget else 'OVER'} the budget)")
    print(f"internal-test mean DSC {dice:.3f} (aim >= {DICE_AIM}: {'met' if dice >= DICE_AIM else 'NOT met'})")
    for name, holds, why in findings(out):
        print(f"finding {name:<30} {'holds' if holds else 'DOES NOT HOLD'}: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu-small", help="demo profile (default: %(default)s)")
    parser.add_argument("--keep", type=Path, default=None, help="write the demo here and keep it (must not exist)")
    parser.add_argument("--existing", type=Path, default=None,
                        help="report a finished demo folder instead (total = the sum of its jobs' seconds)")
    args = parser.parse_args()
    if args.existing is not None:
        marker = json.loads((args.existing / ".strokeseg_demo.json").read_text())
        jobs = job_seconds(args.existing)
        report(args.existing, marker["settings"]["profile"]["name"], sum(value for _, value in jobs), math.nan)
        return
    with tempfile.TemporaryDirectory(prefix="strokeseg-bench-demo-") as scratch:
        out = args.keep if args.keep is not None else Path(scratch) / "demo_output"
        if out.exists():
            raise SystemExit(f"{out} exists; the benchmark times a run from an empty folder")
        load = os.getloadavg()[0]
        seconds = run(args.profile, out)
        report(out, args.profile, seconds, load)


if __name__ == "__main__":
    main()
