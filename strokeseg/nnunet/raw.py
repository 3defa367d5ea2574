"""Layout of an nnU-Net v2 raw dataset: folder and file names, and ``dataset.json``.

An nnU-Net raw dataset lives in ``$nnUNet_raw/DatasetXXX_Name`` with ``imagesTr/{case}_{channel:04d}.nii.gz``,
``labelsTr/{case}.nii.gz`` (optionally ``imagesTs``/``labelsTs``) and a ``dataset.json`` whose
``channel_names`` select the normalization of each channel.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError
from strokeseg.io import IMAGE_SUFFIXES, PathLike, write_json_atomic
from strokeseg.nnunet.folders import RAW, environment_folder

FILE_ENDING = ".nii.gz"
_DATASET_PATTERN = re.compile(r"^(?:Dataset)?(\d{1,3})(?:_.*)?$")


def dataset_folder_name(dataset_id: int, name: str) -> str:
    """``Dataset{id:03d}_{name}``, validated the way nnU-Net expects it."""
    if not 1 <= dataset_id <= 999:
        raise ConfigurationError(f"dataset id {dataset_id} is outside nnU-Net's range 1-999")
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigurationError(f"dataset name {name!r} must be letters, digits, '-' or '_' (no spaces)")
    return f"Dataset{dataset_id:03d}_{name}"


def image_path(dataset_dir: PathLike, case_id: str, channel: int, split: str = "Tr") -> Path:
    """Path of one channel of one case (``imagesTr/{case}_{channel:04d}.nii.gz``)."""
    return Path(dataset_dir) / f"images{split}" / f"{case_id}_{channel:04d}{FILE_ENDING}"


def label_path(dataset_dir: PathLike, case_id: str, split: str = "Tr") -> Path:
    """Path of the label map of one case (``labelsTr/{case}.nii.gz``)."""
    return Path(dataset_dir) / f"labels{split}" / f"{case_id}{FILE_ENDING}"


def case_image(images_folder: Path, case_id: str) -> Path | None:
    """The first channel of a case in an images folder (``{case}_0000`` in nnU-Net naming), or ``{case}.*`` in a
    folder with one image per case; None when neither exists. Any image ending strokeseg reads is accepted."""
    for suffix in IMAGE_SUFFIXES:
        for name in (f"{case_id}_0000{suffix}", f"{case_id}{suffix}"):
            if (images_folder / name).is_file():
                return images_folder / name
    return None


def write_dataset_json(dataset_dir: PathLike, channel_names: Mapping[int, str], labels: Mapping[str, int],
                       num_training: int, description: str = "", extra: Mapping[str, object] | None = None,
                       overwrite: bool = True) -> Path:
    """Write ``dataset.json`` atomically.

    Args:
        channel_names: channel index -> channel name; the names select strokeseg's normalizations
            (e.g. ``DWI``, ``ADC``, ``FLAIR``, ``T1w``) through the strokeseg planners.
        labels: label name -> value, ``background`` must be 0; an ``ignore`` label must be the highest value.
        num_training: number of cases in ``imagesTr``.
        extra: further keys (licence, reference, strokeseg provenance).
    """
    if labels.get("background") != 0:
        raise ConfigurationError(f"labels must map 'background' to 0, got {dict(labels)}")
    content: dict[str, object] = {
        "channel_names": {str(index): name for index, name in sorted(channel_names.items())},
        "labels": dict(labels),
        "numTraining": int(num_training),
        "file_ending": FILE_ENDING,
        "description": description,
    }
    content.update(extra or {})
    return write_json_atomic(Path(dataset_dir) / "dataset.json", content, overwrite=overwrite)


def find_dataset(raw_root: PathLike | None, dataset: str | int) -> Path:
    """The dataset folder in ``raw_root`` for an ID (``500``, ``"500"``), ``Dataset500`` or a folder name
    (``Dataset500_X``); ``raw_root`` None means ``$nnUNet_raw``.

    Raises:
        InputDataError: ``dataset`` is no ID or name, there is no such dataset, or several folders share the id.
        ConfigurationError: ``raw_root`` is None and ``$nnUNet_raw`` is unset.
    """
    text = str(dataset)
    match = _DATASET_PATTERN.match(text)
    if match is None:
        raise InputDataError(f"{text!r} is neither an existing folder nor an nnU-Net dataset ID/name "
                             "(an ID such as 501, or a folder name such as Dataset501_Name)")
    root = Path(raw_root) if raw_root is not None else environment_folder(RAW)
    dataset_id = int(match.group(1))
    matches = sorted(p for p in root.glob(f"Dataset{dataset_id:03d}_*") if p.is_dir()) if root.is_dir() else []
    if "_" in text:
        matches = [p for p in matches if p.name == text]
    if len(matches) > 1:
        raise InputDataError(f"dataset id {dataset_id} is used by several folders in {root}: "
                             f"{', '.join(p.name for p in matches)}; nnU-Net needs unique ids")
    if matches:
        return matches[0]
    expected = text if "_" in text else f"Dataset{dataset_id:03d}_NAME"
    raise InputDataError(f"no dataset {text} in {root} (expected a folder {expected}); is {RAW} (--raw) right?")


def check_new_dataset(raw_root: PathLike, dataset_id: int, name: str, overwrite: bool = False) -> Path:
    """The folder of a dataset about to be written; refuses when another dataset uses the id, or the dataset
    exists and ``overwrite`` is off.

    Raises:
        OutputExistsError: with the folder in the way and what to do.
    """
    root = Path(raw_root)
    target = root / dataset_folder_name(dataset_id, name)
    prefix = f"Dataset{dataset_id:03d}_"
    if root.is_dir():
        clashes = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix) and p != target)
        if clashes:
            raise OutputExistsError(f"dataset id {dataset_id} is already used by {clashes[0]}; nnU-Net needs unique "
                                    "ids: choose another dataset id")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists; pass --overwrite to replace it (the existing dataset is "
                                "kept until the new one is complete)")
    return target


def publish_dataset(staging: PathLike, target: PathLike) -> None:
    """Rename a completely written ``staging`` folder to ``target``; an existing ``target`` is replaced only
    after the rename succeeded (it is moved aside first, then deleted)."""
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.replaced")
    if retired.exists():
        shutil.rmtree(retired)
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired)
