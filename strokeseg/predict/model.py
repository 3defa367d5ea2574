"""The trained model ``strokeseg predict`` runs: its members, the channels it expects, its post-processing.

``--model`` is either one nnU-Net trained-model folder (``Trainer__Plans__Configuration`` holding ``plans.json``,
``dataset.json`` and ``fold_X/checkpoint_final.pth``) or a folder holding several of them (an ensemble of
models). Every fold of every model folder is one ensemble *member* (``-f`` picks folds); with two or more members
the members are predicted separately, so that Kim et al.'s uncertainty index can be computed from their
probabilities. All members must expect the same channels (``channel_names`` of their ``dataset.json``).

Post-processing fitted for the model (``strokeseg postprocess fit``) is applied when the ``--model`` folder holds
``postprocessing.json`` (:data:`MODEL_POSTPROCESSING_FILE`, the format of
:mod:`strokeseg.postprocessing.fitting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import read_json

#: nnU-Net's checkpoint of a finished training run (``nnUNetv2_predict -chk`` default).
DEFAULT_CHECKPOINT = "checkpoint_final.pth"
#: The fitted post-processing a model folder may hold (what ``strokeseg postprocess fit --out`` writes).
MODEL_POSTPROCESSING_FILE = "postprocessing.json"
_MODEL_FILES = ("plans.json", "dataset.json")


@dataclass(frozen=True)
class ModelMember:
    """One ensemble member: a fold of a trained-model folder."""

    folder: Path
    fold: str

    @property
    def name(self) -> str:
        """``Trainer__Plans__Configuration/fold_X``."""
        return f"{self.folder.name}/fold_{self.fold}"


@dataclass(frozen=True)
class TrainedModel:
    """A trained model as ``strokeseg predict`` uses it.

    Attributes:
        path: the ``--model`` folder.
        members: the members, in folder and fold order.
        channels: the channel names the model expects, in input order (``_0000``, ``_0001``, ...).
        checkpoint: the checkpoint file name inside each fold folder.
        postprocessing_file: the fitted post-processing to apply (None: none found or switched off).
    """

    path: Path
    members: tuple[ModelMember, ...]
    channels: tuple[str, ...]
    checkpoint: str
    postprocessing_file: Path | None

    @property
    def is_ensemble(self) -> bool:
        """Two or more members: the uncertainty index is computed."""
        return len(self.members) > 1

    def identity(self) -> list[Any]:
        """What decides whether an earlier result came from this model (member checkpoints' sizes and times)."""
        stamps = []
        for member in self.members:
            checkpoint = member.folder / f"fold_{member.fold}" / self.checkpoint
            stat = checkpoint.stat()
            stamps.append([str(checkpoint.resolve()), stat.st_size, stat.st_mtime_ns])
        if self.postprocessing_file is not None:
            stat = self.postprocessing_file.stat()
            stamps.append([str(self.postprocessing_file.resolve()), stat.st_size, stat.st_mtime_ns])
        return stamps


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is an nnU-Net trained-model folder (plans.json, dataset.json and at least one fold)."""
    return path.is_dir() and all((path / name).is_file() for name in _MODEL_FILES) and \
        any(fold.is_dir() for fold in path.glob("fold_*"))


def model_folders(path: Path) -> list[Path]:
    """The trained-model folders of ``--model``: the folder itself, or the model folders directly inside it.

    Raises:
        InputDataError: ``path`` is missing or neither kind of folder.
    """
    if not path.is_dir():
        raise InputDataError(f"model folder {path} does not exist")
    if is_model_folder(path):
        return [path]
    inside = sorted(child for child in path.iterdir() if is_model_folder(child))
    if not inside:
        raise InputDataError(f"{path} is not a trained nnU-Net model folder: expected plans.json, dataset.json and "
                             "fold_X/ folders (the Trainer__Plans__Configuration folder in $nnUNet_results/"
                             "DatasetXXX_Name), or a folder holding several such folders (an ensemble)")
    return inside


def model_channels(folder: Path) -> tuple[str, ...]:
    """The channel names of a model folder's ``dataset.json``, in index order.

    Raises:
        InputDataError: dataset.json lacks ``channel_names`` (or nnU-Net v1's ``modality``) or is not valid JSON.
    """
    dataset = read_json(folder / "dataset.json")
    names = dataset.get("channel_names", dataset.get("modality")) if isinstance(dataset, dict) else None
    if not isinstance(names, dict) or not names:
        raise InputDataError(f"{folder / 'dataset.json'} has no channel_names; is it an nnU-Net v2 model folder?")
    try:
        ordered = sorted(names.items(), key=lambda item: int(item[0]))
    except ValueError:
        raise InputDataError(f"{folder / 'dataset.json'}: channel_names keys must be channel numbers "
                             f"('0', '1', ...), got {', '.join(names)}") from None
    return tuple(str(name) for _, name in ordered)


def members_of(folder: Path, folds: Sequence[str] | None, checkpoint: str) -> list[ModelMember]:
    """The members of one model folder: ``folds`` (default: every ``fold_X`` with the checkpoint).

    Raises:
        InputDataError: a requested fold has no checkpoint, or no fold has one.
    """
    available = sorted(fold.name.removeprefix("fold_") for fold in folder.glob("fold_*")
                       if (fold / checkpoint).is_file())
    chosen = list(folds) if folds else available
    missing = [fold for fold in chosen if fold not in available]
    if missing or not chosen:
        raise InputDataError(f"model folder {folder}: no {checkpoint} for fold(s) "
                             f"{', '.join(missing) or '(any)'} (folds with one: {', '.join(available) or 'none'}); "
                             "train them first or choose others with -f")
    return [ModelMember(folder, fold) for fold in chosen]


def load_model(path: Path, folds: Sequence[str] | None = None, checkpoint: str = DEFAULT_CHECKPOINT,
               postprocessing: bool = True) -> TrainedModel:
    """Read ``--model`` (module docstring) without loading any network.

    Args:
        path: a trained-model folder or a folder of them.
        folds: folds to use in every model folder (default: all with a checkpoint).
        checkpoint: checkpoint file name.
        postprocessing: use ``path/postprocessing.json`` when present.

    Raises:
        InputDataError: no model, missing checkpoints.
        ConfigurationError: the model folders expect different channels.
    """
    folders = model_folders(path)
    channels = {folder: model_channels(folder) for folder in folders}
    distinct = set(channels.values())
    if len(distinct) > 1:
        listing = "; ".join(f"{folder.name}: {', '.join(names)}" for folder, names in channels.items())
        raise ConfigurationError(f"the models in {path} expect different channels ({listing}); an ensemble's "
                                 "members must take the same inputs")
    members = tuple(member for folder in folders for member in members_of(folder, folds, checkpoint))
    postprocessing_file = path / MODEL_POSTPROCESSING_FILE
    return TrainedModel(path, members, distinct.pop(), checkpoint,
                        postprocessing_file if postprocessing and postprocessing_file.is_file() else None)
