"""Trainers that build one of the papers' networks (with the paper's loss and optimizer where it names them).

Each sets ``network_class`` (or overrides ``make_network``); the base class builds it from the plans' geometry,
so class attributes (``width_scale``, ``max_features``) shape the network identically when nnU-Net rebuilds it
for prediction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager
from torch import nn

from strokeseg.defaults import DWI_NETWORK_WIDTH_SCALE, GROUP_NORM_GROUPS, SE_REDUCTION, ZOOM_IN_LR
from strokeseg.trainers.base import StrokesegTrainer
from strokeseg.trainers.loss_variants import (
    nnUNetTrainer_strokeseg_BCEDice,
    nnUNetTrainer_strokeseg_DiceOnly,
    nnUNetTrainer_strokeseg_Tversky,
)
from strokeseg.trainers.networks import (
    PreActResidualUNet,
    ResidualGroupNormUNet,
    SliceStackConvLSTMUNet,
    build_se_unet,
)


class nnUNetTrainer_strokeseg_PreActResUNet(StrokesegTrainer):
    """Noh et al.: 3D U-Net with pre-activation residual units (batch norm, ReLU); nnU-Net's loss and SGD.

    3/8 of nnU-Net's widths (``DWI_NETWORK_WIDTH_SCALE``) and fast left-right test-time mirroring.
    """

    network_class: ClassVar[type[nn.Module] | None] = PreActResidualUNet
    network_family: ClassVar[str] = "pre-activation residual U-Net (Noh)"
    width_scale: ClassVar[float] = DWI_NETWORK_WIDTH_SCALE
    inference_mirroring: ClassVar[str] = "left_right"


class nnUNetTrainer_strokeseg_ResGNUNet(nnUNetTrainer_strokeseg_BCEDice):
    """Tomita et al.'s residual U-Net with group normalization, BCE + Dice, Adam at 1e-3 (poly decay).

    The full zoom-in & out recipe is ``nnUNetTrainer_strokeseg_ZoomInOut``; this trainer uses one patch size.
    """

    network_class: ClassVar[type[nn.Module] | None] = ResidualGroupNormUNet
    network_family: ClassVar[str] = "residual U-Net with group norm (Tomita)"
    optimizer_name: ClassVar[str] = "adam"
    initial_lr_override: ClassVar[float | None] = ZOOM_IN_LR
    group_norm_groups: ClassVar[int] = GROUP_NORM_GROUPS

    @classmethod
    def network_kwargs(cls) -> dict[str, Any]:
        return {"num_groups": cls.group_norm_groups}


class nnUNetTrainer_strokeseg_SEUNet(nnUNetTrainer_strokeseg_DiceOnly):
    """Kim et al.: U-Net with squeeze-and-excitation after every stage, Dice loss; 2D or 3D by configuration.

    Keeps the plans' normalization and activation (nnU-Net's instance norm and leaky ReLU by default).
    """

    network_family: ClassVar[str] = "SE-U-Net (Kim)"
    se_reduction: ClassVar[int] = SE_REDUCTION

    @classmethod
    def make_network(cls, configuration_manager: ConfigurationManager, num_input_channels: int,
                     num_output_channels: int, deep_supervision: bool) -> nn.Module:
        return build_se_unet(configuration_manager.network_arch_init_kwargs, cls.network_spec(configuration_manager),
                             num_input_channels, num_output_channels, deep_supervision, cls.se_reduction)


class nnUNetTrainer_strokeseg_BiConvLSTMUNet(nnUNetTrainer_strokeseg_Tversky):
    """Alis et al.: residual 2D U-Net with bidirectional ConvLSTMs across slices, Tversky loss.

    Needs a 3D configuration (a slice stack, e.g. ``3d_fullres``); DWI and ADC are input channels. Downsampling
    is in-plane only, so the deep-supervision targets are downsampled in-plane only. 3/8 of nnU-Net's widths and
    fast left-right test-time mirroring.
    """

    network_class: ClassVar[type[nn.Module] | None] = SliceStackConvLSTMUNet
    network_family: ClassVar[str] = "residual 2D U-Net with bidirectional ConvLSTM (Alis)"
    width_scale: ClassVar[float] = DWI_NETWORK_WIDTH_SCALE
    inference_mirroring: ClassVar[str] = "left_right"

    def _get_deep_supervision_scales(self) -> list[list[float]] | None:
        scales = super()._get_deep_supervision_scales()
        return None if scales is None else [[1.0, *[float(s) for s in scale[1:]]] for scale in scales]
