"""``strokeseg convert <cohort> SRC ...`` (cohort on disk -> nnU-Net raw dataset + cases.csv + report) and
``strokeseg split <design> -d DATASET ...`` (the papers' study designs -> splits_final.json / derived datasets)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from strokeseg.dataset_conversion.atlas import RELEASES
from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.convert import convert, dry_run
from strokeseg.dataset_conversion.split_datasets import LINK_MODES, WrittenSplits, split_dataset
from strokeseg.dataset_conversion.splits import STRATIFY_BY
from strokeseg.defaults import (
    DEFAULT_SEED,
    DOMAIN_ADAPTATION_SIZES,
    DOMAIN_ADAPTATION_TEST_FRACTION,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_SUBSET_FRACTION,
    LEARNING_CURVE_FRACTIONS,
    TARGET_B_VALUE,
    TRAIN_FRACTION,
    VENDOR_SPLIT_FRACTIONS,
)
from strokeseg.errors import ConfigurationError
from strokeseg.location.registration import REGISTRATION_METHODS
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR
from strokeseg.nnunet.folders import PREPROCESSED, RAW, environment_folder, optional_environment_folder

_DEFAULT_NAMES = {"isles22": "ISLES22", "atlas": "ATLAS", "wmh": "WMH", "registry": "StrokeRegistry"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg convert`` (one sub-command per cohort) and ``strokeseg split`` (one per design)."""
    _register_convert(subparsers)
    _register_split(subparsers)


