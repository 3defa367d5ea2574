"""StrokesegPreprocessor inside nnU-Net's own preprocessing calls (in-process, real files, real nnU-Net)."""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from strokeseg_test_plans import dwi_adc_plans

from strokeseg.errors import InputDataError
from strokeseg.preprocessing.intensity import PeakHistogram
from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, case_label
from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation
from strokeseg.synthetic.analytic_head import head_phantom

SHAPE, SPACING = (12, 56, 48), (5.0, 2.5, 2.5)
DATASET_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "labels": {"background": 0, "lesion": 1},
                "file_ending": ".nii.gz"}


def unit_plans(preparation: CasePreparation | None) -> tuple:
    return dwi_adc_plans(preparation, SHAPE, SPACING)


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
    plans, configuration = unit_plans(CasePreparation.for_channels(["DWI", "ADC"]))
    preprocessor = StrokesegPreprocessor(verbose=False)
    trained, seg, train_properties = preprocessor.run_case(images, label, plans, configuration, DATASET_JSON)
    predicted, _, predict_properties = preprocessor.run_case(images, None, plans, configuration, DATASET_JSON)
    assert np.array_equal(trained, predicted), "the label map must not influence the image preprocessing"
    assert train_properties["bbox_used_for_cropping"] == predict_properties["bbox_used_for_cropping"]
    assert seg.max() == 1 and trained.shape[1:] == seg.shape[1:]


def test_normalizations_from_the_plans_are_applied(case) -> None:
    images, _ = case
    plans, configuration = unit_plans(CasePreparation.for_channels(["DWI", "ADC"]))
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
        images, None, *unit_plans(CasePreparation.for_channels(["DWI", "ADC"])), DATASET_JSON)[0]
    without_settings = StrokesegPreprocessor(verbose=False).run_case(images, None, *unit_plans(None), DATASET_JSON)[0]
    assert np.array_equal(with_settings, without_settings)


def test_nan_in_a_nifti_file_is_an_error_naming_case_and_file(case, tmp_path: Path) -> None:
    images, _ = case
    dwi = nib.load(images[0])
    data = np.asarray(dwi.dataobj, dtype=np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, dwi.affine, dwi.header), images[0])
    with pytest.raises(InputDataError, match=r"case ph_001 .*ph_001_0000\.nii\.gz contains 1 NaN"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *unit_plans(None), DATASET_JSON)


@pytest.mark.parametrize("damaged", [0, 2])  # the DWI, or the label map (nnU-Net would read the cut as zeros)
def test_a_cut_off_file_is_an_error_naming_case_and_file(case, damaged: int) -> None:
    images, label = case
    files = [*images, label]
    data = Path(files[damaged]).read_bytes()
    Path(files[damaged]).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError, match=rf"case ph_001 .*{Path(files[damaged]).name} is incomplete"):
        StrokesegPreprocessor(verbose=False).run_case(images, label, *unit_plans(None), DATASET_JSON)


def test_all_zero_image_is_an_error_naming_the_case(case) -> None:
    images, _ = case
    write(np.zeros(SHAPE, dtype=np.float32), Path(images[1]))
    with pytest.raises(InputDataError, match=r"case ph_001 .*channel 1 \(ADC\) is constant"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *unit_plans(None), DATASET_JSON)


def test_n4_fallback_is_logged_with_the_case(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    phantom = head_phantom((1, 96, 96), (5.0, 2.0, 2.0))  # one slice: N4 cannot fit a 3D field
    images = [write(phantom.image("DWI"), tmp_path / "thin_0000.nii.gz", (5.0, 2.0, 2.0)),
              write(phantom.image("ADC"), tmp_path / "thin_0001.nii.gz", (5.0, 2.0, 2.0))]
    with caplog.at_level(logging.WARNING, logger="strokeseg"):
        StrokesegPreprocessor(verbose=False).run_case(images, None, *unit_plans(None), DATASET_JSON)
    assert any("case thin" in r.message and "N4 failed on channel 0 (DWI)" in r.message for r in caplog.records)


def test_case_label_names_the_case_and_its_first_file() -> None:
    assert case_label(["/data/imagesTs/sub-01_0000.nii.gz"]) == "case sub-01 (/data/imagesTs/sub-01_0000.nii.gz)"
