"""``strokeseg evaluate`` end to end on a small phantom test set: files, schemas, values, problems, options."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from strokeseg.cli import main
from strokeseg.evaluation.analyses import COMPARISON_REPORT_COLUMNS
from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, evaluate_pair
from strokeseg.evaluation.report import AGREEMENT_COLUMNS, COMPARISON_COLUMNS, LEARNING_CURVE_COLUMNS, STRATUM_COLUMNS
from strokeseg.synthetic.lesion_pairs import lesion_pair

SHAPE = (10, 40, 36)
SPACING_ZYX = (3.0, 1.1, 0.9)
FAST = ["--device", "cpu", "--bootstrap-resamples", "100", "--no-plots"]


def write_mask(mask: np.ndarray, path: Path, spacing_zyx: tuple[float, float, float] = SPACING_ZYX,
               origin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Path:
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(reversed(spacing_zyx)))
    image.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), True)
    return path


@pytest.fixture
def phantom(tmp_path: Path) -> dict[str, Path]:
    """8 reference cases and two models' predictions, with cases.csv (vendor, site, onset, WMH, chronic)."""
    rng = np.random.default_rng(0)
    for index in range(8):
        reference, prediction = lesion_pair(SHAPE, SPACING_ZYX, rng, radius_mm=(2.0, 9.0))
        if index == 7:
            reference[:] = False  # an empty reference: volume stratum "no lesion"
        other = reference & (rng.random(SHAPE) < 0.8)
        write_mask(reference, tmp_path / "ref" / f"case_{index}.nii.gz")
        write_mask(prediction, tmp_path / "pred" / f"case_{index}.nii.gz")
        write_mask(other, tmp_path / "other" / f"case_{index}.nii.gz")
    pd.DataFrame({
        "case_id": [f"case_{i}" for i in range(8)],
        "vendor": ["Siemens", "GE"] * 4,
        "site": ["A", "B", "C", "A", "B", "C", "A", "B"],
        "onset_to_imaging_h": [1.0, 2.0, 5.0, 10.0, 30.0, 48.0, None, 3.0],
        "wmh_volume_ml": [float(i) for i in range(8)],
        "chronic_infarct": ["yes", "no"] * 4,
        "scanner": ["Skyra", "Signa"] * 4,
    }).to_csv(tmp_path / "cases.csv", index=False)
    return {"root": tmp_path, "ref": tmp_path / "ref", "pred": tmp_path / "pred", "other": tmp_path / "other",
            "cases": tmp_path / "cases.csv", "out": tmp_path / "report"}


def evaluate(*arguments: str | Path) -> int:
    return main(["evaluate", *map(str, arguments)])


