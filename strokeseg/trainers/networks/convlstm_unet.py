"""Residual 2D U-Net with bidirectional ConvLSTMs across the slice stack, after Alis et al.'s DWI+ADC network.

Every slice of a ``(b, c, z, y, x)`` patch goes through the same 2D residual U-Net (``dynamic_network_
architectures``' residual encoder and residual decoder, batch norm, ReLU). After each encoder stage, a
bidirectional ConvLSTM runs along the slice axis in both directions, so that every slice's features see all
other slices of the stack before the lesion borders are drawn (Alis et al. place the ConvLSTMs "on top of
each convolutional block of the encoder"). The two directions' hidden states are fused by a 1x1 convolution
and added to the stage output (residual), which keeps the per-slice path intact at initialization.

Downsampling is in-plane only: the slice count never changes, and the deep-supervision outputs are
downsampled in-plane only (the trainer adapts nnU-Net's deep-supervision scales accordingly). DWI and ADC
simply enter as two input channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from dynamic_network_architectures.building_blocks.residual_encoders import ResidualEncoder
from dynamic_network_architectures.building_blocks.unet_residual_decoder import UNetResDecoder
from dynamic_network_architectures.initialization.weight_init import InitWeights_He, init_last_bn_before_add_to_0
from torch import nn

from strokeseg.defaults import CONVLSTM_HIDDEN_FRACTION
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.networks.layers import feature_map_size
from strokeseg.trainers.networks.spec import UNetSpec

#: In-plane kernel of the ConvLSTM gates.
LSTM_KERNEL_SIZE = 3


def lstm_update(gates: torch.Tensor, cell: torch.Tensor | None,
                hidden_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One ConvLSTM step (Shi et al.) from the summed gate pre-activations ``(b, directions, 4 * hidden, y, x)``.

    Gates are ordered input, forget, output (sigmoid), candidate (tanh); ``cell`` is None at the first step.
    Returns the new hidden and cell states, ``(b, directions, hidden, y, x)``.
    """
    grouped = gates.unflatten(2, (4, hidden_channels))
    input_gate, forget_gate, output_gate = torch.sigmoid(grouped[:, :, :3]).unbind(dim=2)
    candidate = torch.tanh(grouped[:, :, 3])
    cell = input_gate * candidate if cell is None else torch.addcmul(input_gate * candidate, forget_gate, cell)
    return output_gate * torch.tanh(cell), cell


class BidirectionalConvLSTM(nn.Module):
    """A 2D ConvLSTM run over the slices forwards and backwards; returns ``x + fuse([h_forward, h_backward])``.

    For speed, the input-to-gate convolution of both directions runs on all slices in one batched call, and the
    two directions advance together: step t updates the forward state with slice t and the backward state with
    slice ``num_slices - 1 - t`` through one grouped hidden-to-gate convolution.
    """

    def __init__(self, channels: int, hidden_channels: int, kernel_size: int = LSTM_KERNEL_SIZE) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        self.input_gates = nn.Conv2d(channels, 2 * 4 * hidden_channels, kernel_size, padding=padding)
        self.hidden_gates = nn.Conv2d(2 * hidden_channels, 2 * 4 * hidden_channels, kernel_size, padding=padding,
                                      groups=2, bias=False)
        self.fuse = nn.Conv2d(2 * hidden_channels, channels, 1)

    def forward(self, x: torch.Tensor, num_slices: int) -> torch.Tensor:
        """``x`` is ``(b * num_slices, c, y, x)`` with the slices of one sample consecutive."""
        batch, hidden_channels, size = x.shape[0] // num_slices, self.hidden_channels, x.shape[2:]
        gates = self.input_gates(x).view(batch, num_slices, 2, 4 * hidden_channels, *size)
        # step t reads slice t (forward) and slice num_slices - 1 - t (backward)
        gates = torch.stack((gates[:, :, 0], gates[:, :, 1].flip(1)), dim=2)
        hidden: torch.Tensor | None = None
        cell: torch.Tensor | None = None
        steps = []
        for t in range(num_slices):
            step_gates = gates[:, t]
            if hidden is not None:
                recurrent = self.hidden_gates(hidden.reshape(batch, 2 * hidden_channels, *size))
                step_gates = step_gates + recurrent.view_as(step_gates)
            hidden, cell = lstm_update(step_gates, cell, hidden_channels)
            steps.append(hidden)
        states = torch.stack(steps, dim=1)
        states = torch.stack((states[:, :, 0], states[:, :, 1].flip(1)), dim=2)  # backward states in slice order
        return x + self.fuse(states.reshape(batch * num_slices, 2 * hidden_channels, *size))

    def compute_conv_feature_map_size(self, slice_size: Sequence[int], num_slices: int) -> np.int64:
        """Gate, hidden and cell maps of both directions plus the fused output, for ``num_slices`` slices."""
        per_direction = 6 * self.hidden_channels  # 4 gates + hidden + cell
        channels = self.fuse.out_channels
        return np.int64(num_slices) * feature_map_size(2 * per_direction + channels, slice_size)


