"""The registry with any channel set (FLAIR-only, DWI-only, FLAIR + registered DWI), k-of-n voted readings, the
WMH challenge's ignore label and extra masks, through ``strokeseg convert registry``; and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import (
    INFARCT_SPACING_XYZ,
    SPACING_XYZ,
    flair_like,
    make_flair_registry,
    make_registry,
    phantom,
    write_nifti,
)

from strokeseg.cases import read_cases
from strokeseg.cli import main


def _convert(source: Path, raw: Path, dataset_id: int, *options: str) -> int:
    return main(["convert", "registry", str(source), "-d", str(dataset_id), "--raw", str(raw), *options])


def _array(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _report(dataset: Path) -> dict[str, str]:
    report = pd.read_csv(dataset / "conversion_report.csv", dtype=str, keep_default_na=False)
    return dict(zip(report["case_id"], report["reason"], strict=True))


def test_flair_only_wmh_registry_with_infarct_masks_and_ignore_label(tmp_path: Path) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=3)
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 101, "--name", "WMHRegistry", "--channels", "flair", "--ignore-label") == 0
    dataset = raw / "Dataset101_WMHRegistry"
    content = json.loads((dataset / "dataset.json").read_text())
    assert content["channel_names"] == {"0": "FLAIR"}
    assert content["labels"] == {"background": 0, "lesion": 1, "ignore": 2}
    assert sorted(p.name for p in (dataset / "imagesTr").iterdir()) == [
        "K1-000_0000.nii.gz", "K1-002_0000.nii.gz", "K2-001_0000.nii.gz"]
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    for case_id, wmh_ml in cohort.volumes_ml.items():
        labels = _array(dataset / "labelsTr" / f"{case_id}.nii.gz")
        assert set(np.unique(labels)) == {0, 1, 2}
        assert cases.loc[case_id, "lesion_volume_ml"] == pytest.approx(wmh_ml)
        assert cases.loc[case_id, "ignore_volume_ml"] == pytest.approx(9 * float(np.prod(SPACING_XYZ)) / 1000)
    # vendor and field strength come from each FLAIR's sidecar; site from the manifest
    assert (cases.loc["K2-001", "vendor"], cases.loc["K2-001", "field_strength_t"],
            cases.loc["K2-001", "site"]) == ("Philips", 3.0, "hospital2")
    # the infarct masks lie beside the dataset on their own (DWI-like) grid; cases.csv points to them
    for case_id, infarct_ml in cohort.extra.items():
        assert cases.loc[case_id, "infarct_volume_ml"] == pytest.approx(infarct_ml)
        stored = sitk.ReadImage(str(dataset / cases.loc[case_id, "infarct_mask"]))
        assert stored.GetSpacing() == pytest.approx(INFARCT_SPACING_XYZ)
        assert cases.loc[case_id, "infarct_mask"] == f"extra_masks/infarct/{case_id}.nii.gz"
    assert pd.isna(cases.loc["K1-002", "infarct_volume_ml"])  # the last case has no infarct mask
    assert "n_readings" not in cases.columns  # one reading per case: nothing voted
    assert not (dataset / "labelsTr" / "extra_masks").exists()


def test_without_ignore_label_the_wmh_labels_are_refused_per_case(tmp_path: Path) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=2)
    write_nifti(cohort.root / "masks" / "K1-000_mask.nii.gz", phantom(500)[2].astype(np.uint8))  # a plain 0/1 mask
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 102, "--channels", "FLAIR") == 0
    reasons = _report(raw / "Dataset102_StrokeRegistry")
    assert reasons["K1-000"] == ""
    assert "is not binary: it holds the values {0, 1, 2}" in reasons["K2-001"]


def test_three_readings_are_voted_with_a_known_answer(tmp_path: Path) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=3, readings=3)
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 103, "--channels", "FLAIR", "--ignore-label") == 0  # default: 2 of 3
    dataset = raw / "Dataset103_StrokeRegistry"
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    for case_id, wmh_ml in cohort.volumes_ml.items():  # each WMH voxel is marked by 2 of the 3 readers
        assert cases.loc[case_id, "lesion_volume_ml"] == pytest.approx(wmh_ml)
        assert (cases.loc[case_id, "n_readings"], cases.loc[case_id, "votes"]) == (3, 2)
        readings = [_array(cohort.root / "masks" / f"{case_id}_mask_{r}.nii.gz") for r in (1, 2, 3)]
        votes = sum((reading == 1).astype(int) for reading in readings)
        assert np.array_equal(_array(dataset / "labelsTr" / f"{case_id}.nii.gz") == 1, votes >= 2)
    text = pd.read_csv(dataset / "cases.csv", dtype=str)
    assert set(text["n_readings"]) == {"3"} and set(text["votes"]) == {"2"}  # written as integers
    assert _convert(cohort.root, raw, 104, "--channels", "FLAIR", "--ignore-label", "--votes", "3",
                    "--allow-empty-masks") == 0  # unanimity: no WMH voxel, the ignore label stays
    unanimous = read_cases(raw / "Dataset104_StrokeRegistry" / "cases.csv")
    assert unanimous["lesion_volume_ml"].tolist() == [0.0, 0.0, 0.0] and set(unanimous["votes"]) == {3}
    assert (unanimous["ignore_volume_ml"] > 0).all()


def test_readings_on_different_grids_or_too_few_for_the_votes_skip_only_that_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=3, readings=3)
    moved = cohort.root / "masks" / "K2-001_mask_3.nii.gz"
    image = sitk.ReadImage(str(moved))
    image.SetOrigin((0.0, 0.0, 0.0))
    sitk.WriteImage(image, str(moved))
    manifest = pd.read_csv(cohort.root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[2, "mask_3"] = ""  # K1-002: two readings only
    manifest.to_csv(cohort.root / "manifest.csv", index=False)
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 105, "--channels", "FLAIR", "--ignore-label", "--votes", "3",
                    "--allow-empty-masks") == 0
    reasons = _report(raw / "Dataset105_StrokeRegistry")
    assert reasons["K1-000"] == ""
    assert "reading 3 of case K2-001" in reasons["K2-001"] and "on another grid than reading 1" in reasons["K2-001"]
    assert "2 reading(s) given but --votes 3 needs at least 3" in reasons["K1-002"]
    # default votes: the two-reading case needs both (a strict majority of 2)
    assert _convert(cohort.root, raw, 106, "--channels", "FLAIR", "--ignore-label", "--allow-empty-masks") == 0
    cases = read_cases(raw / "Dataset106_StrokeRegistry" / "cases.csv").set_index("case_id")
    assert (cases.loc["K1-002", "n_readings"], cases.loc["K1-002", "votes"]) == (2, 2)
    capsys.readouterr()
    assert _convert(cohort.root, raw, 107, "--channels", "FLAIR", "--votes", "4") == 2
    assert "--votes 4: the manifest has 3 reading column(s) (mask_1, mask_2, mask_3)" in capsys.readouterr().err
    assert _convert(cohort.root, raw, 107, "--channels", "FLAIR,PD") == 2
    assert "registry channels FLAIR, PD" in capsys.readouterr().err
    assert not (raw / "Dataset107_StrokeRegistry").exists()


def test_dwi_only_from_a_dwi_adc_manifest_and_bad_channels_per_case(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=4, n_test=0)
    manifest = pd.read_csv(cohort.root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest = manifest.drop(columns=["onset_to_imaging_h"])  # no longer required
    manifest.to_csv(cohort.root / "manifest.csv", index=False)
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 108, "--channels", "DWI") == 0
    dataset = raw / "Dataset108_StrokeRegistry"
    assert json.loads((dataset / "dataset.json").read_text())["channel_names"] == {"0": "DWI"}
    assert sorted(p.name for p in (dataset / "imagesTr").iterdir()) == sorted(
        f"{case_id}_0000.nii.gz" for case_id in cohort.splits)
    # DWI + ADC: an ADC on another grid than its DWI (same acquisition) and a missing DWI file skip one case each
    adc = sitk.ReadImage(str(cohort.root / manifest.loc[1, "adc"]))
    adc.SetSpacing((2.0, 2.0, 4.0))
    sitk.WriteImage(adc, str(cohort.root / manifest.loc[1, "adc"]))
    (cohort.root / manifest.loc[2, "dwi"]).unlink()
    assert _convert(cohort.root, raw, 109) == 0
    reasons = _report(raw / "Dataset109_StrokeRegistry")
    assert "is not on the grid of the DWI image" in reasons[manifest.loc[1, "case_id"]]
    missing = reasons[manifest.loc[2, "case_id"]]
    assert "DWI image" in missing and "does not exist" in missing
    assert sum(reason == "" for reason in reasons.values()) == 2


def test_flair_first_registers_the_dwi_of_another_acquisition(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=2, n_test=0)
    manifest = pd.read_csv(cohort.root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["flair"] = [f"images/{case_id}_flair.nii.gz" for case_id in manifest["case_id"]]
    flair_grid = {"spacing": (1.0, 1.0, 6.0), "origin": (-24.5, -24.5, -16.5)}  # flair_like's grid
    for case_id, dwi in zip(manifest["case_id"], manifest["dwi"], strict=True):
        write_nifti(cohort.root / f"images/{case_id}_flair.nii.gz", flair_like(_array(cohort.root / dwi)), **flair_grid)
        # the mask must lie on the first channel's grid: FLAIR
        write_nifti(cohort.root / f"masks/{case_id}.nii.gz", np.zeros((6, 48, 48), np.uint8), **flair_grid)
    manifest.to_csv(cohort.root / "manifest.csv", index=False)
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 110, "--channels", "FLAIR,DWI", "--allow-empty-masks") == 0
    dataset = raw / "Dataset110_StrokeRegistry"
    assert json.loads((dataset / "dataset.json").read_text())["channel_names"] == {"0": "FLAIR", "1": "DWI"}
    cases = read_cases(dataset / "cases.csv")
    assert set(cases["dwi_registration"]) == {"rigid"} and set(cases["dwi_resampled_to"]) == {"FLAIR"}
    written = sitk.ReadImage(str(dataset / "imagesTr" / f"{manifest.loc[0, 'case_id']}_0001.nii.gz"))
    assert written.GetSize() == (48, 48, 6) and written.GetSpacing() == pytest.approx((1.0, 1.0, 6.0))


def test_a_bad_extra_mask_skips_its_case_with_a_named_reason(tmp_path: Path) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=3)
    write_nifti(cohort.root / "infarcts" / "K2-001.nii.gz", np.full((4, 4, 4), 0.5, np.float32))
    (cohort.root / "infarcts" / "K1-000.nii.gz").unlink()
    raw = tmp_path / "raw"
    assert _convert(cohort.root, raw, 111, "--channels", "FLAIR", "--ignore-label") == 0
    reasons = _report(raw / "Dataset111_StrokeRegistry")
    assert "infarct mask" in reasons["K2-001"] and "holds non-integer values" in reasons["K2-001"]
    assert "infarct mask" in reasons["K1-000"] and "does not exist" in reasons["K1-000"]
    assert reasons["K1-002"] == ""
