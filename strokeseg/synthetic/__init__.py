"""Synthetic cohorts for the demo, the tests and the benchmarks (nothing is downloaded).

``generate_cohort`` writes template-based phantom cohorts in the real layouts (registry manifest, ISLES'22,
ATLAS R2.0, WMH 2017); ``SiteProfile`` describes a scanner; ``toy`` holds a minimal blob dataset for smoke tests;
``analytic_head`` an analytic head phantom with a known bias field for the preprocessing checks. The names
below are imported on first use, so that ``strokeseg synth --help`` does not load the image libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.synthetic.choices import LAYOUTS
    from strokeseg.synthetic.cohort import generate_cohort
    from strokeseg.synthetic.sites import (
        ATLAS_SITES,
        DWI_SITES,
        SHIFTED_DWI_SITES,
        WMH_SITES,
        SiteProfile,
        default_sites,
        site_set,
    )

__getattr__, __dir__ = lazy_exports(__name__, {
    "generate_cohort": "strokeseg.synthetic.cohort",
    "LAYOUTS": "strokeseg.synthetic.choices",
    **dict.fromkeys(("ATLAS_SITES", "DWI_SITES", "SHIFTED_DWI_SITES", "WMH_SITES", "SiteProfile", "default_sites",
                     "site_set"),
                    "strokeseg.synthetic.sites"),
})

__all__ = ["ATLAS_SITES", "DWI_SITES", "LAYOUTS", "SHIFTED_DWI_SITES", "WMH_SITES", "SiteProfile", "default_sites",
           "generate_cohort", "site_set"]
