"""strokeseg's network families, built from the geometry in nnU-Net plans.

* ``PreActResidualUNet`` — pre-activation residual U-Net (Noh et al.), 2D or 3D.
* ``ResidualGroupNormUNet`` — residual U-Net with group normalization (Tomita et al.), 2D or 3D.
* ``SEUNet`` — U-Net with squeeze-and-excitation (Kim et al.), 2D or 3D.
* ``SliceStackConvLSTMUNet`` — residual 2D U-Net with bidirectional ConvLSTMs across slices (Alis et al.).

All follow nnU-Net's conventions: ``decoder.deep_supervision`` toggles the deep-supervision outputs (highest
resolution first), segmentation heads live in ``decoder.seg_layers``, and ``compute_conv_feature_map_size``
feeds nnU-Net's VRAM estimate.
"""

from __future__ import annotations

from strokeseg.trainers.networks.convlstm_unet import SliceStackConvLSTMUNet
from strokeseg.trainers.networks.preact_unet import PreActResidualUNet
from strokeseg.trainers.networks.residual_gn_unet import ResidualGroupNormUNet
from strokeseg.trainers.networks.se_unet import SEUNet, build_se_unet
from strokeseg.trainers.networks.spec import UNetSpec, count_convolution_layers, count_parameters

__all__ = ["PreActResidualUNet", "ResidualGroupNormUNet", "SEUNet", "SliceStackConvLSTMUNet", "UNetSpec",
           "build_se_unet", "count_convolution_layers", "count_parameters"]
