"""``strokeseg evaluate``: the papers' metrics, stratified CSV reports, statistics and plots.

Definitions: docs/evaluation.md. The metric code, pandas, scipy and matplotlib load when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from strokeseg import defaults
from strokeseg.cli_options import (
    add_command,
    add_connectivity,
    add_device,
    add_images,
    add_location_min_fraction,
    add_option,
    add_out,
    add_overwrite,
    add_predictions,
    add_references,
    add_strict,
    add_uncertainty_options,
    add_workers,
)
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.evaluation.choices import (
    BOOTSTRAP_METHODS,
    DEFAULT_P_ADJUSTMENT,
    GROUP_TESTS,
    LOCATION_SOURCES,
    P_ADJUSTMENTS,
)

if TYPE_CHECKING:  # the heavy modules (scipy.stats, matplotlib) load only when the command runs
    from strokeseg.evaluation.evaluate import EvaluationRequest, EvaluationResult
    from strokeseg.evaluation.inputs import PredictionSet

logger = logging.getLogger(__name__)

#: Subfolder of the report that holds the majority-vote reference of ``--reference-readings``.
CONSENSUS_FOLDER = "reference_consensus"
#: ``--ventricle-masks`` value that takes the ventricles from the registered location atlas.
ATLAS_VENTRICLES = "atlas"
#: Columns of a ``--models`` table (``name`` and ``pred`` required; paths relative to the table).
MODEL_TABLE_COLUMNS: tuple[str, ...] = ("name", "pred", "training_cases", "probabilities")

DESCRIPTION = """\
Per-case metrics of one or more models against reference labels, strata (infarct volume, onset-to-imaging time,
location, vendor, any cases.csv column), statistics with confidence intervals and paired tests, and plots.
Definitions: docs/evaluation.md.

Examples:

    strokeseg evaluate -pred predictions/ -ref labelsTs/ --cases cases.csv -o report/
    strokeseg evaluate -pred $nnUNet_results/Dataset501_X/nnUNetTrainer__nnUNetPlans__3d_fullres -ref 501 -o cv/
    strokeseg evaluate -pred modelA/ --compare modelB/ -ref 501 --by scanner_model -o ab/ -j 8
    strokeseg evaluate --models learning_curve.csv -ref 501 -o lc/

