"""``strokeseg evaluate --reference-readings``: the k-of-n vote the converters use, with the WMH challenge's ignore
label, on the readings of the FLAIR registry phantom (every WMH voxel is marked by 2 of 3 readers); a case whose
readings lie on different grids is left out and the others are scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import make_flair_registry

from strokeseg.cli import main

FAST = ["--device", "cpu", "--bootstrap-resamples", "50", "--no-plots"]


def _readers(tmp_path: Path) -> tuple[list[Path], Path, list[str]]:
    """Three reader folders and a prediction folder (the full WMH, label 1) of the 3-reading FLAIR registry."""
    cohort = make_flair_registry(tmp_path / "src", n_cases=3, readings=3)
    readers = [tmp_path / f"reader{r}" for r in (1, 2, 3)]
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for case_id in cohort.volumes_ml:
        for number, reader in enumerate(readers, start=1):
            reader.mkdir(exist_ok=True)
            (reader / f"{case_id}.nii.gz").symlink_to(cohort.root / "masks" / f"{case_id}_mask_{number}.nii.gz")
        full = sitk.ReadImage(str(cohort.root / "masks" / f"{case_id}_mask_1.nii.gz"))
        union = sum(sitk.GetArrayFromImage(sitk.ReadImage(str(cohort.root / "masks" / f"{case_id}_mask_{r}.nii.gz")))
                    == 1 for r in (1, 2, 3)) > 0
        prediction = sitk.GetImageFromArray(union.astype(np.uint8))
        prediction.CopyInformation(full)
        sitk.WriteImage(prediction, str(predictions / f"{case_id}.nii.gz"))
    return readers, predictions, sorted(cohort.volumes_ml)


def _evaluate(*arguments: str | Path) -> int:
    return main(["evaluate", *map(str, arguments)])


def test_reading_vote_with_ignore_label_and_a_case_on_another_grid(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    readers, predictions, cases = _readers(tmp_path)
    out = tmp_path / "report"
    assert _evaluate("--reference-readings", *readers, "--ignore-label", "2", "-pred", predictions, "--out", out,
                     *FAST) == 0
    consensus = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "reference_consensus" / f"{cases[0]}.nii.gz")))
    assert set(np.unique(consensus)) == {0, 1, 2}  # 2 of 3 marks every WMH voxel; the ignore label stays
    per_case = pd.read_csv(out / "per_case.csv")
    assert set(per_case["status"]) == {"ok"}
    assert per_case["dice"].to_numpy() == pytest.approx(1.0)  # the prediction is the full WMH
    # unanimity marks no WMH voxel (each reader leaves out a third of them)
    assert _evaluate("--reference-readings", *readers, "--votes", "3", "--ignore-label", "2", "-pred", predictions,
                     "--out", tmp_path / "unanimous", *FAST) == 0
    unanimous = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "unanimous" / "reference_consensus"
                                                          / f"{cases[0]}.nii.gz")))
    assert set(np.unique(unanimous)) == {0, 2}

    moved = readers[2] / f"{cases[1]}.nii.gz"
    image = sitk.ReadImage(str(moved))
    moved.unlink()
    image.SetOrigin((5.0, 0.0, 0.0))
    sitk.WriteImage(image, str(moved))
    capsys.readouterr()
    assert _evaluate("--reference-readings", *readers, "--ignore-label", "2", "-pred", predictions, "--out",
                     tmp_path / "one_bad", *FAST) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines() if "left out:" in line)
    assert f"case {cases[1]} left out: reading {moved} is on another grid" in warning
    scored = pd.read_csv(tmp_path / "one_bad" / "per_case.csv").set_index("case_id")
    assert scored.loc[cases[0], "status"] == "ok" and scored.loc[cases[2], "status"] == "ok"
    assert scored.loc[cases[1], "status"] != "ok"
    assert _evaluate("--reference-readings", *readers, "-pred", predictions, "--out", tmp_path / "strict",
                     "--strict", *FAST) == 2


def test_infarct_masks_of_a_converted_flair_registry_give_infarct_volume_strata(tmp_path: Path) -> None:
    cohort = make_flair_registry(tmp_path / "src", n_cases=3)
    raw = tmp_path / "raw"
    assert main(["convert", "registry", str(cohort.root), "-d", "112", "--raw", str(raw), "--channels", "FLAIR",
                 "--ignore-label"]) == 0
    dataset = raw / "Dataset112_StrokeRegistry"
    out = tmp_path / "report"  # the reference labels as predictions: the strata are what is checked
    assert _evaluate("-ref", dataset, "-pred", dataset / "labelsTr", "--out", out, *FAST) == 0
    per_case = pd.read_csv(out / "per_case.csv", keep_default_na=False).set_index("case_id")
    strata = per_case["infarct_volume_stratum"]
    for case_id, infarct_ml in cohort.extra.items():  # 16 and 32 voxels of 9 µL: below 1.7 mL
        assert infarct_ml < 1.7 and strata[case_id] == "small"
    assert strata["K1-002"] == "unknown"  # no infarct mask
    assert per_case["dice"].to_numpy(float) == pytest.approx(1.0)
