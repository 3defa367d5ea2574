"""Planner of Alis et al.'s inter-vendor DWI+ADC study as published (preset ``alis_vendor_dwi_adc``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from strokeseg.defaults import ALIS_IN_PLANE_ORDER, ALIS_IN_PLANE_SIZE
from strokeseg.modalities import CHANNEL_DWI
from strokeseg.nnunet.plans import ALIS_PLANS_NAME
from strokeseg.planners.base import StrokesegPlanner
from strokeseg.planners.zoom import Topology, UNetBlueprint
from strokeseg.preprocessing.in_plane import KEY_IN_PLANE_ORDER, KEY_IN_PLANE_SIZE
from strokeseg.preprocessing.normalization import SiteWindowNormalization
from strokeseg.preprocessing.windows import KEY_WINDOWS, windows_from_dataset_json

#: Configurations whose slices are resampled to the fixed in-plane size (3d_lowres keeps nnU-Net's grid).
IN_PLANE_CONFIGURATIONS: tuple[str, ...] = ("2d", "3d_fullres")


class AlisVendorPlanner(StrokesegPlanner):
    """Alis et al.'s inputs: DWI and ADC, every slice resampled to 224 x 224, each channel windowed to 0-1.

    * no skull strip, no N4 (the paper describes neither); ADC units are still harmonized to 10⁻⁶ mm²/s;
    * every channel: ``SiteWindowNormalization`` (the site's window from dataset.json's
      ``strokeseg_intensity_windows``, else the 0.5-99.5 % percentiles of the case);
    * ``2d`` and ``3d_fullres`` carry ``strokeseg_in_plane_size`` [224, 224] (cubic B-spline for images, nnU-Net's
      label resampling) and patches of 224 x 224 in-plane (``3d_fullres``: the median case's whole stack of slices,
      for the slice-stack ConvLSTM U-Net); the slice axis keeps each case's own spacing;
    * no zoom-in/out configurations.

    Use with ``nnUNetv2_plan_and_preprocess -d ID -pl AlisVendorPlanner`` and train with
    ``-p strokesegAlisPlans``.
    """

    default_plans_name = ALIS_PLANS_NAME
    required_channel = CHANNEL_DWI
    foreground_mask = False
    bias_correction = False
    in_plane_size: ClassVar[tuple[int, int]] = ALIS_IN_PLANE_SIZE
    in_plane_order: ClassVar[int] = ALIS_IN_PLANE_ORDER

    def determine_normalization_scheme_and_whether_mask_is_used_for_norm(self) -> tuple[list[str], list[bool]]:
        return [SiteWindowNormalization.__name__] * len(self.channel_names), [False] * len(self.channel_names)

    def _slice_axis(self) -> int:
        """The coarsest axis of nnU-Net's own target spacing (the slice axis; first after the transpose)."""
        return int(np.argmax(super().determine_fullres_target_spacing()))

    def determine_fullres_target_spacing(self) -> np.ndarray:
        """nnU-Net's slice spacing; in-plane, the median field of view divided by the fixed size (mm).

        Informative only: the preprocessor resamples each case with its own in-plane spacing.
        """
        spacing = np.array(super().determine_fullres_target_spacing(), dtype=float)
        slice_axis = self._slice_axis()
        extents = np.vstack(self.dataset_fingerprint["spacings"]) * np.vstack(self.dataset_fingerprint[
            "shapes_after_crop"])
        in_plane_axes = [axis for axis in range(3) if axis != slice_axis]
        for axis, size in zip(in_plane_axes, self.in_plane_size, strict=True):
            spacing[axis] = float(np.median(extents[:, axis])) / size
        return spacing

    def determine_transpose(self) -> tuple[list[int], list[int]]:
        if self.suppress_transpose:
            return [0, 1, 2], [0, 1, 2]
        slice_axis = self._slice_axis()
        forward = [slice_axis, *(axis for axis in range(3) if axis != slice_axis)]
        return forward, [forward.index(axis) for axis in range(3)]

    def get_plans_for_configuration(self, spacing: Any, median_shape: Any, data_identifier: str,
                                    approximate_n_voxels_dataset: float, _cache: dict) -> dict:
        plan = super().get_plans_for_configuration(spacing, median_shape, data_identifier,
                                                   approximate_n_voxels_dataset, _cache)
        if not data_identifier.endswith(IN_PLANE_CONFIGURATIONS):
            return plan
        plan[KEY_IN_PLANE_SIZE] = list(self.in_plane_size)
        plan[KEY_IN_PLANE_ORDER] = self.in_plane_order
        plan[KEY_WINDOWS] = windows_from_dataset_json(self.dataset_json, self.channel_names)
        # the paper feeds a patient's whole stack of slices: the median slice count (nnU-Net may plan fewer)
        patch = [*([round(float(median_shape[0]))] if len(plan["patch_size"]) == 3 else []), *self.in_plane_size]
        topology, padded = Topology.for_patch(plan["spacing"], patch, self.UNet_featuremap_min_edge_length)
        max_features = self.UNet_max_features_2d if len(patch) == 2 else self.UNet_max_features_3d
        blueprint = UNetBlueprint(plan["architecture"], self.UNet_base_num_features, max_features,
                                  tuple(self.UNet_blocks_per_stage_encoder),
                                  tuple(self.UNet_blocks_per_stage_decoder), self.UNet_featuremap_min_edge_length)
        plan["patch_size"] = [int(v) for v in padded]
        plan["architecture"] = blueprint.architecture(topology)
        return plan

    def _add_zoom_configurations(self, plans: dict) -> None:
        """None: the paper trains on whole 224 x 224 slices."""