An existing report in --out is only replaced with --overwrite; atlas locations cached in --location-cache are
reused whenever the case's files are unchanged.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg evaluate`` to the CLI."""
    parser = add_command(subparsers, "evaluate", "evaluate predictions: per-case metrics, strata, statistics, plots",
                         DESCRIPTION)
    inputs = parser.add_argument_group("inputs")
    add_references(inputs, "reference labels: a folder, an nnU-Net raw dataset folder, or a dataset ID/name in "
                           "$nnUNet_raw (required unless --reference-readings is given)", deprecated=("--ref",),
                   type=str)
    inputs.add_argument("--reference-readings", type=Path, nargs="+", default=[], metavar="DIR",
                        help="repeated readings of the reference (two or more folders): the reference is their "
                             "majority vote, written to <out>/reference_consensus/ (a case that a reading lacks or "
                             "whose readings lie on different grids is left out with a warning; --strict stops)")
    inputs.add_argument("--votes", type=int, metavar="K",
                        help="votes of --reference-readings a voxel needs to be lesion (default: a strict "
                             "majority, 2 of 3)")
    add_option(inputs, "--references-split", deprecated=("--ref-split",), choices=("auto", "Tr", "Ts"),
               default="auto", help="labels folder of a dataset: Ts, Tr, or auto (Tr for cross-validation predictions "
                                    "of a trained model, else Ts when it exists) (default: %(default)s)")
    add_predictions(inputs, "predictions folder, or an nnU-Net trained-model folder (its fold_*/validation "
                            "predictions are evaluated)", deprecated=("--pred",))
    inputs.add_argument("--compare", type=Path, metavar="OTHER_PREDICTIONS",
                        help="second predictions folder, compared case by case with --predictions")
    inputs.add_argument("--model", action="append", default=[], metavar="NAME=DIR",
                        help="a named model (repeatable); the first is the baseline of the comparisons")
    inputs.add_argument("--reader", action="append", default=[], metavar="NAME=DIR",
                        help="a second reader's masks (repeatable): evaluated like a model, compared with every "
                             "model (Mann–Whitney U) and drawn as a reference line in the Dice plots")
    inputs.add_argument("--models", type=Path, metavar="TABLE",
                        help="CSV with columns name,pred[,training_cases][,probabilities] (paths relative to the "
                             "table; probabilities: ';'-separated folders); training_cases gives the learning curve")
    inputs.add_argument("-f", "--folds", nargs="+", default=None,
                        help="folds of a trained-model folder (default: all)")
    inputs.add_argument("--probabilities", type=Path, nargs="+", default=[], metavar="DIR",
                        help="folders with nnU-Net <case>.npz probability maps for --predictions; several = ensemble "
                             "members (max Dice and uncertainty index on their mean)")
    inputs.add_argument("--cases", type=Path, help="cases.csv (default: the reference dataset's cases.csv)")
    inputs.add_argument("--labels", type=int, nargs="+", default=None,
                        help="label values that count as lesion (default: every value > 0 but the ignore label)")
    inputs.add_argument("--infarct-labels", type=Path, metavar="DIR",
                        help="infarct label maps of the cases (a second label source): infarct-volume strata of a "
                             "WMH model (default: cases.csv's infarct_volume_ml column, when present)")
    inputs.add_argument("--ventricle-masks", metavar="DIR|atlas",
                        help="ventricle masks of the cases on the reference grids, or 'atlas' for the registered "
                             "location atlas's ventricles (written to <out>/ventricles, needs the case images as "
                             "for --location atlas): Dice and volumes of periventricular and deep WMH "
                             "(subregions.csv, by_subregion.csv)")
    inputs.add_argument("--periventricular-distance", type=float, default=defaults.PERIVENTRICULAR_DISTANCE_MM,
                        metavar="MM", help="periventricular region: within this distance of the ventricles "
                                           "(default: %(default)s mm)")
    inputs.add_argument("--ignore-label", type=int, default=None,
                        help="reference label excluded from scoring in both masks (default: dataset.json's "
                             "'ignore' label when --references is a dataset)")

    output = parser.add_argument_group("output")
    add_out(output, "report folder")
    add_overwrite(output, "an existing report in --out")
    add_strict(output, "missing predictions, extra files, unreadable files and grid mismatches",
               "report them case by case in per_case.csv")
    output.add_argument("--no-plots", action="store_true", help="do not write the PNG figures")
    output.add_argument("--baseline", help="model every other model is compared with (default: the first)")

    compute = parser.add_argument_group("computation")
    add_device(compute, "the metric engine")
    add_workers(compute, deprecated=("--jobs",))

    metrics = parser.add_argument_group("metric settings (definitions: docs/evaluation.md)")
    metrics.add_argument("--nsd-tolerance", type=float, default=defaults.NSD_TOLERANCE_MM, metavar="MM",
                         help="normalised surface Dice tolerance in mm (default: %(default)s)")
    add_connectivity(metrics)
    metrics.add_argument("--grid-tolerance", type=float, default=defaults.GRID_TOLERANCE_MM, metavar="MM",
                         help="spacing/origin (mm) and direction tolerance of the grid check (default: %(default)s)")
    add_uncertainty_options(metrics)

    strata = parser.add_argument_group("strata and statistics")
    strata.add_argument("--by", nargs="+", action="extend", default=[], metavar="COLUMN",
                        help="further cases.csv columns to stratify by (values used as categories)")
    strata.add_argument("--volume-small-below", type=float, default=defaults.VOLUME_SMALL_BELOW_ML, metavar="ML",
                        help="small infarct: reference volume below this (default: %(default)s mL)")
    strata.add_argument("--volume-large-above", type=float, default=defaults.VOLUME_LARGE_ABOVE_ML, metavar="ML",
                        help="large infarct: reference volume above this (default: %(default)s mL)")
    strata.add_argument("--onset-early-below", type=float, default=defaults.ONSET_EARLY_BELOW_H, metavar="H",
                        help="early onset stratum: below this many hours (default: %(default)s)")
    strata.add_argument("--onset-late-above", type=float, default=defaults.ONSET_LATE_ABOVE_H, metavar="H",
                        help="late onset stratum: above this many hours (default: %(default)s)")
    strata.add_argument("--wmh-groups", type=int, default=defaults.WMH_QUANTILE_GROUPS,
                        help="quantile groups of WMH volume (default: %(default)s = deciles)")
    strata.add_argument("--location", choices=LOCATION_SOURCES, default="auto",
                        help="location strata: cases (cases.csv), atlas (registration + location atlas, needs "
                             "--images), none, or auto (cases.csv when it has locations) (default: %(default)s)")
    add_images(strata, "case images for --location atlas (case_0000.nii.gz or case.nii.gz; default: the reference "
                       "dataset's images folder)")
    add_location_min_fraction(strata)
    strata.add_argument("--location-cache", type=Path,
                        help="CSV cache of atlas locations (default: <out>/locations.csv)")
    strata.add_argument("--bootstrap-resamples", type=int, default=defaults.BOOTSTRAP_RESAMPLES,
                        help="bootstrap resamples of the CIs (default: %(default)s)")
    strata.add_argument("--bootstrap-seed", type=int, default=defaults.BOOTSTRAP_SEED,
                        help="bootstrap seed (default: %(default)s)")
    strata.add_argument("--confidence", type=float, default=defaults.CONFIDENCE_LEVEL,
                        help="confidence level of the CIs (default: %(default)s)")
    strata.add_argument("--loa-sd", type=float, default=defaults.BLAND_ALTMAN_Z,
                        help="Bland–Altman limits of agreement: bias ± this many SDs (default: %(default)s)")
    strata.add_argument("--bootstrap-method", choices=BOOTSTRAP_METHODS, default="percentile",
                        help="bootstrap interval of the means: percentile or bca (bias-corrected and accelerated) "
                             "(default: %(default)s)")
    strata.add_argument("--p-adjust", choices=P_ADJUSTMENTS, default=DEFAULT_P_ADJUSTMENT,
                        help="multiple-comparison correction of every table of tests (bh: Benjamini–Hochberg); "
                             "raw p-values are kept beside the adjusted ones (default: %(default)s)")
    strata.add_argument("--group-test", choices=GROUP_TESTS, default="auto",
                        help="test of three or more strata or models: anova, kruskal, or auto (ANOVA when "
                             "Shapiro–Wilk keeps normality in every group) (default: %(default)s)")
    strata.add_argument("--cohort-by", metavar="COLUMN",
                        help="cases.csv column whose values are the sets of the cohort table cohort.csv (default: "
                             "split, when cases.csv has it; none: no table)")
    strata.add_argument("--inter-rater-dice", type=float, metavar="DSC",
                        help=f"inter-rater DSC drawn as a reference line in the Dice plots (Kim et al.: "
                             f"{defaults.KIM_INTER_RATER_DICE})")
    parser.set_defaults(func=_cli_evaluate)