def _register_convert(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert a cohort (ISLES'22, ATLAS, WMH, DWI registry) into an nnU-Net raw dataset",
        description="Convert a cohort from its on-disk layout into nnU-Net's raw format: imagesTr/labelsTr"
                    "(/imagesTs/labelsTs), dataset.json, cases.csv (per-case metadata) and a conversion report. "
                    "Invalid cases are skipped with one line each (or stop the run with --strict). See "
                    "docs/conversion.md.")
    cohorts = parser.add_subparsers(dest="cohort", required=True, metavar="COHORT")
    isles = _cohort_parser(cohorts, "isles22", "ISLES'22 BIDS tree (rawdata/, derivatives/)")
    isles.add_argument("--with-flair", action="store_true",
                       help="add FLAIR as channel 2, registered and resampled to the DWI grid")
    _add_registration(isles)
    _add_target_b(isles)
    _add_allow_empty(isles)
    atlas = _cohort_parser(cohorts, "atlas", "ATLAS R1.2 (Site*/<subject>/t01/) or R2.0 (ATLAS_2/Training, Testing)")
    atlas.add_argument("--release", choices=RELEASES, default="auto", help="ATLAS release (default: %(default)s)")
    atlas.add_argument("--metadata", type=Path, default=None,
                       help="CSV with a subject and a site column (default: found below SRC, else the folder names)")
    _add_allow_empty(atlas)
    wmh = _cohort_parser(cohorts, "wmh", "MICCAI 2017 WMH challenge (training/<Site>/<subject>/)")
    wmh.add_argument("--with-t1", action="store_true", help="add pre/T1.nii.gz as channel 1 (T1w)")
    registry = _cohort_parser(cohorts, "registry", "multi-site DWI registry: manifest CSV (NIfTI or DICOM folders)")
    registry.add_argument("--channels", default=None,
                          help=f"comma-separated channels, DWI first, among {CHANNEL_DWI},{CHANNEL_ADC},{CHANNEL_B0},"
                               f"{CHANNEL_FLAIR} (default: the image columns present in the manifest)")
    _add_registration(registry)
    _add_target_b(registry)
    _add_allow_empty(registry)


def _cohort_parser(cohorts: argparse._SubParsersAction, name: str, what: str) -> argparse.ArgumentParser:
    parser = cohorts.add_parser(name, help=what, description=f"Convert {what} into an nnU-Net raw dataset.")
    parser.add_argument("source", type=Path, metavar="SRC", help="the cohort's folder (registry: the manifest CSV "
                                                                 "or its folder)")
    parser.add_argument("--dataset-id", "-d", type=int, required=True, help="nnU-Net dataset id (1-999)")
    parser.add_argument("--name", default=_DEFAULT_NAMES[name], help="dataset name (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="nnUNet_raw folder to write into (default: $nnUNet_raw)")
    parser.add_argument("--strict", action="store_true", help="stop at the first invalid case instead of skipping it")
    parser.add_argument("--dry-run", action="store_true", help="list what would be written; write nothing")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing dataset of this id and name (only once the new one is complete)")
    parser.add_argument("-j", "--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    parser.set_defaults(func=_cli_convert)
    return parser


def _add_registration(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registration", choices=REGISTRATION_METHODS, default="rigid",
                        help="alignment of a FLAIR on another grid to the DWI (default: %(default)s; none = scanner "
                             "coordinates only)")


def _add_target_b(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target-b", type=float, default=TARGET_B_VALUE,
                        help="b-value (s/mm²) of the DWI channel taken from 4-D/multi-b series; the nearest "
                             "diffusion-weighted b is used (default: %(default)g)")


def _add_allow_empty(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-empty-masks", action="store_true",
                        help="keep training cases whose mask has no lesion voxel (default: skip them)")


def _cohort_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.cohort in ("isles22", "atlas", "registry"):
        options["require_lesion"] = not args.allow_empty_masks
    if args.cohort == "isles22":
        options.update(with_flair=args.with_flair, target_b=args.target_b)
    elif args.cohort == "atlas":
        options.update(release=args.release, metadata_csv=args.metadata)
    elif args.cohort == "wmh":
        options.update(with_t1=args.with_t1)
    else:
        channels = [item.strip() for item in args.channels.split(",") if item.strip()] if args.channels else None
        options.update(channels=channels, target_b=args.target_b)
    return options


def _cli_convert(args: argparse.Namespace) -> int:
    out_root = environment_folder(RAW, args.out, "--out")
    options = _cohort_options(args)
    if args.dry_run:
        for line in dry_run(args.cohort, args.source, out_root, args.dataset_id, args.name, **options):
            print(line)
        return 0
    if args.workers < 1:
        raise ConfigurationError(f"-j/--workers must be at least 1, got {args.workers}")
    case_options = CaseOptions(registration=getattr(args, "registration", "rigid"))
    result = convert(args.cohort, args.source, out_root, args.dataset_id, args.name, strict=args.strict,
                     overwrite=args.overwrite, workers=args.workers, case_options=case_options, **options)
    counts = result.counts
    print(f"{result.dataset_dir}: converted {counts['converted']} case(s) ({counts['converted_train']} train, "
          f"{counts['converted_test']} test), skipped {counts['skipped']}; report: {result.report_csv}")
    return 0


# --------------------------------------------------------------------------------------------------
# strokeseg split
# --------------------------------------------------------------------------------------------------
def _register_split(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "split", help="write the papers' study designs as nnU-Net splits_final.json or derived datasets",
        description="Deterministic, stratified (site x lesion-volume stratum) splits of a converted dataset's "
                    "training cases: learning curve, domain adaptation, vendor, single site, deep ensemble. "
                    "See docs/splits.md.")
    designs = parser.add_subparsers(dest="design", required=True, metavar="DESIGN")
    curve = _design_parser(designs, "learning-curve", "nested subsamples, each 8:2 train/val; fold k = fraction k")
    curve.add_argument("--fractions", default=_listing(LEARNING_CURVE_FRACTIONS),
                       help="comma-separated fractions of the training cases (default: %(default)s)")
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
    ensemble = _design_parser(designs, "ensemble", "K members on 90 %% subsets; fold k = member k")
    ensemble.add_argument("--members", type=int, default=ENSEMBLE_MEMBERS, help="ensemble size (default: %(default)s)")
    ensemble.add_argument("--subset-fraction", type=float, default=ENSEMBLE_SUBSET_FRACTION,
                          help="fraction of the training cases each member trains on (default: %(default)s)")


def _design_parser(designs: argparse._SubParsersAction, name: str, what: str, derived: bool = True,
                   derived_required: bool = False) -> argparse.ArgumentParser:
    parser = designs.add_parser(name, help=what, description=f"{what[0].upper()}{what[1:]}.")
    parser.add_argument("-d", "--dataset", required=True, help="source dataset id or folder name")
    parser.add_argument("--raw", type=Path, default=None, help="nnUNet_raw folder (default: $nnUNet_raw)")
    parser.add_argument("--preprocessed", type=Path, default=None,
                        help="nnUNet_preprocessed folder; an existing dataset folder there gets the splits too "
                             "(default: $nnUNet_preprocessed when set)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the split (default: %(default)s)")
    parser.add_argument("--stratify-by", default=",".join(STRATIFY_BY),
                        help="comma-separated cases.csv columns to stratify by; volume_stratum is derived from "
                             "lesion_volume_ml (default: %(default)s; empty: none)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing splits or derived datasets")
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
            options.update(fractions=_numbers(args.fractions), train_fraction=args.train_fraction)
        elif args.design == "domain-adaptation":
            options.update(sizes=_numbers(args.sizes, int), test_fraction=args.test_fraction, test_size=args.test_size,
                           train_fraction=args.train_fraction)
        elif args.design == "site":
            options.update(site=args.site, train_fraction=args.train_fraction)
        else:
            options.update(members=args.members, subset_fraction=args.subset_fraction)
        written.append(split_dataset(raw, args.dataset, args.design, **options, **common))
    for result in written:
        sizes = ", ".join(f"{fold.name}: {len(fold.train)}/{len(fold.val)}" for fold in result.plan.folds)
        test = f"; {len(result.plan.test)} test case(s) in imagesTs" if result.plan.test else ""
        print(f"{result.splits_file}: {len(result.plan.folds)} fold(s) (train/val {sizes}){test}")
    return 0
