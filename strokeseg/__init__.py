"""strokeseg: stroke-lesion segmentation research pipelines built on nnU-Net v2.

The package reproduces four published pipelines (acute DWI infarcts, inter-vendor DWI+ADC transfer,
chronic ATLAS T1w lesions, FLAIR white-matter hyperintensities) as nnU-Net planners, preprocessors,
normalizations and trainers that the stock ``nnUNetv2_*`` command-line tools can use, plus converters,
post-processing, evaluation and experiment recipes behind one ``strokeseg`` command.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("strokeseg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