def parse_model_option(text: str) -> tuple[str, Path]:
    """``NAME=DIR`` -> (name, path)."""
    name, separator, folder = text.partition("=")
    if not separator or not name.strip() or not folder.strip():
        raise ConfigurationError(f"--model {text!r}: expected NAME=DIR")
    return name.strip(), Path(folder.strip())


def read_model_table(path: Path) -> list[tuple[str, Path, int | None, tuple[Path, ...]]]:
    """Rows of a ``--models`` table: (name, predictions, training cases or None, probability folders)."""
    import pandas as pd

    if not path.is_file():
        raise InputDataError(f"models table {path} does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("name", "pred") if c not in table.columns]
    if missing:
        raise InputDataError(f"models table {path} lacks column(s) {', '.join(missing)} "
                             f"(columns: {', '.join(MODEL_TABLE_COLUMNS)})")
    models = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        size_text = str(row.get("training_cases", "")).strip()
        try:
            size = int(float(size_text)) if size_text else None
        except ValueError:
            raise InputDataError(f"models table {path}, line {line}: training_cases {size_text!r} is not a "
                                 "number") from None
        probability_folders = tuple(path.parent / p.strip() for p in str(row.get("probabilities", "")).split(";")
                                    if p.strip())
        models.append((str(row["name"]).strip(), path.parent / str(row["pred"]).strip(), size, probability_folders))
    return models


def _prediction_sets(args: argparse.Namespace) -> list[PredictionSet]:
    from strokeseg.evaluation.inputs import resolve_predictions

    specs: list[tuple[str, Path, int | None, tuple[Path, ...]]] = []
    if args.predictions is not None:
        specs.append((args.predictions.resolve().name, args.predictions, None, tuple(args.probabilities)))
    elif args.probabilities:
        raise ConfigurationError("--probabilities belongs to --predictions; name probability folders of other models "
                                 "in a --models table")
    specs += [(name, folder, None, ()) for name, folder in map(parse_model_option, args.model)]
    specs += [(name, folder, None, ()) for name, folder in map(parse_model_option, args.reader)]
    if args.models is not None:
        specs += read_model_table(args.models)
    if args.compare is not None:
        if not specs:
            raise ConfigurationError("--compare needs --predictions (the model it is compared with)")
        specs.append((args.compare.resolve().name, args.compare, None, ()))
    return [resolve_predictions(name, folder, args.folds, size, probabilities)
            for name, folder, size, probabilities in specs]


def _build_request(args: argparse.Namespace) -> EvaluationRequest:
    from strokeseg.cases import read_cases
    from strokeseg.device import resolve_device
    from strokeseg.evaluation.evaluate import EvaluationRequest
    from strokeseg.evaluation.inputs import resolve_reference
    from strokeseg.evaluation.report import BootstrapSettings
    from strokeseg.evaluation.strata import StrataSettings
    from strokeseg.evaluation.worker import EvaluationSettings
    from strokeseg.nnunet.predictions import is_trained_model_folder

    models = _prediction_sets(args)
    if not models:
        raise ConfigurationError("nothing to evaluate: give --predictions DIR, --model NAME=DIR or --models TABLE")
    split = args.references_split
    if split == "auto" and any(is_trained_model_folder(model.source) for model in models):
        split = "Tr"  # cross-validation predictions of a trained model are scored against labelsTr
    reference = resolve_reference(_reference_spec(args), split)
    cases_file = args.cases or reference.cases_csv
    cases = read_cases(cases_file) if cases_file is not None else None
    ignore_label = args.ignore_label if args.ignore_label is not None else reference.ignore_label
    settings = EvaluationSettings(
        device=resolve_device(args.device), nsd_tolerance_mm=args.nsd_tolerance, connectivity=args.connectivity,
        grid_tolerance_mm=args.grid_tolerance, labels=tuple(args.labels) if args.labels else None,
        ignore_label=ignore_label, uncertainty_divergence_threshold=args.uncertainty_threshold,
        uncertainty_prior=args.uncertainty_prior, uncertainty_review_cut=args.review_cut)
    strata = StrataSettings(volume_small_below_ml=args.volume_small_below,
                            volume_large_above_ml=args.volume_large_above, onset_early_below_h=args.onset_early_below,
                            onset_late_above_h=args.onset_late_above, wmh_groups=args.wmh_groups)
    bootstrap = BootstrapSettings(resamples=args.bootstrap_resamples, seed=args.bootstrap_seed,
                                  confidence=args.confidence, method=args.bootstrap_method)
    return EvaluationRequest(reference=reference, models=tuple(models), out=args.out, cases=cases, settings=settings,
                             strata=strata, bootstrap=bootstrap, by=tuple(args.by), location=args.location,
                             images_folder=args.images, location_min_fraction=args.location_min_fraction,
                             location_cache=args.location_cache, jobs=args.workers, strict=args.strict,
                             overwrite=args.overwrite, plots=not args.no_plots, baseline=args.baseline,
                             loa_z=args.loa_sd, readers=tuple(name for name, _ in map(parse_model_option, args.reader)),
                             p_adjustment=args.p_adjust, group_test=args.group_test, cohort_by=args.cohort_by,
                             infarct_labels=args.infarct_labels, inter_rater_dice=args.inter_rater_dice,
                             ventricle_masks=_ventricle_folder(args.ventricle_masks),
                             atlas_ventricles=args.ventricle_masks == ATLAS_VENTRICLES,
                             periventricular_mm=args.periventricular_distance)


def _ventricle_folder(value: str | None) -> Path | None:
    """The ``--ventricle-masks`` folder (None without the option or with ``atlas``)."""
    return None if value is None or value == ATLAS_VENTRICLES else Path(value)


def _reference_spec(args: argparse.Namespace) -> str:
    """``--references``, or the consensus folder of ``--reference-readings`` (written first)."""
    if args.reference_readings:
        if args.references is not None:
            raise ConfigurationError("give either -ref/--references or --reference-readings, not both")
        from strokeseg.evaluation.label_sources import write_consensus
        from strokeseg.labels import default_votes

        votes = args.votes if args.votes is not None else default_votes(len(args.reference_readings))
        consensus = write_consensus(args.reference_readings, votes, args.out / CONSENSUS_FOLDER, args.ignore_label)
        if consensus.skipped and args.strict:
            case, reason = next(iter(consensus.skipped.items()))
            raise InputDataError(f"reference consensus: case {case}: {reason} (--strict: stopped; "
                                 f"{len(consensus.skipped)} case(s) could not be voted on)")
        return str(consensus.folder)
    if args.votes is not None:
        raise ConfigurationError("--votes belongs to --reference-readings")
    if args.references is None:
        raise ConfigurationError("no reference labels: give -ref/--references or --reference-readings")
    return str(args.references)


def _cli_evaluate(args: argparse.Namespace) -> int:
    from strokeseg.evaluation.evaluate import run_evaluation

    result = run_evaluation(_build_request(args))
    print(format_overview(result))
    return 0


def format_overview(result: EvaluationResult) -> str:
    """A short text overview of a finished evaluation (printed by the CLI)."""
    from strokeseg.evaluation.worker import STATUS_OK

    lines = [f"{'model':<40} {'ok':>6} {'other':>6} {'mean DSC [95% CI]':>26} {'micro DSC':>10}"]
    for name, model in result.summary["models"].items():
        counts = model["cases_by_status"]
        ok = counts.get(STATUS_OK, 0)
        dice = model["overall"].get("dice", {})
        micro = model["overall"].get("micro_dice", {}).get("mean")
        interval = (f"{_number(dice.get('mean'))} [{_number(dice.get('ci_low'))}, {_number(dice.get('ci_high'))}]"
                    if dice else "-")
        lines.append(f"{name[:40]:<40} {ok:>6} {sum(counts.values()) - ok:>6} {interval:>26} {_number(micro):>10}")
    problems = result.summary["problems"]
    located = [p for p in problems if p["status"] == "location_failed"]
    if len(problems) > len(located):
        lines.append(f"{len(problems) - len(located)} case problem(s) reported in per_case.csv (status column); "
                     "--strict makes them fatal")
    if located:
        lines.append(f"{len(located)} case(s) could not be located with the atlas (stratum 'unknown'; "
                     "summary.json 'problems'); --strict makes them fatal")
    lines.append(f"report: {result.files[0].parent} ({len(result.files)} files)")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
