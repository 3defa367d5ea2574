"""Writer side of the zoom-in & out contract (``strokeseg.nnunet.zoom_configurations``): the two zoom plans.

Both configurations inherit from ``3d_fullres`` (same preprocessed data, preprocessor and normalization) and
carry one and the same U-Net; they differ in patch and batch size:

1. the patch sizes in mm (``ZOOM_IN_PATCH_MM``, ``ZOOM_OUT_PATCH_MM``, x/y/z) become voxels at the 3d_fullres
   spacing, in the plans' transposed axis order, capped by the median image size;
2. the network topology (pooling per axis, kernel sizes) is nnU-Net's for the zoom-in patch, so that its
   bottleneck keeps nnU-Net's minimum edge length; the zoom-in patch is padded to the network's total stride
   and the zoom-out patch is rounded to the nearest multiple of it (never below the zoom-in patch);
3. when the zoom-out patch does not fit the GPU memory target with nnU-Net's minimum batch size (nnU-Net's
   own VRAM estimate and reference values), it shrinks towards the zoom-in patch along the axis that is
   largest relative to the median image; if even the zoom-in patch does not fit, both shrink together;
4. each batch size is nnU-Net's: what the memory target allows, at most 5 % of the dataset's voxels per step,
   at least nnU-Net's minimum.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import numpy as np
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
from nnunetv2.experiment_planning.experiment_planners.network_topology import get_pool_and_conv_props

from strokeseg.defaults import ZOOM_IN_PATCH_MM, ZOOM_OUT_PATCH_MM, ZOOM_SWITCH_FRACTION
from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.zoom_configurations import (
    KEY_CENTRE_CROP_MM,
    KEY_SWITCH_FRACTION,
    KEY_ZOOM_IN_CONFIGURATION,
    ZOOM_IN_CONFIGURATION,
    ZOOM_OUT_CONFIGURATION,
    zoom_schedule_from_plans,
)

logger = logging.getLogger(__name__)

#: The configuration the zoom configurations inherit from (data, preprocessing, normalization).
BASE_CONFIGURATION = "3d_fullres"


@dataclass(frozen=True)
class VramBudget:
    """nnU-Net's GPU-memory model for 3D U-Nets (ExperimentPlanner's reference values).

    Attributes:
        reference: the VRAM estimate that corresponds to the memory target at ``reference_batch_size``.
        reference_batch_size: the batch size the reference was measured with.
        min_batch_size: the smallest batch size a patch must fit with.
        max_dataset_fraction: a batch covers at most this fraction of the dataset's voxels.
        dataset_voxels: approximate number of voxels of the training set at the target spacing.
    """

    reference: float
    reference_batch_size: int
    min_batch_size: int
    max_dataset_fraction: float
    dataset_voxels: float

    @classmethod
    def of_planner(cls, planner: ExperimentPlanner, dataset_voxels: float) -> VramBudget:
        """The budget nnU-Net's ExperimentPlanner uses for 3D configurations at its memory target."""
        reference = (planner.UNet_reference_val_3d * planner.UNet_vram_target_GB
                     / planner.UNet_reference_val_corresp_GB)
        return cls(reference, planner.UNet_reference_val_corresp_bs_3d, planner.UNet_min_batch_size,
                   planner.max_dataset_covered, dataset_voxels)

    def fits(self, estimate: float) -> bool:
        """Whether a network with this VRAM estimate fits at the minimum batch size."""
        return estimate / self.reference_batch_size * self.min_batch_size <= self.reference

    def batch_size(self, estimate: float, patch_size: Sequence[int]) -> int:
        """nnU-Net's batch size for a patch: memory-limited, capped at the dataset fraction, at least the minimum."""
        by_memory = round(self.reference / estimate * self.reference_batch_size)
        by_dataset = round(self.dataset_voxels * self.max_dataset_fraction / np.prod(patch_size, dtype=np.float64))
        return int(max(min(by_memory, by_dataset), self.min_batch_size))