class SliceStackConvLSTMUNet(nn.Module):
    """2D residual U-Net applied per slice, with a bidirectional ConvLSTM after every encoder stage.

    Args:
        spec: a 3D geometry from the plans (``(z, y, x)`` axis order); its in-plane part shapes the 2D U-Net.
        lstm_hidden_fraction: hidden channels per direction relative to the stage's features.
    """

    def __init__(self, input_channels: int, num_classes: int, spec: UNetSpec, deep_supervision: bool = True,
                 lstm_hidden_fraction: float = CONVLSTM_HIDDEN_FRACTION) -> None:
        super().__init__()
        if spec.dim != 3:
            raise ConfigurationError("the ConvLSTM U-Net needs a 3D configuration (a stack of slices, e.g. "
                                     f"3d_fullres); got a {spec.dim}D one")
        plane = spec.in_plane()
        self.encoder = ResidualEncoder(
            input_channels, plane.n_stages, list(plane.features), nn.Conv2d, [list(k) for k in plane.kernel_sizes],
            [list(s) for s in plane.strides], list(plane.residual_blocks(plane.encoder_convs)), conv_bias=False,
            norm_op=nn.BatchNorm2d, norm_op_kwargs={"eps": 1e-5, "affine": True}, nonlin=nn.ReLU,
            nonlin_kwargs={"inplace": True}, return_skips=True)
        self.lstms = nn.ModuleList([
            BidirectionalConvLSTM(f, max(1, round(f * lstm_hidden_fraction))) for f in plane.features])
        self.decoder = UNetResDecoder(self.encoder, num_classes, list(plane.residual_blocks(plane.decoder_convs)),
                                      deep_supervision)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        batch, channels, num_slices = x.shape[:3]
        features = x.transpose(1, 2).reshape(batch * num_slices, channels, *x.shape[3:])
        if self.encoder.stem is not None:
            features = self.encoder.stem(features)
        skips = []
        for stage, lstm in zip(self.encoder.stages, self.lstms, strict=True):
            features = lstm(stage(features), num_slices)
            skips.append(features)
        outputs = self.decoder(skips)

        def to_volume(logits: torch.Tensor) -> torch.Tensor:
            return logits.view(batch, num_slices, *logits.shape[1:]).transpose(1, 2)

        if isinstance(outputs, (list, tuple)):
            return [to_volume(o) for o in outputs]
        return to_volume(outputs)

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> np.int64:
        """Values stored for backward for one ``(z, y, x)`` patch (nnU-Net's VRAM estimate)."""
        num_slices, plane = int(input_size[0]), list(input_size[1:])
        total = np.int64(num_slices) * (self.encoder.compute_conv_feature_map_size(plane)
                                        + self.decoder.compute_conv_feature_map_size(plane))
        size = plane
        for stride, lstm in zip(self.encoder.strides, cast(list[BidirectionalConvLSTM], list(self.lstms)),
                                strict=True):
            size = [i // s for i, s in zip(size, stride, strict=True)]
            total += lstm.compute_conv_feature_map_size(size, num_slices)
        return total

    @staticmethod
    def initialize(module: nn.Module) -> None:
        """nnU-Net's He initialization, residual branches' last norm at zero (``network.apply(...)``)."""
        InitWeights_He(1e-2)(module)
        init_last_bn_before_add_to_0(module)
