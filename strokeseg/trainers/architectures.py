"""Which network a trainer builds: a trainer's ``network_recipe`` class attribute.

A recipe builds the network from nnU-Net's plans, identically at training and at prediction time (nnU-Net
rebuilds the network through the trainer class when predicting). ``PLANS_NETWORK`` is nnU-Net's own network from
the plans; the papers' networks take the plans' geometry (stages, kernel sizes, strides, features per stage),
scaled by the trainer's ``width_scale`` and capped at its ``max_features``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager
from torch import nn

from strokeseg.defaults import (
    GROUP_NORM_GROUPS,
    KIM_FEATURES,
    SE_REDUCTION,
    SWIN_DEPTHS,
    SWIN_FEATURE_SIZE,
    SWIN_INPUT_DIVISOR,
    SWIN_NUM_HEADS,
    SWIN_TINY_FEATURE_SIZE,
)
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.networks import (
    PreActResidualUNet,
    ResidualGroupNormUNet,
    SliceStackConvLSTMUNet,
    build_se_unet,
)
from strokeseg.trainers.networks.kim_unet import KimUNet
from strokeseg.trainers.networks.padding import PadToMultiple
from strokeseg.trainers.networks.spec import UNetSpec, scale_features

#: Network family of nnU-Net's own network (shown in logs and in the fine-tuning compatibility check).
PLANS_NETWORK_FAMILY = "nnU-Net default (from the plans)"


@runtime_checkable
class SelfInitializing(Protocol):
    """A network with nnU-Net's ``initialize(module)`` hook, applied with ``network.apply(network.initialize)``."""

    def initialize(self, module: nn.Module) -> None: ...


def scaled_spec(configuration_manager: ConfigurationManager, width_scale: float, max_features: int | None) -> UNetSpec:
    """The plans' U-Net geometry with features per stage scaled by ``width_scale`` and capped at ``max_features``."""
    return UNetSpec.from_arch_kwargs(configuration_manager.network_arch_init_kwargs).scaled(width_scale, max_features)


class NetworkRecipe(Protocol):
    """How a trainer builds its network.

    Attributes:
        family: name of the network family, shown in logs; fine-tuning needs the source's family.
        in_plane_deep_supervision: the network downsamples in-plane only, so the deep-supervision targets are
            downsampled in-plane only (first axis kept).
    """

    @property
    def family(self) -> str: ...

    @property
    def in_plane_deep_supervision(self) -> bool: ...

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        """The initialized network; strokeseg's networks scale the plans' features per stage by ``width_scale``
        and cap them at ``max_features``."""
        ...


@dataclass(frozen=True)
class PlansNetwork:
    """nnU-Net's network from the plans (architecture class and arguments as planned; the trainer's width
    settings do not apply)."""

    family: str = PLANS_NETWORK_FAMILY
    in_plane_deep_supervision: bool = False

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        return get_network_from_plans(configuration_manager.network_arch_class_name,
                                      configuration_manager.network_arch_init_kwargs,
                                      configuration_manager.network_arch_init_kwargs_req_import,
                                      input_channels, num_classes, allow_init=True,
                                      deep_supervision=deep_supervision)


@dataclass(frozen=True)
class UNetFromSpec:
    """One of strokeseg's networks: ``network_class(input_channels, num_classes, spec, deep_supervision,
    **options)``, initialized with its own ``initialize`` hook when it has one."""

    network_class: type[nn.Module]
    family: str
    options: Mapping[str, Any] = field(default_factory=dict)
    in_plane_deep_supervision: bool = False
    #: The network pads any input to its total stride (``pad_to_stride``), so patches need not be multiples of it.
    pads_to_stride: bool = False

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        spec = scaled_spec(configuration_manager, width_scale, max_features)
        options = {**self.options, "pad_to_stride": True} if self.pads_to_stride else dict(self.options)
        network = self.network_class(input_channels, num_classes, spec, deep_supervision, **options)
        if isinstance(network, SelfInitializing):
            network.apply(network.initialize)
        return network


@dataclass(frozen=True)
class SEUNetFromPlans:
    """Kim et al.'s SE-U-Net: the plans' U-Net (its normalization and activation) with squeeze-and-excitation."""

    se_reduction: int = SE_REDUCTION
    family: str = "SE-U-Net (Kim)"
    in_plane_deep_supervision: bool = False

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        spec = scaled_spec(configuration_manager, width_scale, max_features)
        return build_se_unet(configuration_manager.network_arch_init_kwargs, spec, input_channels, num_classes,
                             deep_supervision, self.se_reduction)


@dataclass(frozen=True)
class KimUNetRecipe:
    """Kim et al.'s 2D U-Net or SE-U-Net as the paper fixes it (``KimUNet``): the features of the paper, scaled by
    the trainer's ``width_scale`` (CPU-sized variants) and capped at ``max_features``; the plans only choose 2D."""

    squeeze_excitation: bool
    family: str
    features: tuple[int, ...] = KIM_FEATURES
    se_reduction: int = SE_REDUCTION
    in_plane_deep_supervision: bool = False

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        dim = len(configuration_manager.patch_size)
        if dim != 2:
            raise ConfigurationError(f"{self.family} is a 2D network; train and predict a 2D configuration (2d), "
                                     f"not one with a {dim}D patch")
        if deep_supervision:
            raise ConfigurationError(f"{self.family} has one output; its trainers set deep_supervision = False")
        features = scale_features(self.features, width_scale, max_features)
        return KimUNet(input_channels, num_classes, features, squeeze_excitation=self.squeeze_excitation,
                       se_reduction=self.se_reduction, dim=dim)


