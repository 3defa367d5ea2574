"""U-Net with pre-activation residual units (BN-ReLU-Conv), after Noh et al.'s acute-infarct DWI network.

Each unit computes ``x + conv(act(norm(conv(act(norm(x))))))`` (He et al., "Identity mappings in deep residual
networks"); a unit that changes resolution or width projects the pre-activated input with a strided 1x1
convolution. The geometry (stages, kernels, strides, widths) comes from the nnU-Net plans (see ``spec.py``);
the decoder mirrors nnU-Net's (transposed convolution, concatenation with the skip, residual units) and has one
segmentation head per decoder stage, so nnU-Net's deep supervision works unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import torch
from torch import nn

from strokeseg.trainers.networks.layers import (
    batch_norm_op,
    conv_op,
    feature_map_size,
    he_initialize,
    same_padding,
    transposed_conv_op,
)
from strokeseg.trainers.networks.spec import UNetSpec

NormFactory = Callable[[int], nn.Module]
NonlinFactory = Callable[[], nn.Module]


def _downsampled(size: Sequence[int], stride: Sequence[int]) -> list[int]:
    return [i // s for i, s in zip(size, stride, strict=True)]


class PreActResidualBlock(nn.Module):
    """One pre-activation residual unit: norm-act-conv(stride), norm-act-conv, plus the (projected) input."""

    def __init__(self, dim: int, in_channels: int, out_channels: int, kernel_size: tuple[int, ...],
                 stride: tuple[int, ...], norm: NormFactory, nonlin: NonlinFactory) -> None:
        super().__init__()
        conv = conv_op(dim)
        self.stride = tuple(stride)
        self.out_channels = out_channels
        self.in_channels = in_channels
        self.norm1, self.act1 = norm(in_channels), nonlin()
        self.conv1 = conv(in_channels, out_channels, kernel_size, stride, same_padding(kernel_size), bias=False)
        self.norm2, self.act2 = norm(out_channels), nonlin()
        self.conv2 = conv(out_channels, out_channels, kernel_size, 1, same_padding(kernel_size), bias=False)
        needs_projection = in_channels != out_channels or any(s != 1 for s in stride)
        self.projection = conv(in_channels, out_channels, 1, stride, bias=False) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.norm1(x))
        shortcut = self.projection(activated) if self.projection is not None else x
        return self.conv2(self.act2(self.norm2(self.conv1(activated)))) + shortcut

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Values of the feature maps this unit stores for the backward pass (nnU-Net's VRAM estimate)."""
        output = _downsampled(input_size, self.stride)
        total = feature_map_size(self.in_channels, input_size) + 3 * feature_map_size(self.out_channels, output)
        if self.projection is not None:
            total += feature_map_size(self.out_channels, output)
        return total