def test_report_files_schemas_and_values(phantom: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = phantom["out"]
    assert evaluate("-pred", phantom["pred"], "-ref", phantom["ref"], "--cases", phantom["cases"], "--out", out,
                    "--by", "scanner", "--device", "cpu", "--bootstrap-resamples", "100") == 0
    printed = capsys.readouterr().out
    assert "pred" in printed and "report:" in printed
    per_case = pd.read_csv(out / "per_case.csv", keep_default_na=False, na_values=[""])
    assert list(per_case.columns[:4 + len(METRIC_COLUMNS)]) == ["model", "case_id", "status", "note",
                                                                 *METRIC_COLUMNS]
    assert len(per_case) == 8 and set(per_case["status"]) == {"ok"}
    assert set(per_case["model"]) == {"pred"}
    # the value in the CSV is the array-level metric with the spacing taken from the files, in (z, y, x) order
    reference = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["ref"] / "case_2.nii.gz")))
    prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["pred"] / "case_2.nii.gz")))
    expected = evaluate_pair(reference, prediction, SPACING_ZYX)
    row = per_case.set_index("case_id").loc["case_2"]
    for column in ("dice", "hd", "hd95", "assd", "nsd", "vol_ref_ml", "lesion_f1"):
        assert row[column] == pytest.approx(getattr(expected, column), rel=1e-5), column
    assert per_case.set_index("case_id").loc["case_7", "volume_stratum"] == "no lesion"
    assert 0.2 < per_case["dice"].mean() <= 1.0

    for name in ("volume_stratum", "onset_stratum", "vendor", "site", "chronic_infarct", "wmh_decile", "scanner"):
        table = pd.read_csv(out / f"by_{name}.csv", keep_default_na=False, na_values=[""])
        assert list(table.columns) == list(STRATUM_COLUMNS), name
        assert name in per_case.columns
    by_vendor = pd.read_csv(out / "by_vendor.csv")
    dice_ge = by_vendor[(by_vendor["stratum"] == "GE") & (by_vendor["metric"] == "dice")].iloc[0]
    assert dice_ge["n"] == 4
    assert dice_ge["mean"] == pytest.approx(per_case.loc[per_case["vendor"] == "GE", "dice"].mean())
    assert "micro_dice" in set(by_vendor["metric"])
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison.columns) == list(COMPARISON_REPORT_COLUMNS)
    assert list(COMPARISON_REPORT_COLUMNS[:len(COMPARISON_COLUMNS)]) == list(COMPARISON_COLUMNS)
    assert set(comparison["test"]) == {"mann_whitney_u"}  # one model: strata comparisons only
    agreement = pd.read_csv(out / "volume_agreement.csv")
    assert list(agreement.columns) == list(AGREEMENT_COLUMNS)
    overall = agreement[agreement["stratification"] == "all"].iloc[0]
    assert overall["n"] == 8 and 0 < overall["ccc"] <= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["pred"]["cases_by_status"] == {"ok": 8}
    assert summary["models"]["pred"]["overall"]["dice"]["mean"] == pytest.approx(per_case["dice"].mean())
    assert summary["engine"] == "cpu" and summary["problems"] == []
    for name in summary["files"]:
        assert (out / name).is_file(), name
    for png in ("bland_altman.png", "volume_scatter.png", "dice_by_volume_stratum.png", "dice_by_vendor.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_models_are_compared_case_by_case(phantom: dict[str, Path]) -> None:
    out = phantom["out"]
    assert evaluate("-pred", phantom["pred"], "--compare", phantom["other"], "-ref", phantom["ref"],
                    "--out", out, *FAST) == 0
    comparison = pd.read_csv(out / "comparison.csv")
    dice = comparison[(comparison["test"] == "paired_t") & (comparison["metric"] == "dice")
                      & (comparison["stratification"] == "all")].iloc[0]
    per_case = pd.read_csv(out / "per_case.csv")
    a = per_case[per_case["model"] == "pred"].set_index("case_id")["dice"]
    b = per_case[per_case["model"] == "other"].set_index("case_id")["dice"]
    assert (dice["model_a"], dice["model_b"], dice["n_a"]) == ("pred", "other", 8)
    assert dice["mean_diff"] == pytest.approx((b - a).mean())
    assert {"paired_t", "wilcoxon", "mann_whitney_u"} <= set(comparison["test"])


def test_case_problems_are_reported_case_by_case_and_strict_fails(phantom: dict[str, Path],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pred, root = phantom["pred"], phantom["root"]
    (pred / "case_1.nii.gz").unlink()  # missing prediction
    shutil.copy(pred / "case_2.nii.gz", pred / "unknown_case.nii.gz")  # extra file
    write_mask(np.zeros(SHAPE, dtype=bool), pred / "case_3.nii.gz", spacing_zyx=(3.0, 1.0, 0.9))  # other spacing
    write_mask(np.zeros(SHAPE, dtype=bool), pred / "case_4.nii.gz", origin=(0.0, 5.0, 0.0))  # shifted origin
    (pred / "case_5.nii.gz").write_bytes(b"not an image")  # unreadable
    probabilities = sitk.GetImageFromArray(np.full(SHAPE, 0.4, dtype=np.float32))
    probabilities.SetSpacing(tuple(reversed(SPACING_ZYX)))
    sitk.WriteImage(probabilities, str(pred / "case_6.nii.gz"))  # not a label map
    (pred / "plans.json").write_text("{}")  # nnU-Net's side files are not predictions
    assert evaluate("-pred", pred, "-ref", phantom["ref"], "--out", phantom["out"], *FAST) == 0
    per_case = pd.read_csv(phantom["out"] / "per_case.csv").set_index("case_id")
    assert per_case.loc["case_1", "status"] == "missing_prediction"
    assert per_case.loc["unknown_case", "status"] == "extra_prediction"
    assert per_case.loc["case_3", "status"] == "grid_mismatch" and "spacing" in per_case.loc["case_3", "note"]
    assert per_case.loc["case_4", "status"] == "grid_mismatch" and "origin" in per_case.loc["case_4", "note"]
    assert per_case.loc["case_5", "status"] == "unreadable"
    assert per_case.loc["case_6", "status"] == "unreadable" and "non-integer" in per_case.loc["case_6", "note"]
    assert per_case.loc["case_0", "status"] == "ok" and np.isnan(per_case.loc["case_1", "dice"])
    summary = json.loads((phantom["out"] / "summary.json").read_text())
    assert summary["models"]["pred"]["cases_by_status"]["ok"] == 3
    assert len(summary["problems"]) == 6
    assert pd.read_csv(phantom["out"] / "by_volume_stratum.csv").query("metric == 'dice'")["n"].sum() == 3
    capsys.readouterr()

    strict_out = root / "strict"
    assert evaluate("-pred", pred, "-ref", phantom["ref"], "--out", strict_out, "--strict", *FAST) == 2
    error = capsys.readouterr().err
    assert "--strict: 2 case problem(s) during case matching" in error
    assert "case_1: missing_prediction" in error and "unknown_case: extra_prediction" in error
    assert not strict_out.exists()


def test_existing_report_is_kept_unless_overwrite(phantom: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    common = ["-pred", phantom["pred"], "-ref", phantom["ref"], "--cases", phantom["cases"], "--out", phantom["out"],
              *FAST]
    assert evaluate(*common, "--by", "scanner") == 0
    before = (phantom["out"] / "per_case.csv").read_bytes()
    assert evaluate(*common) == 2
    assert "already holds a report" in capsys.readouterr().err
    assert (phantom["out"] / "per_case.csv").read_bytes() == before
    assert evaluate(*common, "--overwrite") == 0
    assert not (phantom["out"] / "by_scanner.csv").exists()  # the earlier report's file is gone
    assert (phantom["out"] / "by_vendor.csv").exists()


def _nnunet_layout(phantom: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Raw dataset 777 (labelsTr with an ignore label, cases.csv), splits, and a trained model's validation."""
    root = phantom["root"] / "nnunet"
    dataset = root / "raw" / "Dataset777_Eval"
    (dataset / "labelsTr").mkdir(parents=True)
    for path in sorted(phantom["ref"].glob("*.nii.gz")):
        label = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
        label[0, :4, :4] = 2  # the ignore label (e.g. the WMH challenge's "other pathology")
        write_mask(label, dataset / "labelsTr" / path.name)
    (dataset / "dataset.json").write_text(json.dumps({"channel_names": {"0": "DWI"}, "numTraining": 8,
                                                      "labels": {"background": 0, "lesion": 1, "ignore": 2},
                                                      "file_ending": ".nii.gz"}))
    shutil.copy(phantom["cases"], dataset / "cases.csv")
    preprocessed = root / "preprocessed" / "Dataset777_Eval"
    preprocessed.mkdir(parents=True)
    cases = [f"case_{i}" for i in range(8)]
    (preprocessed / "splits_final.json").write_text(json.dumps([{"train": cases[4:], "val": cases[:4]},
                                                                {"train": cases[:4], "val": cases[4:]}]))
    model = root / "results" / "Dataset777_Eval" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    for fold, members in ((0, cases[:4]), (1, cases[4:7])):  # case_7 was never predicted
        for case in members:
            prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["pred"] / f"{case}.nii.gz")))
            prediction[0, :4, :4] = 1  # inside the ignore region: must not count as a false positive
            write_mask(prediction, model / f"fold_{fold}" / "validation" / f"{case}.nii.gz")
    monkeypatch.setenv("nnUNet_raw", str(root / "raw"))
    monkeypatch.setenv("nnUNet_preprocessed", str(root / "preprocessed"))
    return model


def test_nnunet_dataset_id_and_trained_model_folder(phantom: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    model = _nnunet_layout(phantom, monkeypatch)
    out = phantom["out"]
    assert evaluate("-pred", model, "-ref", "777", "--out", out, *FAST) == 0
    per_case = pd.read_csv(out / "per_case.csv").set_index("case_id")
    assert per_case.loc["case_7", "status"] == "missing_prediction"  # a validation case of fold 1 without output
    assert "vendor" in per_case.columns  # the dataset's cases.csv was found
    direct = pd.read_csv(out / "per_case.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"]["ignore_label"] == 2
    assert summary["reference"]["folder"].endswith("labelsTr")
    assert summary["models"]["nnUNetTrainer__nnUNetPlans__3d_fullres"]["cases_by_status"] == {
        "missing_prediction": 1, "ok": 7}
    plain = phantom["root"] / "plain"
    assert evaluate("-pred", phantom["pred"], "-ref", phantom["ref"], "--out", plain, *FAST) == 0
    plain_case = pd.read_csv(plain / "per_case.csv").set_index("case_id")
    # with the ignore region removed from both masks, the extra predicted corner does not change the scores
    # (the corner of the phantom references is empty)
    assert per_case.loc["case_0", "fp"] == plain_case.loc["case_0", "fp"]
    assert per_case.loc["case_0", "dice"] == pytest.approx(plain_case.loc["case_0", "dice"])
    assert len(direct) == 8
    one_fold = phantom["root"] / "one_fold"
    assert evaluate("-pred", model, "--folds", "0", "-ref", "Dataset777_Eval", "--out", one_fold, *FAST) == 0
    assert set(pd.read_csv(one_fold / "per_case.csv")["case_id"]) == {f"case_{i}" for i in range(4)}


def test_probability_maps_give_max_dice_and_uncertainty(phantom: dict[str, Path]) -> None:
    rng = np.random.default_rng(1)
    members = [phantom["root"] / "member0", phantom["root"] / "member1"]
    for case in range(8):
        prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["pred"] / f"case_{case}.nii.gz")))
        for member in members:
            foreground = np.clip(0.8 * prediction + rng.uniform(0.0, 0.3, SHAPE), 0, 1).astype(np.float32)
            member.mkdir(exist_ok=True)
            np.savez_compressed(member / f"case_{case}.npz", probabilities=np.stack([1 - foreground, foreground]))
    out = phantom["out"]
    assert evaluate("-pred", phantom["pred"], "-ref", phantom["ref"], "--out", out, "--probabilities", *members,
                    *FAST) == 0
    per_case = pd.read_csv(out / "per_case.csv", keep_default_na=False, na_values=[""])
    assert {"max_dice", "max_dice_threshold", "uncertainty_index", "needs_review"} <= set(per_case.columns)
    ok = per_case[per_case["status"] == "ok"]
    assert (ok["max_dice"] >= ok["dice"] - 1e-9).all()  # the best threshold is at least as good as the labels
    assert ok["uncertainty_index"].between(0, 1).all()
    assert set(ok["needs_review"]) <= {"yes", "no"}
    np.savez_compressed(members[1] / "case_0.npz", probabilities=np.zeros((2, 3, 3, 3), dtype=np.float32))
    assert evaluate("-pred", phantom["pred"], "-ref", phantom["ref"], "--out", out, "--overwrite",
                    "--probabilities", *members, *FAST) == 0
    bad = pd.read_csv(out / "per_case.csv").set_index("case_id").loc["case_0"]
    assert bad["status"] == "unreadable" and "expected (C, 10, 40, 36)" in bad["note"]


