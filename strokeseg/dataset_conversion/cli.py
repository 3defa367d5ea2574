"""``strokeseg convert <cohort> SRC ...``: cohort on disk -> nnU-Net raw dataset + cases.csv + report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from strokeseg.dataset_conversion.atlas import RELEASES
from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.convert import convert, dry_run
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.errors import ConfigurationError
from strokeseg.location.registration import REGISTRATION_METHODS
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR
from strokeseg.nnunet.folders import RAW, environment_folder

_DEFAULT_NAMES = {"isles22": "ISLES22", "atlas": "ATLAS", "wmh": "WMH", "registry": "StrokeRegistry"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg convert`` (one sub-command per cohort)."""
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
