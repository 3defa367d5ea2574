"""``strokeseg predict``: one command from a scanner export (DICOM), a BIDS dataset or NIfTI files to a reviewed
result: lesion mask, volume, location, uncertainty flag, QC montage and per-case reports. See ``docs/predict.md``.

Modules, one job each: ``inputs`` (what INPUT holds), ``model`` (the trained model and its channels),
``inference`` (nnU-Net's predictor), ``segmentation`` (ensemble, uncertainty, post-processing), ``results`` (the
case's report), ``layout`` (output names, resuming), ``runner`` (the passes over the cases). The names below are
imported on first use, so that ``strokeseg predict --help`` does not load torch or the image libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.predict.model import load_model
    from strokeseg.predict.runner import PredictRequest, run_predict

__getattr__, __dir__ = lazy_exports(__name__, {
    "load_model": "strokeseg.predict.model",
    **dict.fromkeys(("PredictRequest", "run_predict"), "strokeseg.predict.runner"),
})

__all__ = ["PredictRequest", "load_model", "run_predict"]