def test_parallel_workers_give_identical_results(phantom: dict[str, Path]) -> None:
    common = ["-pred", phantom["pred"], "-ref", phantom["ref"], *(o for o in FAST if o != "--no-plots")]
    assert evaluate(*common, "--out", phantom["root"] / "serial") == 0
    assert evaluate(*common, "--out", phantom["root"] / "parallel", "-j", "2") == 0
    serial = pd.read_csv(phantom["root"] / "serial" / "per_case.csv")
    parallel = pd.read_csv(phantom["root"] / "parallel" / "per_case.csv")
    pd.testing.assert_frame_equal(serial, parallel)
    # the report's parts were written by two processes: the same files, each table byte for byte
    tables = sorted(path.name for path in (phantom["root"] / "serial").glob("*.csv"))
    assert len(tables) >= 5 and tables == sorted(path.name for path in (phantom["root"] / "parallel").glob("*.csv"))
    for name in tables:
        assert (phantom["root"] / "serial" / name).read_bytes() == (phantom["root"] / "parallel" / name).read_bytes()
    listed = [json.loads((phantom["root"] / run / "summary.json").read_text())["files"] for run in ("serial",
                                                                                                   "parallel")]
    assert sorted(listed[0]) == sorted(listed[1]) and any(name.endswith(".png") for name in listed[0])


