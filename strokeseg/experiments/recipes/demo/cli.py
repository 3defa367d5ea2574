"""``strokeseg demo``: run the whole pipeline on a built-in multi-site phantom registry.

Generates a phantom registry of three hospitals (three vendors; HospitalC is held out as the external site),
converts it with the registry converter, writes the study's splits, plans and preprocesses with StrokeDWIPlanner,
trains zoom-in & out on the internal hospitals, predicts the internal and the external test sets, fits and
applies post-processing, fine-tunes on a small external adaptation subsample, evaluates before and after with
strata by infarct volume, onset-to-imaging time, location and vendor, and writes SUMMARY.md with the tables and
plots. Every nnU-Net step runs through the stock nnUNetv2_* tools. A rerun resumes after the last finished
job; --overwrite starts over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from strokeseg.errors import ConfigurationError
from strokeseg.experiments.recipes.demo.profiles import DEFAULT_PROFILE, PROFILES
from strokeseg.experiments.recipes.demo.recipe import run_demo
from strokeseg.experiments.recipes.demo.summary import SUMMARY_FILE, headline


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg demo`` to the CLI."""
    parser = subparsers.add_parser("demo", help="run the whole pipeline on a built-in multi-site phantom registry",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: %(default)s)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                        help="study size and schedule: " + "; ".join(f"{p.name}: {p.description}"
                                                                     for p in PROFILES.values())
                        + " (default: %(default)s)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="device for training, prediction and evaluation (default: cuda when available, "
                             "else cpu)")
    parser.add_argument("-j", "--workers", type=int, default=None,
                        help="worker processes for generation, conversion, preprocessing, prediction and "
                             "evaluation (default: the usable CPU cores, at most 8)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an earlier demo run in --out and start over")
    parser.set_defaults(func=_cli_demo)


def _cli_demo(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ConfigurationError(f"-j/--workers must be at least 1, got {args.workers}")
    run_demo(args.out, args.profile, args.device or "auto", args.workers, args.overwrite, stream=sys.stdout)
    print()
    print(headline(args.out))
    print(f"\nfull report: {args.out / SUMMARY_FILE}")
    return 0
