"""What a paper preset names: the classes and designs that run one published study as published."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Folder of the fidelity tables, relative to the repository root (``docs/papers/<key>.md``).
FIDELITY_FOLDER = Path("docs") / "papers"


@dataclass(frozen=True)
class Preset:
    """One paper's method as strokeseg runs it.

    Attributes:
        key: short identifier, also the name of the preset module and of its fidelity table
            (``docs/papers/<key>.md``).
        title: the paper, as users cite it (authors, title, journal, year).
        planner: ``nnUNetv2_plan_and_preprocess -pl`` class name.
        plans: plans identifier the planner writes (``-p`` of ``nnUNetv2_train`` / ``nnUNetv2_predict``).
        configuration: the nnU-Net configuration the paper's model trains and predicts with.
        trainer: the paper-exact trainer (``-tr``).
        cpu_trainer: the same code path with a schedule sized for a CPU (tests, demo, examples).
        finetune_trainer: the paper's fine-tuning trainer, when the paper fine-tunes.
        cpu_finetune_trainer: its CPU-sized twin.
        variants: further trainers under this preset, by role (e.g. ``"nnunet_flavoured"``): clearly named
            variants that keep nnU-Net's choices where the paper made others.
        split_design: the ``strokeseg split`` / experiment design the paper's study uses.
        split_options: the paper's parameters of that design (counts, fractions, pools).
        experiment: the paper's experiment as a config mapping (the ``study`` part of an experiment YAML).
    """

    key: str
    title: str
    planner: str
    plans: str
    configuration: str
    trainer: str
    cpu_trainer: str
    finetune_trainer: str | None = None
    cpu_finetune_trainer: str | None = None
    variants: Mapping[str, str] = field(default_factory=dict)
    split_design: str | None = None
    split_options: Mapping[str, Any] = field(default_factory=dict)
    experiment: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fidelity_table(self) -> Path:
        """The fidelity table's path relative to the repository root."""
        return FIDELITY_FOLDER / f"{self.key}.md"

    def trainers(self) -> tuple[str, ...]:
        """Every trainer the preset names, paper-exact ones first."""
        names = [self.trainer, self.finetune_trainer, self.cpu_trainer, self.cpu_finetune_trainer,
                 *self.variants.values()]
        return tuple(dict.fromkeys(name for name in names if name))
