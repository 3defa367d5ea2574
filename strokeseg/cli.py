"""The ``strokeseg`` command: one entry point whose subcommands mirror the package's parts.

Each module in ``COMMAND_MODULES`` defines ``register(subparsers)``, which adds its subcommand(s) and sets
``func`` (a callable taking the parsed arguments and returning an exit code) as the parser default. Those
modules are light (options shared by several commands come from ``strokeseg.cli_options``); each handler imports
what it needs, so that ``strokeseg --help`` and ``strokeseg <command> --help`` start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from strokeseg import __version__
from strokeseg.cli_options import COMMAND_PARSER, HelpFormatter, add_subcommands
from strokeseg.errors import StrokesegError

#: Modules that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "strokeseg.nnunet.cli",
    "strokeseg.experiments.recipes.demo.cli",
    "strokeseg.dataset_conversion.cli",
    "strokeseg.splits.cli",
    "strokeseg.preprocessing.cli",
    "strokeseg.synthetic.cli",
    "strokeseg.location.cli",
    "strokeseg.evaluation.cli",
    "strokeseg.postprocessing.cli",
    "strokeseg.predict.cli",
    "strokeseg.experiments.cli",
)

logger = logging.getLogger("strokeseg")


def build_parser() -> argparse.ArgumentParser:
    """The complete argument parser (all subcommands registered)."""
    parser = argparse.ArgumentParser(
        prog="strokeseg", formatter_class=HelpFormatter,
        description="Stroke-lesion segmentation research pipelines on nnU-Net v2: convert cohorts, plan/train/"
                    "predict with the stock nnUNetv2_* tools and strokeseg's planners and trainers, post-process, "
                    "evaluate and run whole experiments.",
        epilog="'strokeseg COMMAND --help' shows a command's options. Every command spells shared options the same "
               "way (-j/--workers, -o/--out, -ref/--references, -pred/--predictions, --overwrite, ...); docs/cli.md "
               "lists them.")
    parser.add_argument("--version", action="version", version=f"strokeseg {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    subparsers = add_subcommands(parser, "command", "COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line; an argument the chosen (sub-)command does not know is reported by that command,
    with its usage line (argparse alone would show the top-level usage). Exits with code 2 on invalid input."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command_parser = vars(args).pop(COMMAND_PARSER, parser)
    if unknown:
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Send strokeseg's log records to stderr at the chosen level."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code. Expected errors are printed without a traceback."""
    args = parse_arguments(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except StrokesegError as error:
        print(f"strokeseg {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
