"""Network geometry read from nnU-Net plans (``arch_kwargs``), shared by all of strokeseg's networks.

strokeseg's networks keep nnU-Net's self-configured geometry — number of stages, kernel sizes, strides and
features per stage from the plans — and change only what the papers change (block type, normalization,
squeeze-and-excitation, ConvLSTM). That way they work with stock plans and with strokeseg's planners, and
nnU-Net's deep-supervision targets (derived from the plans' strides) match their outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from strokeseg.errors import ConfigurationError

#: Convolutions in one residual block (a basic block is two convolutions).
CONVS_PER_RESIDUAL_BLOCK = 2


def _as_tuple_of_tuples(values: Sequence[Any], n_stages: int, dim: int, key: str) -> tuple[tuple[int, ...], ...]:
    if len(values) != n_stages:
        raise ConfigurationError(f"plans arch_kwargs {key!r} has {len(values)} entries for {n_stages} stages")
    result = []
    for value in values:
        entry = (int(value),) * dim if isinstance(value, int) else tuple(int(v) for v in value)
        if len(entry) != dim:
            raise ConfigurationError(f"plans arch_kwargs {key!r} entry {value!r} is not {dim}-dimensional")
        result.append(entry)
    return tuple(result)


def _per_stage(value: int | Sequence[int], count: int, key: str) -> tuple[int, ...]:
    values = (int(value),) * count if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != count:
        raise ConfigurationError(f"plans arch_kwargs {key!r} has {len(values)} entries, expected {count}")
    return values


@dataclass(frozen=True)
class UNetSpec:
    """Geometry of a U-Net: one entry per resolution stage (encoder) or per decoder stage.

    Attributes:
        features: output channels of each encoder stage (the bottleneck last).
        kernel_sizes: convolution kernel of each stage, voxels per axis (plans' transposed axis order).
        strides: downsampling of each stage relative to the previous one (the first is usually all ones).
        encoder_convs: convolutions per encoder stage.
        decoder_convs: convolutions per decoder stage, ordered from the lowest resolution up
            (``n_stages - 1`` entries).
    """

    features: tuple[int, ...]
    kernel_sizes: tuple[tuple[int, ...], ...]
    strides: tuple[tuple[int, ...], ...]
    encoder_convs: tuple[int, ...]
    decoder_convs: tuple[int, ...]

    @property
    def n_stages(self) -> int:
        """Number of resolution stages (encoder stages, bottleneck included)."""
        return len(self.features)

    @property
    def dim(self) -> int:
        """Spatial dimensionality (2 or 3)."""
        return len(self.kernel_sizes[0])

    def residual_blocks(self, convs: Sequence[int]) -> tuple[int, ...]:
        """Residual blocks replacing ``convs`` plain convolutions (two convolutions per block, at least one)."""
        return tuple(max(1, math.ceil(c / CONVS_PER_RESIDUAL_BLOCK)) for c in convs)

    @classmethod
    def from_arch_kwargs(cls, arch_kwargs: Mapping[str, Any]) -> UNetSpec:
        """Read the geometry from a configuration's ``architecture.arch_kwargs``.

        Works with nnU-Net's default plans (``n_conv_per_stage``) and residual-encoder plans
        (``n_blocks_per_stage``, counted as two convolutions per block).

        Raises:
            ConfigurationError: the plans describe no U-Net (e.g. a transformer) or are inconsistent.
        """
        missing = [k for k in ("n_stages", "features_per_stage", "kernel_sizes", "strides") if k not in arch_kwargs]
        if missing:
            raise ConfigurationError(f"the plans' arch_kwargs lack {', '.join(missing)}; strokeseg's networks need "
                                     "U-Net plans (nnU-Net's default or residual-encoder planner, or strokeseg's)")
        n_stages = int(arch_kwargs["n_stages"])
        kernel_list = arch_kwargs["kernel_sizes"]
        dim = len(kernel_list[0]) if not isinstance(kernel_list[0], int) else _dim_of_conv(arch_kwargs)
        kernels = _as_tuple_of_tuples(kernel_list, n_stages, dim, "kernel_sizes")
        strides = _as_tuple_of_tuples(arch_kwargs["strides"], n_stages, dim, "strides")
        features = _per_stage(arch_kwargs["features_per_stage"], n_stages, "features_per_stage")
        if "n_conv_per_stage" in arch_kwargs:
            encoder_convs = _per_stage(arch_kwargs["n_conv_per_stage"], n_stages, "n_conv_per_stage")
        elif "n_blocks_per_stage" in arch_kwargs:
            blocks = _per_stage(arch_kwargs["n_blocks_per_stage"], n_stages, "n_blocks_per_stage")
            encoder_convs = tuple(CONVS_PER_RESIDUAL_BLOCK * b for b in blocks)
        else:
            raise ConfigurationError("the plans' arch_kwargs give neither n_conv_per_stage nor n_blocks_per_stage")
        decoder_convs = _per_stage(arch_kwargs.get("n_conv_per_stage_decoder", 2), n_stages - 1,
                                   "n_conv_per_stage_decoder")
        return cls(features, kernels, strides, encoder_convs, decoder_convs)

    def scaled(self, width_scale: float = 1.0, max_features: int | None = None, min_features: int = 4) -> UNetSpec:
        """Features per stage multiplied by ``width_scale`` (rounded, at least ``min_features``), then capped."""
        return replace(self, features=scale_features(self.features, width_scale, max_features, min_features))

    def in_plane(self) -> UNetSpec:
        """The 2D geometry of a 3D spec: kernels and strides without their first (slice) axis."""
        if self.dim != 3:
            raise ConfigurationError(f"in_plane() needs a 3D spec, this one is {self.dim}D")
        return replace(self, kernel_sizes=tuple(k[1:] for k in self.kernel_sizes),
                       strides=tuple(s[1:] for s in self.strides))


def scale_features(features: Sequence[int], width_scale: float = 1.0, max_features: int | None = None,
                   min_features: int = 4) -> tuple[int, ...]:
    """``features`` multiplied by ``width_scale`` (rounded, at least ``min_features``), then capped at
    ``max_features`` (None: no cap)."""
    if width_scale <= 0:
        raise ConfigurationError(f"width scale must be positive, got {width_scale}")
    scaled = tuple(max(min_features, round(f * width_scale)) for f in features)
    return scaled if max_features is None else tuple(min(f, max_features) for f in scaled)


def _dim_of_conv(arch_kwargs: Mapping[str, Any]) -> int:
    conv = str(arch_kwargs.get("conv_op", ""))
    for dim in (2, 3):
        if conv.endswith(f"Conv{dim}d"):
            return dim
    raise ConfigurationError(f"cannot tell the dimensionality of the plans' conv_op {conv!r}")


def count_parameters(network: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``network`` (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad or not trainable_only)


def count_convolution_layers(network: nn.Module) -> int:
    """Convolutions with a kernel larger than one voxel (e.g. 3 x 3 x 3, and the transposed up-sampling ones): the
    layers papers count along a U-Net's path; 1 x 1 x 1 projections of residual shortcuts and output heads are not
    counted."""
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    return sum(1 for module in network.modules() if isinstance(module, kinds) and max(module.kernel_size) > 1)
