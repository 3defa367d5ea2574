"""Cohort converters: real on-disk layouts -> nnU-Net raw datasets plus ``cases.csv``.

One module per cohort (``isles22``, ``atlas``, ``wmh``, ``registry`` with ``dicom``); ``convert`` runs any of them
case by case (resumable, parallel) and ``dry_run`` lists what it would write. The names below are imported on
first use, so that ``strokeseg convert --help`` does not load the image libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.dataset_conversion.case_conversion import CaseOptions
    from strokeseg.dataset_conversion.convert import convert, dry_run

__getattr__, __dir__ = lazy_exports(__name__, {
    "CaseOptions": "strokeseg.dataset_conversion.case_conversion",
    "convert": "strokeseg.dataset_conversion.convert",
    "dry_run": "strokeseg.dataset_conversion.convert",
})

__all__ = ["CaseOptions", "convert", "dry_run"]
