"""``strokeseg demo``: run the whole pipeline on a built-in multi-site phantom registry.

Generates a phantom registry of three hospitals (three vendors; HospitalC is held out as the external site),
converts it with the registry converter, writes the study's splits, plans and preprocesses with StrokeDWIPlanner,
trains zoom-in & out on the internal hospitals, predicts the internal and the external test sets, fits and
applies post-processing, fine-tunes on a small external adaptation subsample, evaluates before and after with
strata by infarct volume, onset-to-imaging time, location and vendor, and writes SUMMARY.md with the tables and
plots. Every nnU-Net step runs through the stock nnUNetv2_* tools. A rerun resumes after the last finished
stage; --overwrite starts over.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from strokeseg.demo.layout import DemoRun, default_workers
from strokeseg.demo.pipeline import build_stages
from strokeseg.demo.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from strokeseg.demo.stages import StageRecord, prepare_folder, run_stages
from strokeseg.demo.summary import headline
from strokeseg.device import resolve_device
from strokeseg.errors import ConfigurationError

logger = logging.getLogger(__name__)


def run_demo(out: Path, profile_name: str = DEFAULT_PROFILE, device: str | None = None, workers: int | None = None,
             overwrite: bool = False) -> list[StageRecord]:
    """Run (or resume) the demo into ``out``; returns one record per stage.

    Args:
        out: the demo folder (created; an earlier demo run there is resumed).
        profile_name: ``smoke``, ``cpu-small`` or ``gpu`` (see ``strokeseg.demo.profiles``).
        device: ``cpu`` or ``cuda``; None: CUDA when torch sees a GPU, else the CPU.
        workers: processes for generation, conversion, preprocessing and prediction (default: usable cores, ≤ 8).
        overwrite: delete an earlier demo run in ``out`` first (a folder not written by the demo is never deleted).

    Raises:
        OutputExistsError: ``out`` holds other data, or a demo run with other settings.
    """
    profile = get_profile(profile_name)
    device = resolve_device(device or "auto")
    run = DemoRun(Path(out), profile, device, workers or default_workers())
    # the device and the number of workers do not change results that matter; the profile does
    prepare_folder(run.out, {"profile": profile.as_dict()}, overwrite)
    logger.info("demo profile %s on %s with %d worker(s) in %s", profile.name, device, run.workers, run.out)
    return run_stages(run.out, build_stages(run))


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
                        help="device for training and prediction (default: cuda when available, else cpu)")
    parser.add_argument("-j", "--workers", type=int, default=None,
                        help="worker processes for generation, conversion, preprocessing and prediction "
                             "(default: the usable CPU cores, at most 8)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an earlier demo run in --out and start over")
    parser.set_defaults(func=_cli_demo)


def _cli_demo(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ConfigurationError(f"-j/--workers must be at least 1, got {args.workers}")
    run_demo(args.out, args.profile, args.device, args.workers, args.overwrite)
    print()
    print(headline(args.out))
    print(f"\nfull report: {args.out / 'SUMMARY.md'}", file=sys.stdout)
    return 0
