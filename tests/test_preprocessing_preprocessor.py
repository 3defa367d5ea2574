"""StrokesegPreprocessor inside nnU-Net's own preprocessing calls (in-process, real files, real nnU-Net)."""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from strokeseg.errors import InputDataError
from strokeseg.preprocessing.intensity import PeakHistogram
from strokeseg.preprocessing.phantom import head_phantom
from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, case_label
from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation

SHAPE, SPACING = (12, 56, 48), (5.0, 2.5, 2.5)
DATASET_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "labels": {"background": 0, "lesion": 1},
                "file_ending": ".nii.gz"}


def plans_for(preparation: CasePreparation | None) -> tuple[PlansManager, object]:
    """Plans as StrokeDWIPlanner writes them for a DWI+ADC dataset at SPACING (only what preprocessing reads)."""
    configuration = {
        "data_identifier": "strokesegDWIPlans_3d_fullres", "preprocessor_name": "StrokesegPreprocessor",
        "batch_size": 2, "patch_size": [8, 32, 32], "median_image_size_in_voxels": list(SHAPE),
        "spacing": list(SPACING), "normalization_schemes": ["HistogramPeakNormalization", "ADCRangeNormalization"],
        "use_mask_for_norm": [True, True], "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {"network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                         "arch_kwargs": {}, "_kw_requires_import": []},
        "batch_dice": False,
    }
    if preparation is not None:
        configuration[PLANS_KEY] = preparation.to_plans()
    intensities = {"mean": 1.0, "std": 1.0, "percentile_00_5": 0.0, "percentile_99_5": 1.0, "median": 1.0,
                   "min": 0.0, "max": 1.0}
    plans = {"dataset_name": "Dataset999_Unit", "plans_name": "strokesegDWIPlans",
             "original_median_spacing_after_transp": list(SPACING), "original_median_shape_after_transp": list(SHAPE),
             "image_reader_writer": "SimpleITKIO", "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
             "configurations": {"3d_fullres": configuration}, "experiment_planner_used": "StrokeDWIPlanner",
             "label_manager": "LabelManager",
             "foreground_intensity_properties_per_channel": {"0": intensities, "1": intensities}}
    manager = PlansManager(plans)
    return manager, manager.get_configuration("3d_fullres")


def write(array: np.ndarray, path: Path, spacing: tuple[float, ...] = SPACING) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(reversed(spacing)))
    sitk.WriteImage(image, str(path))
    return str(path)


@pytest.fixture
def case(tmp_path: Path) -> tuple[list[str], str]:
    """Image files (DWI, ADC) and label file of one phantom case."""
    phantom = head_phantom(SHAPE, SPACING, bias_strength=0.3)
    images = [write(phantom.image("DWI"), tmp_path / "ph_001_0000.nii.gz"),
              write(phantom.image("ADC"), tmp_path / "ph_001_0001.nii.gz")]
    return images, write(phantom.lesion.astype(np.uint8), tmp_path / "ph_001.nii.gz")


def test_training_and_prediction_preprocessing_are_identical(case) -> None:
    images, label = case
    plans, configuration = plans_for(CasePreparation.for_channels(["DWI", "ADC"]))
    preprocessor = StrokesegPreprocessor(verbose=False)
    trained, seg, train_properties = preprocessor.run_case(images, label, plans, configuration, DATASET_JSON)
    predicted, _, predict_properties = preprocessor.run_case(images, None, plans, configuration, DATASET_JSON)
    assert np.array_equal(trained, predicted), "the label map must not influence the image preprocessing"
    assert train_properties["bbox_used_for_cropping"] == predict_properties["bbox_used_for_cropping"]
    assert seg.max() == 1 and trained.shape[1:] == seg.shape[1:]


def test_normalizations_from_the_plans_are_applied(case) -> None:
    images, _ = case
    plans, configuration = plans_for(CasePreparation.for_channels(["DWI", "ADC"]))
    data, _, properties = StrokesegPreprocessor(verbose=False).run_case(images, None, plans, configuration,
                                                                         DATASET_JSON)
    brain = data[0] > 0
    assert data[0].max() <= 255.0 and PeakHistogram().peak(data[0][brain]) == pytest.approx(150.0, abs=6.0)
    assert data[1].min() >= 0.0 and data[1].max() <= 255.0
    assert all(n < m for n, m in zip(data.shape[1:], SHAPE, strict=True)), "skull stripped: cropped to the brain"
    assert properties[PLANS_KEY]["n4_channels"] == [0]


def test_plans_without_settings_get_the_defaults_for_their_channels(case) -> None:
    images, _ = case
    with_settings = StrokesegPreprocessor(verbose=False).run_case(
        images, None, *plans_for(CasePreparation.for_channels(["DWI", "ADC"])), DATASET_JSON)[0]
    without_settings = StrokesegPreprocessor(verbose=False).run_case(images, None, *plans_for(None), DATASET_JSON)[0]
    assert np.array_equal(with_settings, without_settings)


def test_nan_in_a_nifti_file_is_an_error_naming_case_and_file(case, tmp_path: Path) -> None:
    images, _ = case
    dwi = nib.load(images[0])
    data = np.asarray(dwi.dataobj, dtype=np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, dwi.affine, dwi.header), images[0])
    with pytest.raises(InputDataError, match=r"case ph_001 .*ph_001_0000\.nii\.gz contains 1 NaN"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *plans_for(None), DATASET_JSON)


def test_all_zero_image_is_an_error_naming_the_case(case) -> None:
    images, _ = case
    write(np.zeros(SHAPE, dtype=np.float32), Path(images[1]))
    with pytest.raises(InputDataError, match=r"case ph_001 .*channel 1 \(ADC\) is constant"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *plans_for(None), DATASET_JSON)


def test_n4_fallback_is_logged_with_the_case(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    phantom = head_phantom((1, 96, 96), (5.0, 2.0, 2.0))  # one slice: N4 cannot fit a 3D field
    images = [write(phantom.image("DWI"), tmp_path / "thin_0000.nii.gz", (5.0, 2.0, 2.0)),
              write(phantom.image("ADC"), tmp_path / "thin_0001.nii.gz", (5.0, 2.0, 2.0))]
    with caplog.at_level(logging.WARNING, logger="strokeseg"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *plans_for(None), DATASET_JSON)
    assert any("case thin" in r.message and "N4 failed on channel 0 (DWI)" in r.message for r in caplog.records)


def test_case_label_names_the_case_and_its_first_file() -> None:
    assert case_label(["/data/imagesTs/sub-01_0000.nii.gz"]) == "case sub-01 (/data/imagesTs/sub-01_0000.nii.gz)"
