"""Post-processing of predictions: connected components, brain-mask restriction, ensemble uncertainty, reports.

* ``fit_postprocessing`` / ``apply_postprocessing`` (``strokeseg postprocess fit|apply``): minimum component
  volume, probability hysteresis and brain-mask restriction chosen on validation predictions;
* ``run_uncertainty`` (``strokeseg uncertainty``): Kim et al.'s ensemble uncertainty index per case;
* ``run_report`` (``strokeseg report``): per-case lesion volumes, counts, locations and QC figures.

See ``docs/postprocessing.md``.
"""

from __future__ import annotations

from strokeseg.postprocessing.components import PostprocessingParams, postprocess_mask, remove_small_components
from strokeseg.postprocessing.fitting import apply_postprocessing, fit_postprocessing, read_params
from strokeseg.postprocessing.lesion_report import ReportRequest, run_report
from strokeseg.postprocessing.uncertainty import run_uncertainty

__all__ = [
    "PostprocessingParams",
    "ReportRequest",
    "apply_postprocessing",
    "fit_postprocessing",
    "postprocess_mask",
    "read_params",
    "remove_small_components",
    "run_report",
    "run_uncertainty",
]
