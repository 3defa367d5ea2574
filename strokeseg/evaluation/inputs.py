"""Finding the files to evaluate: reference labels, predictions, probability maps, case images.

``--ref`` is a folder of label maps, an nnU-Net raw dataset folder, or a dataset ID/name looked up in
``$nnUNet_raw`` (then ``labelsTs`` or ``labelsTr``, the dataset's ``cases.csv``, ignore label and images are
found automatically). A prediction source is a folder of label maps or an nnU-Net trained-model folder
(``.../DatasetXXX_Name/Trainer__Plans__Configuration``), whose cross-validation predictions
``fold_*/validation/`` are gathered; the cases expected there are the validation cases of those folds in
``$nnUNet_preprocessed/DatasetXXX_Name/splits_final.json`` when it exists. Cases are matched by ID: the file
name without its image ending (``case_001.nii.gz`` -> ``case_001``). Files that are not images (nnU-Net's
``.json``, ``.npz``, ``.pkl``) are ignored; hidden files too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import IMAGE_SUFFIXES, strip_image_suffix
from strokeseg.nnunet.folders import PREPROCESSED, optional_environment_folder
from strokeseg.nnunet.raw import find_dataset

#: nnU-Net's cross-validation prediction folder inside each fold of a trained model.
VALIDATION_FOLDER = "validation"
#: File name nnU-Net's ``--save_probabilities`` gives a case's class probabilities.
PROBABILITY_SUFFIX = ".npz"
#: Key of the probabilities inside that file.
PROBABILITY_KEY = "probabilities"


def image_files(folder: Path, what: str) -> dict[str, Path]:
    """case_id -> image file for every image in ``folder`` (not recursive).

    Raises:
        InputDataError: the folder is missing, or two files share a case ID (``a.nii`` and ``a.nii.gz``).
    """
    if not folder.is_dir():
        raise InputDataError(f"{what} folder {folder} does not exist")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or not path.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        case_id = strip_image_suffix(path)
        if case_id in files:
            raise InputDataError(f"{what} folder {folder} holds two files for case {case_id!r}: "
                                 f"{files[case_id].name} and {path.name}; keep one")
        files[case_id] = path
    return files


@dataclass(frozen=True)
class ReferenceSet:
    """Reference label maps and what their dataset says about them.

    Attributes:
        folder: the labels folder.
        files: case_id -> label file.
        dataset_folder: the nnU-Net raw dataset folder, when the reference is part of one.
        ignore_label: dataset.json's ``ignore`` label value, if any.
        cases_csv: the dataset's ``cases.csv``, when present.
        images_folder: the dataset's images folder matching the labels (for the location atlas).
    """

    folder: Path
    files: dict[str, Path]
    dataset_folder: Path | None = None
    ignore_label: int | None = None
    cases_csv: Path | None = None
    images_folder: Path | None = None


@dataclass(frozen=True)
class PredictionSet:
    """One model's predictions.

    Attributes:
        name: model name used in every report.
        source: the folder given by the user.
        files: case_id -> predicted label map.
        expected_cases: the cases this model should have predicted (None: every reference case).
        training_cases: training-set size (learning curve), if known.
        probability_folders: folders with ``<case>.npz`` probability maps (ensemble members when several).
    """

    name: str
    source: Path
    files: dict[str, Path]
    expected_cases: frozenset[str] | None = None
    training_cases: int | None = None
    probability_folders: tuple[Path, ...] = field(default=())


def resolve_reference(spec: str, split: str = "auto") -> ReferenceSet:
    """Resolve ``--ref``: a labels folder, a raw dataset folder, or a dataset ID/name in ``$nnUNet_raw``.

    Args:
        spec: what the user gave.
        split: ``Tr``, ``Ts`` or ``auto`` (``labelsTs`` when it exists, else ``labelsTr``) for datasets.
    """
    if split not in ("auto", "Tr", "Ts"):
        raise ConfigurationError(f"reference split must be auto, Tr or Ts, got {split!r}")
    path = Path(spec)
    if path.is_dir() and not (path / "dataset.json").is_file():
        return ReferenceSet(folder=path, files=image_files(path, "reference"))
    dataset = path if path.is_dir() else find_dataset(None, spec)
    if split == "auto":
        split = "Ts" if (dataset / "labelsTs").is_dir() else "Tr"
    labels = dataset / f"labels{split}"
    dataset_json = _read_json(dataset / "dataset.json")
    if not isinstance(dataset_json, Mapping):
        raise InputDataError(f"{dataset / 'dataset.json'} is not a JSON object")
    images = dataset / f"images{split}"
    cases_csv = dataset / "cases.csv"
    return ReferenceSet(folder=labels, files=image_files(labels, "reference"), dataset_folder=dataset,
                        ignore_label=ignore_label_of(dataset_json),
                        cases_csv=cases_csv if cases_csv.is_file() else None,
                        images_folder=images if images.is_dir() else None)


def ignore_label_of(dataset_json: Mapping[str, object]) -> int | None:
    """Value of the ``ignore`` label in a dataset.json ``labels`` mapping, if any."""
    labels = dataset_json.get("labels")
    if not isinstance(labels, Mapping) or "ignore" not in labels:
        return None
    value = labels["ignore"]
    if not isinstance(value, int):
        raise InputDataError(f"dataset.json: the ignore label must be one integer, got {value!r}")
    return value


def is_trained_model_folder(path: Path) -> bool:
    """Whether ``path`` looks like an nnU-Net trained-model folder (has ``fold_*/validation``)."""
    return path.is_dir() and any(p.is_dir() for p in path.glob(f"fold_*/{VALIDATION_FOLDER}"))


def resolve_predictions(name: str, spec: Path, folds: Sequence[str] | None = None,
                        training_cases: int | None = None,
                        probability_folders: Sequence[Path] = ()) -> PredictionSet:
    """Resolve one model's predictions from a folder or a trained-model folder.

    Args:
        name: model name for the reports.
        spec: predictions folder, or trained-model folder (cross-validation predictions).
        folds: folds of a trained model to gather (default: every fold with a validation folder).
        training_cases: training-set size, for the learning curve.
        probability_folders: folders with ``<case>.npz`` maps; for a trained model the validation folders
            are used when they hold ``.npz`` files and none are given.
    """
    if not spec.is_dir():
        raise InputDataError(f"predictions of model {name!r}: folder {spec} does not exist")
    if not is_trained_model_folder(spec):
        if folds:
            raise ConfigurationError(f"--folds applies to nnU-Net trained-model folders; {spec} has no "
                                     f"fold_*/{VALIDATION_FOLDER} folder")
        return PredictionSet(name, spec, image_files(spec, f"predictions of model {name!r}"),
                             training_cases=training_cases, probability_folders=tuple(probability_folders))
    available = sorted(p.parent.name.removeprefix("fold_") for p in spec.glob(f"fold_*/{VALIDATION_FOLDER}"))
    chosen = list(folds) if folds else available
    missing = [fold for fold in chosen if fold not in available]
    if missing:
        raise InputDataError(f"trained model {spec}: no {VALIDATION_FOLDER} folder for fold(s) {', '.join(missing)} "
                             f"(available: {', '.join(available)}); run nnUNetv2_train --val for them")
    files: dict[str, Path] = {}
    validation_folders = [spec / f"fold_{fold}" / VALIDATION_FOLDER for fold in chosen]
    for folder in validation_folders:
        for case_id, path in image_files(folder, f"predictions of model {name!r}").items():
            if case_id in files:
                raise InputDataError(f"case {case_id} was predicted in two folds ({files[case_id]} and {path}); "
                                     "cross-validation folds must not overlap")
            files[case_id] = path
    if not probability_folders and any(any(f.glob(f"*{PROBABILITY_SUFFIX}")) for f in validation_folders):
        probability_folders = validation_folders
    return PredictionSet(name, spec, files, expected_cases=_cross_validation_cases(spec, chosen),
                         training_cases=training_cases, probability_folders=tuple(probability_folders))


def _cross_validation_cases(model_folder: Path, folds: Sequence[str]) -> frozenset[str] | None:
    """Validation cases of ``folds`` from splits_final.json in ``$nnUNet_preprocessed``, if it can be found."""
    preprocessed = optional_environment_folder(PREPROCESSED)
    if preprocessed is None:
        return None
    splits_file = preprocessed / model_folder.parent.name / "splits_final.json"
    if not splits_file.is_file():
        return None
    splits = _read_json(splits_file)
    if not isinstance(splits, list):
        raise InputDataError(f"{splits_file} is not a list of folds")
    cases: set[str] = set()
    for fold in folds:
        if not fold.isdigit() or int(fold) >= len(splits):
            return None  # e.g. fold "all": no held-out cases to expect
        cases.update(splits[int(fold)]["val"])
    return frozenset(cases)


def probability_file(folder: Path, case_id: str) -> Path:
    """Where nnU-Net's ``--save_probabilities`` put a case's probabilities."""
    return folder / f"{case_id}{PROBABILITY_SUFFIX}"


def case_image(folder: Path, case_id: str) -> Path | None:
    """The image of a case for registration: channel 0 in nnU-Net naming (``case_0000.nii.gz``) or ``case.*``."""
    for suffix in IMAGE_SUFFIXES:
        for name in (f"{case_id}_0000{suffix}", f"{case_id}{suffix}"):
            if (folder / name).is_file():
                return folder / name
    return None


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise InputDataError(f"{path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputDataError(f"{path} is not valid JSON ({error})") from None
