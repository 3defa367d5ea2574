"""The demo's ``evaluate-internal`` job (5 models × 9 cases, every stratification, the demo's bootstrap) with 1 and
with N worker processes, on a finished demo folder.

With ``-j N`` ``strokeseg evaluate`` computes the per-case metrics in N processes and then writes the report's
independent parts (the tables of tests, each stratum table, the regressions, each figure) in N processes too.
Runs alternate, best of ``--repeats``. Printed: wall-clock seconds of each, the ratio 1 process / N processes, and
whether every table and figure is byte-identical. Needs a finished demo folder::

    .venv/bin/python benchmarks/bench_demo.py --keep /tmp/demo_bench        # once (about 13 minutes)
    .venv/bin/python benchmarks/bench_demo_evaluation.py --demo /tmp/demo_bench --repeats 2
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from finished_demo import demo_parser, finished_demo

from strokeseg.experiments.recipes.demo.recipe import build_demo_graph, run_settings
from strokeseg.experiments.steps import EvaluateStep, RunContext

JOB = "evaluate-internal"


def main() -> None:
    args = demo_parser(__doc__.split("\n\n")[0], "processes of the parallel run (default 2)").parse_args()
    study = finished_demo(args.demo)
    step = build_demo_graph(study).jobs[JOB].step
    assert isinstance(step, EvaluateStep)
    best: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_demo_evaluation_") as folder:
        outputs = {jobs: Path(folder) / f"j{jobs}" for jobs in (1, args.workers)}
        for _ in range(args.repeats):
            for jobs, output in outputs.items():
                timed = dataclasses.replace(step, output=output,
                                            settings=dataclasses.replace(step.settings, jobs=jobs))
                context = RunContext(run_settings(study, "cpu", jobs).nnunet, Path(folder) / "log.txt")
                started = time.perf_counter()
                timed.run(context)
                best[jobs] = min(best.get(jobs, float("inf")), time.perf_counter() - started)
        serial, parallel = outputs.values()
        names = sorted(path.name for path in serial.iterdir() if path.suffix in (".csv", ".png"))
        same = names == sorted(path.name for path in parallel.iterdir() if path.suffix in (".csv", ".png")) and all(
            (serial / name).read_bytes() == (parallel / name).read_bytes() for name in names)
    print(f"{JOB} of the {study.profile.name} demo in {args.demo}: {len(names)} tables and figures, best of "
          f"{args.repeats}")
    for jobs, seconds in best.items():
        print(f"-j {jobs:<3} {seconds:7.1f} s")
    print(f"1 process / {args.workers} processes: {best[1] / best[args.workers]:.2f}x")
    print(f"same tables and figures: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
