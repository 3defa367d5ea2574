"""``strokeseg experiment run|status CONFIG.yaml``: a whole study from one file (docs/experiments.md)."""

from __future__ import annotations

import argparse
import logging
import sys

from strokeseg.cli_options import add_command, add_overwrite, add_subcommands

logger = logging.getLogger(__name__)

#: Exit code of ``run`` when some job failed or could not start (the others ran).
EXIT_JOBS_FAILED = 3

DESCRIPTION = """\
Derive splits, plans and a job graph (train -> predict -> evaluate) from an experiment file, run it locally or on
Slurm through submitit, and aggregate the papers' tables and figures. See docs/experiments.md.

A rerun resumes: jobs that finished with the same configuration are kept. Jobs that finished with another
configuration are only run again (replacing their outputs) with --overwrite.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg experiment``."""
    parser = add_command(subparsers, "experiment", "run a study (learning curve, domain adaptation, vendor transfer, "
                                                   "zoom ablation, ensemble) from a YAML file, locally or on Slurm",
                         DESCRIPTION)
    actions = add_subcommands(parser, "action", "ACTION")
    run = add_command(actions, "run", "run (or continue) every job that is not done")
    run.add_argument("config", help="experiment file (YAML)")
    add_overwrite(run, "the outputs of jobs that finished with another configuration (they run again)")
    run.add_argument("--dry-run", action="store_true",
                     help="run and submit nothing: print the sbatch scripts a Slurm run would submit (a local run: "
                          "the jobs it would run)")
    run.set_defaults(func=_run)
    status = add_command(actions, "status", "show which jobs are done, submitted, running, failed")
    status.add_argument("config", help="experiment file (YAML)")
    status.add_argument("--all", action="store_true", help="list every job, not only those that are not done")
    status.set_defaults(func=_status)


def _run(args: argparse.Namespace) -> int:
    from strokeseg.experiments.config import load_config
    from strokeseg.experiments.executors import run_graph
    from strokeseg.experiments.graph import RESULTS_FOLDER
    from strokeseg.experiments.recipes import build_graph
    from strokeseg.experiments.state import failure_message

    config = load_config(args.config)
    graph = build_graph(config)
    if args.dry_run:
        run_graph(graph, config, overwrite=args.overwrite, dry_run=sys.stdout)
        return 0
    report = run_graph(graph, config, overwrite=args.overwrite)
    print(f"experiment {config.name}: {len(graph)} job(s); started {len(report.started)}, skipped "
          f"{len(report.skipped)} (done)")
    _print_counts(report.states)
    for job_id in report.failed:
        print(f"  FAILED  {job_id}: {failure_message(graph, job_id)}")
    for job_id in report.blocked:
        print(f"  BLOCKED {job_id}: a job it needs failed")
    if report.states.get("aggregate") == "done":
        print(f"results: {config.output / RESULTS_FOLDER / 'summary.md'}")
    return EXIT_JOBS_FAILED if report.failed or report.blocked else 0


def _status(args: argparse.Namespace) -> int:
    from strokeseg.experiments.config import load_config
    from strokeseg.experiments.recipes import build_graph
    from strokeseg.experiments.state import status_lines
    from strokeseg.experiments.steps import RunContext

    config = load_config(args.config)
    graph = build_graph(config)
    print(f"experiment {config.name} ({config.kind}) in {config.output}")
    for line in status_lines(graph, RunContext(config.nnunet, graph.output / "experiment.log"), args.all):
        print(line)
    return 0


def _print_counts(states: dict[str, str]) -> None:
    from strokeseg.experiments.state import count_states

    print("  " + ", ".join(f"{state}: {count}" for state, count in count_states(states).items()))
