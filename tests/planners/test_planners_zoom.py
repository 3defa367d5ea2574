"""Zoom-in & out patch planning with nnU-Net's own topology and VRAM estimate (writer side of the contract)."""

from __future__ import annotations

import numpy as np
import pytest
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner

from strokeseg.defaults import ZOOM_IN_PATCH_MM, ZOOM_OUT_PATCH_MM
from strokeseg.errors import ConfigurationError
from strokeseg.planners.zoom import (
    Topology,
    UNetBlueprint,
    VramBudget,
    patch_mm_in_plans_axes,
    patch_voxels,
    plan_zoom,
)

#: nnU-Net 2.8's ExperimentPlanner defaults for 3D U-Nets.
TEMPLATE = {
    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
    "arch_kwargs": {"conv_op": "torch.nn.modules.conv.Conv3d", "conv_bias": True,
                    "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                    "norm_op_kwargs": {"eps": 1e-5, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
                    "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}},
    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
}
BLUEPRINT = UNetBlueprint(TEMPLATE, 32, 320, (2,) * 14, (2,) * 13, 4)


def budget(gigabytes: float, dataset_voxels: float = 1e10) -> VramBudget:
    return VramBudget(560000000 * gigabytes / 8, 2, 2, 0.05, dataset_voxels)


def estimate(patch: tuple[int, ...], topology: Topology) -> float:
    block = BLUEPRINT.architecture(topology)
    return float(ExperimentPlanner.static_estimate_VRAM_usage(patch, 1, 2, block["network_class_name"],
                                                                block["arch_kwargs"], block["_kw_requires_import"]))


def check_contract(plan, gigabytes: float) -> None:
    stride = np.prod([np.asarray(s) for s in plan.topology.strides], axis=0)
    for patch in (plan.zoom_in_patch, plan.zoom_out_patch):
        assert np.all(np.asarray(patch) % stride == 0), f"{patch} not divisible by the total stride {stride}"
    assert np.all(np.asarray(plan.zoom_in_patch) <= np.asarray(plan.zoom_out_patch))
    assert budget(gigabytes).fits(estimate(plan.zoom_out_patch, plan.topology))
    assert plan.zoom_in_batch_size >= plan.zoom_out_batch_size >= 2


def test_atlas_patches_follow_the_paper_in_mm_when_memory_allows() -> None:
    spacing, median = (1.0, 1.0, 1.0), (189.0, 233.0, 197.0)  # ATLAS R1.2 at 1 mm, plans axes z, y, x
    plan = plan_zoom(spacing, median, patch_mm_in_plans_axes(ZOOM_IN_PATCH_MM, (0, 1, 2)),
                     patch_mm_in_plans_axes(ZOOM_OUT_PATCH_MM, (0, 1, 2)), 4, budget(80.0), estimate)
    assert plan.zoom_in_patch == (128, 128, 128)
    assert plan.zoom_out_patch == (160, 160, 128) or plan.zoom_out_patch == (160, 160, 160)
    assert not plan.reduced_for_memory
    check_contract(plan, 80.0)


def test_zoom_out_shrinks_towards_zoom_in_to_fit_the_memory_target() -> None:
    spacing, median = (1.0, 1.0, 1.0), (189.0, 233.0, 197.0)
    plan = plan_zoom(spacing, median, (128.0,) * 3, (168.0, 172.0, 144.0), 4, budget(8.0), estimate)
    assert plan.reduced_for_memory
    check_contract(plan, 8.0)


def test_thick_slice_dwi_is_capped_by_the_slice_count() -> None:
    spacing, median = (5.0, 0.9, 0.9), (28.0, 230.0, 190.0)  # 1×1×5 mm DWI, plans axes: slices first
    plan = plan_zoom(spacing, median, patch_mm_in_plans_axes(ZOOM_IN_PATCH_MM, (0, 1, 2)),
                     patch_mm_in_plans_axes(ZOOM_OUT_PATCH_MM, (0, 1, 2)), 4, budget(24.0), estimate)
    assert plan.zoom_out_patch[0] <= 32, "never far beyond the 28 slices a case has"
    assert plan.topology.kernel_sizes[0] == (1, 3, 3), "in-plane convolutions first, as nnU-Net plans them"
    assert plan.zoom_in_patch[1] < plan.zoom_out_patch[1]
    check_contract(plan, 24.0)


def test_both_patches_shrink_when_even_zoom_in_does_not_fit() -> None:
    plan = plan_zoom((1.0, 1.0, 1.0), (189.0, 233.0, 197.0), (128.0,) * 3, (168.0, 172.0, 144.0), 4, budget(2.0),
                     estimate)
    assert plan.zoom_in_patch == plan.zoom_out_patch and max(plan.zoom_in_patch) < 128
    check_contract(plan, 2.0)


def test_hopeless_memory_target_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="gpu_memory_target"):
        plan_zoom((1.0, 1.0, 1.0), (16.0, 16.0, 16.0), (16.0,) * 3, (16.0,) * 3, 4, budget(1e-9), estimate)


def test_patch_sizes_map_from_xyz_millimetres_to_plans_axes() -> None:
    assert patch_mm_in_plans_axes((144.0, 172.0, 168.0), (0, 1, 2)) == (168.0, 172.0, 144.0)
    assert patch_mm_in_plans_axes((144.0, 172.0, 168.0), (2, 0, 1)) == (144.0, 168.0, 172.0)
    assert patch_voxels((168.0, 172.0, 144.0), (5.0, 1.0, 1.0), (30, 256, 100)).tolist() == [30, 172, 100]


def test_batch_size_follows_nnunet_rules() -> None:
    small_dataset = budget(8.0, dataset_voxels=64**3 * 10)
    assert small_dataset.batch_size(estimate=1.0, patch_size=(64, 64, 64)) == 2, "5 % of the dataset, at least 2"
    assert budget(8.0).batch_size(estimate=560000000 / 4, patch_size=(64, 64, 64)) == 8


def test_exact_zoom_out_patch_keeps_the_papers_size_unrounded(caplog: pytest.LogCaptureFixture) -> None:
    spacing, median = (1.0, 1.0, 1.0), (189.0, 233.0, 197.0)  # ATLAS R1.2 at 1 mm, plans axes z, y, x
    zoom_in_mm, zoom_out_mm = (patch_mm_in_plans_axes(p, (0, 1, 2)) for p in (ZOOM_IN_PATCH_MM, ZOOM_OUT_PATCH_MM))
    plan = plan_zoom(spacing, median, zoom_in_mm, zoom_out_mm, 4, budget(8.0), estimate, exact_zoom_out=True)
    assert plan.zoom_in_patch == (128, 128, 128)
    assert plan.zoom_out_patch == (168, 172, 144)  # 144 x 172 x 168 (x, y, z): no multiple of the stride 32
    assert not plan.reduced_for_memory and plan.zoom_out_batch_size == 2
    assert "exceeds nnU-Net's GPU memory estimate" in caplog.text  # kept as stated, with a warning
    rounded = plan_zoom(spacing, median, zoom_in_mm, zoom_out_mm, 4, budget(80.0), estimate)
    assert rounded.zoom_out_patch != plan.zoom_out_patch
