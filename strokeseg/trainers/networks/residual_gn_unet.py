"""Residual U-Net with group normalization, after Tomita et al.'s chronic-lesion T1w network.

Built on ``dynamic_network_architectures``' ``ResidualUNet`` (residual basic blocks in encoder and decoder)
with group normalization instead of instance normalization and ReLU activations; the geometry comes from the
nnU-Net plans. Group normalization does not depend on the batch size, which matters for the large zoom-out
patches that allow only one or two samples per batch.
"""

from __future__ import annotations

from dynamic_network_architectures.architectures.unet import ResidualUNet
from torch import nn

from strokeseg.defaults import GROUP_NORM_GROUPS
from strokeseg.trainers.networks.layers import ChannelGroupNorm, conv_op
from strokeseg.trainers.networks.spec import UNetSpec


class ResidualGroupNormUNet(ResidualUNet):
    """``ResidualUNet`` with ``num_groups``-group normalization and ReLU, from a ``UNetSpec``."""

    def __init__(self, input_channels: int, num_classes: int, spec: UNetSpec, deep_supervision: bool = True,
                 num_groups: int = GROUP_NORM_GROUPS) -> None:
        super().__init__(
            input_channels=input_channels, n_stages=spec.n_stages, features_per_stage=list(spec.features),
            conv_op=conv_op(spec.dim), kernel_sizes=[list(k) for k in spec.kernel_sizes],
            strides=[list(s) for s in spec.strides],
            n_blocks_per_stage=list(spec.residual_blocks(spec.encoder_convs)), num_classes=num_classes,
            n_conv_per_stage_decoder=list(spec.residual_blocks(spec.decoder_convs)), conv_bias=False,
            norm_op=ChannelGroupNorm, norm_op_kwargs={"num_groups": num_groups, "eps": 1e-5, "affine": True},
            nonlin=nn.ReLU, nonlin_kwargs={"inplace": True}, deep_supervision=deep_supervision)
