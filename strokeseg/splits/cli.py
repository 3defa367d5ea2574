"""``strokeseg split <design> -d DATASET ...``: the papers' study designs -> splits_final.json / derived datasets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from strokeseg.cli_options import (
    add_command,
    add_dataset,
    add_nnunet_folder,
    add_overwrite,
    add_seed,
    add_subcommands,
    positive_int,
)
from strokeseg.defaults import (
    DOMAIN_ADAPTATION_SIZES,
    DOMAIN_ADAPTATION_TEST_FRACTION,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_SUBSET_FRACTION,
    LEARNING_CURVE_FRACTIONS,
    TOMITA_SPLIT_COUNTS,
    TRAIN_FRACTION,
    VENDOR_SPLIT_FRACTIONS,
)
from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.folders import PREPROCESSED, RAW
from strokeseg.splits.choices import LINK_MODES, STRATIFY_BY

if TYPE_CHECKING:
    from strokeseg.splits import WrittenSplits


DESCRIPTION = """\
Deterministic, stratified (site x lesion-volume stratum) splits of a converted dataset's training cases: learning
curve, domain adaptation, vendor, single site, deep ensemble. See docs/splits.md.

A splits_final.json holding other splits, and an existing derived dataset, are only replaced with --overwrite
(the same splits again are not an error).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg split`` (one sub-command per design)."""
    parser = add_command(subparsers, "split", "write the papers' study designs as nnU-Net splits_final.json or "
                                              "derived datasets", DESCRIPTION)
    designs = add_subcommands(parser, "design", "DESIGN")
    curve = _design_parser(designs, "learning-curve", "nested subsamples, each 8:2 train/val; fold k = fraction k")
    subsamples = curve.add_mutually_exclusive_group()
    subsamples.add_argument("--fractions", default=_listing(LEARNING_CURVE_FRACTIONS),
                            help="comma-separated fractions of the training cases, sizes rounded half to even "
                                 "(default: %(default)s)")
    subsamples.add_argument("--sizes", default=None,
                            help="comma-separated subsample sizes (numbers of cases) instead of fractions")
    curve.add_argument("--draws", type=positive_int, default=1,
                       help="independent draws of every subsample smaller than all cases, one fold each (draw k "
                            "uses seed + k - 1; default: %(default)s)")
    _add_train_fraction(curve)
    adaptation = _design_parser(designs, "domain-adaptation",
                                "test pool + nested adaptation subsamples of an external cohort (derived dataset)",
                                derived_required=True)
    adaptation.add_argument("--sizes", default=_listing(DOMAIN_ADAPTATION_SIZES),
                            help="comma-separated subsample sizes (default: %(default)s)")
    pool = adaptation.add_mutually_exclusive_group()
    pool.add_argument("--test-fraction", type=float, default=DOMAIN_ADAPTATION_TEST_FRACTION,
                      help="fraction held out as the test pool (default: %(default)s)")
    pool.add_argument("--test-size", type=int, default=None, help="number of cases held out as the test pool")
    adaptation.add_argument("--pool-size", type=int, default=None,
                            help="number of cases in the adaptation pool (default: every case not in the test pool)")
    _add_train_fraction(adaptation)
    vendor = _design_parser(designs, "vendor", "one derived dataset per vendor, each 80/10/10 train/val/test",
                            derived=False)
    vendor.add_argument("--groups", nargs="+", required=True, metavar="GROUP:ID[:NAME]",
                        help="e.g. Siemens:601 GE:602 (dataset name defaults to <source>_<group>)")
    vendor.add_argument("--column", default="vendor", help="cases.csv column to split by (default: %(default)s)")
    vendor.add_argument("--fractions", default=_listing(VENDOR_SPLIT_FRACTIONS),
                        help="train,val,test fractions (default: %(default)s)")
    site = _design_parser(designs, "site", "one site's cases, 8:2 train/val (derived dataset)", derived_required=True)
    site.add_argument("--site", required=True, help="the site (cases.csv 'site' value)")
    _add_train_fraction(site)
    counts = _design_parser(designs, "train-dev-test", "train/dev/test parts of given case counts (Tomita: "
                                                       "182/26/31); one fold plus test cases (derived dataset)",
                            derived_required=True)
    counts.add_argument("--counts", default=_listing(TOMITA_SPLIT_COUNTS),
                        help="train,dev,test case counts, rescaled for a cohort of another size (default: "
                             "%(default)s)")
    ensemble = _design_parser(designs, "ensemble", "K members on 90 %% subsets; fold k = member k")
    ensemble.add_argument("--members", type=int, default=ENSEMBLE_MEMBERS, help="ensemble size (default: %(default)s)")
    ensemble.add_argument("--subset-fraction", type=float, default=ENSEMBLE_SUBSET_FRACTION,
                          help="fraction of the training cases each member trains on (default: %(default)s)")


def _design_parser(designs: argparse._SubParsersAction, name: str, what: str, derived: bool = True,
                   derived_required: bool = False) -> argparse.ArgumentParser:
    parser = add_command(designs, name, what)
    add_dataset(parser, "source dataset: ID or folder name in the nnU-Net raw folder")
    add_nnunet_folder(parser, RAW, "nnU-Net raw folder")
    add_nnunet_folder(parser, PREPROCESSED, "nnU-Net preprocessed folder; an existing dataset folder there gets the "
                                            "splits too")
    add_seed(parser, "the split")
    parser.add_argument("--stratify-by", default=",".join(STRATIFY_BY),
                        help="comma-separated cases.csv columns to stratify by; volume_stratum is derived from "
                             "lesion_volume_ml (default: %(default)s; empty: none)")
    add_overwrite(parser, "a splits_final.json holding other splits, or an existing derived dataset")
    if derived:
        parser.add_argument("--derived-id", type=int, required=derived_required, default=None,
                            help="write a derived dataset with this id (files linked from the source)"
                                 + ("" if derived_required else "; default: splits_final.json in the source"))
        parser.add_argument("--derived-name", default=None, help="name of the derived dataset")
    parser.add_argument("--link", choices=LINK_MODES, default="symlink",
                        help="how a derived dataset reuses the source files (default: %(default)s)")
    parser.set_defaults(func=_cli_split)
    return parser


def _add_train_fraction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-fraction", type=float, default=TRAIN_FRACTION,
                        help="training share of every subsample, the rest validates (default: %(default)s)")


def _listing(values: tuple[float, ...] | tuple[int, ...]) -> str:
    return ",".join(f"{value:g}" for value in values)


def _numbers(text: str, kind: type = float) -> list[Any]:
    try:
        return [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ConfigurationError(f"{text!r} is not a comma-separated list of {kind.__name__} values") from None


def _groups(specs: list[str]) -> list[tuple[str, int, str | None]]:
    targets = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].isdigit():
            raise ConfigurationError(f"group {spec!r} must read GROUP:DATASET_ID or GROUP:DATASET_ID:NAME")
        targets.append((parts[0], int(parts[1]), parts[2] if len(parts) == 3 and parts[2] else None))
    return targets


def _cli_split(args: argparse.Namespace) -> int:
    from strokeseg.nnunet.folders import environment_folder, optional_environment_folder
    from strokeseg.splits import split_dataset

    raw = environment_folder(RAW, args.raw, "--raw")
    preprocessed = optional_environment_folder(PREPROCESSED, args.preprocessed)
    stratify_by = tuple(item.strip() for item in args.stratify_by.split(",") if item.strip())
    common: dict[str, Any] = {"link": args.link, "overwrite": args.overwrite, "preprocessed_root": preprocessed,
                              "seed": args.seed, "stratify_by": stratify_by}
    written: list[WrittenSplits] = []
    if args.design == "vendor":
        for group, dataset_id, name in _groups(args.groups):
            written.append(split_dataset(raw, args.dataset, "vendor", derived_id=dataset_id, derived_name=name,
                                         group=group, column=args.column, fractions=_numbers(args.fractions), **common))
    else:
        options: dict[str, Any] = {"derived_id": args.derived_id, "derived_name": args.derived_name}
        if args.design == "learning-curve":
            options.update(fractions=_numbers(args.fractions), train_fraction=args.train_fraction,
                           sizes=_numbers(args.sizes, int) if args.sizes else None, draws=args.draws)
        elif args.design == "domain-adaptation":
            options.update(sizes=_numbers(args.sizes, int), test_fraction=args.test_fraction, test_size=args.test_size,
                           pool_size=args.pool_size, train_fraction=args.train_fraction)
        elif args.design == "site":
            options.update(site=args.site, train_fraction=args.train_fraction)
        elif args.design == "train-dev-test":
            options.update(counts=_numbers(args.counts, int))
        else:
            options.update(members=args.members, subset_fraction=args.subset_fraction)
        written.append(split_dataset(raw, args.dataset, args.design, **options, **common))
    for result in written:
        sizes = ", ".join(f"{fold.name}: {len(fold.train)}/{len(fold.val)}" for fold in result.plan.folds)
        test = f"; {len(result.plan.test)} test case(s) in imagesTs" if result.plan.test else ""
        print(f"{result.splits_file}: {len(result.plan.folds)} fold(s) (train/val {sizes}){test}")
    return 0
