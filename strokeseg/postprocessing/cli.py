"""``strokeseg postprocess fit|apply``, ``strokeseg uncertainty`` and ``strokeseg report``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from strokeseg.cli_options import (
    add_atlas_options,
    add_command,
    add_connectivity,
    add_images,
    add_location_min_fraction,
    add_out,
    add_overwrite,
    add_predictions,
    add_references,
    add_strict,
    add_subcommands,
    add_uncertainty_options,
    add_workers,
)
from strokeseg.defaults import (
    ENSEMBLE_LABEL_THRESHOLD,
    POSTPROCESS_HYSTERESIS_HIGH,
    POSTPROCESS_HYSTERESIS_LOW,
    POSTPROCESS_MIN_FIT_CASES,
)
from strokeseg.location.choices import ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE
from strokeseg.postprocessing.choices import OBJECTIVES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``postprocess``, ``uncertainty`` and ``report`` to the CLI."""
    _register_postprocess(subparsers)
    _register_uncertainty(subparsers)
    _register_report(subparsers)


def _register_postprocess(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "postprocess", "connected-component post-processing fitted on validation predictions",
        "Remove small predicted components, optionally grow lesions by probability hysteresis and restrict them to "
        "the brain. 'fit' chooses the parameters on cross-validation predictions and keeps the identity unless the "
        "gain is robust (never 'keep the largest component': stroke is often multifocal); 'apply' uses them.")
    actions = add_subcommands(parser, "action", "ACTION")
    fit = add_command(actions, "fit", "choose the parameters on validation predictions with references")
    add_predictions(fit, "nnUNetv2_predict output (CASE.nii.gz; CASE.npz from --save_probabilities enables "
                         "hysteresis)", required=True)
    add_references(fit, "reference masks CASE.nii.gz (labelsTr style)", required=True)
    add_out(fit, "parameters JSON to write")
    fit.add_argument("--objective", choices=OBJECTIVES, default="dice",
                     help="maximise the mean per-case Dice or lesion F1 (default: %(default)s)")
    fit.add_argument("--brain-masks", type=Path, default=None,
                     help="brain masks CASE.nii.gz; the restriction to the brain is then tried as well")
    add_connectivity(fit)
    fit.add_argument("--hysteresis-high", type=float, nargs="+", default=list(POSTPROCESS_HYSTERESIS_HIGH),
                     help="candidate seed thresholds (default: %(default)s)")
    fit.add_argument("--hysteresis-low", type=float, nargs="+", default=list(POSTPROCESS_HYSTERESIS_LOW),
                     help="candidate growth thresholds (default: %(default)s)")
    add_overwrite(fit, "an existing parameters JSON")
    add_strict(fit, "any case whose files cannot be used", "leave it out of the fit, listed in the JSON")
    fit.set_defaults(func=_cli_fit)
    apply = add_command(actions, "apply", "post-process a prediction folder with fitted parameters")
    add_predictions(apply, "nnUNetv2_predict output folder", required=True)
    apply.add_argument("--params", type=Path, required=True, help="parameters JSON from 'fit'")
    add_out(apply, "folder for the post-processed label maps")
    apply.add_argument("--brain-masks", type=Path, default=None,
                       help="brain masks CASE.nii.gz (needed when the parameters restrict to the brain)")
    apply.add_argument("--allow-small-fit", action="store_true",
                       help=f"apply parameters fitted on fewer than {POSTPROCESS_MIN_FIT_CASES} validation cases")
    add_overwrite(apply, "existing label maps in --out")
    add_strict(apply, "any case whose files cannot be used (after writing the others)",
               "skip it, listed in --out/postprocessing.json")
    apply.set_defaults(func=_cli_apply)


def _cli_fit(args: argparse.Namespace) -> int:
    from strokeseg.postprocessing import fit_postprocessing

    result = fit_postprocessing(args.predictions, args.references, args.out, objective=args.objective,
                                brain_masks_dir=args.brain_masks, overwrite=args.overwrite,
                                connectivity=args.connectivity, hysteresis_high=args.hysteresis_high,
                                hysteresis_low=args.hysteresis_low, strict=args.strict)
    params, validation = result["params"], result["validation"]
    hysteresis = ("off" if params["hysteresis_high"] is None
                  else f"seed p ≥ {params['hysteresis_high']}, grow to p ≥ {params['hysteresis_low']}")
    print(f"fitted on {validation['n_cases']} case(s), objective {result['objective']}:")
    print(f"  decision: {result['decision']['reason']}")
    print(f"  minimum component volume: {params['min_volume_ml']:.4g} mL")
    print(f"  hysteresis: {hysteresis}")
    print(f"  restrict to brain: {'yes' if params['restrict_to_brain'] else 'no'}")
    guard = result["evidence"]["small_lesion_guard"]
    print(f"  small-lesion guard: minimum volume ≤ {guard['max_min_volume_ml']:.4g} mL "
          f"({guard['quantile']:.0%} quantile of {guard['reference_lesions']} reference lesion volumes)")
    for name, key in (("mean Dice", "mean_dice"), ("mean lesion F1", "mean_lesion_f1")):
        print(f"  {name}: {validation['before'][key]:.4f} -> {validation['after'][key]:.4f}")
    for skipped in result["skipped_cases"]:
        print(f"  left out {skipped['case_id']}: {skipped['note']}")
    print(f"wrote {args.out}")
    return 0