@dataclass(frozen=True)
class Topology:
    """U-Net topology from nnU-Net's ``get_pool_and_conv_props``: strides and kernels per stage."""

    strides: tuple[tuple[int, ...], ...]
    kernel_sizes: tuple[tuple[int, ...], ...]
    divisor: tuple[int, ...]

    @classmethod
    def for_patch(cls, spacing: Sequence[float], patch_size: Sequence[int] | np.ndarray,
                  min_edge_length: int) -> tuple[Topology, np.ndarray]:
        """nnU-Net's topology for a patch, and the patch padded to the network's total stride."""
        _, strides, kernels, padded, divisor = get_pool_and_conv_props(list(spacing), list(patch_size),
                                                                       min_edge_length, 999999)
        return (cls(tuple(tuple(int(v) for v in s) for s in strides), tuple(tuple(int(v) for v in k) for k in kernels),
                    tuple(int(d) for d in divisor)), np.asarray(padded, dtype=int))


@dataclass(frozen=True)
class UNetBlueprint:
    """How a planner turns a topology into an ``architecture`` block (nnU-Net's PlainConvUNet conventions)."""

    template: Mapping[str, Any]
    base_features: int
    max_features: int
    encoder_blocks: tuple[int, ...]
    decoder_blocks: tuple[int, ...]
    min_edge_length: int

    @classmethod
    def of_planner(cls, planner: ExperimentPlanner, template: Mapping[str, Any]) -> UNetBlueprint:
        """The blueprint of ``planner``'s 3D U-Nets; ``template`` is the 3d_fullres ``architecture`` block."""
        return cls(template, planner.UNet_base_num_features, planner.UNet_max_features_3d,
                   tuple(planner.UNet_blocks_per_stage_encoder), tuple(planner.UNet_blocks_per_stage_decoder),
                   planner.UNet_featuremap_min_edge_length)

    def architecture(self, topology: Topology) -> dict[str, Any]:
        """The architecture block for ``topology`` (the template with stage-dependent entries replaced)."""
        stages = len(topology.strides)
        block = deepcopy(dict(self.template))
        kwargs = dict(block["arch_kwargs"])
        kwargs.update({
            "n_stages": stages,
            "features_per_stage": [min(self.max_features, self.base_features * 2**i) for i in range(stages)],
            "kernel_sizes": [list(k) for k in topology.kernel_sizes],
            "strides": [list(s) for s in topology.strides],
            "n_conv_per_stage": list(self.encoder_blocks[:stages]),
            "n_conv_per_stage_decoder": list(self.decoder_blocks[: stages - 1]),
        })
        block["arch_kwargs"] = kwargs
        return block


@dataclass(frozen=True)
class ZoomPlan:
    """Patch sizes (voxels, plans axis order), batch sizes and the shared topology of both phases."""

    zoom_in_patch: tuple[int, ...]
    zoom_in_batch_size: int
    zoom_out_patch: tuple[int, ...]
    zoom_out_batch_size: int
    topology: Topology
    reduced_for_memory: bool


def patch_mm_in_plans_axes(patch_mm_xyz: Sequence[float], transpose_forward: Sequence[int]) -> tuple[float, ...]:
    """A physical patch size given as (x, y, z) mm in the plans' axis order (numpy z, y, x, then transposed)."""
    zyx = tuple(float(v) for v in reversed(tuple(patch_mm_xyz)))
    return tuple(zyx[axis] for axis in transpose_forward)


def patch_voxels(patch_mm: Sequence[float], spacing: Sequence[float], median_shape: Sequence[float]) -> np.ndarray:
    """Voxels per axis of a patch of ``patch_mm`` at ``spacing``, at most the median image size, at least 1."""
    voxels = np.round(np.asarray(patch_mm, dtype=float) / np.asarray(spacing, dtype=float))
    return np.maximum(1, np.minimum(voxels, np.round(np.asarray(median_shape, dtype=float)))).astype(int)


