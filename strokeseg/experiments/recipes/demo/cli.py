"""``strokeseg demo``: run the whole pipeline on a built-in multi-site phantom registry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from strokeseg.cli_options import add_command, add_device, add_out, add_overwrite, add_workers
from strokeseg.experiments.recipes.demo.profiles import DEFAULT_PROFILE, PROFILES

DESCRIPTION = """\
Noh et al.'s registry DWI study in miniature, as a positive control. Generate a phantom registry of three
hospitals with a built-in vendor shift (the shifted site set; ShiftC is held out as the external site), convert
it with the registry converter, write the study's splits, plan and preprocess with StrokeDWIPlanner, train the
registry study's model (Noh2023, a CPU-sized schedule) on the internal hospitals, predict the internal and the
external test sets, fit and apply post-processing, fine-tune on a small external adaptation subsample and, as
the control arm, train the source model for the same steps on its own data; evaluate with strata by infarct
volume, onset-to-imaging time, location and vendor, check the findings (vendor gap, adaptation vs control, small
infarcts lowest, post-processing never lowers DSC; with --profile findings the learning curve) and write
findings.json and SUMMARY.md. Every nnU-Net step runs through the stock nnUNetv2_* tools; training prints every
epoch (loss, pseudo-Dice, ETA).

A rerun resumes: finished jobs are kept. A demo made with another profile is only replaced with --overwrite.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg demo`` to the CLI."""
    parser = add_command(subparsers, "demo", "run the whole pipeline on a built-in multi-site phantom registry",
                         DESCRIPTION)
    add_out(parser, "output folder (default: %(default)s)", default=Path("demo_output"))
    parser.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                        help="study size and schedule: " + "; ".join(f"{p.name}: {p.description}".replace("%", "%%")
                                                                     for p in PROFILES.values())
                        + " (default: %(default)s)")
    add_device(parser, "training, prediction and evaluation")
    add_workers(parser, default=None, default_text="the usable CPU cores, at most 8")
    add_overwrite(parser, "an earlier demo run in --out made with another profile (it is deleted first)")
    parser.set_defaults(func=_cli_demo)


def _cli_demo(args: argparse.Namespace) -> int:
    from strokeseg.experiments.recipes.demo.recipe import run_demo
    from strokeseg.experiments.recipes.demo.summary import SUMMARY_FILE, headline

    run_demo(args.out, args.profile, args.device, args.workers, args.overwrite, stream=sys.stdout)
    print()
    print(headline(args.out))
    print(f"\nfull report: {args.out / SUMMARY_FILE}")
    return 0
