"""The registry's DICOM path: real DICOM series written with pydicom, converted by the dcm2niix binary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from cohort_fixtures import dicom_grid_mask, write_dicom_series

from strokeseg.cases import read_cases
from strokeseg.dataset_conversion.convert import convert
from strokeseg.dataset_conversion.dicom import dcm2niix_executable

SHAPE = (6, 16, 20)  # z, y, x


def _anatomy() -> tuple[np.ndarray, np.ndarray]:
    """b = 0 signal (uint16) and a lesion mask placed off-centre, so that a flipped axis would be noticed."""
    zz, yy, xx = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    s0 = np.where((yy - 8) ** 2 / 49 + (xx - 10) ** 2 / 81 <= 1, 1000, 0).astype(np.float64)
    lesion = (zz >= 2) & (zz <= 3) & (yy >= 2) & (yy <= 5) & (xx >= 12) & (xx <= 15) & (s0 > 0)
    return s0, lesion.astype(np.uint8)


def _attenuated(s0: np.ndarray, lesion: np.ndarray, b_value: float) -> np.ndarray:
    """Signal at ``b_value`` with ADC 0.8e-3 mm²/s in tissue and 0.4e-3 in the lesion (restricted diffusion)."""
    adc = np.where(lesion > 0, 0.4e-3, 0.8e-3)
    return np.round(s0 * np.exp(-b_value * adc)).astype(np.uint16)


def _manifest(root: Path, rows: list[str]) -> Path:
    path = root / "manifest.csv"
    path.write_text("case_id,dicom,mask,site,vendor,field_strength_t,onset_to_imaging_h\n" + "\n".join(rows) + "\n")
    return path


def test_dcm2niix_binary_is_the_one_the_pypi_package_ships() -> None:
    assert Path(dcm2niix_executable()).is_file()
    assert "dcm2niix" in Path(dcm2niix_executable()).name


@pytest.mark.parametrize(("vendor", "tesla"), [("Siemens", 1.5), ("GE", 3.0), ("Philips", 3.0)])
def test_multi_b_series_gives_dwi_b0_and_computed_adc(tmp_path: Path, vendor: str, tesla: float) -> None:
    s0, lesion = _anatomy()
    case_dir = tmp_path / "src" / "dicom" / "case01"
    write_dicom_series(case_dir / "dwi", [_attenuated(s0, lesion, 0), _attenuated(s0, lesion, 1000)], [0, 1000],
                       vendor, tesla, series_number=5, description="ep2d_diff_b0_1000")
    sitk.WriteImage(dicom_grid_mask(lesion), str(tmp_path / "src" / "case01_mask.nii.gz"))
    _manifest(tmp_path / "src", ["case01,dicom/case01,case01_mask.nii.gz,hospitalA,,,2.5"])
    result = convert("registry", tmp_path / "src", tmp_path / "raw", 61, "Dicom", channels=["DWI", "ADC", "b0"])
    assert result.counts["converted"] == 1, result.outcomes
    row = read_cases(result.dataset_dir / "cases.csv").set_index("case_id").loc["case01"]
    assert row["vendor"] == vendor
    assert row["field_strength_t"] == tesla
    assert row["b_value"] == 1000.0
    assert (row["spacing_x_mm"], row["spacing_y_mm"], row["spacing_z_mm"]) == pytest.approx((1.0, 1.2, 4.0))
    assert row["slice_thickness_mm"] == 4.0
    assert row["adc_source"] == "computed"
    assert row["lesion_volume_ml"] == pytest.approx(lesion.sum() * 1.0 * 1.2 * 4.0 / 1000)
    images = result.dataset_dir / "imagesTr"
    dwi = sitk.GetArrayFromImage(sitk.ReadImage(str(images / "case01_0000.nii.gz")))
    adc = sitk.GetArrayFromImage(sitk.ReadImage(str(images / "case01_0001.nii.gz")))
    b0 = sitk.GetArrayFromImage(sitk.ReadImage(str(images / "case01_0002.nii.gz")))
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(result.dataset_dir / "labelsTr" / "case01.nii.gz"))) > 0
    # the mask (written in DICOM voxel order) lands on the lesion in dcm2niix's voxel order
    tissue = (b0 > 0) & ~label
    assert dwi[label].mean() > 1.3 * dwi[tissue].mean()
    assert np.median(adc[label]) == pytest.approx(400, abs=15)    # 10⁻⁶ mm²/s
    assert np.median(adc[tissue]) == pytest.approx(800, abs=15)
    assert b0.max() == pytest.approx(1000, abs=1)


def test_separate_series_nearest_high_b_and_scanner_adc(tmp_path: Path) -> None:
    s0, lesion = _anatomy()
    case_dir = tmp_path / "src" / "dicom" / "case02"
    write_dicom_series(case_dir / "s3", [_attenuated(s0, lesion, 0)], [0], "Siemens", 3.0, 3, "ep2d_diff_b0")
    write_dicom_series(case_dir / "s4", [_attenuated(s0, lesion, 800)], [800], "Siemens", 3.0, 4, "ep2d_diff_b800")
    write_dicom_series(case_dir / "s6", [_attenuated(s0, lesion, 1500)], [1500], "Siemens", 3.0, 6,
                       "ep2d_diff_b1500")
    scanner_adc = np.where(s0 > 0, np.where(lesion > 0, 420, 790), 0).astype(np.uint16)
    write_dicom_series(case_dir / "s7", [scanner_adc], [0], "Siemens", 3.0, 7, "ep2d_diff_ADC", derived_adc=True)
    sitk.WriteImage(dicom_grid_mask(lesion), str(tmp_path / "src" / "case02_mask.nii.gz"))
    _manifest(tmp_path / "src", ["case02,dicom/case02,case02_mask.nii.gz,hospitalB,Siemens,3,1"])
    result = convert("registry", tmp_path / "src", tmp_path / "raw", 62, "Dicom", target_b=1000.0)
    assert result.counts["converted"] == 1, result.outcomes
    row = read_cases(result.dataset_dir / "cases.csv").set_index("case_id").loc["case02"]
    assert row["b_value"] == 800.0            # the nearest high b to 1000 (not 1500)
    assert row["adc_source"] == "scanner"
    assert "ep2d_diff_ADC" in row["source_ADC"]
    adc = sitk.GetArrayFromImage(sitk.ReadImage(str(result.dataset_dir / "imagesTr" / "case02_0001.nii.gz")))
    assert sorted(np.unique(adc).tolist()) == [0, 420, 790]


def test_dicom_folder_without_diffusion_series_is_skipped(tmp_path: Path) -> None:
    s0, lesion = _anatomy()
    case_dir = tmp_path / "src" / "dicom" / "case03"
    write_dicom_series(case_dir / "adc", [s0.astype(np.uint16)], [0], "GE", 1.5, 9, "ADC map", derived_adc=True)
    sitk.WriteImage(dicom_grid_mask(lesion), str(tmp_path / "src" / "case03_mask.nii.gz"))
    (tmp_path / "src" / "dicom" / "empty").mkdir()
    _manifest(tmp_path / "src", ["case03,dicom/case03,case03_mask.nii.gz,h,,,",
                                 "case04,dicom/empty,case03_mask.nii.gz,h,,,"])
    with pytest.raises(Exception, match="no training case could be converted") as error:
        convert("registry", tmp_path / "src", tmp_path / "raw", 63, "Dicom")
    report = next((tmp_path / "raw").glob(".Dataset063_Dicom.partial/conversion_report.csv")).read_text()
    assert "no diffusion series with b-values" in report
    assert "dcm2niix found no image series" in report
    assert "reasons per case" in str(error.value)


def test_manifest_values_override_the_dicom_sidecar_and_conflicts_are_listed(tmp_path: Path) -> None:
    s0, lesion = _anatomy()
    case_dir = tmp_path / "src" / "dicom" / "case04"
    write_dicom_series(case_dir / "dwi", [_attenuated(s0, lesion, 0), _attenuated(s0, lesion, 1000)], [0, 1000],
                       "Siemens", 1.5, series_number=5, description="ep2d_diff_b0_1000")
    sitk.WriteImage(dicom_grid_mask(lesion), str(tmp_path / "src" / "case04_mask.nii.gz"))
    _manifest(tmp_path / "src", ["case04,dicom/case04,case04_mask.nii.gz,hospitalA,GE,1.5,2.5"])
    result = convert("registry", tmp_path / "src", tmp_path / "raw", 64, "Dicom")
    row = read_cases(result.dataset_dir / "cases.csv").set_index("case_id").loc["case04"]
    assert (row["vendor"], row["field_strength_t"]) == ("GE", 1.5)  # the manifest's vendor, the agreeing field
    assert row["metadata_conflicts"] == "vendor: manifest GE, sidecar Siemens"


def test_dicom_rows_vote_their_readings_and_keep_extra_masks(tmp_path: Path) -> None:
    s0, lesion = _anatomy()
    source = tmp_path / "src"
    write_dicom_series(source / "dicom" / "case05", [_attenuated(s0, lesion, 0), _attenuated(s0, lesion, 1000)],
                       [0, 1000], "Siemens", 3.0, series_number=5, description="ep2d_diff")
    # three readers: one adds a slab, one drops the lesion's first slice; 2 of 3 gives back the lesion
    added, dropped = lesion.copy(), lesion.copy()
    added[5] = 1
    dropped[2] = 0
    for number, reading in enumerate((lesion, added, dropped), start=1):
        sitk.WriteImage(dicom_grid_mask(reading), str(source / f"case05_mask_{number}.nii.gz"))
    sitk.WriteImage(dicom_grid_mask(added), str(source / "case05_old.nii.gz"))
    (source / "manifest.csv").write_text(
        "case_id,dicom,mask_1,mask_2,mask_3,chronic_mask,site,vendor,field_strength_t\n"
        "case05,dicom/case05,case05_mask_1.nii.gz,case05_mask_2.nii.gz,case05_mask_3.nii.gz,case05_old.nii.gz,"
        "hospitalA,,\n")
    result = convert("registry", source, tmp_path / "raw", 66, "DicomVote", channels=["DWI"])
    assert result.counts["converted"] == 1, result.outcomes
    dataset = result.dataset_dir
    row = read_cases(dataset / "cases.csv").set_index("case_id").loc["case05"]
    assert (row["n_readings"], row["votes"], row["vendor"]) == (3, 2, "Siemens")
    voxel_ml = 1.0 * 1.2 * 4.0 / 1000
    assert row["lesion_volume_ml"] == pytest.approx(lesion.sum() * voxel_ml)
    assert row["chronic_volume_ml"] == pytest.approx(added.sum() * voxel_ml)
    assert (dataset / row["chronic_mask"]).is_file()
