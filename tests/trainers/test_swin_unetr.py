"""The Swin UNETR recipe: MONAI's network from the plans, padded to multiples of 32 and cropped back, one output;
the shared padding wrapper; a forward and backward pass on CUDA (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import SwinUNETR
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager
from torch import nn

from strokeseg.defaults import SWIN_DEPTHS, SWIN_FEATURE_SIZE, SWIN_INPUT_DIVISOR, SWIN_NUM_HEADS
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.architectures import SWIN_UNETR, SWIN_UNETR_TINY, SwinUNETRFromPlans
from strokeseg.trainers.networks.padding import PadToMultiple, stride_padding

IN_CHANNELS, CLASSES = 2, 3


def configuration(patch_size: tuple[int, ...]) -> ConfigurationManager:
    """What the recipe reads of the plans: the patch (its dimensionality); the architecture entry is nnU-Net's."""
    return ConfigurationManager({"patch_size": list(patch_size), "architecture": {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet", "arch_kwargs": {},
        "_kw_requires_import": []}})


def test_the_recipe_builds_monais_swin_unetr_with_the_named_defaults() -> None:
    network = SWIN_UNETR.build(configuration((24, 64, 64)), IN_CHANNELS, CLASSES, deep_supervision=False)
    assert isinstance(network, PadToMultiple)
    swin = network.network
    assert isinstance(swin, SwinUNETR)
    assert network.divisor == (SWIN_INPUT_DIVISOR,) * 3 == (32, 32, 32)
    assert network.minimum == (32, 32, 64)
    assert (SWIN_FEATURE_SIZE, SWIN_DEPTHS, SWIN_NUM_HEADS) == (48, (2, 2, 2, 2), (3, 6, 12, 24))
    # input channels -> the patch embedding, classes -> the 1x1 head, feature size -> the first encoder's width
    assert swin.swinViT.patch_embed.proj.in_channels == IN_CHANNELS
    assert isinstance(swin.out.conv.conv, nn.Conv3d) and swin.out.conv.conv.out_channels == CLASSES
    assert swin.swinViT.patch_embed.proj.out_channels == SWIN_FEATURE_SIZE
    assert [len(layer[0].blocks) for layer in (swin.swinViT.layers1, swin.swinViT.layers2, swin.swinViT.layers3,
                                               swin.swinViT.layers4)] == list(SWIN_DEPTHS)
    assert swin.swinViT.layers4[0].blocks[0].attn.num_heads == SWIN_NUM_HEADS[-1]


@pytest.mark.parametrize("patch", [(13, 17, 30), (9, 33), (32, 32, 32)], ids=["odd-3d", "odd-2d", "multiple-3d"])
def test_any_patch_comes_back_at_its_own_size(patch: tuple[int, ...]) -> None:
    network = SWIN_UNETR_TINY.build(configuration(patch), IN_CHANNELS, CLASSES, deep_supervision=False)
    seen: list[tuple[int, ...]] = []
    network.network.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape[2:])))
    x = torch.randn(1, IN_CHANNELS, *patch, requires_grad=True)
    output = network(x)
    assert tuple(output.shape) == (1, CLASSES, *patch)
    # MONAI saw the padded input: the next multiple of 32 on every axis, at least 64 on the last (a bottleneck of
    # one voxel cannot be instance-normalized in training)
    padded = [-(-size // 32) * 32 for size in patch]
    padded[-1] = max(padded[-1], 64)
    assert seen == [tuple(padded)]
    output.sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


def test_deep_supervision_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="one output"):
        SWIN_UNETR_TINY.build(configuration((32, 32, 32)), 1, 2, deep_supervision=True)


def test_a_feature_size_monai_cannot_build_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="multiple of 12"):
        SwinUNETRFromPlans(feature_size=20).build(configuration((32, 32, 32)), 1, 2, deep_supervision=False)
    with pytest.raises(ConfigurationError, match="2D or 3D"):
        SWIN_UNETR_TINY.build(configuration((32,)), 1, 2, deep_supervision=False)


def test_padding_centres_the_input_and_crops_it_back_exactly() -> None:
    assert stride_padding((13, 37, 32), (32, 32, 32)) == ((9, 10), (13, 14), (0, 0))
    assert stride_padding((13, 37, 32), (32, 32, 32), (32, 32, 64)) == ((9, 10), (13, 14), (16, 16))
    seen: list[torch.Tensor] = []

    class Record(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return x * 2

    x = torch.arange(13 * 37 * 32, dtype=torch.float32).reshape(1, 1, 13, 37, 32)
    output = PadToMultiple(Record(), (32, 32, 32))(x)
    assert torch.equal(output, 2 * x)
    padded = seen[0]
    assert tuple(padded.shape[2:]) == (32, 64, 32)
    assert torch.equal(padded[0, 0, 9:22, 13:50, :], x[0, 0]) and float(padded.sum()) == float(x.sum())


def test_padding_refuses_several_outputs() -> None:
    class TwoOutputs(nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [x, x[:, :, ::2]]

    with pytest.raises(ConfigurationError, match="needs deep supervision off"):
        PadToMultiple(TwoOutputs(), (4, 4))(torch.zeros(1, 1, 5, 5))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)")
def test_forward_and_backward_on_cuda() -> None:
    """The paper-size network (feature size 48) on an odd DWI-like patch, in mixed precision as nnU-Net trains."""
    network = SWIN_UNETR.build(configuration((20, 96, 80)), 1, 2, deep_supervision=False).cuda()
    x = torch.randn(2, 1, 20, 96, 80, device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        output = network(x)
    assert tuple(output.shape) == (2, 2, 20, 96, 80)
    output.float().mean().backward()
    grads = [p.grad for p in network.parameters() if p.requires_grad]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
