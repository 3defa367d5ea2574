"""The papers' study designs as nnU-Net splits: learning curve, domain adaptation, vendor, single site, ensemble.

``designs`` holds the pure, deterministic and stratified split designs (a cases table in, a ``SplitPlan``
out); ``datasets`` writes a plan to disk (``splits_final.json`` in place, or a derived dataset linking the
source's files); ``cli`` is ``strokeseg split``. The names below are the API the experiment recipes use.
"""

from __future__ import annotations

from strokeseg.splits.datasets import (
    DESIGNS,
    SPLITS_FILE,
    WrittenSplits,
    apply_design,
    load_training_cases,
    split_dataset,
)
from strokeseg.splits.designs import (
    Fold,
    SplitPlan,
    domain_adaptation_split,
    ensemble_split,
    learning_curve_split,
    single_site_split,
    vendor_split,
)

__all__ = [
    "DESIGNS",
    "SPLITS_FILE",
    "Fold",
    "SplitPlan",
    "WrittenSplits",
    "apply_design",
    "domain_adaptation_split",
    "ensemble_split",
    "learning_curve_split",
    "load_training_cases",
    "single_site_split",
    "split_dataset",
    "vendor_split",
]
