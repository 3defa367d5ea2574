"""``strokeseg predict INPUT OUTPUT -m MODEL``: from a scanner export (or BIDS, or NIfTI) to a reviewed result."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from strokeseg.cli_options import (
    add_atlas_options,
    add_command,
    add_connectivity,
    add_device,
    add_location_min_fraction,
    add_overwrite,
    add_uncertainty_options,
    add_workers,
)
from strokeseg.defaults import POSTPROCESS_MIN_FIT_CASES, TARGET_B_VALUE
from strokeseg.location.choices import ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE, REGISTRATION_METHODS
from strokeseg.predict.choices import ANALYSIS_LEVELS, INPUT_KINDS

DESCRIPTION = """\
Segment the stroke lesion of every case in INPUT with a trained nnU-Net model and report it: the lesion mask
(native space, and MNI space with --mni), its volume (mL) and number of lesions, the location class and the volume
per atlas region, Kim et al.'s uncertainty index and review flag when the model is an ensemble, and a QC montage;
one JSON and one CSV row per case and OUTPUT/predictions.csv for the cohort. See docs/predict.md.

INPUT is a DICOM folder (one case; dcm2niix), a BIDS dataset (a BIDS app at participant level; OUTPUT becomes a
BIDS derivative), or NIfTI files (a folder of CASE_0000.nii.gz or CASE_DWI.nii.gz files, or one of them).
The model's dataset.json says which channels it takes; a case without one of them is reported and skipped.
Post-processing fitted for the model (MODEL/postprocessing.json from 'strokeseg postprocess fit') is applied.

A rerun skips the cases that are done; a case that failed is tried again. The exit code is 1 when a case failed
(its status and the reason are in predictions.csv), 2 when nothing could be run.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg predict`` to the CLI."""
    parser = add_command(subparsers, "predict", "segment and report every case of a DICOM folder, BIDS dataset or "
                                                "NIfTI files with a trained model", DESCRIPTION)
    parser.add_argument("input", type=Path, metavar="INPUT", help="DICOM folder, BIDS dataset, or NIfTI folder/file")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="output folder (created)")
    parser.add_argument("analysis_level", nargs="?", choices=ANALYSIS_LEVELS, default="participant",
                        metavar="participant", help="BIDS-app analysis level (only 'participant'; may be left out)")
    parser.add_argument("-m", "--model", type=Path, required=True, metavar="MODEL_DIR",
                        help="trained nnU-Net model folder, as nnUNetv2_predict_from_modelfolder's -m "
                             "(Trainer__Plans__Configuration with fold_X/), or a folder of such folders (an ensemble)")
    parser.add_argument("-f", "--folds", nargs="+", default=None, metavar="F",
                        help="folds to use, as nnU-Net's -f (default: every fold with a checkpoint); two or more "
                             "folds or models form an ensemble")
    parser.add_argument("--checkpoint", default="checkpoint_final.pth",
                        help="checkpoint file name in each fold folder, as nnU-Net's -chk (default: %(default)s)")
    parser.add_argument("--input-kind", choices=INPUT_KINDS, default="auto",
                        help="how to read INPUT (default: %(default)s: a file or a folder of images is nifti, a "
                             "folder with dataset_description.json, rawdata/ or sub-* is bids, any other folder "
                             "dicom)")
    parser.add_argument("--participant-label", nargs="+", default=(), metavar="LABEL",
                        help="BIDS: the subjects to predict, with or without 'sub-' (default: all)")
    add_device(parser, "the network")
    add_workers(parser)
    parser.add_argument("--mni", action="store_true", help="also write each mask in MNI152 space (the atlas grid)")
    parser.add_argument("--no-location", action="store_true",
                        help="skip the MNI registration (location 'not computed'; no --mni)")
    add_location_min_fraction(parser)
    add_atlas_options(parser, ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE)
    add_connectivity(parser)
    add_uncertainty_options(parser)
    parser.add_argument("--no-postprocessing", action="store_true",
                        help="do not apply MODEL_DIR/postprocessing.json")
    parser.add_argument("--allow-small-fit", action="store_true",
                        help=f"apply a post-processing fitted on fewer than {POSTPROCESS_MIN_FIT_CASES} cases")
    parser.add_argument("--target-b", type=float, default=TARGET_B_VALUE,
                        help="b-value (s/mm²) of the DWI taken from multi-b series; the nearest diffusion-weighted "
                             "b is used (default: %(default)g)")
    parser.add_argument("--registration", choices=REGISTRATION_METHODS, default="rigid",
                        help="alignment of a FLAIR on another grid to the DWI (default: %(default)s)")
    add_overwrite(parser, "earlier results in OUTPUT made from other inputs, model or settings")
    parser.set_defaults(func=_cli_predict)


def _cli_predict(args: argparse.Namespace) -> int:
    from strokeseg.cpu_allocator import use_heap_allocator
    from strokeseg.location.atlas import load_location_atlas
    from strokeseg.postprocessing.uncertainty import STATUS_OK
    from strokeseg.predict.model import load_model
    from strokeseg.predict.results import ReportSettings
    from strokeseg.predict.runner import PredictRequest, run_predict
    from strokeseg.predict.segmentation import UncertaintySettings, load_postprocessing

    use_heap_allocator()  # this process predicts: large arrays from the heap (strokeseg.cpu_allocator)
    model = load_model(args.model, args.folds, args.checkpoint, postprocessing=not args.no_postprocessing)
    postprocessing = load_postprocessing(model.postprocessing_file, args.allow_small_fit)
    atlas = None if args.no_location else load_location_atlas(args.cache_dir, args.atlas_source)
    print(f"model {model.path}: {len(model.members)} member(s), channels {', '.join(model.channels)}"
          f"{'; post-processing ' + str(model.postprocessing_file) if postprocessing.params else ''}")
    table = run_predict(PredictRequest(
        input=args.input, output=args.output, model=model, kind=args.input_kind,
        participant_labels=tuple(args.participant_label), device=args.device, workers=args.workers,
        overwrite=args.overwrite, target_b=args.target_b, registration=args.registration,
        postprocessing=postprocessing,
        uncertainty=UncertaintySettings(divergence_threshold=args.uncertainty_threshold,
                                        prior=args.uncertainty_prior, review_cut=args.review_cut),
        report=ReportSettings(location=not args.no_location, mni=args.mni, min_fraction=args.location_min_fraction,
                              connectivity=args.connectivity),
        atlas=atlas))
    for row in table.itertuples():
        if row.status != STATUS_OK:
            print(f"{row.case_id}: FAILED ({row.status}) — {row.note}")
            continue
        review = ""
        if isinstance(row.uncertainty_index, float) and not math.isnan(row.uncertainty_index):
            review = f", uncertainty {row.uncertainty_index:.2f}{' REVIEW' if row.flagged is True else ''}"
        print(f"{row.case_id}: {row.total_volume_ml:.2f} mL in {int(row.n_lesions)} lesion(s), location "
              f"{row.location}{review}")
    failed = int((table["status"] != STATUS_OK).sum())
    print(f"wrote {args.output} ({len(table)} case(s){f'; {failed} failed, see predictions.csv' if failed else ''})")
    return 1 if failed else 0
