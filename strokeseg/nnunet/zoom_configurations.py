"""The zoom-in & out contract between strokeseg's planners and trainers (Tomita et al.).

A planner that supports zoom-in & out writes two configurations into its plans, sharing the preprocessed
data (same ``data_identifier``) and the same network architecture, differing in patch and batch size:

* ``3d_zoomin``  – the small (zoom-in) patch, trained first at ZOOM_IN_LR;
* ``3d_zoomout`` – the large (zoom-out) patch, trained afterwards at ZOOM_OUT_LR and used for prediction.

The zoom-out configuration also carries ``strokeseg_zoom_in_configuration`` (the name of the zoom-in
configuration) and ``strokeseg_zoom_switch_fraction`` (fraction of the epochs spent zoomed in). Users train
``nnUNetv2_train ID 3d_zoomout FOLD -tr nnUNetTrainer_strokeseg_ZoomInOut -p <plans>`` and predict with
``-c 3d_zoomout``.

A zoom-out configuration may also carry ``strokeseg_centre_crop_mm`` (x, y, z mm): at prediction, only the centre
box of that physical size of each image is segmented and every voxel outside it is background (Tomita et al.'s
inference; strokeseg's preprocessor reads the key). Trainers that keep the zoom-in result and snapshots of the
zoom-out phase write them beside nnU-Net's checkpoints under the names below, so that
``nnUNetv2_predict -chk <name>`` predicts with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strokeseg.defaults import ZOOM_SWITCH_FRACTION
from strokeseg.errors import ConfigurationError

ZOOM_IN_CONFIGURATION = "3d_zoomin"
ZOOM_OUT_CONFIGURATION = "3d_zoomout"
KEY_ZOOM_IN_CONFIGURATION = "strokeseg_zoom_in_configuration"
KEY_SWITCH_FRACTION = "strokeseg_zoom_switch_fraction"
KEY_CENTRE_CROP_MM = "strokeseg_centre_crop_mm"
#: The weights at the end of the zoom-in phase (Tomita et al.'s "-F" model, before fine-tuning on large patches).
ZOOM_IN_CHECKPOINT = "checkpoint_zoomin.pth"


def snapshot_checkpoint(zoom_out_epoch: int) -> str:
    """File name of the snapshot taken after ``zoom_out_epoch`` epochs of the zoom-out phase (1-based)."""
    return f"checkpoint_snapshot_{zoom_out_epoch:03d}.pth"


@dataclass(frozen=True)
class ZoomSchedule:
    """Patch and batch sizes of both phases (voxels, in the plans' transposed axis order)."""

    zoom_in_patch_size: tuple[int, ...]
    zoom_in_batch_size: int
    zoom_out_patch_size: tuple[int, ...]
    zoom_out_batch_size: int
    switch_fraction: float

    def switch_epoch(self, num_epochs: int) -> int:
        """First epoch trained on the zoom-out patch for a run of ``num_epochs`` epochs (at least 1)."""
        return min(max(1, round(self.switch_fraction * num_epochs)), num_epochs)


def zoom_schedule_from_plans(plans: Mapping[str, Any], configuration: str = ZOOM_OUT_CONFIGURATION) -> ZoomSchedule:
    """Read the zoom schedule from a plans dict (as loaded from the plans JSON).

    Raises:
        ConfigurationError: the plans lack the zoom configurations; the message says which planner writes them.
    """
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    manager = PlansManager(dict(plans))
    if configuration not in manager.available_configurations:
        raise ConfigurationError(
            f"plans {plans.get('plans_name')!r} have no configuration {configuration!r} (available: "
            f"{', '.join(manager.available_configurations)}); plan with a strokeseg planner that writes the zoom "
            "configurations (e.g. -pl AtlasT1Planner or StrokeDWIPlanner)")
    zoom_out = manager.get_configuration(configuration)
    zoom_in_name = zoom_out.configuration.get(KEY_ZOOM_IN_CONFIGURATION, ZOOM_IN_CONFIGURATION)
    if zoom_in_name not in manager.available_configurations:
        raise ConfigurationError(f"plans {plans.get('plans_name')!r}: configuration {configuration!r} names "
                                 f"zoom-in configuration {zoom_in_name!r}, which the plans do not contain")
    zoom_in = manager.get_configuration(zoom_in_name)
    fraction = float(zoom_out.configuration.get(KEY_SWITCH_FRACTION, ZOOM_SWITCH_FRACTION))
    if not 0.0 < fraction < 1.0:
        raise ConfigurationError(f"{KEY_SWITCH_FRACTION} must lie in (0, 1), got {fraction}")
    return ZoomSchedule(tuple(zoom_in.patch_size), int(zoom_in.batch_size), tuple(zoom_out.patch_size),
                        int(zoom_out.batch_size), fraction)
