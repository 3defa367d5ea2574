"""Trainers only the test suite runs; ``conftest.py`` lists this folder in ``nnUNet_extTrainer``, so that the stock
nnU-Net CLIs find them the way they find strokeseg's own trainers."""

from __future__ import annotations

from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.recipes import ALIS, TINY


class nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny(StrokesegTrainer, settings=(ALIS, TINY)):
    """CPU-sized ``BiConvLSTMUNet`` (one stock-CLI train + predict run of the ConvLSTM family)."""
