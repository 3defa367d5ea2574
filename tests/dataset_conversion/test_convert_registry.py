"""The registry manifest converter, and the shared runner: broken inputs, --strict, --overwrite, resume, dry run,
parallel workers and the CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import assert_lesion_volumes_match, make_registry, write_nifti

import strokeseg.dataset_conversion.runner as runner
from strokeseg.cases import read_cases
from strokeseg.cli import main
from strokeseg.dataset_conversion.convert import convert, dry_run
from strokeseg.errors import InputDataError, OutputExistsError


def test_manifest_converts_with_typed_metadata_and_test_rows(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=5, n_test=2)
    result = convert("registry", cohort.root, tmp_path / "raw", 51, "Registry")
    dataset = result.dataset_dir
    content = json.loads((dataset / "dataset.json").read_text())
    assert content["channel_names"] == {"0": "DWI", "1": "ADC"}
    assert content["numTraining"] == 3
    assert_lesion_volumes_match(dataset, cohort)
    assert sorted(p.name for p in (dataset / "labelsTs").iterdir()) == ["H01-0003.nii.gz"]
    assert sorted(p.name for p in (dataset / "imagesTs").iterdir()) == [
        "H01-0003_0000.nii.gz", "H01-0003_0001.nii.gz", "H02-0004_0000.nii.gz", "H02-0004_0001.nii.gz"]
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    row = cases.loc["H02-0001"]
    assert (row["site"], row["vendor"], row["field_strength_t"], row["onset_to_imaging_h"]) == \
        ("hospital2", "Philips", 3.0, 2.5)
    assert bool(row["chronic_infarct"]) is True
    assert row["wmh_volume_ml"] == 2.5
    assert row["location"] == "cortex"
    assert row["scanner_room"] == "room1"          # extra manifest columns are kept
    assert str(cases["n_lesions"].dtype) == "Int64"
    header = (dataset / "cases.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["case_id", "split", "site"]
    report = pd.read_csv(dataset / "conversion_report.csv")
    assert set(report["status"]) == {"converted"}


def _break(cohort_root: Path) -> dict[str, str]:
    """Break eight of ten manifest rows, one way each; returns case id -> expected words of the reason."""
    manifest = pd.read_csv(cohort_root / "manifest.csv", dtype=str, keep_default_na=False)
    ids = manifest["case_id"].tolist()
    root = cohort_root
    # 1 grid mismatch: mask with another spacing
    mask = sitk.ReadImage(str(root / manifest.loc[1, "mask"]))
    mask.SetSpacing((2.0, 2.0, 4.0))
    sitk.WriteImage(mask, str(root / manifest.loc[1, "mask"]))
    # 2 non-binary mask
    write_nifti(root / manifest.loc[2, "mask"], np.arange(12 * 24 * 24).reshape(12, 24, 24) % 3)
    # 3 empty mask
    write_nifti(root / manifest.loc[3, "mask"], np.zeros((12, 24, 24), np.uint8))
    # 4 NaN in the DWI
    dwi = np.ones((12, 24, 24), np.float32)
    dwi[3, 3, 3] = np.nan
    write_nifti(root / manifest.loc[4, "dwi"], dwi)
    # 5 unreadable ADC file
    (root / manifest.loc[5, "adc"]).write_bytes(gzip.compress(b"this is not a NIfTI file"))
    # 6 missing modality: ADC cell empty
    manifest.loc[6, "adc"] = ""
    # 7 duplicate id: row 8 repeats row 7's id
    manifest.loc[8, "case_id"] = ids[7]
    # 9 a field strength that is not a number
    manifest.loc[9, "field_strength_t"] = "strong"
    manifest.to_csv(root / "manifest.csv", index=False)
    return {ids[1]: "is not on the grid of the DWI image", ids[2]: "is not binary",
            ids[3]: "is empty (no voxel of label 1)", ids[4]: "contains 1 NaN or infinite voxels",
            ids[5]: "could not be read", ids[6]: "no ADC image given", ids[7]: "duplicate case id",
            ids[9]: "field_strength_t 'strong' is not a number"}


def test_every_kind_of_broken_case_is_skipped_with_one_clear_line(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=10, n_test=0)
    expected = _break(cohort.root)
    with caplog.at_level(logging.WARNING, logger="strokeseg"):
        result = convert("registry", cohort.root, tmp_path / "raw", 52, "Broken")
    skipped = {o.case_id: o.reason for o in result.outcomes if o.status == "skipped"}
    assert sorted(set(skipped)) == sorted(expected)
    for case_id, words in expected.items():
        assert words in skipped[case_id], (case_id, skipped[case_id])
        assert "\n" not in skipped[case_id]
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("skipped ")]
    duplicate_id = next(case for case, words in expected.items() if words == "duplicate case id")
    assert len(lines) == len(expected) + 1      # the duplicated id is reported for both rows
    assert sum(line.startswith(f"skipped {duplicate_id}:") for line in lines) == 2
    converted = [o.case_id for o in result.outcomes if o.status == "converted"]
    assert converted == ["H01-0000"]
    report = pd.read_csv(result.report_csv)
    assert (report["status"] == "skipped").sum() == 9
    assert json.loads(result.report_json.read_text())["counts"]["skipped"] == 9


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_strict_stops_at_the_first_bad_case_and_existing_data_stay_untouched(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=4, n_test=0)
    first = convert("registry", cohort.root, tmp_path / "raw", 53, "Registry")
    before = _digest(first.dataset_dir)
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        convert("registry", cohort.root, tmp_path / "raw", 53, "Registry")
    with pytest.raises(OutputExistsError, match=r"dataset id 53 is already used by .*Dataset053_Registry"):
        convert("registry", cohort.root, tmp_path / "raw", 53, "Other")
    write_nifti(cohort.root / "masks" / "H02-0001.nii.gz", np.zeros((12, 24, 24), np.uint8))
    with pytest.raises(InputDataError, match=r"case H02-0001: lesion mask .* is empty .*--strict: stopped"):
        convert("registry", cohort.root, tmp_path / "raw", 53, "Registry", strict=True, overwrite=True)
    assert _digest(first.dataset_dir) == before
    replaced = convert("registry", cohort.root, tmp_path / "raw", 53, "Registry", overwrite=True)
    assert read_cases(replaced.dataset_dir / "cases.csv")["case_id"].tolist() == ["H01-0000", "H01-0003", "H03-0002"]
    assert not (replaced.dataset_dir / "labelsTr" / "H02-0001.nii.gz").exists()
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["Dataset053_Registry"]


def test_an_interrupted_run_resumes_with_the_finished_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=4, n_test=0)
    real_convert_case = runner.convert_case

    def crash_on_third(case, *args, **kwargs):
        if case.case_id == "H03-0002":
            raise RuntimeError("simulated crash")
        return real_convert_case(case, *args, **kwargs)

    monkeypatch.setattr(runner, "convert_case", crash_on_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        convert("registry", cohort.root, tmp_path / "raw", 54, "Registry")
    assert not (tmp_path / "raw" / "Dataset054_Registry").exists()
    assert (tmp_path / "raw" / ".Dataset054_Registry.partial").is_dir()
    monkeypatch.setattr(runner, "convert_case", real_convert_case)
    # a source file that changed since is converted again, not reused
    write_nifti(cohort.root / "masks" / "H01-0000.nii.gz",
                sitk.GetArrayFromImage(sitk.ReadImage(str(cohort.root / "masks" / "H01-0000.nii.gz"))))
    result = convert("registry", cohort.root, tmp_path / "raw", 54, "Registry")
    resumed = sorted(o.case_id for o in result.outcomes if o.resumed)
    assert resumed == ["H02-0001"]
    assert result.counts["converted"] == 4
    assert not (tmp_path / "raw" / ".Dataset054_Registry.partial").exists()
    assert not (result.dataset_dir / ".strokeseg_conversion").exists()
    assert_lesion_volumes_match(result.dataset_dir, cohort)


def test_dry_run_lists_files_and_writes_nothing(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=3, n_test=1)
    (cohort.root / "masks" / "H02-0001.nii.gz").unlink()
    lines = dry_run("registry", cohort.root, tmp_path / "raw", 55, "Registry")
    assert lines[0].startswith(f"would write {tmp_path / 'raw' / 'Dataset055_Registry'}")
    assert any(line.startswith("H01-0000 (train): imagesTr/H01-0000_0000.nii.gz, imagesTr/H01-0000_0001.nii.gz, "
                               "labelsTr/H01-0000.nii.gz <- ") for line in lines)
    assert any(line.startswith("H03-0002 (test): imagesTs/H03-0002_0000.nii.gz") for line in lines)
    assert any(line.startswith("skip H02-0001:") and "does not exist" in line for line in lines)
    assert not (tmp_path / "raw").exists()


def test_parallel_workers_give_the_same_dataset(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=4, n_test=1)
    serial = convert("registry", cohort.root, tmp_path / "raw", 56, "Serial")
    parallel = convert("registry", cohort.root, tmp_path / "raw", 57, "Parallel", workers=2)
    assert _digest(serial.dataset_dir / "imagesTr") == _digest(parallel.dataset_dir / "imagesTr")
    assert _digest(serial.dataset_dir / "labelsTr") == _digest(parallel.dataset_dir / "labelsTr")
    assert (serial.dataset_dir / "cases.csv").read_text() == (parallel.dataset_dir / "cases.csv").read_text()


def test_cli_convert_prints_a_summary_and_refuses_to_overwrite(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=3, n_test=0)
    out = tmp_path / "raw"
    assert main(["convert", "registry", str(cohort.root / "manifest.csv"), "-d", "58", "--raw", str(out)]) == 0
    assert "Dataset058_StrokeRegistry: converted 3 case(s) (3 train, 0 test), skipped 0" in capsys.readouterr().out
    assert main(["convert", "registry", str(cohort.root), "-d", "58", "--raw", str(out)]) == 2
    err = capsys.readouterr().err
    assert "strokeseg convert: error:" in err and "pass --overwrite" in err and "Traceback" not in err
    assert main(["convert", "registry", str(cohort.root), "-d", "59", "--raw", str(out), "--dry-run"]) == 0
    assert "would write" in capsys.readouterr().out
    assert not (out / "Dataset059_StrokeRegistry").exists()


def test_nifti_rows_read_the_bids_sidecars_beside_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=4, n_test=0)
    images = cohort.root / "images"
    # H01-0000: the manifest leaves vendor and field strength empty, the sidecar gives them (and more)
    (images / "H01-0000_dwi.json").write_text(json.dumps({
        "Manufacturer": "SIEMENS", "MagneticFieldStrength": 2.89362, "ManufacturersModelName": "Prisma_fit",
        "DiffusionBValue": 1000, "SliceThickness": 5.0}))
    # H02-0001: the manifest says Philips 3 T, the sidecar GE 1.5 T: the manifest wins, the conflict is reported
    (images / "H02-0001_dwi.json").write_text(json.dumps({
        "Manufacturer": "GE MEDICAL SYSTEMS", "MagneticFieldStrength": 1.5, "ManufacturersModelName": "Signa"}))
    # H03-0002: the sidecar agrees with the manifest (3 and 3.0 T are one value): no conflict
    (images / "H03-0002_dwi.json").write_text(json.dumps({"Manufacturer": "GE MEDICAL SYSTEMS",
                                                          "MagneticFieldStrength": 3}))
    (images / "H03-0002_dwi.bval").write_text("1000\n")  # BIDS keeps b-values in .bval: one b, the image's
    # H01-0003: a sidecar that is no JSON object: that case is skipped with the reason
    (images / "H01-0003_dwi.json").write_text("[1, 2]")
    manifest = cohort.root / "manifest.csv"
    lines = manifest.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = fields[6] = ""  # vendor, field_strength_t of H01-0000
    lines[1] = ",".join(fields)
    manifest.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="strokeseg"):
        result = convert("registry", cohort.root, tmp_path / "raw", 53, "Sidecars")
    skipped = {o.case_id: o.reason for o in result.outcomes if o.status == "skipped"}
    assert list(skipped) == ["H01-0003"] and "is not a JSON object" in skipped["H01-0003"]
    cases = read_cases(result.dataset_dir / "cases.csv").set_index("case_id")
    filled = cases.loc["H01-0000"]
    assert (filled["vendor"], filled["field_strength_t"], filled["scanner_model"], filled["b_value"],
            filled["slice_thickness_mm"]) == ("Siemens", 3.0, "Prisma_fit", 1000.0, 5.0)
    assert pd.isna(filled["metadata_conflicts"])
    conflicting = cases.loc["H02-0001"]
    assert (conflicting["vendor"], conflicting["field_strength_t"]) == ("Philips", 3.0)  # the manifest's
    assert conflicting["scanner_model"] == "Signa"  # a gap the sidecar fills
    assert conflicting["metadata_conflicts"] == "vendor: manifest Philips, sidecar GE; " \
                                                "field_strength_t: manifest 3.0, sidecar 1.5"
    assert pd.isna(cases.loc["H03-0002"]["metadata_conflicts"]) and cases.loc["H03-0002"]["b_value"] == 1000.0
    assert pd.isna(conflicting["b_value"])  # neither sidecar nor .bval: no b-value is guessed
    warnings = [record.getMessage() for record in caplog.records if "disagree" in record.getMessage()]
    assert len(warnings) == 1 and "H02-0001" in warnings[0] and "H02-0001_dwi.json" in warnings[0]