def test_mha_and_nrrd_files_are_read(phantom: dict[str, Path]) -> None:
    root = phantom["root"]
    for kind in ("ref", "pred"):
        (root / f"{kind}_other").mkdir()
        for index, suffix in enumerate((".mha", ".nrrd")):
            image = sitk.ReadImage(str(phantom[kind] / f"case_{index}.nii.gz"))
            sitk.WriteImage(image, str(root / f"{kind}_other" / f"case_{index}{suffix}"))
    assert evaluate("-pred", root / "pred_other", "-ref", root / "ref_other", "--out", phantom["out"], *FAST) == 0
    per_case = pd.read_csv(phantom["out"] / "per_case.csv")
    assert per_case["status"].tolist() == ["ok", "ok"]
    reference = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["ref"] / "case_1.nii.gz")))
    prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(phantom["pred"] / "case_1.nii.gz")))
    assert per_case["dice"][1] == pytest.approx(evaluate_pair(reference, prediction, SPACING_ZYX).dice)


def test_models_table_gives_a_learning_curve(phantom: dict[str, Path]) -> None:
    table = phantom["root"] / "models.csv"
    table.write_text("name,pred,training_cases\nsmall,pred,50\nlarge,other,500\n")
    out = phantom["out"]
    assert evaluate("--models", table, "-ref", phantom["ref"], "--out", out, "--device", "cpu",
                    "--bootstrap-resamples", "100") == 0
    curve = pd.read_csv(out / "learning_curve.csv")
    assert list(curve.columns) == list(LEARNING_CURVE_COLUMNS)
    assert curve["training_cases"].tolist() == [50, 500]
    summary = json.loads((out / "summary.json").read_text())
    fit = summary["learning_curve"]["fit"]
    slope = (curve["mean_dice"][1] - curve["mean_dice"][0]) / np.log(10)
    assert fit["slope"] == pytest.approx(slope)
    assert (out / "learning_curve.png").is_file()
    assert summary["baseline"] == "small"


