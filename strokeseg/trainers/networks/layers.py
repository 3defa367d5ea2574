"""Small layers shared by strokeseg's networks: dimension-agnostic ops, group norm with nnU-Net's signature,
squeeze-and-excitation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from dynamic_network_architectures.building_blocks.helper import (
    convert_dim_to_conv_op,
    get_matching_batchnorm,
    get_matching_convtransp,
    get_matching_instancenorm,
)
from torch import nn

from strokeseg.defaults import GROUP_NORM_GROUPS, SE_REDUCTION


def conv_op(dim: int) -> type[nn.Module]:
    """``nn.Conv2d`` or ``nn.Conv3d``."""
    return convert_dim_to_conv_op(dim)


def transposed_conv_op(dim: int) -> type[nn.Module]:
    """``nn.ConvTranspose2d`` or ``nn.ConvTranspose3d``."""
    return get_matching_convtransp(dimension=dim)


def batch_norm_op(dim: int) -> type[nn.Module]:
    """``nn.BatchNorm2d`` or ``nn.BatchNorm3d``."""
    return get_matching_batchnorm(dimension=dim)


def instance_norm_op(dim: int) -> type[nn.Module]:
    """``nn.InstanceNorm2d`` or ``nn.InstanceNorm3d``."""
    return get_matching_instancenorm(dimension=dim)


def same_padding(kernel_size: tuple[int, ...]) -> tuple[int, ...]:
    """Padding that keeps the spatial size of an odd kernel at stride 1."""
    return tuple((k - 1) // 2 for k in kernel_size)


def feature_map_size(channels: int, spatial: Sequence[int]) -> np.int64:
    """Number of values of one feature map (channels times voxels), for nnU-Net's VRAM estimate."""
    return np.prod([channels, *spatial], dtype=np.int64)


class ChannelGroupNorm(nn.GroupNorm):
    """Group normalization with nnU-Net's ``norm_op(num_channels, **kwargs)`` signature (2D and 3D).

    ``num_groups`` is reduced to the largest divisor of ``num_channels`` not above it, so that narrow
    (CPU-sized) networks still normalize in groups.
    """

    def __init__(self, num_channels: int, num_groups: int = GROUP_NORM_GROUPS, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__(math.gcd(num_groups, num_channels), num_channels, eps=eps, affine=affine)


class SqueezeExcitation(nn.Module):
    """Channel attention of Hu et al.: global average pool over all spatial axes, bottleneck MLP, sigmoid gate.

    Works for 2D and 3D feature maps (``(b, c, *spatial)``). The hidden width is ``channels // reduction``,
    at least 4.
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.mean(dim=tuple(range(2, x.ndim)))
        gate = torch.sigmoid(self.fc2(self.act(self.fc1(squeezed))))
        return x * gate.view(*gate.shape, *([1] * (x.ndim - 2)))


def he_initialize(module: nn.Module, negative_slope: float = 0.0) -> None:
    """Kaiming-normal weights and zero biases for convolutions (use with ``network.apply``)."""
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        nn.init.kaiming_normal_(module.weight, a=negative_slope)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
