"""The papers' study designs as nnU-Net splits: learning curve, domain adaptation, vendor, single site, ensemble.

``designs`` holds the pure, deterministic and stratified split designs (a cases table in, a ``SplitPlan``
out); ``datasets`` writes a plan to disk (``splits_final.json`` in place, or a derived dataset linking the
source's files); ``cli`` is ``strokeseg split``. The names below are the API the experiment recipes use; they
are imported on first use, so that ``strokeseg split --help`` does not load pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
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
        train_dev_test_split,
        vendor_split,
    )

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("DESIGNS", "SPLITS_FILE", "WrittenSplits", "apply_design", "load_training_cases",
                     "split_dataset"), "strokeseg.splits.datasets"),
    **dict.fromkeys(("Fold", "SplitPlan", "domain_adaptation_split", "ensemble_split", "learning_curve_split",
                     "single_site_split", "train_dev_test_split", "vendor_split"), "strokeseg.splits.designs"),
})

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
    "train_dev_test_split",
    "vendor_split",
]