@pytest.mark.parametrize(("arguments", "message"), [
    (["-pred", "{pred}", "-ref", "{root}/missing"], "neither an existing folder nor an nnU-Net dataset"),
    (["--model", "nameonly", "-ref", "{ref}"], "expected NAME=DIR"),
    (["-pred", "{pred}", "-ref", "{ref}", "--by", "scanner"], "--by scanner: no such column"),
    (["-pred", "{pred}", "-ref", "{ref}", "--cases", "{cases}", "--by", "age"], "--by age: no such column"),
    (["-pred", "{pred}", "--model", "pred={other}", "-ref", "{ref}"], "used twice"),
    (["-pred", "{root}/nowhere", "-ref", "{ref}"], "does not exist"),
    (["-ref", "{ref}"], "nothing to evaluate"),
    (["-pred", "{pred}", "-ref", "{ref}", "--baseline", "zzz"], "--baseline 'zzz' is not one of the models"),
    (["-pred", "{pred}", "-ref", "{ref}", "--location", "cases"], "cases.csv has no location values"),
    (["-pred", "{pred}", "-ref", "777"], "$nnUNet_raw is not set"),
])
def test_bad_inputs_get_clear_errors(phantom: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, arguments: list[str], message: str) -> None:
    """Every argument error is found before any case is evaluated (minutes on a real test set)."""

    def no_work_yet(*arguments: object, **keywords: object) -> None:
        raise AssertionError("cases were evaluated before the arguments were checked")

    monkeypatch.setattr("strokeseg.evaluation.evaluate.run_parallel", no_work_yet)
    monkeypatch.delenv("nnUNet_raw", raising=False)
    filled = [a.format(**{k: str(v) for k, v in phantom.items()}) for a in arguments]
    assert evaluate(*filled, "--out", phantom["out"], *FAST) == 2
    assert message in capsys.readouterr().err