class PreActStage(nn.Sequential):
    """``n_blocks`` pre-activation units; only the first changes width and resolution."""

    def __init__(self, n_blocks: int, dim: int, in_channels: int, out_channels: int, kernel_size: tuple[int, ...],
                 stride: tuple[int, ...], norm: NormFactory, nonlin: NonlinFactory) -> None:
        ones = (1,) * dim
        super().__init__(*[PreActResidualBlock(dim, in_channels if i == 0 else out_channels, out_channels,
                                               kernel_size, stride if i == 0 else ones, norm, nonlin)
                           for i in range(n_blocks)])
        self.stride = tuple(stride)

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Sum over the units (nnU-Net's VRAM estimate)."""
        total = np.int64(0)
        size = list(input_size)
        for block in cast(list[PreActResidualBlock], list(self)):
            total += block.compute_conv_feature_map_size(size)
            size = _downsampled(size, block.stride)
        return total


class PreActEncoder(nn.Module):
    """A plain stem convolution followed by one pre-activation stage per resolution; returns all stage outputs."""

    def __init__(self, input_channels: int, spec: UNetSpec, norm: NormFactory, nonlin: NonlinFactory) -> None:
        super().__init__()
        dim = spec.dim
        self.stem = conv_op(dim)(input_channels, spec.features[0], spec.kernel_sizes[0], 1,
                                 same_padding(spec.kernel_sizes[0]), bias=False)
        blocks = spec.residual_blocks(spec.encoder_convs)
        channels = [spec.features[0], *spec.features[:-1]]
        self.stages = nn.ModuleList([
            PreActStage(blocks[s], dim, channels[s], spec.features[s], spec.kernel_sizes[s], spec.strides[s],
                        norm, nonlin) for s in range(spec.n_stages)])
        self.output_channels = list(spec.features)
        self.strides = [list(s) for s in spec.strides]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return skips

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Stem and stage feature maps for a patch of ``input_size`` voxels (nnU-Net's VRAM estimate)."""
        total = feature_map_size(self.output_channels[0], input_size)
        size = list(input_size)
        for stage in cast(list[PreActStage], list(self.stages)):
            total += stage.compute_conv_feature_map_size(size)
            size = _downsampled(size, stage.stride)
        return total


class PreActDecoder(nn.Module):
    """nnU-Net-style decoder with pre-activation units and a norm-act + 1x1 conv head per stage.

    ``deep_supervision`` (toggled by nnU-Net's trainer) selects all heads (highest resolution first) or only
    the last. The 1x1 convolutions live in ``seg_layers`` so that nnU-Net's pretrained-weight loading skips
    them, as for its own networks.
    """

    def __init__(self, spec: UNetSpec, num_classes: int, deep_supervision: bool, norm: NormFactory,
                 nonlin: NonlinFactory) -> None:
        super().__init__()
        dim = spec.dim
        self.deep_supervision = deep_supervision
        self.num_classes = num_classes
        self._features = list(spec.features)
        self._strides = [list(s) for s in spec.strides]
        blocks = spec.residual_blocks(spec.decoder_convs)
        transposed = transposed_conv_op(dim)
        transpconvs, stages, head_norms, seg_layers = [], [], [], []
        for s in range(1, spec.n_stages):
            below, skip = spec.features[-s], spec.features[-(s + 1)]
            stride = spec.strides[-s]
            transpconvs.append(transposed(below, skip, stride, stride, bias=False))
            stages.append(PreActStage(blocks[s - 1], dim, 2 * skip, skip, spec.kernel_sizes[-(s + 1)], (1,) * dim,
                                      norm, nonlin))
            head_norms.append(nn.Sequential(norm(skip), nonlin()))
            seg_layers.append(conv_op(dim)(skip, num_classes, 1, 1, 0, bias=True))
        self.transpconvs = nn.ModuleList(transpconvs)
        self.stages = nn.ModuleList(stages)
        self.head_norms = nn.ModuleList(head_norms)
        self.seg_layers = nn.ModuleList(seg_layers)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        x = skips[-1]
        outputs = []
        last = len(self.stages) - 1
        for s, stage in enumerate(self.stages):
            x = stage(torch.cat((self.transpconvs[s](x), skips[-(s + 2)]), dim=1))
            if self.deep_supervision or s == last:
                outputs.append(self.seg_layers[s](self.head_norms[s](x)))
        outputs.reverse()
        return outputs if self.deep_supervision else outputs[0]

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Feature maps of the decoder for an encoder input of ``input_size`` voxels."""
        skip_sizes = []
        size = list(input_size)
        for stride in self._strides[:-1]:
            size = _downsampled(size, stride)
            skip_sizes.append(size)
        total = np.int64(0)
        last = len(self.stages) - 1
        for s, stage in enumerate(cast(list[PreActStage], list(self.stages))):
            size = skip_sizes[-(s + 1)]
            channels = self._features[-(s + 2)]
            total += feature_map_size(channels, size)  # transposed convolution
            total += stage.compute_conv_feature_map_size(size)
            if self.deep_supervision or s == last:
                total += feature_map_size(channels + self.num_classes, size)
        return total


class PreActResidualUNet(nn.Module):
    """Pre-activation residual U-Net (Noh et al.); batch norm and ReLU by default, as in the paper."""

    def __init__(self, input_channels: int, num_classes: int, spec: UNetSpec, deep_supervision: bool = True,
                 norm: NormFactory | None = None, nonlin: NonlinFactory | None = None) -> None:
        super().__init__()
        norm = norm or batch_norm_op(spec.dim)
        nonlin = nonlin or (lambda: nn.ReLU(inplace=True))
        self.encoder = PreActEncoder(input_channels, spec, norm, nonlin)
        self.decoder = PreActDecoder(spec, num_classes, deep_supervision, norm, nonlin)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return self.decoder(self.encoder(x))

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Values stored for backward for one sample of ``input_size`` voxels (nnU-Net's VRAM estimate)."""
        return self.encoder.compute_conv_feature_map_size(input_size) + \
            self.decoder.compute_conv_feature_map_size(input_size)

    @staticmethod
    def initialize(module: nn.Module) -> None:
        """He initialization for ReLU networks (``network.apply(network.initialize)``)."""
        he_initialize(module)
