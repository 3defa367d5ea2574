"""benchmarks/bench_training_overhead.py: ``--trainers`` picks trainers of its list by short or full name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import bench_training_overhead as overhead


def test_trainers_are_chosen_by_short_or_full_name_in_the_lists_order() -> None:
    assert overhead.chosen_trainers(None) == overhead.TRAINERS
    assert overhead.chosen_trainers(["BiConvLSTMUNet", "nnUNetTrainer_strokeseg_SEUNet"]) == (
        "nnUNetTrainer_strokeseg_SEUNet", "nnUNetTrainer_strokeseg_BiConvLSTMUNet")
    with pytest.raises(ValueError, match="not measured by this benchmark: nnUNetTrainer_strokeseg_Nope; choose from "
                                         "Tversky, BCEDice"):
        overhead.chosen_trainers(["Nope", "SEUNet"])
