"""What to evaluate: the reference set and each model's predictions, resolved from the command line.

``--references`` is a folder of label maps, an nnU-Net raw dataset folder, or a dataset ID/name looked up in
``$nnUNet_raw`` (then ``labelsTs`` or ``labelsTr``, the dataset's ``cases.csv``, ignore label and images are
found automatically). A prediction source is a folder of label maps or an nnU-Net trained-model folder
(``.../DatasetXXX_Name/Trainer__Plans__Configuration``), whose cross-validation predictions
``fold_*/validation/`` are gathered; the cases expected there are the validation cases of those folds in
``$nnUNet_preprocessed/DatasetXXX_Name/splits_final.json`` when it exists (:mod:`strokeseg.nnunet.predictions`).
Cases are matched by ID: the file name without its image ending (``case_001.nii.gz`` -> ``case_001``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import image_files, read_json
from strokeseg.nnunet.predictions import (
    VALIDATION_FOLDER,
    cross_validation_cases,
    is_trained_model_folder,
    prediction_files,
    validation_folder,
    validation_folds,
)
from strokeseg.nnunet.probabilities import probability_files
from strokeseg.nnunet.raw import find_dataset


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
    """Resolve ``--references``: a labels folder, a raw dataset folder, or a dataset ID/name in ``$nnUNet_raw``.

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
    dataset_json = read_json(dataset / "dataset.json")
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
    what = f"predictions of model {name!r}"
    if folds and spec.is_dir() and not is_trained_model_folder(spec):
        raise ConfigurationError(f"--folds applies to nnU-Net trained-model folders; {spec} has no "
                                 f"fold_*/{VALIDATION_FOLDER} folder")
    files = prediction_files(spec, what, folds)
    if not is_trained_model_folder(spec):
        return PredictionSet(name, spec, files, training_cases=training_cases,
                             probability_folders=tuple(probability_folders))
    chosen = validation_folds(spec, folds)
    validation_folders = [validation_folder(spec, fold) for fold in chosen]
    if not probability_folders and any(probability_files(folder) for folder in validation_folders):
        probability_folders = validation_folders
    return PredictionSet(name, spec, files, expected_cases=cross_validation_cases(spec, chosen),
                         training_cases=training_cases, probability_folders=tuple(probability_folders))
