"""``strokeseg postprocess fit|apply``, ``strokeseg uncertainty`` and ``strokeseg report``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from strokeseg.defaults import (
    ENSEMBLE_LABEL_THRESHOLD,
    LESION_CONNECTIVITY,
    LOCATION_MIN_FRACTION,
    POSTPROCESS_HYSTERESIS_HIGH,
    POSTPROCESS_HYSTERESIS_LOW,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
    UNCERTAINTY_REVIEW_CUT,
)
from strokeseg.lesions import CONNECTIVITIES
from strokeseg.location.atlas import ATLAS_SOURCES, load_location_atlas
from strokeseg.postprocessing.fitting import apply_postprocessing, fit_postprocessing
from strokeseg.postprocessing.lesion_report import ReportRequest, run_report
from strokeseg.postprocessing.selection import OBJECTIVES
from strokeseg.postprocessing.uncertainty import UNCERTAINTY_FILE, run_uncertainty


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``postprocess``, ``uncertainty`` and ``report`` to the CLI."""
    _register_postprocess(subparsers)
    _register_uncertainty(subparsers)
    _register_report(subparsers)


def _register_postprocess(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "postprocess", help="connected-component post-processing fitted on validation predictions",
        description="Remove small predicted components, optionally grow lesions by probability hysteresis and "
                    "restrict them to the brain. 'fit' chooses the parameters on validation predictions "
                    "(never 'keep the largest component': stroke is often multifocal); 'apply' uses them.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = actions.add_parser("fit", help="choose the parameters on validation predictions with references")
    fit.add_argument("--predictions", type=Path, required=True,
                     help="nnUNetv2_predict output (CASE.nii.gz; CASE.npz from --save_probabilities enables "
                          "hysteresis)")
    fit.add_argument("--references", type=Path, required=True, help="reference masks CASE.nii.gz (labelsTr style)")
    fit.add_argument("--out", type=Path, required=True, help="parameters JSON to write")
    fit.add_argument("--objective", choices=OBJECTIVES, default="dice",
                     help="maximise the mean per-case Dice or lesion F1 (default: %(default)s)")
    fit.add_argument("--brain-masks", type=Path, default=None,
                     help="brain masks CASE.nii.gz; the restriction to the brain is then tried as well")
    fit.add_argument("--connectivity", type=int, choices=CONNECTIVITIES, default=LESION_CONNECTIVITY,
                     help="component connectivity (default: %(default)s)")
    fit.add_argument("--hysteresis-high", type=float, nargs="+", default=list(POSTPROCESS_HYSTERESIS_HIGH),
                     help="candidate seed thresholds (default: %(default)s)")
    fit.add_argument("--hysteresis-low", type=float, nargs="+", default=list(POSTPROCESS_HYSTERESIS_LOW),
                     help="candidate growth thresholds (default: %(default)s)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing parameters JSON")
    fit.set_defaults(func=_cli_fit)
    apply = actions.add_parser("apply", help="post-process a prediction folder with fitted parameters")
    apply.add_argument("--predictions", type=Path, required=True, help="nnUNetv2_predict output folder")
    apply.add_argument("--params", type=Path, required=True, help="parameters JSON from 'fit'")
    apply.add_argument("--out", type=Path, required=True, help="folder for the post-processed label maps")
    apply.add_argument("--brain-masks", type=Path, default=None,
                       help="brain masks CASE.nii.gz (needed when the parameters restrict to the brain)")
    apply.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    apply.set_defaults(func=_cli_apply)


def _cli_fit(args: argparse.Namespace) -> int:
    result = fit_postprocessing(args.predictions, args.references, args.out, objective=args.objective,
                                brain_masks_dir=args.brain_masks, overwrite=args.overwrite,
                                connectivity=args.connectivity, hysteresis_high=args.hysteresis_high,
                                hysteresis_low=args.hysteresis_low)
    params, validation = result["params"], result["validation"]
    hysteresis = ("off" if params["hysteresis_high"] is None
                  else f"seed p ≥ {params['hysteresis_high']}, grow to p ≥ {params['hysteresis_low']}")
    print(f"fitted on {validation['n_cases']} case(s), objective {result['objective']}:")
    print(f"  minimum component volume: {params['min_volume_ml']:.4g} mL")
    print(f"  hysteresis: {hysteresis}")
    print(f"  restrict to brain: {'yes' if params['restrict_to_brain'] else 'no'}")
    for name, key in (("mean Dice", "mean_dice"), ("mean lesion F1", "mean_lesion_f1")):
        print(f"  {name}: {validation['before'][key]:.4f} -> {validation['after'][key]:.4f}")
    print(f"wrote {args.out}")
    return 0


def _cli_apply(args: argparse.Namespace) -> int:
    written = apply_postprocessing(args.predictions, args.params, args.out, overwrite=args.overwrite,
                                   brain_masks_dir=args.brain_masks)
    print(f"post-processed {len(written)} case(s) into {args.out}")
    return 0


def _register_uncertainty(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "uncertainty", help="ensemble uncertainty index per case (Kim et al.)",
        description="Mean foreground probability of ensemble members predicted separately (nnUNetv2_predict "
                    "--save_probabilities, one folder per member), the ensemble segmentation, and the uncertainty "
                    "index: the fraction of predicted lesion voxels whose KL divergence from the 0.5 prior is "
                    "below the threshold. Cases above the review cut are flagged.")
    parser.add_argument("--members", type=Path, nargs="+", required=True, metavar="DIR",
                        help="one prediction folder with CASE.npz per ensemble member")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--label-threshold", type=float, default=ENSEMBLE_LABEL_THRESHOLD,
                        help="ensemble segmentation = mean probability ≥ this (default: %(default)s)")
    parser.add_argument("--divergence-threshold", type=float, default=UNCERTAINTY_DIVERGENCE_THRESHOLD,
                        help="a voxel is uncertain below this KL divergence in nats (default: %(default)s)")
    parser.add_argument("--prior", type=float, default=UNCERTAINTY_PRIOR,
                        help="Bernoulli prior of the divergence (default: %(default)s)")
    parser.add_argument("--review-cut", type=float, default=UNCERTAINTY_REVIEW_CUT,
                        help="flag cases whose index exceeds this (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=_cli_uncertainty)


def _cli_uncertainty(args: argparse.Namespace) -> int:
    table = run_uncertainty(args.members, args.out, overwrite=args.overwrite, label_threshold=args.label_threshold,
                            divergence_threshold=args.divergence_threshold, prior=args.prior,
                            review_cut=args.review_cut)
    print(f"{len(table)} case(s), {int(table['flagged'].sum())} flagged for review "
          f"(uncertainty index > {args.review_cut}); most uncertain first:")
    for row in table.head(10).itertuples():
        index = "n/a (empty)" if math.isnan(row.uncertainty_index) else f"{row.uncertainty_index:.3f}"
        print(f"  {row.case_id:<24} {index:>12}  {row.predicted_volume_ml:8.2f} mL"
              f"{'  REVIEW' if row.flagged else ''}")
    print(f"wrote {args.out / UNCERTAINTY_FILE}")
    return 0


def _register_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="per-case lesion report: volumes, lesion count, locations, uncertainty, QC figures",
        description="Per case: total lesion volume (mL), number of lesions, per-lesion volume and location "
                    "class (location atlas), uncertainty index, and a QC PNG through the largest lesion. "
                    "Writes report.csv, lesions.csv and qc/CASE.png.")
    parser.add_argument("cases", nargs="*", metavar="CASE", help="case IDs to report (default: every prediction)")
    parser.add_argument("--predictions", type=Path, required=True, help="folder of predicted label maps")
    parser.add_argument("--images", type=Path, required=True,
                        help="case images (CASE_0000.nii.gz as in imagesTs, or CASE.nii.gz)")
    parser.add_argument("--references", type=Path, default=None, help="reference masks: adds Dice and lesion F1")
    parser.add_argument("--uncertainty", type=Path, default=None, metavar="CSV",
                        help="uncertainty.csv of 'strokeseg uncertainty'")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--no-location", action="store_true",
                        help="skip the atlas registration (location 'not computed')")
    parser.add_argument("--min-fraction", type=float, default=LOCATION_MIN_FRACTION,
                        help="a location class counts from this fraction of a lesion (default: %(default)s)")
    parser.add_argument("--atlas-source", choices=ATLAS_SOURCES, default="auto", help="location atlas source")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="atlas cache (default: $STROKESEG_CACHE or ~/.cache/strokeseg)")
    parser.add_argument("--connectivity", type=int, choices=CONNECTIVITIES, default=LESION_CONNECTIVITY,
                        help="lesion connectivity (default: %(default)s)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.set_defaults(func=_cli_report)


def _cli_report(args: argparse.Namespace) -> int:
    atlas = None
    if not args.no_location:
        atlas = load_location_atlas(args.cache_dir, args.atlas_source)
    report, lesions = run_report(ReportRequest(
        predictions_dir=args.predictions, images_dir=args.images, out_dir=args.out, references_dir=args.references,
        uncertainty_csv=args.uncertainty, case_ids=tuple(args.cases), location=not args.no_location, atlas=atlas,
        min_fraction=args.min_fraction, connectivity=args.connectivity, overwrite=args.overwrite, jobs=args.jobs))
    for row in report.itertuples():
        print(f"{row.case_id}: {row.total_volume_ml:.2f} mL in {row.n_lesions} lesion(s), location {row.location}")
    print(f"wrote {args.out} ({len(report)} case(s), {len(lesions)} lesion(s))")
    return 0