def plan_zoom(spacing: Sequence[float], median_shape: Sequence[float], zoom_in_mm: Sequence[float],
              zoom_out_mm: Sequence[float], min_edge_length: int, budget: VramBudget,
              estimate: Callable[[tuple[int, ...], Topology], float], exact_zoom_out: bool = False) -> ZoomPlan:
    """Patch sizes, batch sizes and topology of the zoom-in & out phases (see the module docstring).

    Args:
        spacing, median_shape: of 3d_fullres, in the plans' axis order (mm, voxels).
        zoom_in_mm, zoom_out_mm: physical patch sizes in the plans' axis order (mm).
        min_edge_length: nnU-Net's minimum bottleneck edge length (voxels).
        budget: the GPU-memory model.
        estimate: VRAM estimate of the network with ``Topology`` on a patch (nnU-Net's estimator).
        exact_zoom_out: keep the zoom-out patch at ``zoom_out_mm`` exactly (not rounded to the network's stride,
            not reduced for memory; for networks that pad their input to the stride, Tomita et al.'s preset).
    """
    median = np.asarray(median_shape, dtype=float)
    zoom_out_target = patch_voxels(zoom_out_mm, spacing, median_shape)
    zoom_in_target = np.minimum(patch_voxels(zoom_in_mm, spacing, median_shape), zoom_out_target)
    topology, zoom_in = Topology.for_patch(spacing, zoom_in_target, min_edge_length)
    divisor = np.asarray(topology.divisor)
    if exact_zoom_out:
        zoom_out_patch = tuple(int(v) for v in zoom_out_target)
        estimated = estimate(zoom_out_patch, topology)
        if not budget.fits(estimated):
            logger.warning("the exact zoom-out patch %s exceeds nnU-Net's GPU memory estimate at batch size %d; "
                           "kept as stated (reduce the batch size or use a larger GPU)", zoom_out_patch,
                           budget.min_batch_size)
        zoom_in_patch = tuple(int(v) for v in zoom_in)
        return ZoomPlan(zoom_in_patch, budget.batch_size(estimate(zoom_in_patch, topology), zoom_in_patch),
                        zoom_out_patch, budget.batch_size(estimated, zoom_out_patch), topology, False)
    nearest = np.floor(zoom_out_target / divisor + 0.5) * divisor  # round half up to a multiple of the stride
    zoom_out = np.maximum(zoom_in, np.maximum(divisor, nearest)).astype(int)
    reduced = False
    while not budget.fits(estimate(tuple(int(v) for v in zoom_out), topology)):
        reduced = True
        larger = zoom_out > zoom_in
        if larger.any():
            ratios = np.where(larger, zoom_out / median, -np.inf)
            axis = int(np.argmax(ratios))
            zoom_out[axis] = max(int(zoom_in[axis]), int(zoom_out[axis] - divisor[axis]))
            continue
        # the zoom-in patch itself is too large: shrink it the way nnU-Net shrinks 3d_fullres patches
        axis = int(np.argmax(zoom_in / median))
        trial = zoom_in.copy()
        trial[axis] -= divisor[axis]
        if trial[axis] < 1:
            raise ConfigurationError(f"no zoom-in patch fits the GPU memory target (smallest tried: "
                                     f"{tuple(zoom_in)}); raise -gpu_memory_target")
        step = Topology.for_patch(spacing, trial, min_edge_length)[0].divisor[axis]
        zoom_in = zoom_in.copy()
        zoom_in[axis] -= step
        topology, zoom_in = Topology.for_patch(spacing, zoom_in, min_edge_length)
        divisor = np.asarray(topology.divisor)
        zoom_out = zoom_in.copy()
    zoom_in_patch = tuple(int(v) for v in zoom_in)
    zoom_out_patch = tuple(int(v) for v in zoom_out)
    return ZoomPlan(zoom_in_patch, budget.batch_size(estimate(zoom_in_patch, topology), zoom_in_patch),
                    zoom_out_patch, budget.batch_size(estimate(zoom_out_patch, topology), zoom_out_patch), topology,
                    reduced)


