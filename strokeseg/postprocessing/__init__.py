"""Post-processing of predictions: connected components, brain-mask restriction, ensemble uncertainty, reports.

* ``fit_postprocessing`` / ``apply_postprocessing`` (``strokeseg postprocess fit|apply``): minimum component
  volume, probability hysteresis and brain-mask restriction chosen on cross-validation predictions, the identity
  unless the gain is robust (small-lesion guard, no lost lesion, bootstrap interval above zero);
* ``run_uncertainty`` (``strokeseg uncertainty``): Kim et al.'s ensemble uncertainty index per case;
* ``run_report`` (``strokeseg report``): per-case lesion volumes, counts, locations and QC figures.

The names are imported on first use, so that the commands' ``--help`` does not load the image libraries.
See ``docs/postprocessing.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.postprocessing.components import PostprocessingParams, postprocess_mask, remove_small_components
    from strokeseg.postprocessing.fitting import apply_postprocessing, fit_postprocessing, read_params
    from strokeseg.postprocessing.lesion_report import ReportRequest, run_report
    from strokeseg.postprocessing.uncertainty import run_uncertainty

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("PostprocessingParams", "postprocess_mask", "remove_small_components"),
                    "strokeseg.postprocessing.components"),
    **dict.fromkeys(("apply_postprocessing", "fit_postprocessing", "read_params"), "strokeseg.postprocessing.fitting"),
    **dict.fromkeys(("ReportRequest", "run_report"), "strokeseg.postprocessing.lesion_report"),
    "run_uncertainty": "strokeseg.postprocessing.uncertainty",
})

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
