"""Fixed in-plane size: the per-case spacing rule, and the round trip through nnU-Net's preprocessor and export."""

from __future__ import annotations

import numpy as np
import pytest
from nnunetv2.inference.export_prediction import convert_predicted_logits_to_segmentation_with_correct_shape
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
from strokeseg_test_plans import dwi_adc_plans_dict

from strokeseg.errors import ConfigurationError
from strokeseg.preprocessing.in_plane import (
    KEY_IN_PLANE_ORDER,
    KEY_IN_PLANE_SIZE,
    in_plane_configuration,
    in_plane_spacing,
)
from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor
from strokeseg.preprocessing.settings import CasePreparation

SHAPE, SPACING, SIZE = (6, 64, 48), (5.0, 0.9, 1.2), (224, 224)
DATASET_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "labels": {"background": 0, "lesion": 1},
                "file_ending": ".nii.gz"}


def test_per_case_spacing_maps_the_full_slice_onto_the_size_and_keeps_the_slice_spacing() -> None:
    assert in_plane_spacing(SHAPE, SPACING, SIZE) == pytest.approx([5.0, 0.9 * 64 / 224, 1.2 * 48 / 224])


def test_configuration_copy_keeps_its_number_of_spacing_entries_and_takes_the_order() -> None:
    configuration = {"spacing": [0.5, 0.5], "resampling_fn_data_kwargs": {"order": 3, "order_z": 0},
                     KEY_IN_PLANE_SIZE: [224, 224], KEY_IN_PLANE_ORDER: 1}
    adapted = in_plane_configuration(configuration, SHAPE, SPACING)
    assert adapted is not None
    assert adapted["spacing"] == pytest.approx([0.9 * 64 / 224, 1.2 * 48 / 224])
    assert adapted["resampling_fn_data_kwargs"] == {"order": 1, "order_z": 0}
    assert configuration["spacing"] == [0.5, 0.5], "the plans' configuration must stay untouched"
    three_d = in_plane_configuration({**configuration, "spacing": [5.0, 0.5, 0.5]}, SHAPE, SPACING)
    assert three_d is not None and three_d["spacing"][0] == 5.0
    assert in_plane_configuration({"spacing": [0.5, 0.5]}, SHAPE, SPACING) is None


@pytest.mark.parametrize("settings", [{KEY_IN_PLANE_SIZE: [224]}, {KEY_IN_PLANE_SIZE: [224, 0]},
                                      {KEY_IN_PLANE_SIZE: [224.0, 224]}, {KEY_IN_PLANE_SIZE: "224"},
                                      {KEY_IN_PLANE_SIZE: [224, 224], KEY_IN_PLANE_ORDER: 7},
                                      {KEY_IN_PLANE_ORDER: 1}])
def test_malformed_settings_are_configuration_errors_naming_the_key(settings: dict) -> None:
    with pytest.raises(ConfigurationError, match="strokeseg_in_plane"):
        in_plane_configuration({"spacing": [0.5, 0.5], "resampling_fn_data_kwargs": {}, **settings}, SHAPE, SPACING)


def plans_2d(order: int) -> PlansManager:
    """A 2D configuration without skull strip, N4 or intensity normalization, slices resampled to SIZE."""
    plans = dwi_adc_plans_dict(CasePreparation(foreground_mask=False, n4_channels=()), SHAPE, SPACING)
    configuration = plans["configurations"].pop("3d_fullres")
    configuration.update({"data_identifier": "unit_2d", "patch_size": list(SIZE), "spacing": [1.0, 1.0],
                          "normalization_schemes": ["NoNormalization", "NoNormalization"],
                          "use_mask_for_norm": [False, False], KEY_IN_PLANE_SIZE: list(SIZE),
                          KEY_IN_PLANE_ORDER: order})
    plans["configurations"]["2d"] = configuration
    return PlansManager(plans)


def case() -> tuple[np.ndarray, np.ndarray]:
    """Two channels, each slice z holding the constant 10 + z (no zero border); a lesion block as label."""
    image = np.broadcast_to(10.0 + np.arange(SHAPE[0])[:, None, None], SHAPE).astype(np.float32)
    label = np.zeros(SHAPE, dtype=np.int8)
    label[2:4, 20:40, 10:30] = 1
    return np.stack([image, 2 * image]), label[None]


def preprocess(order: int, with_label: bool = True) -> tuple[np.ndarray, np.ndarray | None, dict]:
    plans = plans_2d(order)
    data, label = case()
    return StrokesegPreprocessor(verbose=False).run_case_npy(
        data, label if with_label else None, {"spacing": list(SPACING)}, plans, plans.get_configuration("2d"),
        DATASET_JSON)


def test_preprocessing_resamples_each_slice_to_the_size_and_leaves_the_slices_alone() -> None:
    data, seg, _ = preprocess(order=3)
    assert data.shape == (2, SHAPE[0], *SIZE) and seg is not None and seg.shape == (1, SHAPE[0], *SIZE)
    expected = 10.0 + np.arange(SHAPE[0])
    assert np.allclose(data[0].mean(axis=(1, 2)), expected, atol=1e-4)
    assert np.allclose(data[0].std(axis=(1, 2)), 0, atol=1e-4), "slices must not mix"
    assert set(np.unique(seg)) == {0, 1}
    scale = SIZE[0] * SIZE[1] / (SHAPE[1] * SHAPE[2])
    assert seg.sum() == pytest.approx(2 * 20 * 20 * scale, rel=0.05)


def test_the_image_interpolation_takes_the_configured_spline_order() -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform(1, 2, size=(2, *SHAPE)).astype(np.float32)
    runs = {}
    for order in (1, 3):
        plans = plans_2d(order)
        runs[order], _, _ = StrokesegPreprocessor(verbose=False).run_case_npy(
            data, None, {"spacing": list(SPACING)}, plans, plans.get_configuration("2d"), DATASET_JSON)
    linear = runs[1]
    assert linear.min() >= 1 and linear.max() <= 2, "linear interpolation never leaves the input range"
    assert not np.allclose(runs[1], runs[3]), "order 3 must interpolate differently from order 1"


def test_training_and_prediction_see_the_same_grid() -> None:
    trained, _, train_properties = preprocess(order=3)
    predicted, _, predict_properties = preprocess(order=3, with_label=False)
    assert np.array_equal(trained, predicted)
    assert train_properties["shape_after_cropping_and_before_resampling"] == \
        predict_properties["shape_after_cropping_and_before_resampling"]


def test_nnunet_exports_predictions_in_the_original_geometry() -> None:
    _, seg, properties = preprocess(order=3)
    assert seg is not None
    lesion = (seg[0] == 1).astype(np.float32)
    logits = np.stack([1 - lesion, lesion]) * 10 - 5
    plans = plans_2d(order=3)
    exported = convert_predicted_logits_to_segmentation_with_correct_shape(
        logits, plans, plans.get_configuration("2d"), plans.get_label_manager(DATASET_JSON), properties,
        num_threads_torch=1)
    original = case()[1][0]
    assert exported.shape == SHAPE
    dice = 2 * np.sum((exported == 1) & (original == 1)) / (np.sum(exported == 1) + np.sum(original == 1))
    assert dice > 0.95
