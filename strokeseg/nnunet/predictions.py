"""Prediction folders and trained-model folders: finding nnU-Net's predicted label maps by case.

A prediction folder is what ``nnUNetv2_predict`` writes: ``CASE.nii.gz`` label maps, with
``--save_probabilities`` also ``CASE.npz`` (:mod:`strokeseg.nnunet.probabilities`) and ``CASE.pkl``. A
trained-model folder ``.../DatasetXXX_Name/Trainer__Plans__Configuration`` holds one prediction folder per
fold, ``fold_*/validation`` (the cross-validation predictions); the cases each fold held out are listed in
``$nnUNet_preprocessed/DatasetXXX_Name/splits_final.json``. Cases are matched by ID, the file name without
its image ending (``case_001.nii.gz`` -> ``case_001``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from strokeseg.errors import InputDataError
from strokeseg.io import image_files, read_json
from strokeseg.nnunet.folders import PREPROCESSED, optional_environment_folder

#: nnU-Net's cross-validation prediction folder inside each fold of a trained model.
VALIDATION_FOLDER = "validation"


def is_trained_model_folder(path: Path) -> bool:
    """Whether ``path`` looks like an nnU-Net trained-model folder (has ``fold_*/validation``)."""
    return path.is_dir() and any(p.is_dir() for p in path.glob(f"fold_*/{VALIDATION_FOLDER}"))


def validation_folder(model_folder: Path, fold: str) -> Path:
    """The cross-validation prediction folder of one fold of a trained model."""
    return model_folder / f"fold_{fold}" / VALIDATION_FOLDER


def validation_folds(model_folder: Path, folds: Sequence[str] | None = None) -> list[str]:
    """The folds of a trained model whose cross-validation predictions to use.

    Args:
        model_folder: the trained-model folder.
        folds: the folds wanted (default: every fold with a validation folder, in name order).

    Raises:
        InputDataError: a wanted fold has no validation folder.
    """
    available = sorted(p.parent.name.removeprefix("fold_") for p in model_folder.glob(f"fold_*/{VALIDATION_FOLDER}"))
    chosen = list(folds) if folds else available
    missing = [fold for fold in chosen if fold not in available]
    if missing:
        raise InputDataError(f"trained model {model_folder}: no {VALIDATION_FOLDER} folder for fold(s) "
                             f"{', '.join(missing)} (available: {', '.join(available)}); run nnUNetv2_train --val "
                             "for them")
    return chosen


def prediction_files(folder: Path, what: str, folds: Sequence[str] | None = None) -> dict[str, Path]:
    """case_id -> predicted label map of a prediction folder, or of a trained-model folder's cross-validation
    predictions (``folds``, default every fold; ignored for a prediction folder).

    Args:
        folder: prediction folder or trained-model folder.
        what: what the predictions are, for error messages (``"predictions of model 'x'"``).
        folds: folds of a trained model to gather.

    Raises:
        InputDataError: the folder is missing, a fold lacks its validation folder, or a case was predicted
            in two folds.
    """
    if not folder.is_dir():
        raise InputDataError(f"{what}: folder {folder} does not exist")
    if not is_trained_model_folder(folder):
        return image_files(folder, what)
    files: dict[str, Path] = {}
    for fold in validation_folds(folder, folds):
        for case_id, path in image_files(validation_folder(folder, fold), what).items():
            if case_id in files:
                raise InputDataError(f"case {case_id} was predicted in two folds ({files[case_id]} and {path}); "
                                     "cross-validation folds must not overlap")
            files[case_id] = path
    return files


def cross_validation_cases(model_folder: Path, folds: Sequence[str]) -> frozenset[str] | None:
    """The cases ``folds`` of a trained model held out, from ``splits_final.json`` in ``$nnUNet_preprocessed``.

    Returns:
        The case IDs, or None when the splits file cannot be found or a fold is not a numbered split (``all``).

    Raises:
        InputDataError: the splits file is not a list of folds.
    """
    preprocessed = optional_environment_folder(PREPROCESSED)
    if preprocessed is None:
        return None
    splits_file = preprocessed / model_folder.parent.name / "splits_final.json"
    if not splits_file.is_file():
        return None
    splits = read_json(splits_file)
    if not isinstance(splits, list):
        raise InputDataError(f"{splits_file} is not a list of folds")
    cases: set[str] = set()
    for fold in folds:
        if not fold.isdigit() or int(fold) >= len(splits):
            return None  # e.g. fold "all": no held-out cases to expect
        cases.update(splits[int(fold)]["val"])
    return frozenset(cases)
