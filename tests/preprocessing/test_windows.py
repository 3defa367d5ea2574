"""Per-site intensity windows: dataset metadata -> plans, a case's site from cases.csv, the 0-1 scheme and its
percentile fallback, and the window reaching the scheme through StrokesegPreprocessor (real files, real nnU-Net)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
from strokeseg_test_plans import dwi_adc_plans_dict

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.preprocessing.normalization import SiteWindowNormalization
from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor
from strokeseg.preprocessing.settings import CasePreparation
from strokeseg.preprocessing.windows import (
    KEY_WINDOWS,
    PROPERTY_WINDOW,
    apply_window,
    case_site,
    case_windows,
    percentile_window,
    windows_from_dataset_json,
)

SHAPE, SPACING = (3, 16, 16), (5.0, 2.0, 2.0)
DATASET_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "labels": {"background": 0, "lesion": 1},
                "file_ending": ".nii.gz"}


def test_dataset_windows_become_one_window_per_channel_per_site() -> None:
    given = {KEY_WINDOWS: {"siteA": {"dwi": [0, 1000], "ADC": [0, 3000]}, "siteB": {"DWI": [10, 900.5]}}}
    windows = windows_from_dataset_json(given, ["DWI", "ADC"])
    assert windows == {"siteA": [[0.0, 1000.0], [0.0, 3000.0]], "siteB": [[10.0, 900.5], None]}
    assert case_windows({KEY_WINDOWS: windows}, "siteB") == [[10.0, 900.5], None]
    assert case_windows({KEY_WINDOWS: windows}, "siteC") is None and case_windows({}, None) is None
    assert windows_from_dataset_json({}, ["DWI"]) == {}


@pytest.mark.parametrize(("given", "message"), [
    ({"siteA": {"FLAIR": [0, 1]}}, "channels \\['FLAIR'\\]"),
    ({"siteA": {"DWI": [5, 5]}}, "low < high"),
    ({"siteA": {"DWI": [0]}}, "low < high"),
    ({"siteA": [0, 1]}, "siteA"),
    ([1, 2], "must map sites"),
])
def test_malformed_windows_name_the_site_and_what_is_wrong(given: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        windows_from_dataset_json({KEY_WINDOWS: given}, ["DWI", "ADC"])


def test_a_cases_site_comes_from_the_cases_csv_next_to_or_above_its_images(tmp_path: Path) -> None:
    images = tmp_path / "imagesTr"
    images.mkdir()
    pd.DataFrame({"case_id": ["a_001", "a_002"], "site": ["siteA", None]}).to_csv(tmp_path / "cases.csv",
                                                                                  index=False)
    assert case_site(images / "a_001_0000.nii.gz", "a_001") == "siteA"
    assert case_site(images / "a_002_0000.nii.gz", "a_002") is None  # no site given
    assert case_site(images / "zz_0000.nii.gz", "zz") is None  # not listed
    assert case_site(tmp_path / "elsewhere" / "x" / "a_001_0000.nii.gz", "a_001") is None  # no cases.csv


def test_window_maps_low_to_0_and_high_to_1_clipped() -> None:
    out = apply_window(np.array([-10.0, 0.0, 50.0, 100.0, 300.0]), (0.0, 100.0))
    assert out.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0]) and out.dtype == np.float32


def test_fallback_window_is_the_percentiles_of_the_nonzero_voxels() -> None:
    image = np.concatenate([np.zeros(500), np.arange(1, 1001, dtype=float)])
    low, high = percentile_window(image, (0.5, 99.5))
    assert low == pytest.approx(np.percentile(np.arange(1, 1001), 0.5))
    assert high == pytest.approx(np.percentile(np.arange(1, 1001), 99.5))
    with pytest.raises(InputDataError, match="all zero"):
        percentile_window(np.zeros(10), (0.5, 99.5))
    with pytest.raises(InputDataError, match="constant"):
        percentile_window(np.full(10, 3.0), (0.5, 99.5))


def test_scheme_uses_the_window_it_is_given_else_the_fallback() -> None:
    image = np.linspace(0, 200, 1000).reshape(10, 10, 10)
    given = SiteWindowNormalization(False, {PROPERTY_WINDOW: [0.0, 100.0]}).run(image)
    assert float(given.max()) == 1.0 and float(np.mean(given == 1.0)) == pytest.approx(0.5, abs=0.01)
    fallback = SiteWindowNormalization(False, {}).run(image)
    assert float(np.mean(fallback == 1.0)) < 0.02 and float(fallback.min()) == 0.0


def write_case(folder: Path, case_id: str, dwi_max: float) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for channel, top in ((0, dwi_max), (1, 3000.0)):
        array = np.linspace(1.0, top, int(np.prod(SHAPE)), dtype=np.float32).reshape(SHAPE)
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(tuple(reversed(SPACING)))
        path = folder / f"{case_id}_{channel:04d}.nii.gz"
        sitk.WriteImage(image, str(path))
        files.append(str(path))
    return files


def test_the_preprocessor_windows_each_case_by_its_site(tmp_path: Path) -> None:
    plans = dwi_adc_plans_dict(CasePreparation(foreground_mask=False, n4_channels=()), SHAPE, SPACING)
    configuration = plans["configurations"]["3d_fullres"]
    configuration.update({"normalization_schemes": ["SiteWindowNormalization"] * 2,
                          "use_mask_for_norm": [False, False],
                          KEY_WINDOWS: {"siteA": [[0.0, 100.0], None]}})
    manager = PlansManager(plans)
    pd.DataFrame({"case_id": ["a_001", "b_001"], "site": ["siteA", "siteB"]}).to_csv(tmp_path / "cases.csv",
                                                                                     index=False)
    preprocessor = StrokesegPreprocessor(verbose=False)
    windowed = {}
    for case_id in ("a_001", "b_001"):
        files = write_case(tmp_path / "imagesTr", case_id, dwi_max=200.0)
        windowed[case_id], _, _ = preprocessor.run_case(files, None, manager, manager.get_configuration("3d_fullres"),
                                                        DATASET_JSON)
    # site A's DWI window [0, 100] saturates the upper half; site B has none: its percentiles saturate ~0.5 %
    assert float(np.mean(windowed["a_001"][0] >= 1.0)) == pytest.approx(0.5, abs=0.05)
    assert float(np.mean(windowed["b_001"][0] >= 1.0)) < 0.05
    # site A has no ADC window: both cases' ADC channels take the same percentile window
    assert np.allclose(windowed["a_001"][1], windowed["b_001"][1])