def add_zoom_configurations(plans: dict[str, Any], planner: ExperimentPlanner,
                            zoom_in_mm_xyz: Sequence[float] = ZOOM_IN_PATCH_MM,
                            zoom_out_mm_xyz: Sequence[float] = ZOOM_OUT_PATCH_MM,
                            switch_fraction: float = ZOOM_SWITCH_FRACTION, exact_zoom_out: bool = False,
                            centre_crop_mm_xyz: Sequence[float] | None = None) -> bool:
    """Add ``3d_zoomin`` and ``3d_zoomout`` to ``plans`` (in place); False when the plans have no 3d_fullres.

    ``exact_zoom_out`` keeps the zoom-out patch at its physical size (see :func:`plan_zoom`);
    ``centre_crop_mm_xyz`` makes prediction with the zoom-out configuration segment only the centre box of that
    size (``KEY_CENTRE_CROP_MM``).

    Raises:
        ConfigurationError: the written configurations violate the contract (checked with
            ``zoom_schedule_from_plans``), or no patch fits the memory target.
    """
    configurations = plans["configurations"]
    base = configurations.get(BASE_CONFIGURATION)
    if base is None:
        logger.info("no %s configuration (2D dataset): no zoom-in & out configurations written", BASE_CONFIGURATION)
        return False
    spacing = [float(v) for v in base["spacing"]]
    median = [float(v) for v in base["median_image_size_in_voxels"]]
    transpose = plans["transpose_forward"]
    blueprint = UNetBlueprint.of_planner(planner, base["architecture"])
    dataset_voxels = float(np.prod(median, dtype=np.float64) * planner.dataset_json["numTraining"])
    inputs = len(planner.dataset_json["channel_names"])
    outputs = len(planner.dataset_json["labels"])
    cache: dict[tuple[tuple[int, ...], Topology], float] = {}

    def estimate(patch: tuple[int, ...], topology: Topology) -> float:
        if (patch, topology) not in cache:
            block = blueprint.architecture(topology)
            cache[(patch, topology)] = float(planner.static_estimate_VRAM_usage(
                patch, inputs, outputs, block["network_class_name"], block["arch_kwargs"],
                tuple(block["_kw_requires_import"])))
        return cache[(patch, topology)]

    plan = plan_zoom(spacing, median, patch_mm_in_plans_axes(zoom_in_mm_xyz, transpose),
                     patch_mm_in_plans_axes(zoom_out_mm_xyz, transpose), blueprint.min_edge_length,
                     VramBudget.of_planner(planner, dataset_voxels), estimate, exact_zoom_out)
    if plan.reduced_for_memory:
        logger.warning("zoom-out patch reduced to %s voxels to fit %s GB of GPU memory; pass a larger "
                       "-gpu_memory_target to keep the paper's physical patch sizes", plan.zoom_out_patch,
                       planner.UNet_vram_target_GB)
    if plan.zoom_in_patch == plan.zoom_out_patch:
        logger.warning("zoom-in and zoom-out patches are equal (%s voxels): the images are smaller than the zoom-in "
                       "patch of %s mm", plan.zoom_in_patch, tuple(zoom_in_mm_xyz))
    architecture = blueprint.architecture(plan.topology)
    common = {"inherits_from": BASE_CONFIGURATION, "data_identifier": base["data_identifier"],
              "architecture": architecture}
    configurations[ZOOM_IN_CONFIGURATION] = {**deepcopy(common), "patch_size": list(plan.zoom_in_patch),
                                             "batch_size": plan.zoom_in_batch_size}
    configurations[ZOOM_OUT_CONFIGURATION] = {**deepcopy(common), "patch_size": list(plan.zoom_out_patch),
                                              "batch_size": plan.zoom_out_batch_size,
                                              KEY_ZOOM_IN_CONFIGURATION: ZOOM_IN_CONFIGURATION,
                                              KEY_SWITCH_FRACTION: float(switch_fraction)}
    if centre_crop_mm_xyz is not None:
        configurations[ZOOM_OUT_CONFIGURATION][KEY_CENTRE_CROP_MM] = [float(v) for v in centre_crop_mm_xyz]
    zoom_schedule_from_plans(plans)
    return True
