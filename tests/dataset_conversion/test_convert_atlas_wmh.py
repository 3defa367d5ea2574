"""ATLAS R1.2/R2.0 and the WMH challenge layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import assert_lesion_volumes_match, make_atlas_r12, make_atlas_r20, make_wmh

from strokeseg.cases import read_cases
from strokeseg.dataset_conversion.convert import convert, plan
from strokeseg.errors import InputDataError


def test_atlas_r20_training_and_testing_with_sites_from_metadata(tmp_path: Path) -> None:
    cohort = make_atlas_r20(tmp_path / "src", n_train=3, n_test=1)
    result = convert("atlas", cohort.root, tmp_path / "raw", 31, "ATLAS")
    dataset = result.dataset_dir
    assert json.loads((dataset / "dataset.json").read_text())["channel_names"] == {"0": "T1w"}
    assert json.loads((dataset / "dataset.json").read_text())["numTraining"] == 3
    assert [p.name for p in (dataset / "imagesTs").iterdir()] == ["r002s004_0000.nii.gz"]
    assert not (dataset / "labelsTs").exists()
    assert_lesion_volumes_match(dataset, cohort)
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    assert cases.loc["r001s001", "site"] == "Site0"   # from the metadata CSV, not the R001 folder
    assert cases.loc["r002s002", "site"] == "Site1"
    assert cases.loc["r002s004", "split"] == "test"
    assert pd.isna(cases.loc["r002s004", "lesion_volume_ml"])


def test_atlas_r20_site_falls_back_to_the_cohort_folder(tmp_path: Path) -> None:
    cohort = make_atlas_r20(tmp_path / "src", n_train=2, n_test=0, metadata=False)
    _, discovery = plan("atlas", cohort.root)
    assert {case.case_id: case.metadata["site"] for case in discovery.cases} == {"r001s001": "R001",
                                                                               "r002s002": "R002"}


def test_atlas_r12_lesion_masks_are_combined_by_union(tmp_path: Path) -> None:
    cohort = make_atlas_r12(tmp_path / "src", n_cases=3)
    result = convert("atlas", cohort.root, tmp_path / "raw", 32, "ATLASR12")
    assert_lesion_volumes_match(result.dataset_dir, cohort)   # the expected volume is that of the full lesion
    cases = read_cases(result.dataset_dir / "cases.csv").set_index("case_id")
    assert cases.loc["031700", "n_source_masks"] == 2
    assert cases.loc["031700", "site"] == "Site1"
    assert cases.loc["031701", "site"] == "Site2"


def test_atlas_without_images_lists_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "readme.txt").write_text("nothing here")
    with pytest.raises(InputDataError, match=r"expected R2.0 files .*_T1w.nii.gz or R1.2 files .*found no NIfTI"):
        plan("atlas", tmp_path / "src")


def test_atlas_training_case_without_mask_is_skipped(tmp_path: Path) -> None:
    cohort = make_atlas_r20(tmp_path / "src", n_train=2, n_test=0)
    next(cohort.root.rglob("sub-r001s001*_mask.nii.gz")).unlink()
    _, discovery = plan("atlas", cohort.root)
    assert [(s.case_id, "no lesion mask" in s.reason) for s in discovery.skipped] == [("r001s001", True)]


def test_wmh_label_2_becomes_the_ignore_label(tmp_path: Path) -> None:
    cohort = make_wmh(tmp_path / "src", per_site=1, test_site=True)
    result = convert("wmh", cohort.root, tmp_path / "raw", 41, "WMH", with_t1=True)
    dataset = result.dataset_dir
    content = json.loads((dataset / "dataset.json").read_text())
    assert content["labels"] == {"background": 0, "WMH": 1, "ignore": 2}
    assert content["channel_names"] == {"0": "FLAIR", "1": "T1w"}
    assert_lesion_volumes_match(dataset, cohort)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(dataset / "labelsTr" / "Utrecht_0.nii.gz")))
    assert set(np.unique(label).tolist()) == {0, 1, 2}
    assert label.dtype == np.uint8
    assert (dataset / "labelsTs" / "Utrecht_3.nii.gz").is_file()
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    assert cases.loc["Amsterdam_GE3T_2", "site"] == "Amsterdam_GE3T"
    assert cases.loc["Amsterdam_GE3T_2", "vendor"] == "GE"
    assert cases.loc["Singapore_1", "vendor"] == "Siemens"
    assert (cases["wmh_volume_ml"] == cases["lesion_volume_ml"]).all()
    assert cases.loc["Utrecht_0", "ignore_volume_ml"] == pytest.approx(16 * 12 / 1000)


def test_wmh_label_outside_0_1_2_is_skipped(tmp_path: Path) -> None:
    cohort = make_wmh(tmp_path / "src", per_site=1, test_site=False)
    bad = cohort.root / "training" / "Singapore" / "1" / "wmh.nii.gz"
    image = sitk.ReadImage(str(bad))
    array = sitk.GetArrayFromImage(image)
    array[0, 0, 0] = 3
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    sitk.WriteImage(out, str(bad))
    result = convert("wmh", cohort.root, tmp_path / "raw", 42, "WMH")
    skipped = {o.case_id: o.reason for o in result.outcomes if o.status == "skipped"}
    assert list(skipped) == ["Singapore_1"]
    assert "holds the values {0, 1, 2, 3}; only {0, 1, 2} are allowed" in skipped["Singapore_1"]
