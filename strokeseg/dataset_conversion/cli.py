"""``strokeseg convert <cohort> SRC ...``: cohort on disk -> nnU-Net raw dataset + cases.csv + report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from strokeseg.cli_options import (
    add_command,
    add_dataset,
    add_nnunet_folder,
    add_overwrite,
    add_subcommands,
    add_workers,
    positive_int,
)
from strokeseg.dataset_conversion.choices import RELEASES
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.location.choices import REGISTRATION_METHODS
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR, CHANNEL_T1W
from strokeseg.nnunet.folders import RAW

_DEFAULT_NAMES = {"isles22": "ISLES22", "atlas": "ATLAS", "wmh": "WMH", "registry": "StrokeRegistry"}

#: How a conversion treats earlier outputs (shown by every ``convert`` help).
EXISTING_OUTPUTS = """\
An interrupted conversion resumes: a rerun keeps the cases it finished. An existing dataset of the same ID is only
replaced with --overwrite, and only once the new one is complete.
"""

DESCRIPTION = f"""\
Convert a cohort from its on-disk layout into nnU-Net's raw format: imagesTr/labelsTr (/imagesTs/labelsTs),
dataset.json, cases.csv (per-case metadata) and a conversion report. Invalid cases are skipped with one line each
(or stop the run with --strict). See docs/conversion.md.

{EXISTING_OUTPUTS}"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg convert`` (one sub-command per cohort)."""
    parser = add_command(subparsers, "convert", "convert a cohort (ISLES'22, ATLAS, WMH, registry) into an "
                                                "nnU-Net raw dataset", DESCRIPTION)
    cohorts = add_subcommands(parser, "cohort", "COHORT")
    isles = _cohort_parser(cohorts, "isles22", "ISLES'22 BIDS tree (rawdata/, derivatives/)")
    isles.add_argument("--channels", default=None,
                       help=f"comma-separated channels, DWI first, among {CHANNEL_DWI},{CHANNEL_ADC},{CHANNEL_FLAIR} "
                            f"(default: {CHANNEL_DWI},{CHANNEL_ADC}; {CHANNEL_DWI} alone for a DWI-only model; "
                            f"{CHANNEL_FLAIR} is registered and resampled to the DWI grid)")
    isles.add_argument("--with-flair", action="store_true",
                       help=f"add {CHANNEL_FLAIR} as the last channel (same as ending --channels with it)")
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
    registry = _cohort_parser(cohorts, "registry", "a multi-site registry (DWI, FLAIR, ...) from a manifest CSV "
                                                   "(NIfTI files or DICOM folders)")
    registry.add_argument("--channels", default=None,
                          help=f"the cohort's comma-separated channels, any of {CHANNEL_DWI},{CHANNEL_ADC},"
                               f"{CHANNEL_B0},{CHANNEL_FLAIR},{CHANNEL_T1W} (e.g. {CHANNEL_FLAIR} for a FLAIR-only "
                               f"WMH cohort, {CHANNEL_DWI} for a DWI-only one; the first defines the grid, another "
                               "acquisition is registered to it; default: the image columns with values, this order)")
    registry.add_argument("--votes", type=positive_int, default=None, metavar="K",
                          help="several readings per case (columns mask, mask_2, ... or mask_1, mask_2, ...): a voxel "
                               "is lesion when at least K of them mark it (default: a strict majority of the "
                               "readings a case has, 2 of 3)")
    registry.add_argument("--ignore-label", action="store_true",
                          help="masks hold 0 background, 1 lesion, 2 other pathology (the WMH challenge's labels); "
                               "2 becomes nnU-Net's ignore label")
    _add_registration(registry)
    _add_target_b(registry)
    _add_allow_empty(registry)


def _cohort_parser(cohorts: argparse._SubParsersAction, name: str, what: str) -> argparse.ArgumentParser:
    parser = add_command(cohorts, name, what, f"Convert {what} into an nnU-Net raw dataset: imagesTr/labelsTr "
                                              "(/imagesTs/labelsTs), dataset.json, cases.csv and a conversion "
                                              f"report.\n\n{EXISTING_OUTPUTS}")
    parser.add_argument("source", type=Path, metavar="SRC", help="the cohort's folder (registry: the manifest CSV "
                                                                 "or its folder)")
    add_dataset(parser, "nnU-Net dataset ID (1-999) of the new dataset", deprecated=("--dataset-id",), type=int,
                metavar="ID")
    parser.add_argument("--name", default=_DEFAULT_NAMES[name], help="dataset name (default: %(default)s)")
    add_nnunet_folder(parser, RAW, "nnU-Net raw folder to write the dataset into", deprecated=("--out",))
    parser.add_argument("--strict", action="store_true", help="stop at the first invalid case instead of skipping it")
    parser.add_argument("--dry-run", action="store_true", help="list what would be written; write nothing")
    add_overwrite(parser, "an existing dataset of this ID (only once the new one is complete)")
    add_workers(parser)
    parser.set_defaults(func=_cli_convert)
    return parser


def _add_registration(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registration", choices=REGISTRATION_METHODS, default="rigid",
                        help="alignment of a channel of another acquisition on another grid to the first channel (a "
                             "FLAIR to the DWI; default: %(default)s; none = scanner coordinates only)")


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
        options.update(channels=_channel_list(args.channels), with_flair=args.with_flair, target_b=args.target_b)
    elif args.cohort == "atlas":
        options.update(release=args.release, metadata_csv=args.metadata)
    elif args.cohort == "wmh":
        options.update(with_t1=args.with_t1)
    else:
        options.update(channels=_channel_list(args.channels), target_b=args.target_b, votes=args.votes,
                       ignore_label=args.ignore_label)
    return options


def _channel_list(text: str | None) -> list[str] | None:
    """``--channels DWI,ADC`` as a list (None when not given)."""
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


def _cli_convert(args: argparse.Namespace) -> int:
    from strokeseg.dataset_conversion import CaseOptions, convert, dry_run
    from strokeseg.nnunet.folders import environment_folder

    out_root = environment_folder(RAW, args.raw, "--raw")
    options = _cohort_options(args)
    if args.dry_run:
        for line in dry_run(args.cohort, args.source, out_root, args.dataset, args.name, **options):
            print(line)
        return 0
    case_options = CaseOptions(registration=getattr(args, "registration", "rigid"))
    result = convert(args.cohort, args.source, out_root, args.dataset, args.name, strict=args.strict,
                     overwrite=args.overwrite, workers=args.workers, case_options=case_options, **options)
    counts = result.counts
    print(f"{result.dataset_dir}: converted {counts['converted']} case(s) ({counts['converted_train']} train, "
          f"{counts['converted_test']} test), skipped {counts['skipped']}; report: {result.report_csv}")
    return 0
