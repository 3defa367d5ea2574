"""Inputs of any size for networks that need multiples of a divisor per axis: zero padding and cropping back.

A network whose encoder downsamples by a total stride (a U-Net's product of strides, Swin UNETR's 2**5) accepts
only multiples of that stride per spatial axis. :func:`padded_forward` pads each axis with zeros to the next
multiple (half before, half after: the extra voxel goes after), runs the network and crops its output back to
the input's size, so that a patch keeps its field of view (no voxel is cut; the padded border is empty
background: nnU-Net's normalizations leave the image at 0 outside the brain). :class:`PadToMultiple` wraps any
network with it; ``ResidualGroupNormUNet(pad_to_stride=True)`` uses it in its own ``forward``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional

from strokeseg.errors import ConfigurationError


def stride_padding(shape: Sequence[int], divisor: Sequence[int],
                   minimum: Sequence[int] | None = None) -> tuple[tuple[int, int], ...]:
    """(before, after) zeros per axis that make ``shape`` a multiple of ``divisor`` (the extra voxel after), and at
    least ``minimum`` voxels per axis when given (``minimum`` itself a multiple of ``divisor``)."""
    pads = []
    for axis, (size, step) in enumerate(zip(shape, divisor, strict=True)):
        target = math.ceil(size / step) * step
        if minimum is not None:
            target = max(target, int(minimum[axis]))
        missing = target - size
        pads.append((missing // 2, missing - missing // 2))
    return tuple(pads)


def crop_padding(tensor: torch.Tensor, pads: Sequence[tuple[int, int]]) -> torch.Tensor:
    """``tensor`` (batch, channels, *spatial) without the border ``pads`` added by :func:`stride_padding`."""
    index = [slice(None), slice(None)] + [slice(before, tensor.shape[2 + axis] - after)
                                          for axis, (before, after) in enumerate(pads)]
    return tensor[tuple(index)]


def padded_forward(forward: Callable[[torch.Tensor], torch.Tensor | list[torch.Tensor]], x: torch.Tensor,
                   divisor: Sequence[int], minimum: Sequence[int] | None = None) -> torch.Tensor | list[torch.Tensor]:
    """``forward(x)`` for ``x`` (batch, channels, *spatial) of any size: padded with zeros to multiples of
    ``divisor`` (and at least ``minimum``) per spatial axis, the output cropped back (unchanged when ``x`` needs no
    padding).

    Raises:
        ConfigurationError: the input needed padding and the network returned several outputs (deep supervision:
            the lower-resolution outputs would not match their targets).
    """
    pads = stride_padding(x.shape[2:], divisor, minimum)
    if not any(before or after for before, after in pads):
        return forward(x)
    # F.pad takes (before, after) pairs from the last axis backwards
    output = forward(functional.pad(x, [v for pair in reversed(pads) for v in pair]))
    if isinstance(output, list | tuple):
        raise ConfigurationError(f"input of {tuple(x.shape[2:])} voxels is no multiple of the network's input "
                                 f"divisor {tuple(divisor)}: padding to it needs deep supervision off (the "
                                 "lower-resolution outputs would not match their targets)")
    return crop_padding(output, pads)


class PadToMultiple(nn.Module):
    """``network`` for inputs of any size: :func:`padded_forward` with ``divisor`` voxels per spatial axis.

    The weights live in ``network`` (state-dict keys start with ``network.``).

    Args:
        network: a network that takes (batch, channels, *spatial) multiples of ``divisor`` and returns one output.
        divisor: the multiple each spatial axis must have (one value per axis).
        minimum: the fewest voxels per axis the network takes (None: one ``divisor``).
    """

    def __init__(self, network: nn.Module, divisor: Sequence[int], minimum: Sequence[int] | None = None) -> None:
        super().__init__()
        self.network = network
        self.divisor: tuple[int, ...] = tuple(int(v) for v in divisor)
        self.minimum: tuple[int, ...] | None = None if minimum is None else tuple(int(v) for v in minimum)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return padded_forward(self.network, x, self.divisor, self.minimum)
