"""The robustness matrix: every bad input through every command that reads images (docs/robustness.md).

One small test set holds a good case and one case per bad input. Each command runs once over it through the
real CLI: every bad case gets its named problem (status and a note naming its file) or, where the input is
recoverable (flipped or permuted axes, empty masks), exactly the number computed from the arrays; the good
cases of the same run still finish. Arrays are tiny so the module runs in well under a minute.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from bad_inputs import break_gzip_checksum, break_header, flipped, permuted, shifted, truncate, volume, write_volume
from cohort_fixtures import make_isles22

from strokeseg.cli import main
from strokeseg.evaluation.case_metrics import evaluate_pair

SHAPE = (8, 24, 20)
SPACING_XYZ = (1.0, 1.0, 2.0)
SPACING_ZYX = tuple(reversed(SPACING_XYZ))
VOXEL_ML = 0.002


def _reference() -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[2:6, 5:15, 4:12] = 1
    return mask


def _prediction() -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[3:6, 7:18, 6:14] = 1  # asymmetric overlap: read in another axis order it would score otherwise
    return mask


def _good(path: Path, mask: np.ndarray) -> Path:
    return write_volume(path, mask, SPACING_XYZ)


def _float(path: Path, mask: np.ndarray, value: float | None = None) -> Path:
    array = mask.astype(np.float32)
    if value is not None:
        array[0, 0, 0] = value
    return write_volume(path, array, SPACING_XYZ)


#: case -> (how its prediction is written, evaluate status, pattern its note must match). The note must also
#: name the prediction file, except where the reference or nothing is the problem.
PREDICTIONS: dict[str, tuple[Callable[[Path], Path | None], str, str]] = {
    "good": (lambda p: _good(p, _prediction()), "ok", r"^$"),
    "empty_prediction": (lambda p: _good(p, np.zeros(SHAPE, np.uint8)), "ok", r"^$"),
    "flipped": (lambda p: write_volume(p, flipped(volume(_prediction(), SPACING_XYZ))), "ok", "reoriented"),
    "permuted": (lambda p: write_volume(p, permuted(volume(_prediction(), SPACING_XYZ))), "ok", "reoriented"),
    "truncated_int": (lambda p: truncate(_good(p, _prediction()), 0.6), "unreadable", "is incomplete"),
    "truncated_float": (lambda p: truncate(_float(p, _prediction()), 0.6), "unreadable", "is incomplete"),
    "gzip_checksum": (lambda p: break_gzip_checksum(_good(p, _prediction())), "unreadable", "gzip stream fails"),
    "corrupt_header": (lambda p: break_header(_good(p, _prediction())), "unreadable", "no valid NIfTI header"),
    "nan_voxels": (lambda p: _float(p, _prediction(), np.nan), "unreadable", "NaN or infinite"),
    "inf_voxels": (lambda p: _float(p, _prediction(), np.inf), "unreadable", "NaN or infinite"),
    "negative_labels": (lambda p: _good(p, _prediction().astype(np.int16) * -1), "unreadable", "negative values"),
    "non_integer_labels": (lambda p: _float(p, _prediction() * 0.5), "unreadable", "non-integer values"),
    "four_d": (lambda p: write_volume(p, sitk.JoinSeries([volume(_prediction(), SPACING_XYZ)] * 2)),
               "grid_mismatch", "grid differs"),
    "off_grid": (lambda p: write_volume(p, shifted(volume(_prediction(), SPACING_XYZ))), "grid_mismatch",
                 "origin"),
    "missing_prediction": (lambda p: None, "missing_prediction", "no prediction"),
    "truncated_reference": (lambda p: _good(p, _prediction()), "unreadable", "reference .* is incomplete"),
    "empty_both": (lambda p: _good(p, np.zeros(SHAPE, np.uint8)), "ok", r"^$"),
    "bad_image": (lambda p: _good(p, _prediction()), "ok", r"^$"),  # only the report reads the image
}
#: Cases whose numbers must equal those computed from the arrays (the prediction as meant, in the reference frame).
RECOVERABLE = ("good", "empty_prediction", "flipped", "permuted", "empty_both", "bad_image")


def _meant_prediction(case: str) -> np.ndarray:
    return np.zeros(SHAPE, np.uint8) if case in ("empty_prediction", "empty_both") else _prediction()


def _meant_reference(case: str) -> np.ndarray:
    return np.zeros(SHAPE, np.uint8) if case == "empty_both" else _reference()


@pytest.fixture(scope="module")
def test_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("robustness")
    folders = {name: root / name for name in ("ref", "pred", "images")}
    image = (np.random.default_rng(0).normal(100, 10, SHAPE) + 80 * _reference()).astype(np.float32)
    for case, (write, _, _) in PREDICTIONS.items():
        write(folders["pred"] / f"{case}.nii.gz")
        _good(folders["ref"] / f"{case}.nii.gz", _meant_reference(case))
        write_volume(folders["images"] / f"{case}_0000.nii.gz", image, SPACING_XYZ)
    truncate(folders["ref"] / "truncated_reference.nii.gz", 0.6)
    truncate(folders["images"] / "bad_image_0000.nii.gz", 0.5)
    return {"root": root, **folders}


def _truth(case: str) -> dict[str, float]:
    return evaluate_pair(_meant_reference(case) > 0, _meant_prediction(case) > 0, SPACING_ZYX).as_row()


def test_evaluate_names_every_bad_input_and_scores_the_rest_exactly(test_set: dict[str, Path]) -> None:
    out = test_set["root"] / "evaluate"
    common = ["evaluate", "-pred", str(test_set["pred"]), "-ref", str(test_set["ref"]), "--device", "cpu",
              "--no-plots", "--bootstrap-resamples", "20"]
    assert main([*common, "--out", str(out)]) == 0
    per_case = pd.read_csv(out / "per_case.csv", dtype={"case_id": str}).fillna({"note": ""}).set_index("case_id")
    assert set(per_case.index) == set(PREDICTIONS)
    for case, (_, status, pattern) in PREDICTIONS.items():
        row = per_case.loc[case]
        assert row["status"] == status, (case, row["note"])
        assert re.search(pattern, row["note"]), (case, row["note"])
        if status in ("unreadable", "grid_mismatch"):
            culprit = "ref" if case == "truncated_reference" else "pred"
            assert f"{culprit}/{case}.nii.gz" in row["note"], (case, row["note"])
    for case in RECOVERABLE:
        truth = _truth(case)
        for metric in ("dice", "vol_ref_ml", "vol_pred_ml", "hd95", "lesion_f1"):
            assert per_case.loc[case, metric] == pytest.approx(truth[metric], nan_ok=True), (case, metric)
    summary = json.loads((out / "summary.json").read_text())
    problems = {problem["case_id"] for problem in summary["problems"]}
    assert problems == {case for case, (_, status, _) in PREDICTIONS.items() if status != "ok"}
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "per_case.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert main([*common, "--out", str(test_set["root"] / "strict"), "--strict"]) == 2


def test_report_reports_the_good_cases_and_names_the_bad_ones(test_set: dict[str, Path]) -> None:
    out = test_set["root"] / "report"
    arguments = ["report", "--predictions", str(test_set["pred"]), "--images", str(test_set["images"]),
                 "--references", str(test_set["ref"]), "--out", str(out), "--no-location"]
    assert main(arguments) == 0
    report = pd.read_csv(out / "report.csv", dtype={"case_id": str}).fillna({"note": ""}).set_index("case_id")
    expected = {"four_d": "unreadable", "off_grid": "grid_mismatch", "bad_image": "unreadable"}
    for case, (_, status, _) in PREDICTIONS.items():
        if case == "missing_prediction":
            assert case not in report.index  # the report covers the predictions there are
            continue
        wanted = expected.get(case, status)
        row = report.loc[case]
        assert row["status"] == wanted, (case, row["note"])
        if wanted == "ok":
            truth = _truth(case)
            assert row["total_volume_ml"] == pytest.approx(truth["vol_pred_ml"]), case
            assert row["dice"] == pytest.approx(truth["dice"]), case
        else:
            assert case in row["note"], (case, row["note"])
    assert "bad_image_0000.nii.gz is incomplete" in report.loc["bad_image", "note"]
    assert main([*arguments, "--overwrite", "--strict"]) == 2


def test_postprocess_fit_and_apply_leave_out_the_bad_cases_by_name(test_set: dict[str, Path]) -> None:
    params = test_set["root"] / "params.json"
    assert main(["postprocess", "fit", "-pred", str(test_set["pred"]), "-ref", str(test_set["ref"]),
                 "-o", str(params)]) == 0
    fitted = json.loads(params.read_text())
    unusable = {case for case, (_, status, _) in PREDICTIONS.items() if status != "ok"} - {"missing_prediction"}
    assert {row["case_id"] for row in fitted["skipped_cases"]} == unusable
    assert fitted["validation"]["n_cases"] == len(PREDICTIONS) - 1 - len(unusable)
    out = test_set["root"] / "post"
    assert main(["postprocess", "apply", "-pred", str(test_set["pred"]), "--params", str(params),
                 "-o", str(out), "--allow-small-fit"]) == 0  # a handful of cases: the small-fit guard would refuse
    skipped = {row["case_id"] for row in json.loads((out / "postprocessing.json").read_text())["skipped_cases"]}
    assert skipped == unusable - {"truncated_reference", "off_grid"}  # apply reads no reference; any grid is fine
    flipped_out = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "flipped.nii.gz")))
    assert flipped_out.sum() == _prediction().sum()


def _members(root: Path) -> list[Path]:
    """Two ensemble members; each damaged case is damaged in the second member only."""
    members = [root / "member_0", root / "member_1"]
    foreground = np.where(_prediction() > 0, 0.99, 0.01).astype(np.float32)
    cases = ("good", "truncated_npz", "nan_npz", "shape_npz", "only_in_first")
    for member in members:
        for case in cases:
            if case == "only_in_first" and member == members[1]:
                continue
            _good(member / f"{case}.nii.gz", _prediction())
            np.savez_compressed(member / f"{case}.npz", probabilities=np.stack([1 - foreground, foreground]))
    second = members[1]
    truncate(second / "truncated_npz.npz", 0.5)
    bad = foreground.copy()
    bad[0, 0, 0] = np.nan
    np.savez_compressed(second / "nan_npz.npz", probabilities=np.stack([1 - bad, bad]))
    np.savez_compressed(second / "shape_npz.npz", probabilities=np.zeros((2, 3, 3, 3), np.float32))
    return members


def test_uncertainty_names_each_damaged_probability_map(tmp_path: Path) -> None:
    members = _members(tmp_path)
    out = tmp_path / "ensemble"
    assert main(["uncertainty", "--members", *map(str, members), "-o", str(out)]) == 0
    table = pd.read_csv(out / "uncertainty.csv").fillna({"note": ""}).set_index("case_id")
    assert table.loc["good", "status"] == "ok" and table.loc["good", "uncertainty_index"] == 0.0
    for case, pattern in (("truncated_npz", "could not be read"), ("nan_npz", "finite values in"),
                          ("shape_npz", "has shape"), ("only_in_first", "does not exist")):
        assert table.loc[case, "status"] == "unreadable", case
        assert re.search(pattern, table.loc[case, "note"]) and f"member_1/{case}.npz" in table.loc[case, "note"]
    assert main(["uncertainty", "--members", *map(str, members), "-o", str(out), "--overwrite", "--strict"]) == 2


def test_convert_skips_a_cut_off_mask_by_name_and_converts_the_rest(tmp_path: Path) -> None:
    cohort = make_isles22(tmp_path / "src", n_cases=3, flair=False)
    mask = next(cohort.root.rglob("sub-strokecase0002_ses-0001_msk.nii.gz"))
    truncate(mask, 0.6)
    assert main(["convert", "isles22", str(cohort.root), "-d", "31", "--raw", str(tmp_path / "raw")]) == 0
    dataset = tmp_path / "raw" / "Dataset031_ISLES22"
    if not dataset.is_dir():
        dataset = next((tmp_path / "raw").glob("Dataset031_*"))
    assert sorted(p.name for p in (dataset / "labelsTr").iterdir()) == ["strokecase0001.nii.gz",
                                                                         "strokecase0003.nii.gz"]
    report = pd.read_csv(dataset / "conversion_report.csv").set_index("case_id")
    assert report.loc["strokecase0002", "status"] == "skipped"
    assert "sub-strokecase0002_ses-0001_msk.nii.gz is incomplete" in report.loc["strokecase0002", "reason"]
    assert main(["convert", "isles22", str(cohort.root), "-d", "32", "--raw", str(tmp_path / "raw"),
                 "--strict"]) == 2


def test_preprocess_names_a_cut_off_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = truncate(write_volume(tmp_path / "case_0000.nii.gz", np.ones(SHAPE, np.float32), SPACING_XYZ), 0.5)
    assert main(["preprocess", "--channels", "DWI", "-i", str(image), "-o", str(tmp_path / "out")]) == 2
    assert "case_0000.nii.gz is incomplete" in capsys.readouterr().err


def test_two_files_for_one_case_are_refused_before_any_work(test_set: dict[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    predictions = tmp_path / "pred"
    _good(predictions / "good.nii.gz", _prediction())
    sitk.WriteImage(volume(_prediction(), SPACING_XYZ), str(predictions / "good.nii"))
    assert main(["evaluate", "-pred", str(predictions), "-ref", str(test_set["ref"]), "--out", str(tmp_path / "o"),
                 "--device", "cpu", "--no-plots"]) == 2
    assert "two files for case 'good'" in capsys.readouterr().err


@pytest.mark.parametrize("ending", [".mha", ".nrrd"])
def test_cut_off_mha_and_nrrd_files_are_unreadable_by_name(tmp_path: Path, ending: str) -> None:
    """SimpleITK itself refuses these formats when cut off; the note names the file."""
    for case in ("cut", "whole"):
        _good(tmp_path / "ref" / f"{case}.nii.gz", _reference())
        write_volume(tmp_path / "pred" / f"{case}{ending}", volume(_prediction(), SPACING_XYZ))
    truncate(tmp_path / "pred" / f"cut{ending}", 0.7)
    assert main(["evaluate", "-pred", str(tmp_path / "pred"), "-ref", str(tmp_path / "ref"), "--out",
                 str(tmp_path / "out"), "--device", "cpu", "--no-plots", "--bootstrap-resamples", "20"]) == 0
    per_case = pd.read_csv(tmp_path / "out" / "per_case.csv").set_index("case_id")
    assert per_case.loc["cut", "status"] == "unreadable"
    assert f"cut{ending} could not be read" in per_case.loc["cut", "note"]
    assert per_case.loc["whole", "dice"] == pytest.approx(_truth("good")["dice"])
