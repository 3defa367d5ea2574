"""Residual U-Net with group normalization, after Tomita et al.'s chronic-lesion T1w network.

Built on ``dynamic_network_architectures``' ``ResidualUNet`` (residual basic blocks in encoder and decoder)
with group normalization instead of instance normalization and ReLU activations; the geometry comes from the
nnU-Net plans. Group normalization does not depend on the batch size, which matters for the large zoom-out
patches that allow only one or two samples per batch.

With ``pad_to_stride`` the network accepts inputs of any size: it pads each spatial axis with zeros to the next
multiple of its total downsampling and crops its output back (``strokeseg.trainers.networks.padding``), so that a
patch such as Tomita et al.'s 144 x 172 x 168 voxels keeps its field of view.
"""

from __future__ import annotations

import numpy as np
import torch
from dynamic_network_architectures.architectures.unet import ResidualUNet
from torch import nn

from strokeseg.defaults import GROUP_NORM_GROUPS
from strokeseg.trainers.networks.layers import ChannelGroupNorm, conv_op
from strokeseg.trainers.networks.padding import padded_forward
from strokeseg.trainers.networks.spec import UNetSpec


class ResidualGroupNormUNet(ResidualUNet):
    """``ResidualUNet`` with ``num_groups``-group normalization and ReLU, from a ``UNetSpec``.

    Args:
        pad_to_stride: accept any input size (zero padding to the total stride, output cropped back); needs
            deep supervision off for sizes that are no multiple of the stride.
    """

    def __init__(self, input_channels: int, num_classes: int, spec: UNetSpec, deep_supervision: bool = True,
                 num_groups: int = GROUP_NORM_GROUPS, pad_to_stride: bool = False) -> None:
        super().__init__(
            input_channels=input_channels, n_stages=spec.n_stages, features_per_stage=list(spec.features),
            conv_op=conv_op(spec.dim), kernel_sizes=[list(k) for k in spec.kernel_sizes],
            strides=[list(s) for s in spec.strides],
            n_blocks_per_stage=list(spec.residual_blocks(spec.encoder_convs)), num_classes=num_classes,
            n_conv_per_stage_decoder=list(spec.residual_blocks(spec.decoder_convs)), conv_bias=False,
            norm_op=ChannelGroupNorm, norm_op_kwargs={"num_groups": num_groups, "eps": 1e-5, "affine": True},
            nonlin=nn.ReLU, nonlin_kwargs={"inplace": True}, deep_supervision=deep_supervision)
        self.pad_to_stride = pad_to_stride
        #: Total downsampling per spatial axis: input sizes the plain network accepts are multiples of it.
        self.total_stride: tuple[int, ...] = tuple(int(v) for v in np.prod(np.array(spec.strides), axis=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if not self.pad_to_stride:
            return super().forward(x)
        return padded_forward(super().forward, x, self.total_stride)
