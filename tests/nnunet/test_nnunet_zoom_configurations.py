"""The zoom-in & out plans contract shared by planners and trainers."""

from __future__ import annotations

import pytest

from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.zoom_configurations import (
    KEY_SWITCH_FRACTION,
    KEY_ZOOM_IN_CONFIGURATION,
    ZoomSchedule,
    zoom_schedule_from_plans,
)


def _plans(**zoom_out_extra: object) -> dict:
    base = {"data_identifier": "p_3d", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
            "patch_size": [32, 32, 32], "spacing": [1.0, 1.0, 1.0], "normalization_schemes": ["ZScoreNormalization"],
            "use_mask_for_norm": [False], "batch_dice": False,
            "architecture": {"network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                             "arch_kwargs": {"n_stages": 2}, "_kw_requires_import": []}}
    return {"plans_name": "p", "configurations": {
        "3d_fullres": base,
        "3d_zoomin": {"inherits_from": "3d_fullres", "patch_size": [16, 16, 16], "batch_size": 4},
        "3d_zoomout": {"inherits_from": "3d_fullres", "patch_size": [24, 32, 32], "batch_size": 2,
                       KEY_ZOOM_IN_CONFIGURATION: "3d_zoomin", **zoom_out_extra},
    }}


def test_schedule_is_read_from_both_configurations() -> None:
    schedule = zoom_schedule_from_plans(_plans(**{KEY_SWITCH_FRACTION: 0.5}))
    assert schedule == ZoomSchedule((16, 16, 16), 4, (24, 32, 32), 2, 0.5)
    assert schedule.switch_epoch(10) == 5
    assert schedule.switch_epoch(1) == 1


def test_missing_zoom_configuration_says_which_planner_to_use() -> None:
    plans = _plans()
    del plans["configurations"]["3d_zoomout"]
    with pytest.raises(ConfigurationError, match="zoom configurations"):
        zoom_schedule_from_plans(plans)


def test_switch_fraction_must_be_inside_the_run() -> None:
    with pytest.raises(ConfigurationError, match=KEY_SWITCH_FRACTION):
        zoom_schedule_from_plans(_plans(**{KEY_SWITCH_FRACTION: 1.0}))
