"""Kim et al.'s 2D U-Net and SE-U-Net (the paper's description, layer by layer) and the time-based LR decay."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from strokeseg.defaults import KIM_FEATURES, KIM_LR, KIM_LR_DECAY
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.architectures import KIM_2D_SE_UNET, KIM_2D_UNET
from strokeseg.trainers.lr_schedules import EpochLRScheduler, time_based_lr
from strokeseg.trainers.networks.kim_unet import KimUNet
from strokeseg.trainers.networks.layers import SqueezeExcitation
from strokeseg.trainers.networks.spec import count_parameters


def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def expected_parameters(features: tuple[int, ...], classes: int, se: bool, reduction: int = 16) -> int:
    """The paper's description counted by hand: 3 x (3x3 conv + BN) per step down and up, 2x2 transposed
    convolutions, SE (two dense layers) after each down step, a 1x1 head."""
    step = [0]
    channels = 1
    for width in features:
        step.append(sum(conv(3, channels if i == 0 else width, width) + 2 * width for i in range(3)))
        if se:
            hidden = max(4, width // reduction)
            step.append(width * hidden + hidden + hidden * width + width)
        channels = width
    for below, width in zip(reversed(features[1:]), reversed(features[:-1]), strict=True):
        step.append(conv(2, below, width))
        step.append(sum(conv(3, 2 * width if i == 0 else width, width) + 2 * width for i in range(3)))
    step.append(conv(1, features[0], classes))
    return sum(step)


@pytest.mark.parametrize("features", [KIM_FEATURES, (32, 64, 128, 256)])
@pytest.mark.parametrize("se", [False, True])
def test_parameter_counts_follow_the_papers_description(features: tuple[int, ...], se: bool) -> None:
    network = KimUNet(1, 2, features, squeeze_excitation=se)
    assert count_parameters(network) == expected_parameters(features, 2, se)


def test_layers_in_the_papers_order() -> None:
    network = KimUNet(1, 2, squeeze_excitation=True)
    first_step = network.encoder.stages[0]
    kinds = [type(module) for module in first_step[0]]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 3
    assert all(module.kernel_size == (3, 3) for module in first_step[0] if isinstance(module, nn.Conv2d))
    assert isinstance(first_step[1], SqueezeExcitation)
    # squeeze-and-excitation on the down path only: one per step there, none on the way up
    assert sum(isinstance(m, SqueezeExcitation) for m in network.encoder.modules()) == len(KIM_FEATURES)
    assert not any(isinstance(m, SqueezeExcitation) for m in network.decoder.modules())
    assert isinstance(network.encoder.pool, nn.MaxPool2d) and network.encoder.pool.kernel_size == 2
    assert all(up.kernel_size == (2, 2) and up.stride == (2, 2) for up in network.decoder.transpconvs)
    assert network.decoder.seg_layers[0].in_channels == 32
    plain = KimUNet(1, 2, squeeze_excitation=False)
    assert not any(isinstance(m, SqueezeExcitation) for m in plain.modules())


def test_output_keeps_the_slice_size_and_the_skips_matter() -> None:
    torch.manual_seed(0)
    network = KimUNet(1, 2, (8, 16, 32), squeeze_excitation=True).eval()
    image = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        out = network(image)
        assert out.shape == (2, 2, 64, 64)
        # the top step's skip reaches the head: changing one input pixel changes the output there
        changed = image.clone()
        changed[0, 0, 5, 5] += 10
        assert not torch.allclose(network(changed)[0, :, 5, 5], out[0, :, 5, 5])


def test_recipes_build_2d_networks_only_and_without_deep_supervision() -> None:
    two_d, three_d = SimpleNamespace(patch_size=[256, 256]), SimpleNamespace(patch_size=[16, 64, 64])
    network = KIM_2D_SE_UNET.build(two_d, 1, 2, False, width_scale=0.25)
    assert isinstance(network, KimUNet) and network.features == (8, 16, 32) and network.squeeze_excitation
    assert not KIM_2D_UNET.build(two_d, 1, 2, False).squeeze_excitation
    with pytest.raises(ConfigurationError, match="2D network"):
        KIM_2D_UNET.build(three_d, 1, 2, False)
    with pytest.raises(ConfigurationError, match="one output"):
        KIM_2D_UNET.build(two_d, 1, 2, True)


def test_time_based_decay_is_keras_at_epoch_starts() -> None:
    assert time_based_lr(0, KIM_LR, KIM_LR_DECAY, 100) == KIM_LR
    # after 3 epochs of 100 iterations Keras has taken 300 decay steps
    assert time_based_lr(3, KIM_LR, KIM_LR_DECAY, 100) == pytest.approx(KIM_LR / (1 + KIM_LR_DECAY * 300))
    with pytest.raises(ConfigurationError):
        time_based_lr(1, KIM_LR, KIM_LR_DECAY, 0)
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=KIM_LR)
    scheduler = EpochLRScheduler(optimizer, lambda epoch: time_based_lr(epoch, KIM_LR, 0.1, 10))
    scheduler.step(2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(KIM_LR / 3)
