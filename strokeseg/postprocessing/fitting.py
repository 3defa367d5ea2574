"""``fit`` and ``apply`` of the connected-component post-processing on nnU-Net prediction folders.

A prediction folder is what ``nnUNetv2_predict`` writes: ``CASE.nii.gz`` label maps and, with
``--save_probabilities``, ``CASE.npz`` (key ``probabilities``, shape (C, z, y, x)) plus ``CASE.pkl``.
``fit`` searches, on validation predictions with reference masks, every combination of

* hysteresis thresholds (``POSTPROCESS_HYSTERESIS_HIGH`` × ``POSTPROCESS_HYSTERESIS_LOW``, low ≤ high) or none —
  searched only when every case has its ``.npz``,
* brain-mask restriction on or off — searched only when brain masks are given,
* the minimum component volume (exact sweep over all thresholds, :mod:`strokeseg.postprocessing.selection`),

and keeps the one with the best mean Dice or mean lesion F1 among those that remove no component as large as
the small reference lesions and lose no reference lesion; ties go to the least post-processing. That candidate
is adopted only when its gain is robust (:mod:`strokeseg.postprocessing.decision`); otherwise the result is the
identity. The parameters JSON records the decision, its evidence, the validation scores before and after, and
the data the fit was made on. ``apply`` refuses a fit made on fewer than ``POSTPROCESS_MIN_FIT_CASES`` cases
unless forced.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from strokeseg import __version__
from strokeseg.defaults import (
    GRID_TOLERANCE_MM,
    LESION_CONNECTIVITY,
    POSTPROCESS_HYSTERESIS_HIGH,
    POSTPROCESS_HYSTERESIS_LOW,
    POSTPROCESS_MIN_FIT_CASES,
    POSTPROCESS_SMALL_LESION_QUANTILE,
)
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError, StrokesegError
from strokeseg.grids import on_reference_grid
from strokeseg.io import (
    Geometry,
    array_to_image,
    image_files,
    read_array,
    write_image_atomic,
    write_json_atomic,
)
from strokeseg.labels import read_lesion_mask, read_lesion_mask_on_grid
from strokeseg.nnunet.predictions import is_trained_model_folder, prediction_files, validation_folds
from strokeseg.nnunet.probabilities import probability_file, read_foreground_probability
from strokeseg.postprocessing.components import PostprocessingParams, postprocess_mask
from strokeseg.postprocessing.decision import decision_reason, gain_evidence, small_lesion_guard
from strokeseg.postprocessing.selection import (
    CaseComponents,
    SweepResult,
    ValidationScores,
    case_components,
    case_scores,
    check_objective,
    sweep_min_volume,
    validation_scores,
)
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)

#: ``format`` value of the parameters JSON.
PARAMS_FORMAT = "strokeseg-postprocessing/2"
#: Earlier ``format`` values ``apply`` still reads (no decision recorded).
OLD_PARAMS_FORMATS: tuple[str, ...] = ("strokeseg-postprocessing/1",)
#: Copy of the parameters that ``apply`` writes into its output folder.
APPLIED_PARAMS_FILE = "postprocessing.json"


@dataclass(frozen=True)
class PredictionCase:
    """The files of one predicted case: label map, probability map (or None) and brain mask (or None)."""

    case_id: str
    prediction: Path
    probability: Path | None = None
    brain_mask: Path | None = None


def prediction_cases(predictions_dir: Path, *, need_probabilities: bool | None = None,
                     brain_masks_dir: Path | None = None) -> list[PredictionCase]:
    """The cases of a prediction folder with their probability maps and brain masks.

    Args:
        predictions_dir: ``nnUNetv2_predict`` output folder, or an nnU-Net trained-model folder (the
            cross-validation predictions of every ``fold_*/validation`` are gathered).
        need_probabilities: True: every case needs its ``.npz``; False: ignore them; None: use them when every
            case has one (some but not all is an error, to avoid silently fitting on a subset).
        brain_masks_dir: folder of ``CASE.nii.gz`` brain masks (non-zero = brain), one per case.

    Raises:
        InputDataError: no predictions, missing ``.npz`` or brain masks.
    """
    files = prediction_files(predictions_dir, f"predictions of model {predictions_dir.name!r}")
    if not files:
        raise InputDataError(f"predictions folder {predictions_dir} holds no label maps (CASE.nii.gz)")
    with_npz = {case for case, path in files.items() if probability_file(path.parent, case).is_file()}
    if need_probabilities is None:
        need_probabilities = bool(with_npz)
    missing_npz = sorted(set(files) - with_npz) if need_probabilities else []
    if missing_npz:
        raise InputDataError(f"predictions folder {predictions_dir}: {len(missing_npz)} case(s) lack a probability "
                             f"map (.npz), e.g. {', '.join(missing_npz[:5])}; predict all cases with "
                             "nnUNetv2_predict --save_probabilities (or remove the .npz files to fit without "
                             "hysteresis)")
    masks: dict[str, Path] = {}
    if brain_masks_dir is not None:
        masks = image_files(brain_masks_dir, "brain masks")
        missing = sorted(set(files) - set(masks))
        if missing:
            raise InputDataError(f"brain-mask folder {brain_masks_dir} lacks {len(missing)} case(s), e.g. "
                                 f"{', '.join(missing[:5])} (expected CASE.nii.gz for every prediction)")
    return [PredictionCase(case, path, probability_file(path.parent, case) if need_probabilities else None,
                           masks.get(case)) for case, path in sorted(files.items())]


@dataclass(frozen=True)
class _LoadedCase:
    label_map: np.ndarray
    prediction: np.ndarray
    geometry: Geometry
    probability: np.ndarray | None
    brain_mask: np.ndarray | None

    @property
    def voxel_ml(self) -> float:
        return voxel_volume_ml(self.geometry.spacing)


def _load(case: PredictionCase) -> _LoadedCase:
    label_map, prediction, geometry = read_lesion_mask(case.prediction, f"prediction of case {case.case_id}")
    probability = None if case.probability is None else read_foreground_probability(case.probability,
                                                                                      prediction.shape)
    brain = None
    if case.brain_mask is not None:
        what = f"brain mask of case {case.case_id}"
        brain_map, brain_geometry = read_array(case.brain_mask, what)
        brain_map, _ = on_reference_grid(brain_map, brain_geometry, geometry, f"{what} {case.brain_mask}",
                                         f"prediction {case.prediction}", GRID_TOLERANCE_MM)
        brain = brain_map != 0
    return _LoadedCase(label_map, prediction, geometry, probability, brain)


def _skipped(case_id: str, error: StrokesegError, skipped: list[dict[str, str]]) -> None:
    """Record a case left out because of ``error`` (its files are missing, damaged or off-grid)."""
    logger.warning("case %s left out: %s", case_id, error)
    skipped.append({"case_id": case_id, "note": str(error)})


def _refuse_skipped(skipped: Sequence[dict[str, str]], what: str) -> None:
    lines = "\n".join(f"  {row['case_id']}: {row['note']}" for row in skipped)
    raise InputDataError(f"--strict: {len(skipped)} case(s) could not be {what}:\n{lines}")


def candidate_options(hysteresis: bool, brain_masks: bool, *, connectivity: int = LESION_CONNECTIVITY,
                      high: Sequence[float] = POSTPROCESS_HYSTERESIS_HIGH,
                      low: Sequence[float] = POSTPROCESS_HYSTERESIS_LOW) -> list[PostprocessingParams]:
    """Every hysteresis/brain-mask combination ``fit`` tries (minimum volume 0), least post-processing first."""
    thresholds: list[tuple[float | None, float | None]] = [(None, None)]
    if hysteresis:
        thresholds += [(h, lo) for h in sorted(high) for lo in sorted(low, reverse=True) if lo <= h]
    restrictions = (False, True) if brain_masks else (False,)
    return [PostprocessingParams(0.0, h, lo, restrict, connectivity)
            for restrict in restrictions for h, lo in thresholds]


def fit_postprocessing(predictions_dir: Path, references_dir: Path, out_json: Path, *, objective: str = "dice",
                       brain_masks_dir: Path | None = None, overwrite: bool = False,
                       connectivity: int = LESION_CONNECTIVITY,
                       hysteresis_high: Sequence[float] = POSTPROCESS_HYSTERESIS_HIGH,
                       hysteresis_low: Sequence[float] = POSTPROCESS_HYSTERESIS_LOW,
                       strict: bool = False) -> dict[str, Any]:
    """Choose post-processing parameters on validation predictions; write and return the parameters JSON.

    A case whose files cannot be used (damaged, off the prediction's grid, not a label map) is left out of the
    fit and listed under ``skipped_cases`` with the reason; missing files are refused before any work.

    Args:
        predictions_dir: ``nnUNetv2_predict`` output of the validation cases (``.npz`` enable hysteresis), or
            a trained-model folder ``Trainer__Plans__Configuration`` (all folds' ``fold_*/validation``).
        references_dir: reference masks ``CASE.nii.gz`` (labelsTr style; non-zero = lesion).
        out_json: where to write the parameters.
        objective: ``dice`` (mean per-case Dice) or ``lesion_f1`` (mean per-case lesion F1).
        brain_masks_dir: brain masks ``CASE.nii.gz``; when given, the restriction to the brain is tried.
        overwrite: replace an existing ``out_json``.
        connectivity: component connectivity (6, 18, 26).
        hysteresis_high, hysteresis_low: candidate hysteresis thresholds.
        strict: a left-out case is an error (nothing is written).

    Returns:
        The JSON content: ``params`` (the identity unless adopted), ``objective``, ``decision``, ``evidence``,
        ``validation`` (``before``/``after`` scores, ``n_cases`` used), ``skipped_cases``, ``search``, ``data``
        (docs/postprocessing.md).
    """
    try:
        check_objective(objective)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if out_json.exists() and not overwrite:
        raise OutputExistsError(f"{out_json} already exists; pass --overwrite to replace it")
    cases = prediction_cases(predictions_dir, brain_masks_dir=brain_masks_dir)
    references = image_files(references_dir, "references")
    missing = sorted(case.case_id for case in cases if case.case_id not in references)
    if missing:
        raise InputDataError(f"references folder {references_dir} lacks {len(missing)} predicted case(s), e.g. "
                             f"{', '.join(missing[:5])}; fit needs a reference mask for every prediction")
    hysteresis = cases[0].probability is not None
    try:
        options = candidate_options(hysteresis, brain_masks_dir is not None, connectivity=connectivity,
                                    high=hysteresis_high, low=hysteresis_low)
    except ValueError as error:
        raise ConfigurationError(f"post-processing search: {error}") from None
    tables: list[list[CaseComponents]] = [[] for _ in options]
    skipped: list[dict[str, str]] = []
    for case in tqdm(cases, desc="fitting post-processing", unit="case", disable=len(cases) < 2, leave=False):
        try:
            loaded = _load(case)
            reference = read_lesion_mask_on_grid(references[case.case_id], f"reference of case {case.case_id}",
                                                 loaded.geometry)
        except StrokesegError as error:
            _skipped(case.case_id, error, skipped)
            continue
        for option, table in zip(options, tables, strict=True):
            mask = postprocess_mask(loaded.prediction, option, loaded.voxel_ml, probability=loaded.probability,
                                    brain_mask=loaded.brain_mask)
            table.append(case_components(mask, reference, loaded.voxel_ml, connectivity))
    if skipped and (strict or not tables[0]):
        _refuse_skipped(skipped, "used for fitting")
    n_used = len(tables[0])
    guard = small_lesion_guard(tables[0], POSTPROCESS_SMALL_LESION_QUANTILE)
    before = case_scores(tables[0])
    sweeps = [sweep_min_volume(table, objective, max_volume_ml=guard.max_min_volume_ml,
                               min_detected_lesions=before.detected_lesions) for table in tables]
    best = max((i for i, sweep in enumerate(sweeps) if sweep.feasible),
               key=lambda i: (round(sweeps[i].score, 12), -i))  # the identity (option 0) is always feasible
    candidate = PostprocessingParams(**{**options[best].as_dict(), "min_volume_ml": sweeps[best].min_volume_ml})
    identity = PostprocessingParams(connectivity=connectivity)
    evidence = gain_evidence(before, case_scores(tables[best], candidate.min_volume_ml), objective)
    adopt, reason = decision_reason(evidence, candidate != identity)
    chosen, chosen_table = (candidate, tables[best]) if adopt else (identity, tables[0])
    before_means = validation_scores(tables[0])
    after_means = validation_scores(chosen_table, chosen.min_volume_ml)
    logger.info("post-processing fitted on %d case(s): %s", n_used, reason)
    if n_used < POSTPROCESS_MIN_FIT_CASES:
        logger.warning("post-processing fitted on only %d case(s); 'apply' refuses it unless forced (fit on all "
                       "cross-validation predictions, at least %d cases)", n_used, POSTPROCESS_MIN_FIT_CASES)
    result = {
        "format": PARAMS_FORMAT,
        "params": chosen.as_dict(),
        "objective": objective,
        "decision": {"postprocess": adopt, "reason": reason, "candidate": candidate.as_dict()},
        "evidence": {"gain": evidence.as_dict(), "small_lesion_guard": guard.as_dict()},
        "validation": {"n_cases": n_used, "before": _scores(before_means), "after": _scores(after_means)},
        "skipped_cases": skipped,
        "search": {"hysteresis_searched": hysteresis, "brain_mask_searched": brain_masks_dir is not None,
                   "options": len(options), "best_score_per_option": _option_scores(options, sweeps)},
        "data": _fit_data(predictions_dir, references_dir, brain_masks_dir, cases),
        "strokeseg_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(out_json, result, overwrite)
    return result


def _scores(scores: ValidationScores) -> dict[str, float]:
    return {"mean_dice": scores.mean_dice, "mean_lesion_f1": scores.mean_lesion_f1}


def _option_scores(options: Sequence[PostprocessingParams], sweeps: Sequence[SweepResult]) -> list[dict[str, Any]]:
    return [{"hysteresis_high": o.hysteresis_high, "hysteresis_low": o.hysteresis_low,
             "restrict_to_brain": o.restrict_to_brain, "min_volume_ml": s.min_volume_ml, "score": s.score,
             "loses_lesions_unfiltered": not s.feasible}
            for o, s in zip(options, sweeps, strict=True)]


def _fit_data(predictions_dir: Path, references_dir: Path, brain_masks_dir: Path | None,
              cases: Sequence[PredictionCase]) -> dict[str, Any]:
    """What the fit was made on: folders, the cross-validation folds gathered, the cases."""
    folds = validation_folds(predictions_dir) if is_trained_model_folder(predictions_dir) else None
    if folds is None:
        logger.info("fitting on the prediction folder %s; nnU-Net fits on the validation predictions of all "
                    "cross-validation folds (pass the trained-model folder to gather them)", predictions_dir)
    return {"predictions": str(predictions_dir), "cross_validation_folds": folds, "references": str(references_dir),
            "brain_masks": None if brain_masks_dir is None else str(brain_masks_dir), "n_cases": len(cases),
            "case_ids": [case.case_id for case in cases]}


@dataclass(frozen=True)
class FittedPostprocessing:
    """A parameters JSON as ``apply`` reads it.

    Attributes:
        params: the parameters to apply.
        n_cases: validation cases of the fit (None for a file written by hand without ``validation``).
    """

    params: PostprocessingParams
    n_cases: int | None


def read_fit(params_json: Path) -> FittedPostprocessing:
    """The parameters of a JSON written by :func:`fit_postprocessing` (or by hand, same layout) and its case count.

    Raises:
        InputDataError: the file is missing, not JSON, or not a strokeseg post-processing file.
    """
    if not params_json.is_file():
        raise InputDataError(f"post-processing parameters {params_json} do not exist; run strokeseg postprocess fit")
    try:
        content = json.loads(params_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputDataError(f"{params_json} is not valid JSON ({error})") from None
    if (not isinstance(content, dict) or content.get("format") not in (PARAMS_FORMAT, *OLD_PARAMS_FORMATS)
            or "params" not in content):
        raise InputDataError(f"{params_json} is not a strokeseg post-processing file (format {PARAMS_FORMAT!r})")
    try:
        params = PostprocessingParams.from_dict(content["params"])
    except (TypeError, ValueError) as error:
        raise InputDataError(f"{params_json}: invalid parameters ({error})") from None
    n_cases = content.get("validation", {}).get("n_cases")
    if n_cases is not None and not isinstance(n_cases, int):
        raise InputDataError(f"{params_json}: validation.n_cases must be an integer, got {n_cases!r}")
    return FittedPostprocessing(params, n_cases)


def read_params(params_json: Path) -> PostprocessingParams:
    """The parameters of a JSON written by :func:`fit_postprocessing` (see :func:`read_fit`)."""
    return read_fit(params_json).params


def apply_postprocessing(predictions_dir: Path, params_json: Path, out_dir: Path, *, overwrite: bool = False,
                         brain_masks_dir: Path | None = None, strict: bool = False,
                         allow_small_fit: bool = False) -> list[Path]:
    """Post-process every label map of a prediction folder with fitted parameters.

    Writes ``out_dir/CASE.nii.gz`` (same grid and pixel type as the input; lesion labels are kept, voxels
    added by hysteresis get label 1) and a copy of the parameters as ``out_dir/postprocessing.json``, with
    ``skipped_cases``: the cases whose files could not be used, and why (the others are written).

    Args:
        predictions_dir: ``nnUNetv2_predict`` output (``.npz`` needed when the parameters use hysteresis).
        params_json: parameters from :func:`fit_postprocessing`.
        out_dir: output folder (must differ from ``predictions_dir``).
        overwrite: replace existing outputs.
        brain_masks_dir: brain masks, needed when the parameters restrict to the brain.
        strict: raise InputDataError (after writing the others) when a case was skipped.
        allow_small_fit: apply parameters fitted on fewer than ``POSTPROCESS_MIN_FIT_CASES`` cases.

    Returns:
        The written label maps, in case order.

    Raises:
        ConfigurationError: a fit on too few cases (without ``allow_small_fit``), a missing brain-mask folder,
            or ``out_dir`` equal to ``predictions_dir``.
    """
    fit = read_fit(params_json)
    params = fit.params
    if fit.n_cases is not None and fit.n_cases < POSTPROCESS_MIN_FIT_CASES and not allow_small_fit:
        raise ConfigurationError(f"{params_json} was fitted on {fit.n_cases} validation case(s), fewer than "
                                 f"{POSTPROCESS_MIN_FIT_CASES}: too few to trust; fit on all cross-validation "
                                 "predictions (the trained-model folder), or pass --allow-small-fit to apply it "
                                 "anyway")
    if out_dir.resolve() == predictions_dir.resolve():
        raise ConfigurationError(f"the output folder {out_dir} is the predictions folder; choose another --out")
    if params.restrict_to_brain and brain_masks_dir is None:
        raise ConfigurationError(f"{params_json} restricts predictions to the brain; pass the brain masks "
                                 "(--brain-masks DIR)")
    cases = prediction_cases(predictions_dir, need_probabilities=params.uses_hysteresis,
                             brain_masks_dir=brain_masks_dir if params.restrict_to_brain else None)
    targets = [out_dir / case.prediction.name for case in cases]
    existing = [path.name for path in targets if path.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{out_dir} already holds {len(existing)} of the outputs (e.g. {existing[0]}); "
                                "pass --overwrite to replace them")
    written = []
    skipped: list[dict[str, str]] = []
    for case, target in tqdm(list(zip(cases, targets, strict=True)), desc="post-processing", unit="case",
                             disable=len(cases) < 2, leave=False):
        try:
            written.append(_apply_one(case, params, target))
        except OutputExistsError:
            raise
        except StrokesegError as error:
            _skipped(case.case_id, error, skipped)
    applied = json.loads(params_json.read_text(encoding="utf-8"))
    write_json_atomic(out_dir / APPLIED_PARAMS_FILE, {**applied, "skipped_cases": skipped})
    logger.info("post-processed %d case(s) into %s", len(written), out_dir)
    if strict and skipped:
        _refuse_skipped(skipped, "post-processed (the others are written)")
    return written


def _apply_one(case: PredictionCase, params: PostprocessingParams, target: Path) -> Path:
    loaded = _load(case)
    mask = postprocess_mask(loaded.prediction, params, loaded.voxel_ml, probability=loaded.probability,
                            brain_mask=loaded.brain_mask)
    labels = loaded.label_map
    result = np.where(mask, np.where(loaded.prediction, labels, 1), 0).astype(labels.dtype)
    return write_image_atomic(array_to_image(result, loaded.geometry), target)
