"""Per-case lesion report: lesion table against constructed masks, the report folder, the CLI."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from cohort_fixtures import write_nifti

from strokeseg.cli import main
from strokeseg.errors import InputDataError, OutputExistsError
from strokeseg.io import Geometry
from strokeseg.postprocessing import ReportRequest, lesion_report, run_report
from strokeseg.postprocessing.lesion_report import LOCATION_NOT_COMPUTED, lesion_records
from strokeseg.postprocessing.qc_figure import largest_lesion_centre, write_qc_png

SHAPE = (10, 30, 30)
SPACING = (1.0, 1.5, 2.0)  # x, y, z in mm: 3 mm³ per voxel
ORIGIN = (-20.0, 10.0, 5.0)
VOXEL_ML = 0.003


def _masks() -> tuple[np.ndarray, np.ndarray]:
    prediction = np.zeros(SHAPE, dtype=np.uint8)
    prediction[2:5, 3:8, 3:8] = 1      # 75 voxels, overlaps the reference
    prediction[6:8, 20:28, 20:28] = 1  # 128 voxels, the largest, a false positive
    prediction[1, 15, 15] = 1          # 1 voxel, overlaps the reference
    reference = np.zeros(SHAPE, dtype=np.uint8)
    reference[2:6, 4:9, 4:9] = 1       # 100 voxels
    reference[1, 15, 15:17] = 1        # 2 voxels
    reference[8, 1:3, 25:27] = 1       # 4 voxels, missed
    return prediction, reference


def test_lesion_records_follow_the_masks() -> None:
    prediction, reference = _masks()
    geometry = Geometry(SHAPE[::-1], SPACING, ORIGIN, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    records = lesion_records(prediction > 0, geometry, reference=reference > 0)
    assert [r.volume_ml for r in records] == pytest.approx([128 * VOXEL_ML, 75 * VOXEL_ML, VOXEL_ML])
    assert [r.overlaps_reference for r in records] == [False, True, True]
    assert [r.lesion_index for r in records] == [1, 2, 3]
    assert all(r.location == LOCATION_NOT_COMPUTED for r in records)
    # centre of the largest lesion: voxel (z, y, x) = (6.5, 23.5, 23.5) -> x = -20 + 23.5, y = 10 + 1.5 * 23.5
    assert records[0].centre_mm == pytest.approx((3.5, 45.25, 18.0))
    assert largest_lesion_centre(prediction > 0) in {(6, 23, 23), (7, 24, 24), (6, 24, 24), (7, 23, 23),
                                                    (6, 23, 24), (6, 24, 23), (7, 23, 24), (7, 24, 23)}
    assert lesion_records(np.zeros(SHAPE, dtype=bool), geometry) == []


def _write_case_folders(root: Path) -> tuple[Path, Path, Path]:
    prediction, reference = _masks()
    image = np.random.default_rng(0).normal(100, 10, SHAPE).astype(np.float32) + 80 * reference
    write_nifti(root / "images" / "case_a_0000.nii.gz", image, SPACING, ORIGIN)
    write_nifti(root / "pred" / "case_a.nii.gz", prediction, SPACING, ORIGIN)
    write_nifti(root / "ref" / "case_a.nii.gz", reference, SPACING, ORIGIN)
    write_nifti(root / "images" / "case_b_0000.nii.gz", image, SPACING, ORIGIN)
    write_nifti(root / "pred" / "case_b.nii.gz", np.zeros(SHAPE, dtype=np.uint8), SPACING, ORIGIN)
    write_nifti(root / "ref" / "case_b.nii.gz", np.zeros(SHAPE, dtype=np.uint8), SPACING, ORIGIN)
    return root / "pred", root / "images", root / "ref"


def test_report_numbers_match_the_masks_and_pngs_open(tmp_path: Path) -> None:
    predictions, images, references = _write_case_folders(tmp_path)
    uncertainty = tmp_path / "uncertainty.csv"
    pd.DataFrame({"case_id": ["case_a"], "uncertainty_index": [0.4], "flagged": [True]}).to_csv(uncertainty,
                                                                                                index=False)
    out = tmp_path / "report"
    report, lesions = run_report(ReportRequest(predictions, images, out, references_dir=references,
                                               uncertainty_csv=uncertainty, location=False))
    case_a = report.set_index("case_id").loc["case_a"]
    assert case_a["total_volume_ml"] == pytest.approx(204 * VOXEL_ML)
    assert case_a["n_lesions"] == 3 and case_a["largest_lesion_ml"] == pytest.approx(128 * VOXEL_ML)
    assert case_a["reference_volume_ml"] == pytest.approx(106 * VOXEL_ML) and case_a["n_reference_lesions"] == 3
    assert (case_a["lesion_tp"], case_a["lesion_fp"], case_a["lesion_fn"]) == (2, 1, 1)
    assert case_a["dice"] == pytest.approx(2 * (48 + 1) / (204 + 106))
    assert case_a["uncertainty_index"] == 0.4 and case_a["flagged"]
    assert case_a["location_atlas"] == "" and case_a["location_atlas_version"] == ""  # no atlas was used
    case_b = report.set_index("case_id").loc["case_b"]
    assert case_b["n_lesions"] == 0 and case_b["total_volume_ml"] == 0 and case_b["dice"] == 1.0
    assert list(lesions["case_id"]) == ["case_a"] * 3
    on_disk = pd.read_csv(out / "lesions.csv")
    assert on_disk["volume_ml"].sum() == pytest.approx(204 * VOXEL_ML)
    assert pd.read_csv(out / "report.csv")["case_id"].tolist() == ["case_a", "case_b"]
    for case in ("case_a", "case_b"):
        picture = matplotlib.image.imread(out / "qc" / f"{case}.png")
        assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 300
        assert picture[..., :3].std() > 0.05  # not blank
    with pytest.raises(OutputExistsError):
        run_report(ReportRequest(predictions, images, out, location=False))


def test_report_rejects_masks_off_the_image_grid_and_reports_the_other_cases(tmp_path: Path) -> None:
    predictions, images, _ = _write_case_folders(tmp_path)
    write_nifti(predictions / "case_a.nii.gz", np.zeros(SHAPE, dtype=np.uint8), SPACING, (0.0, 0.0, 0.0))
    report, _ = run_report(ReportRequest(predictions, images, tmp_path / "r", location=False))
    rows = report.set_index("case_id")
    assert rows.loc["case_a", "status"] == "grid_mismatch" and "case_a" in rows.loc["case_a", "note"]
    assert "origin" in rows.loc["case_a", "note"] and np.isnan(rows.loc["case_a", "total_volume_ml"])
    assert rows.loc["case_b", "status"] == "ok" and rows.loc["case_b", "total_volume_ml"] == 0
    assert not (tmp_path / "r" / ".partial").exists()
    with pytest.raises(InputDataError, match="case_a: grid_mismatch"):
        run_report(ReportRequest(predictions, images, tmp_path / "s", location=False, strict=True))
    assert pd.read_csv(tmp_path / "s" / "report.csv")["status"].tolist() == ["grid_mismatch", "ok"]


def test_a_missing_reference_or_image_is_that_case_s_problem(tmp_path: Path) -> None:
    predictions, images, references = _write_case_folders(tmp_path)
    (references / "case_b.nii.gz").unlink()
    (images / "case_a_0000.nii.gz").unlink()
    report, _ = run_report(ReportRequest(predictions, images, tmp_path / "r", references_dir=references,
                                         location=False))
    rows = report.set_index("case_id")
    assert rows.loc["case_a", "status"] == "missing_file" and "no image of case case_a" in rows.loc["case_a", "note"]
    assert rows.loc["case_b", "status"] == "missing_file" and "no mask for case case_b" in rows.loc["case_b", "note"]


def test_report_cli_single_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions, images, _ = _write_case_folders(tmp_path)
    assert main(["report", "case_a", "--predictions", str(predictions), "--images", str(images),
                 "--out", str(tmp_path / "r"), "--no-location"]) == 0
    assert "case_a: 0.61 mL in 3 lesion(s)" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "r" / "report.csv")["case_id"].tolist() == ["case_a"]
    assert main(["report", "case_x", "--predictions", str(predictions), "--images", str(images),
                 "--out", str(tmp_path / "s"), "--no-location"]) == 2


def test_an_interrupted_report_resumes_with_the_finished_cases(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    predictions, images, references = _write_case_folders(tmp_path)
    out = tmp_path / "report"
    drawn: list[str] = []

    def fail_on_case_b(image, prediction, target, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(target.stem)
        if target.stem == "case_b":
            raise KeyboardInterrupt
        return write_qc_png(image, prediction, target, **kwargs)

    monkeypatch.setattr(lesion_report, "write_qc_png", fail_on_case_b)
    with pytest.raises(KeyboardInterrupt):
        run_report(ReportRequest(predictions, images, out, references_dir=references, location=False))
    assert not (out / "report.csv").exists() and (out / ".partial" / "case_a.json").is_file()
    drawn.clear()

    def count(image, prediction, target, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(target.stem)
        return write_qc_png(image, prediction, target, **kwargs)

    monkeypatch.setattr(lesion_report, "write_qc_png", count)
    report, _ = run_report(ReportRequest(predictions, images, out, references_dir=references, location=False))
    assert drawn == ["case_b"] and report["case_id"].tolist() == ["case_a", "case_b"]
    assert report.set_index("case_id").loc["case_a", "n_lesions"] == 3
    assert not (out / ".partial").exists()
