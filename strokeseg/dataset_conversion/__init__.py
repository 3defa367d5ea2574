"""Cohort converters: real on-disk layouts -> nnU-Net raw datasets plus ``cases.csv``.

One module per cohort (``isles22``, ``atlas``, ``wmh``, ``registry`` with ``dicom``); ``convert`` runs any of them
case by case (resumable, parallel) and ``dry_run`` lists what it would write.
"""

from __future__ import annotations

from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.convert import convert, dry_run

__all__ = ["CaseOptions", "convert", "dry_run"]
