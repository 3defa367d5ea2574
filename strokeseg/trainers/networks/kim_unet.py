"""Kim et al.'s 2D U-Net and 2D SE-U-Net for white-matter hyperintensities on FLAIR, as the paper describes them.

Down path: per resolution step three 3x3 convolutions, each followed by batch normalization and ReLU, then (SE-U-Net
only) a squeeze-and-excitation block (Hu et al.: global average pooling, a bottleneck of two fully connected layers,
a sigmoid gate per channel), then 2x2 max pooling to the next step. Up path: a 2x2 transposed convolution, the
down path's features of that step concatenated (skip connection), three 3x3 convolutions with batch norm and ReLU
(no squeeze-and-excitation). The final layer is a 1x1 convolution on the top step's features (32 in the paper).

The paper's head is one sigmoid channel. nnU-Net trains and predicts label maps through a softmax over
``num_classes`` channels; with two classes the softmax's foreground probability is the sigmoid of the difference of
the two logits, so the 2-class softmax head computes the same family of functions (with 33 more weights).

The geometry does not come from nnU-Net's plans: the paper fixes it (``KIM_FEATURES``, 3 convolutions per step).
Only the dimensionality follows the configuration (the paper's networks are 2D; ``dim=3`` exists for tests of the
layer arithmetic, not for the preset).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from strokeseg.defaults import KIM_CONVS_PER_STEP, KIM_FEATURES, KIM_KERNEL_SIZE, KIM_POOLING, SE_REDUCTION
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.networks.layers import (
    SqueezeExcitation,
    batch_norm_op,
    conv_op,
    same_padding,
    transposed_conv_op,
)


class ConvBatchNormReLU(nn.Sequential):
    """``convs`` times: a ``kernel``-sized convolution (stride 1, same padding), batch normalization, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, convs: int, dim: int, kernel: int) -> None:
        layers: list[nn.Module] = []
        kernel_size = (kernel,) * dim
        for index in range(convs):
            layers += [conv_op(dim)(in_channels if index == 0 else out_channels, out_channels, kernel_size,
                                    padding=same_padding(kernel_size)),
                       batch_norm_op(dim)(out_channels), nn.ReLU(inplace=True)]
        super().__init__(*layers)
        self.output_channels = out_channels


class KimEncoder(nn.Module):
    """The down path: one ``ConvBatchNormReLU`` (+ squeeze-and-excitation) per step, max pooling between steps.

    ``forward`` returns every step's output, the top step first (the skips, the bottleneck last).
    """

    def __init__(self, input_channels: int, features: Sequence[int], convs: int, dim: int, kernel: int, pooling: int,
                 squeeze_excitation: bool, se_reduction: int) -> None:
        super().__init__()
        steps: list[nn.Module] = []
        channels = input_channels
        for width in features:
            block = ConvBatchNormReLU(channels, width, convs, dim, kernel)
            steps.append(nn.Sequential(block, SqueezeExcitation(width, se_reduction)) if squeeze_excitation else block)
            channels = width
        self.stages = nn.ModuleList(steps)
        self.pool = (nn.MaxPool2d if dim == 2 else nn.MaxPool3d)(pooling)
        self.output_channels = list(features)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = []
        for index, stage in enumerate(self.stages):
            x = stage(self.pool(x) if index > 0 else x)
            skips.append(x)
        return skips


class KimDecoder(nn.Module):
    """The up path: per step a transposed convolution, concatenation with the skip, ``ConvBatchNormReLU``; then the
    1x1 head. ``deep_supervision`` exists for nnU-Net's switch and must stay False (the paper's network has one
    output)."""

    def __init__(self, features: Sequence[int], num_classes: int, convs: int, dim: int, kernel: int,
                 pooling: int) -> None:
        super().__init__()
        self.deep_supervision = False
        ups, stages = [], []
        for below, width in zip(reversed(features[1:]), reversed(features[:-1]), strict=True):
            ups.append(transposed_conv_op(dim)(below, width, (pooling,) * dim, stride=(pooling,) * dim))
            stages.append(ConvBatchNormReLU(2 * width, width, convs, dim, kernel))
        self.transpconvs = nn.ModuleList(ups)
        self.stages = nn.ModuleList(stages)
        self.seg_layers = nn.ModuleList([conv_op(dim)(features[0], num_classes, (1,) * dim)])

    def forward(self, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.deep_supervision:
            raise ConfigurationError("Kim et al.'s U-Net has one output; train it without deep supervision")
        x = skips[-1]
        for up, stage, skip in zip(self.transpconvs, self.stages, reversed(skips[:-1]), strict=True):
            x = stage(torch.cat((up(x), skip), dim=1))
        return self.seg_layers[0](x)


class KimUNet(nn.Module):
    """Kim et al.'s 2D U-Net (``squeeze_excitation=False``) or 2D SE-U-Net (``True``).

    Args:
        input_channels: image channels (FLAIR: 1).
        num_classes: output channels of the head (nnU-Net: 2 for background / WMH; see the module docstring).
        features: features of each resolution step, top first (the last is the bottleneck).
        convs_per_step: 3x3 convolutions per step, down and up.
        squeeze_excitation: a squeeze-and-excitation block after each down step's convolutions.
        se_reduction: the SE bottleneck has ``max(4, channels // se_reduction)`` units (``SqueezeExcitation``).
        dim: 2 (the paper) or 3.
        kernel: convolution kernel (voxels per axis); pooling: max-pooling and transposed-convolution factor.

    Inputs must be multiples of ``pooling ** (len(features) - 1)`` per axis (4 for the paper's 256 x 256 slices).
    """

    def __init__(self, input_channels: int, num_classes: int, features: Sequence[int] = KIM_FEATURES,
                 convs_per_step: int = KIM_CONVS_PER_STEP, squeeze_excitation: bool = False,
                 se_reduction: int = SE_REDUCTION, dim: int = 2, kernel: int = KIM_KERNEL_SIZE,
                 pooling: int = KIM_POOLING) -> None:
        super().__init__()
        if len(features) < 2 or convs_per_step < 1 or dim not in (2, 3):
            raise ConfigurationError(f"Kim's U-Net needs at least 2 resolution steps, 1 convolution per step and a "
                                     f"2D or 3D input; got features {list(features)}, {convs_per_step} convolutions, "
                                     f"{dim}D")
        self.features = tuple(int(f) for f in features)
        self.squeeze_excitation = squeeze_excitation
        self.encoder = KimEncoder(input_channels, self.features, convs_per_step, dim, kernel, pooling,
                                  squeeze_excitation, se_reduction)
        self.decoder = KimDecoder(self.features, num_classes, convs_per_step, dim, kernel, pooling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
