"""The values ``strokeseg predict``'s settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: Input kinds: ``auto`` detects the kind from INPUT (docs/predict.md, "Inputs").
INPUT_KINDS: tuple[str, ...] = ("auto", "dicom", "bids", "nifti")
#: BIDS-app analysis levels ``strokeseg predict`` runs (each participant on its own).
ANALYSIS_LEVELS: tuple[str, ...] = ("participant",)
