"""ISLES'22: BIDS discovery by entities, sidecar metadata, 4-D DWI, FLAIR registration, and the real sample case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from cohort_fixtures import assert_lesion_volumes_match, make_isles22

from strokeseg.cases import read_cases
from strokeseg.cli import main
from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.convert import convert, plan
from strokeseg.errors import ConfigurationError

SAMPLE = Path(__file__).parents[1] / "data" / "isles22_sample"


def test_fixture_tree_converts_with_sidecar_metadata_and_4d_dwi(tmp_path: Path) -> None:
    cohort = make_isles22(tmp_path / "src", n_cases=3, flair=True, four_d_case=True)
    result = convert("isles22", cohort.root, tmp_path / "raw", 11, "ISLES", with_flair=True,
                     case_options=CaseOptions(registration="none"))
    dataset = result.dataset_dir
    assert dataset.name == "Dataset011_ISLES"
    content = json.loads((dataset / "dataset.json").read_text())
    assert content["channel_names"] == {"0": "DWI", "1": "ADC", "2": "FLAIR"}
    assert content["labels"] == {"background": 0, "lesion": 1}
    assert content["numTraining"] == 3
    assert sorted(p.name for p in (dataset / "imagesTr").iterdir())[:3] == [
        "strokecase0001_0000.nii.gz", "strokecase0001_0001.nii.gz", "strokecase0001_0002.nii.gz"]
    assert_lesion_volumes_match(dataset, cohort)
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    assert cases.loc["strokecase0001", "vendor"] == "Philips"
    assert cases.loc["strokecase0003", "vendor"] == "Siemens"
    assert cases.loc["strokecase0003", "field_strength_t"] == 1.5
    assert cases.loc["strokecase0001", "site"] == "centre1"          # participants.tsv "center" column
    assert cases["chronic_infarct"].tolist() == [False, True, False]  # participants.tsv yes/no text
    assert set(cases["flair_resampled_to"]) == {"DWI"}
    # the 4-D DWI (b = 0, 1000, 1000) became the geometric mean of its two b = 1000 volumes
    dwi = sitk.GetArrayFromImage(sitk.ReadImage(str(dataset / "imagesTr" / "strokecase0003_0000.nii.gz")))
    assert dwi.ndim == 3
    assert cases.loc["strokecase0003", "b_value"] == 1000.0
    source = next(cohort.root.rglob("sub-strokecase0003_ses-0001_dwi.nii.gz"))
    volumes = sitk.GetArrayFromImage(sitk.ReadImage(str(source)))
    expected = np.sqrt(volumes[1].astype(np.float64) * volumes[2]) * (volumes[1] > 0)
    assert np.allclose(dwi, expected, atol=1e-3)
    flair = sitk.ReadImage(str(dataset / "imagesTr" / "strokecase0002_0002.nii.gz"))
    assert flair.GetSize() == sitk.ReadImage(str(dataset / "imagesTr" / "strokecase0002_0000.nii.gz")).GetSize()


def test_4d_dwi_without_bval_is_skipped_with_its_reason(tmp_path: Path) -> None:
    cohort = make_isles22(tmp_path / "src", n_cases=2, flair=False, four_d_case=True)
    next(cohort.root.rglob("*.bval")).unlink()
    result = convert("isles22", cohort.root, tmp_path / "raw", 12, "ISLES")
    skipped = [outcome for outcome in result.outcomes if outcome.status == "skipped"]
    assert [outcome.case_id for outcome in skipped] == ["strokecase0002"]
    assert "is 4-D with 3 volumes and there is no .bval" in skipped[0].reason


def test_missing_adc_and_two_dwi_files_are_reported_at_discovery(tmp_path: Path) -> None:
    cohort = make_isles22(tmp_path / "src", n_cases=3, flair=False)
    next(cohort.root.rglob("sub-strokecase0001_ses-0001_adc.nii.gz")).unlink()
    second = next(cohort.root.rglob("sub-strokecase0002_ses-0001_dwi.nii.gz"))
    shutil.copy(second, second.with_name("sub-strokecase0002_ses-0001_run-2_dwi.nii.gz"))
    _, discovery = plan("isles22", cohort.root)
    reasons = {skipped.case_id: skipped.reason for skipped in discovery.skipped}
    assert "no ADC file (*_adc.nii.gz) (missing modality)" in reasons["strokecase0001"]
    assert "2 DWI files" in reasons["strokecase0002"]
    assert [case.case_id for case in discovery.cases] == ["strokecase0003"]


def test_real_isles22_case_converts_with_philips_3t_b800_and_registered_flair(tmp_path: Path) -> None:
    result = convert("isles22", SAMPLE, tmp_path / "raw", 22, "ISLES22", with_flair=True)
    cases = read_cases(result.dataset_dir / "cases.csv")
    row = cases.set_index("case_id").loc["strokecase0009"]
    assert row["vendor"] == "Philips"
    assert row["field_strength_t"] == 3.0
    assert row["b_value"] == 800.0
    assert row["scanner_model"] == "Achieva dStream"
    assert row["lesion_volume_ml"] == pytest.approx(4.184)
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(SAMPLE / "derivatives" / "sub-strokecase0009" / "ses-0001" /
                                                     "sub-strokecase0009_ses-0001_msk.nii.gz")))
    assert row["lesion_volume_ml"] == pytest.approx(np.count_nonzero(mask) * 8 / 1000)
    assert row["n_lesions"] >= 1
    assert row["flair_registration"] == "rigid"
    assert 0 < row["flair_registration_shift_mm"] < 3.0
    assert row["flair_resampled_to"] == "DWI"
    images = result.dataset_dir / "imagesTr"
    dwi = sitk.ReadImage(str(images / "strokecase0009_0000.nii.gz"))
    flair = sitk.ReadImage(str(images / "strokecase0009_0002.nii.gz"))
    assert dwi.GetSize() == flair.GetSize() == (112, 112, 73)
    assert flair.GetSpacing() == pytest.approx(dwi.GetSpacing())
    assert dwi.GetPixelID() == sitk.sitkFloat32  # float64 source stored as float32
    # ISLES'22 ships ADC in 10⁻³ mm²/s; datasets store 10⁻⁶ mm²/s
    assert row["adc_source_unit"] == "10⁻³ mm²/s"
    source_adc = sitk.GetArrayFromImage(sitk.ReadImage(str(next((SAMPLE / "rawdata").rglob("*_adc.nii.gz")))))
    adc = sitk.GetArrayFromImage(sitk.ReadImage(str(images / "strokecase0009_0001.nii.gz")))
    assert np.allclose(adc, source_adc * 1000.0, rtol=1e-5, atol=1e-3)


def test_real_isles22_case_converts_with_dwi_only_from_the_command_line(tmp_path: Path) -> None:
    """``--channels dwi``: one channel per case, so that a DWI-only model (Noh et al.) predicts on ISLES'22."""
    out = tmp_path / "raw"
    assert main(["convert", "isles22", str(SAMPLE), "-d", "23", "--raw", str(out), "--channels", "dwi"]) == 0
    dataset = out / "Dataset023_ISLES22"
    assert json.loads((dataset / "dataset.json").read_text())["channel_names"] == {"0": "DWI"}
    assert sorted(path.name for path in (dataset / "imagesTr").iterdir()) == ["strokecase0009_0000.nii.gz"]
    source_dwi = sitk.ReadImage(str(next((SAMPLE / "rawdata").rglob("*_dwi.nii.gz"))))
    dwi = sitk.ReadImage(str(dataset / "imagesTr" / "strokecase0009_0000.nii.gz"))
    assert dwi.GetSize() == source_dwi.GetSize()
    assert np.allclose(sitk.GetArrayFromImage(dwi), sitk.GetArrayFromImage(source_dwi), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(("channels", "with_flair", "expected"), [
    (None, False, {"0": "DWI", "1": "ADC"}),
    (["dwi"], False, {"0": "DWI"}),
    (["DWI", "flair"], False, {"0": "DWI", "1": "FLAIR"}),
    (["dwi", "adc"], True, {"0": "DWI", "1": "ADC", "2": "FLAIR"}),
])
def test_channel_sets_name_the_dataset_channels(channels: list[str] | None, with_flair: bool,
                                                expected: dict[str, str]) -> None:
    spec, discovery = plan("isles22", SAMPLE, channels=channels, with_flair=with_flair)
    assert spec.channel_names == tuple(expected.values())
    assert [source.name for source in discovery.cases[0].channels] == list(expected.values())


@pytest.mark.parametrize("channels", [["adc", "dwi"], ["dwi", "t1w"], ["dwi", "dwi"], []])
def test_invalid_channel_sets_are_refused(channels: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="DWI first"):
        plan("isles22", SAMPLE, channels=channels or ["adc"])
