"""U-Net with squeeze-and-excitation blocks, 2D or 3D, after Kim et al.'s FLAIR white-matter-hyperintensity
network.

nnU-Net's ``PlainConvUNet`` (built from the plans, with the plans' normalization and activation) in which every
encoder and decoder stage is followed by channel-wise squeeze-and-excitation (Hu et al.). Our own
``SqueezeExcitation`` pools over all spatial axes, also in 3D.
"""

from __future__ import annotations

import pydoc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet
from dynamic_network_architectures.building_blocks.simple_conv_blocks import StackedConvBlocks
from torch import nn

from strokeseg.defaults import SE_REDUCTION
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.networks.layers import SqueezeExcitation, conv_op, feature_map_size, instance_norm_op
from strokeseg.trainers.networks.spec import UNetSpec


class SqueezeExcitedConvBlocks(nn.Module):
    """A stage of stacked convolutions followed by squeeze-and-excitation."""

    def __init__(self, blocks: StackedConvBlocks, reduction: int = SE_REDUCTION) -> None:
        super().__init__()
        self.blocks = blocks
        self.output_channels = blocks.output_channels
        self.initial_stride = list(blocks.initial_stride)
        self.se = SqueezeExcitation(self.output_channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.blocks(x))

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """The convolutions' feature maps plus the gated output (nnU-Net's VRAM estimate)."""
        output = [i // s for i, s in zip(input_size, self.initial_stride, strict=True)]
        return self.blocks.compute_conv_feature_map_size(input_size) + feature_map_size(self.output_channels, output)


class SEUNet(PlainConvUNet):
    """``PlainConvUNet`` with squeeze-and-excitation after every encoder and decoder stage.

    Takes ``PlainConvUNet``'s arguments plus ``se_reduction``.
    """

    def __init__(self, *args: Any, se_reduction: int = SE_REDUCTION, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for stage in self.encoder.stages:
            # PlainConvEncoder wraps each stage in a Sequential whose last module is the StackedConvBlocks
            stage[-1] = SqueezeExcitedConvBlocks(stage[-1], se_reduction)
        for s, stage in enumerate(self.decoder.stages):
            self.decoder.stages[s] = SqueezeExcitedConvBlocks(stage, se_reduction)


def _resolve_ops(arch_kwargs: Mapping[str, Any], dim: int) -> dict[str, Any]:
    """The plans' normalization, dropout and activation as classes (nnU-Net stores dotted names)."""
    resolved: dict[str, Any] = {}
    defaults = {"norm_op": instance_norm_op(dim), "nonlin": nn.LeakyReLU, "dropout_op": None}
    for key, default in defaults.items():
        value = arch_kwargs.get(key, default)
        if isinstance(value, str):
            located = pydoc.locate(value)
            if located is None:
                raise ConfigurationError(f"cannot import {key} {value!r} named in the plans")
            value = located
        resolved[key] = value
    resolved["norm_op_kwargs"] = arch_kwargs.get("norm_op_kwargs") or {"eps": 1e-5, "affine": True}
    resolved["nonlin_kwargs"] = arch_kwargs.get("nonlin_kwargs") or {"inplace": True}
    resolved["dropout_op_kwargs"] = arch_kwargs.get("dropout_op_kwargs")
    resolved["conv_bias"] = bool(arch_kwargs.get("conv_bias", True))
    return resolved


def build_se_unet(arch_kwargs: Mapping[str, Any], spec: UNetSpec, input_channels: int, num_classes: int,
                  deep_supervision: bool, se_reduction: int = SE_REDUCTION) -> SEUNet:
    """An ``SEUNet`` with the geometry ``spec`` and the normalization/activation of the plans' ``arch_kwargs``."""
    network = SEUNet(input_channels=input_channels, n_stages=spec.n_stages, features_per_stage=list(spec.features),
                     conv_op=conv_op(spec.dim), kernel_sizes=[list(k) for k in spec.kernel_sizes],
                     strides=[list(s) for s in spec.strides], n_conv_per_stage=list(spec.encoder_convs),
                     num_classes=num_classes, n_conv_per_stage_decoder=list(spec.decoder_convs),
                     deep_supervision=deep_supervision, se_reduction=se_reduction,
                     **_resolve_ops(arch_kwargs, spec.dim))
    network.apply(SEUNet.initialize)
    return network