ISLES22_MASK = (Path(__file__).parents[1] / "data" / "isles22_sample" / "derivatives" / "sub-strokecase0009"
                / "ses-0001" / "sub-strokecase0009_ses-0001_msk.nii.gz")


def test_real_isles22_mask_against_a_shifted_copy(tmp_path: Path) -> None:
    # the shipped ISLES'22 case (CC BY-SA 4.0): 112×112×73 voxels of 2 mm in LAS orientation, uint16 0/1
    (tmp_path / "ref").mkdir()
    (tmp_path / "pred").mkdir()
    shutil.copy(ISLES22_MASK, tmp_path / "ref" / "strokecase0009.nii.gz")
    reference_image = sitk.ReadImage(str(ISLES22_MASK))
    reference = sitk.GetArrayFromImage(reference_image)
    shifted = np.zeros_like(reference)
    shifted[1:] = reference[:-1]  # one voxel (2 mm) along the array's first axis
    prediction_image = sitk.GetImageFromArray(shifted)
    prediction_image.CopyInformation(reference_image)
    sitk.WriteImage(prediction_image, str(tmp_path / "pred" / "strokecase0009.nii.gz"))
    assert evaluate("-pred", tmp_path / "pred", "-ref", tmp_path / "ref", "--out", tmp_path / "out", *FAST) == 0
    row = pd.read_csv(tmp_path / "out" / "per_case.csv").iloc[0]
    assert row["status"] == "ok"
    assert row["vol_ref_ml"] == pytest.approx(4.18, abs=0.01)  # docs/conversion.md
    assert row["vol_pred_ml"] == pytest.approx(row["vol_ref_ml"])
    assert row["hd"] == pytest.approx(2.0)  # a translated shape: hd is the translation
    assert 0 < row["assd"] < 2.0 and 0 < row["dice"] < 1
    assert row["n_lesions_ref"] == row["n_lesions_pred"] == 18 and row["lesion_count_diff"] == 0
    expected = evaluate_pair(reference, shifted, tuple(reversed(reference_image.GetSpacing())))
    assert row["hd95"] == pytest.approx(expected.hd95) and row["nsd"] == pytest.approx(expected.nsd)
    assert row["lesion_f1"] == pytest.approx(expected.lesion_f1) and 0 < row["lesion_f1"] < 1  # thin lesions miss
