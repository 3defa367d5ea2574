"""strokeseg's networks: shapes with and without deep supervision, gradients, VRAM estimate, family specifics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from strokeseg.errors import ConfigurationError
from strokeseg.trainers.networks import (
    PreActResidualUNet,
    ResidualGroupNormUNet,
    SEUNet,
    SliceStackConvLSTMUNet,
    UNetSpec,
    build_se_unet,
    count_parameters,
)
from strokeseg.trainers.networks.layers import ChannelGroupNorm, SqueezeExcitation

ARCH_3D = {
    "n_stages": 3, "features_per_stage": [8, 16, 32], "conv_op": "torch.nn.modules.conv.Conv3d",
    "kernel_sizes": [[1, 3, 3], [3, 3, 3], [3, 3, 3]], "strides": [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
    "n_conv_per_stage": [2, 2, 2], "n_conv_per_stage_decoder": [2, 2], "conv_bias": True,
    "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d", "norm_op_kwargs": {"eps": 1e-5, "affine": True},
    "dropout_op": None, "dropout_op_kwargs": None, "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True},
}
ARCH_2D = {**ARCH_3D, "conv_op": "torch.nn.modules.conv.Conv2d", "kernel_sizes": [[3, 3]] * 3,
           "strides": [[1, 1], [2, 2], [2, 2]], "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d"}
PATCH = {2: (16, 16), 3: (8, 16, 16)}
IN_CHANNELS, CLASSES, BATCH = 2, 3, 2


def build(family: str, arch: dict, deep_supervision: bool = True) -> nn.Module:
    spec = UNetSpec.from_arch_kwargs(arch)
    if family == "preact":
        return PreActResidualUNet(IN_CHANNELS, CLASSES, spec, deep_supervision)
    if family == "resgn":
        return ResidualGroupNormUNet(IN_CHANNELS, CLASSES, spec, deep_supervision)
    if family == "se":
        return build_se_unet(arch, spec, IN_CHANNELS, CLASSES, deep_supervision)
    return SliceStackConvLSTMUNet(IN_CHANNELS, CLASSES, spec, deep_supervision)


def expected_output_shapes(arch: dict, in_plane_only: bool) -> list[tuple[int, ...]]:
    """nnU-Net's deep-supervision resolutions: cumulative strides of all but the bottleneck stage."""
    patch = np.array(PATCH[len(arch["strides"][0])])
    factors = np.cumprod(np.array(arch["strides"]), axis=0)[:-1]
    if in_plane_only:
        factors[:, 0] = 1
    return [(BATCH, CLASSES, *(patch // f).tolist()) for f in factors]


CASES = [("preact", ARCH_2D), ("preact", ARCH_3D), ("resgn", ARCH_2D), ("resgn", ARCH_3D), ("se", ARCH_2D),
         ("se", ARCH_3D), ("convlstm", ARCH_3D)]


@pytest.mark.parametrize(("family", "arch"), CASES, ids=[f"{f}-{len(a['strides'][0])}d" for f, a in CASES])
def test_forward_backward_with_deep_supervision(family: str, arch: dict) -> None:
    torch.manual_seed(0)
    network = build(family, arch)
    x = torch.randn(BATCH, IN_CHANNELS, *PATCH[len(arch["strides"][0])])
    outputs = network(x)
    assert [tuple(o.shape) for o in outputs] == expected_output_shapes(arch, in_plane_only=family == "convlstm")
    sum(o.square().mean() for o in outputs).backward()
    disconnected = [n for n, p in network.named_parameters() if p.grad is None]
    assert disconnected == []  # every parameter takes part in the deep-supervision outputs


@pytest.mark.parametrize(("family", "arch"), CASES, ids=[f"{f}-{len(a['strides'][0])}d" for f, a in CASES])
def test_without_deep_supervision_one_full_resolution_output(family: str, arch: dict) -> None:
    network = build(family, arch, deep_supervision=True)
    network.decoder.deep_supervision = False  # what nnU-Net's set_deep_supervision_enabled does
    network.eval()
    patch = PATCH[len(arch["strides"][0])]
    with torch.no_grad():
        output = network(torch.randn(1, IN_CHANNELS, *patch))
    assert isinstance(output, torch.Tensor)
    assert tuple(output.shape) == (1, CLASSES, *patch)


@pytest.mark.parametrize(("family", "arch"), CASES, ids=[f"{f}-{len(a['strides'][0])}d" for f, a in CASES])
def test_vram_estimate_and_head_naming(family: str, arch: dict) -> None:
    network = build(family, arch)
    patch = PATCH[len(arch["strides"][0])]
    small = network.compute_conv_feature_map_size(list(patch))
    large = network.compute_conv_feature_map_size([2 * p for p in patch])
    assert 0 < small < large
    heads = [k for k in network.state_dict() if ".seg_layers." in f".{k}"]
    assert heads, "segmentation heads must live in seg_layers so that nnU-Net's pretrained loading skips them"
    assert count_parameters(network) > 0


def test_spec_reads_residual_encoder_plans_and_scales() -> None:
    arch = {k: v for k, v in ARCH_3D.items() if k != "n_conv_per_stage"} | {"n_blocks_per_stage": [1, 3, 4]}
    spec = UNetSpec.from_arch_kwargs(arch)
    assert spec.encoder_convs == (2, 6, 8)
    assert spec.residual_blocks(spec.encoder_convs) == (1, 3, 4)
    assert spec.scaled(0.5).features == (4, 8, 16)
    assert spec.scaled(2.0, max_features=40).features == (16, 32, 40)
    assert spec.in_plane().kernel_sizes == ((3, 3), (3, 3), (3, 3))


def test_spec_refuses_plans_without_unet_geometry() -> None:
    with pytest.raises(ConfigurationError, match="U-Net plans"):
        UNetSpec.from_arch_kwargs({"embed_dim": 864})


def test_convlstm_needs_a_slice_stack() -> None:
    with pytest.raises(ConfigurationError, match="3D configuration"):
        SliceStackConvLSTMUNet(1, 2, UNetSpec.from_arch_kwargs(ARCH_2D))


def test_convlstm_connects_all_slices_in_both_directions() -> None:
    torch.manual_seed(0)
    network = build("convlstm", ARCH_3D, deep_supervision=False)
    network.eval()
    x = torch.randn(1, IN_CHANNELS, 6, 16, 16, requires_grad=True)
    output = network(x)
    first_slice, last_slice = output[:, :, 0].sum(), output[:, :, -1].sum()
    (grad_from_first,) = torch.autograd.grad(first_slice, x, retain_graph=True)
    (grad_from_last,) = torch.autograd.grad(last_slice, x)
    assert grad_from_first[:, :, -1].abs().sum() > 0  # the first slice sees the last one (backward LSTM)
    assert grad_from_last[:, :, 0].abs().sum() > 0  # and vice versa (forward LSTM)


def test_squeeze_excitation_pools_over_all_spatial_axes() -> None:
    torch.manual_seed(0)
    se = SqueezeExcitation(8, reduction=2)
    x = torch.rand(2, 8, 4, 5, 6) + 0.5
    ratio = se(x) / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1, :1].expand_as(ratio), atol=1e-6)


def test_se_unet_wraps_every_stage() -> None:
    network = build("se", ARCH_3D)
    assert isinstance(network, SEUNet)
    se_modules = [m for m in network.modules() if isinstance(m, SqueezeExcitation)]
    assert len(se_modules) == 3 + 2  # encoder stages + decoder stages


def test_group_norm_uses_a_divisor_of_the_channels() -> None:
    assert ChannelGroupNorm(12, num_groups=8).num_groups == 4
    assert ChannelGroupNorm(32, num_groups=8).num_groups == 8
    network = build("resgn", ARCH_3D)
    assert any(isinstance(m, nn.GroupNorm) for m in network.modules())
    assert not any(isinstance(m, (nn.InstanceNorm3d, nn.BatchNorm3d)) for m in network.modules())


def test_preact_units_normalize_before_convolving() -> None:
    network = build("preact", ARCH_3D)
    block = network.encoder.stages[1][0]
    names = [name for name, _ in block.named_children()]
    assert names.index("norm1") < names.index("conv1") < names.index("norm2") < names.index("conv2")
    assert isinstance(block.norm1, nn.BatchNorm3d)