def _cli_apply(args: argparse.Namespace) -> int:
    from strokeseg.io import read_json
    from strokeseg.postprocessing import apply_postprocessing
    from strokeseg.postprocessing.fitting import APPLIED_PARAMS_FILE

    written = apply_postprocessing(args.predictions, args.params, args.out, overwrite=args.overwrite,
                                   brain_masks_dir=args.brain_masks, strict=args.strict,
                                   allow_small_fit=args.allow_small_fit)
    skipped = read_json(args.out / APPLIED_PARAMS_FILE)["skipped_cases"]
    for case in skipped:
        print(f"  skipped {case['case_id']}: {case['note']}")
    print(f"post-processed {len(written)} case(s) into {args.out}"
          f"{f'; {len(skipped)} skipped (listed in {APPLIED_PARAMS_FILE})' if skipped else ''}")
    return 0


def _register_uncertainty(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "uncertainty", "ensemble uncertainty index per case (Kim et al.)",
        "Mean foreground probability of ensemble members predicted separately (nnUNetv2_predict "
        "--save_probabilities, one folder per member), the ensemble segmentation, and the uncertainty index: the "
        "fraction of predicted lesion voxels whose KL divergence from the prior is below the threshold. Cases above "
        "the review cut are flagged.")
    parser.add_argument("--members", type=Path, nargs="+", required=True, metavar="DIR",
                        help="one prediction folder with CASE.npz per ensemble member")
    add_out(parser, "output folder")
    parser.add_argument("--label-threshold", type=float, default=ENSEMBLE_LABEL_THRESHOLD,
                        help="ensemble segmentation = mean probability ≥ this (default: %(default)s)")
    add_uncertainty_options(parser, old_spellings=True)
    add_overwrite(parser, "an existing uncertainty.csv and maps in --out")
    add_strict(parser, "any case whose maps are missing or damaged (after writing the table)",
               "report its status and the reason in uncertainty.csv")
    parser.set_defaults(func=_cli_uncertainty)


def _cli_uncertainty(args: argparse.Namespace) -> int:
    from strokeseg.postprocessing import run_uncertainty
    from strokeseg.postprocessing.uncertainty import STATUS_OK, UNCERTAINTY_FILE, flagged_count

    table = run_uncertainty(args.members, args.out, overwrite=args.overwrite, label_threshold=args.label_threshold,
                            divergence_threshold=args.uncertainty_threshold, prior=args.uncertainty_prior,
                            review_cut=args.review_cut, strict=args.strict)
    problems = table[table["status"] != STATUS_OK]
    table = table[table["status"] == STATUS_OK]
    print(f"{len(table)} case(s), {flagged_count(table)} flagged for review "
          f"(uncertainty index > {args.review_cut}); most uncertain first:")
    for row in table.head(10).itertuples():
        index = "n/a (empty)" if math.isnan(row.uncertainty_index) else f"{row.uncertainty_index:.3f}"
        print(f"  {row.case_id:<24} {index:>12}  {row.predicted_volume_ml:8.2f} mL"
              f"{'  REVIEW' if row.flagged else ''}")
    for row in problems.itertuples():
        print(f"  {row.case_id:<24} NOT PROCESSED — {row.note}")
    print(f"wrote {args.out / UNCERTAINTY_FILE}"
          f"{f' ({len(problems)} case(s) not processed: status column)' if len(problems) else ''}")
    return 0


def _register_report(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "report", "per-case lesion report: volumes, lesion count, locations, uncertainty, QC figures",
        "Per case: total lesion volume (mL), number of lesions, per-lesion volume and location class (location "
        "atlas), uncertainty index, and a QC PNG through the largest lesion. Writes report.csv, lesions.csv and "
        "qc/CASE.png.")
    parser.add_argument("cases", nargs="*", metavar="CASE", help="case IDs to report (default: every prediction)")
    add_predictions(parser, "folder of predicted label maps", required=True)
    add_images(parser, "case images (CASE_0000.nii.gz as in imagesTs, or CASE.nii.gz)", required=True)
    add_references(parser, "reference masks: adds Dice and lesion F1", default=None)
    parser.add_argument("--uncertainty", type=Path, default=None, metavar="CSV",
                        help="uncertainty.csv of 'strokeseg uncertainty'")
    add_out(parser, "report folder")
    parser.add_argument("--no-location", action="store_true",
                        help="skip the atlas registration (location 'not computed')")
    add_location_min_fraction(parser, deprecated=("--min-fraction",))
    add_atlas_options(parser, ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE)
    add_connectivity(parser)
    add_workers(parser, deprecated=("--jobs",))
    add_overwrite(parser, "an existing report in --out")
    add_strict(parser, "any case that cannot be reported (after writing the report)",
               "report its status and the reason in report.csv")
    parser.set_defaults(func=_cli_report)


def _cli_report(args: argparse.Namespace) -> int:
    from strokeseg.location.atlas import load_location_atlas
    from strokeseg.postprocessing import ReportRequest, run_report

    atlas = None
    if not args.no_location:
        atlas = load_location_atlas(args.cache_dir, args.atlas_source)
    report, lesions = run_report(ReportRequest(
        predictions_dir=args.predictions, images_dir=args.images, out_dir=args.out, references_dir=args.references,
        uncertainty_csv=args.uncertainty, case_ids=tuple(args.cases), location=not args.no_location, atlas=atlas,
        min_fraction=args.location_min_fraction, connectivity=args.connectivity, overwrite=args.overwrite,
        jobs=args.workers, strict=args.strict))
    for row in report.itertuples():
        if row.status == "ok":
            print(f"{row.case_id}: {row.total_volume_ml:.2f} mL in {int(row.n_lesions)} lesion(s), "
                  f"location {row.location}")
        else:
            print(f"{row.case_id}: NOT REPORTED ({row.status}) — {row.note}")
    problems = int((report["status"] != "ok").sum())
    print(f"wrote {args.out} ({len(report)} case(s), {len(lesions)} lesion(s)"
          f"{f'; {problems} case(s) not reported, see the status column of report.csv' if problems else ''})")
    return 0
