"""Synthetic cohorts for the demo, the tests and the benchmarks (nothing is downloaded).

``generate_cohort`` writes template-based phantom cohorts in the real layouts (registry manifest, ISLES'22,
ATLAS R2.0, WMH 2017); ``SiteProfile`` describes a scanner; ``toy`` holds a minimal blob dataset for smoke tests;
``analytic_head`` an analytic head phantom with a known bias field for the preprocessing checks.
"""

from __future__ import annotations

from strokeseg.synthetic.cohort import generate_cohort
from strokeseg.synthetic.layouts import LAYOUTS
from strokeseg.synthetic.sites import ATLAS_SITES, DWI_SITES, WMH_SITES, SiteProfile, default_sites

__all__ = ["ATLAS_SITES", "DWI_SITES", "LAYOUTS", "WMH_SITES", "SiteProfile", "default_sites", "generate_cohort"]