@dataclass(frozen=True)
class SwinUNETRFromPlans:
    """MONAI's ``SwinUNETR`` (a Swin-transformer encoder with a convolutional U-Net decoder; MONAI >= 1.5) on the
    plans' input channels, classes and patch dimensionality (2D or 3D), for patches of any size.

    SwinUNETR takes multiples of ``input_divisor`` (2**5) per axis: the network is wrapped in ``PadToMultiple``,
    which pads the input with zeros to the next multiple and crops the output back (a 24 x 224 x 224 patch runs as
    32 x 224 x 224); the last axis gets at least two multiples (64), since a bottleneck of one voxel cannot be
    instance-normalized in training (only tiny patches, e.g. the tests' 12 x 20 x 20 -> 32 x 32 x 64, are
    affected). It has one output: deep supervision is refused. The trainer's ``width_scale`` and
    ``max_features`` do not apply; ``feature_size`` sets the width (MONAI: a multiple of 12). MONAI initializes
    its own weights. MONAI is imported when a network is built, so importing the trainers stays light.
    """

    feature_size: int = SWIN_FEATURE_SIZE
    depths: tuple[int, ...] = SWIN_DEPTHS
    num_heads: tuple[int, ...] = SWIN_NUM_HEADS
    input_divisor: int = SWIN_INPUT_DIVISOR
    family: str = "Swin UNETR (MONAI)"
    in_plane_deep_supervision: bool = False

    def build(self, configuration_manager: ConfigurationManager, input_channels: int, num_classes: int,
              deep_supervision: bool, width_scale: float = 1.0, max_features: int | None = None) -> nn.Module:
        if deep_supervision:
            raise ConfigurationError(f"{self.family} has one output; train it without deep supervision "
                                     "(its trainers set deep_supervision = False)")
        dim = len(configuration_manager.patch_size)
        if dim not in (2, 3):
            raise ConfigurationError(f"{self.family} takes 2D or 3D patches, got a {dim}D patch")
        if self.feature_size % 12:
            raise ConfigurationError(f"{self.family}: feature_size must be a multiple of 12 (MONAI), got "
                                     f"{self.feature_size}")
        from monai.networks.nets import SwinUNETR  # heavy import: only when a network is built

        network = SwinUNETR(in_channels=input_channels, out_channels=num_classes, feature_size=self.feature_size,
                            depths=self.depths, num_heads=self.num_heads, spatial_dims=dim)
        # at 32 voxels on every axis the bottleneck is one voxel, which instance norm refuses when training
        minimum = (self.input_divisor,) * (dim - 1) + (2 * self.input_divisor,)
        return PadToMultiple(network, (self.input_divisor,) * dim, minimum)


PLANS_NETWORK = PlansNetwork()
#: Noh et al.: 3D U-Net with pre-activation residual units (batch norm, ReLU).
PRE_ACT_RESIDUAL_UNET = UNetFromSpec(PreActResidualUNet, "pre-activation residual U-Net (Noh)")
#: Tomita et al.: residual U-Net with group normalization.
RESIDUAL_GROUP_NORM_UNET = UNetFromSpec(ResidualGroupNormUNet, "residual U-Net with group norm (Tomita)",
                                        {"num_groups": GROUP_NORM_GROUPS})
#: Tomita et al.'s network for patches of any size (e.g. the paper's 144 x 172 x 168 zoom-out patch): zero padding
#: to the total stride, output cropped back (same weights as ``RESIDUAL_GROUP_NORM_UNET``).
PADDED_RESIDUAL_GROUP_NORM_UNET = UNetFromSpec(ResidualGroupNormUNet, RESIDUAL_GROUP_NORM_UNET.family,
                                               {"num_groups": GROUP_NORM_GROUPS}, pads_to_stride=True)
#: Kim et al.: U-Net with squeeze-and-excitation after every stage; 2D or 3D by configuration.
SE_UNET = SEUNetFromPlans()
#: Alis et al.: residual 2D U-Net with bidirectional ConvLSTMs across the slices of a 3D patch.
SLICE_STACK_CONVLSTM_UNET = UNetFromSpec(SliceStackConvLSTMUNet,
                                         "residual 2D U-Net with bidirectional ConvLSTM (Alis)",
                                         in_plane_deep_supervision=True)
#: Kim et al. as published: the 2D U-Net and the 2D SE-U-Net (batch norm, ReLU, 3 convolutions per step, SE after the
#: down path's steps only, a 1x1 head on 32 features).
KIM_2D_UNET = KimUNetRecipe(squeeze_excitation=False, family="2D U-Net (Kim 2024)")
KIM_2D_SE_UNET = KimUNetRecipe(squeeze_excitation=True, family="2D SE-U-Net (Kim 2024)")
#: The registry study's transformer arm (Noh et al.'s supplement): MONAI's Swin UNETR at MONAI's reference size
#: (feature size 48, depths 2-2-2-2, heads 3-6-12-24), input padded to multiples of 32.
SWIN_UNETR = SwinUNETRFromPlans()
#: Its CPU-sized twin (feature size 12) for tests and examples.
SWIN_UNETR_TINY = SwinUNETRFromPlans(feature_size=SWIN_TINY_FEATURE_SIZE)
