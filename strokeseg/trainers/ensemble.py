"""Deep-ensemble members (Kim et al.): K networks, each trained on its own 90 % subset with its own seed.

``strokeseg split`` writes ``splits_final.json`` with K entries, entry k holding member k's 90 % training and
10 % validation cases; member k is nnU-Net fold k: ``nnUNetv2_train ID CONF k -tr
nnUNetTrainer_strokeseg_SEUNet_Ensemble`` for k = 0..K-1. Each member's network initialization is seeded with
``base seed + k``; data augmentation stays nnU-Net's (non-deterministic worker seeds) unless the trainer sets a
``training_seed`` (then the whole run is seeded with the member's seed, ``strokeseg.trainers.base``). Unlike
nnU-Net, which silently falls back to a random 80:20 split for a fold the split file lacks, a member refuses to
train without its entry. Per-member probabilities: ``nnUNetv2_predict ... -f k --save_probabilities`` once per
member (``-f 0 1 2 3 4`` would average them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from strokeseg.defaults import DEFAULT_SEED
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.recipes import KIM, TINY

SPLITS_FILE = "splits_final.json"


def member_split(splits_file: Path, member: int) -> tuple[list[str], list[str]]:
    """Training and validation case identifiers of ensemble ``member`` from an nnU-Net split file.

    Raises:
        InputDataError: the file is missing, malformed, or has no entry for ``member``.
    """
    if not splits_file.is_file():
        raise InputDataError(f"{splits_file} is missing; write the ensemble members' 90 % subsets with "
                             "`strokeseg split` (one entry per member) before training ensemble members")
    try:
        splits = json.loads(splits_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputDataError(f"{splits_file} is not valid JSON ({error})") from error
    if not isinstance(splits, list) or not all(isinstance(s, dict) and {"train", "val"} <= s.keys() for s in splits):
        raise InputDataError(f"{splits_file} must be a list of {{'train': [...], 'val': [...]}} entries")
    if not 0 <= member < len(splits):
        raise InputDataError(f"{splits_file} has {len(splits)} entries, so there is no ensemble member {member} "
                             f"(members are folds 0..{len(splits) - 1}); write more members with `strokeseg split`")
    return list(splits[member]["train"]), list(splits[member]["val"])


class EnsembleMemberTrainer(StrokesegTrainer):
    """Member ``fold`` of a deep ensemble: seeded initialization, split entry required."""

    ensemble_base_seed: ClassVar[int] = DEFAULT_SEED

    @property
    def member_seed(self) -> int:
        """Seed of this member's initialization: ``ensemble_base_seed + fold``."""
        if self.fold == "all":
            raise ConfigurationError("ensemble members are folds 0..K-1 of the member split file, not 'all'")
        return self.ensemble_base_seed + int(self.fold)

    def run_seed(self) -> int:
        """Every member run is seeded: with ``member_seed``."""
        return self.member_seed

    def initialize(self) -> None:
        super().initialize()
        self.print_to_log_file(f"ensemble member {self.fold}: seed {self.member_seed}")

    def do_split(self) -> tuple[list[str], list[str]]:
        train, val = member_split(Path(self.preprocessed_dataset_folder_base) / SPLITS_FILE, int(self.fold))
        self.print_to_log_file(f"ensemble member {self.fold}: {len(train)} training, {len(val)} validation cases")
        return train, val


class nnUNetTrainer_strokeseg_Ensemble(EnsembleMemberTrainer):
    """Ensemble member with nnU-Net's default network and loss."""


class nnUNetTrainer_strokeseg_SEUNet_Ensemble(EnsembleMemberTrainer, settings=(KIM,)):
    """Ensemble member of Kim et al.'s SE-U-Net (Dice loss)."""


class nnUNetTrainer_strokeseg_SEUNet_Ensemble_Tiny(EnsembleMemberTrainer, settings=(KIM, TINY)):
    """CPU-sized ensemble member of the ``SEUNet`` (the ensemble example)."""
