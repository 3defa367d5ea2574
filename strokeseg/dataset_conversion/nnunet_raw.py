"""Layout of an nnU-Net v2 raw dataset: folder and file names, and ``dataset.json``.

An nnU-Net raw dataset lives in ``$nnUNet_raw/DatasetXXX_Name`` with ``imagesTr/{case}_{channel:04d}.nii.gz``,
``labelsTr/{case}.nii.gz`` (optionally ``imagesTs``/``labelsTs``) and a ``dataset.json`` whose
``channel_names`` select the normalization of each channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from strokeseg.errors import ConfigurationError
from strokeseg.io import PathLike, write_json_atomic

FILE_ENDING = ".nii.gz"

#: Channel names written into ``dataset.json``; strokeseg's planners map them to normalizations.
CHANNEL_DWI = "DWI"      # diffusion-weighted, b ≈ 1000 s/mm²
CHANNEL_ADC = "ADC"      # apparent diffusion coefficient map, 10⁻⁶ mm²/s
CHANNEL_B0 = "b0"        # b = 0 image of the diffusion series
CHANNEL_FLAIR = "FLAIR"  # FLAIR (WMH pipeline)
CHANNEL_T1W = "T1w"      # T1-weighted (ATLAS pipeline; also the WMH challenge's T1)

#: Label names: lesion is 1; the WMH challenge's "other pathology" becomes nnU-Net's ignore label.
LABEL_BACKGROUND = "background"
LABEL_IGNORE = "ignore"


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
