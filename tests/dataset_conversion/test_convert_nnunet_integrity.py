"""Every converter's output passes the stock ``nnUNetv2_extract_fingerprint --verify_dataset_integrity``.

The registry dataset mixes NIfTI rows and DICOM rows (dcm2niix, mask reoriented to dcm2niix's voxel order);
a derived dataset of symbolic links is verified too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from cohort_fixtures import (
    dicom_grid_mask,
    make_atlas_r12,
    make_atlas_r20,
    make_flair_registry,
    make_isles22,
    make_registry,
    make_wmh,
    write_dicom_series,
)

from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.convert import convert
from strokeseg.io import write_json_atomic
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.splits import split_dataset

pytestmark = pytest.mark.slow


def _mixed_registry(root: Path) -> Path:
    """A registry manifest with NIfTI rows and DICOM rows (dcm2niix path, mask in DICOM voxel order)."""
    make_registry(root, n_cases=3, n_test=1)
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest["dicom"] = ""
    rng = np.random.default_rng(7)
    rows = []
    for index, vendor in enumerate(("Siemens", "GE")):
        s0 = rng.uniform(600, 1000, (6, 16, 20))
        lesion = np.zeros(s0.shape, np.uint8)
        lesion[2:4, 3 + index:7, 5:9] = 1
        write_dicom_series(root / f"dicom{index}", [s0.astype(np.uint16), (s0 * 0.45).astype(np.uint16)], [0, 1000],
                           vendor, 3.0, 5, "dwi")
        sitk.WriteImage(dicom_grid_mask(lesion), str(root / f"mask{index}.nii.gz"))
        rows.append({"case_id": f"dicom{index}", "dicom": f"dicom{index}", "mask": f"mask{index}.nii.gz",
                     "site": "hospital9", "split": "train"})
    pd.concat([manifest, pd.DataFrame(rows)]).fillna("").to_csv(root / "manifest.csv", index=False)
    return root


def test_every_layout_passes_verify_dataset_integrity(nnunet_paths: NnunetPaths, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    jobs = [
        ("isles22", make_isles22(sources / "isles22", n_cases=2, flair=True, four_d_case=True).root,
         {"with_flair": True}),
        ("atlas", make_atlas_r20(sources / "atlas20", n_train=2, n_test=1).root, {}),
        ("atlas", make_atlas_r12(sources / "atlas12", n_cases=2).root, {}),
        ("wmh", make_wmh(sources / "wmh", per_site=1).root, {"with_t1": True}),
        ("registry", make_flair_registry(sources / "flair_registry", n_cases=2, readings=3).root,
         {"channels": ["FLAIR"], "ignore_label": True}),  # voted labels with ignore label, extra_masks/ beside
        ("registry", _mixed_registry(sources / "registry"), {}),
    ]
    ids = []
    for offset, (cohort, source, options) in enumerate(jobs):
        dataset_id = 980 + offset
        convert(cohort, source, nnunet_paths.raw, dataset_id, f"{cohort}{offset}",
                case_options=CaseOptions(registration="none"), **options)
        ids.append(str(dataset_id))
    # a derived dataset (files are symlinks into the registry dataset) is read by nnU-Net too
    derived = split_dataset(nnunet_paths.raw, ids[-1], "site", site="hospital9", derived_id=990)
    assert next((derived.dataset_dir / "imagesTr").iterdir()).is_symlink()
    ids.append("990")
    # The stock CLI verifies first, then extracts the fingerprint unless one exists (no --clean). The fingerprint
    # draws 10^8 intensity samples per channel whatever the image size (minutes on 2 cores for these datasets)
    # and is not what this test is about, so a placeholder makes nnU-Net skip it after verifying.
    placeholder = {"strokeseg_test": "placeholder; nnU-Net skips fingerprint extraction when this file exists"}
    for dataset in nnunet_paths.raw.iterdir():
        write_json_atomic(nnunet_paths.preprocessed / dataset.name / "dataset_fingerprint.json", placeholder)
    log = tmp_path / "nnunet.log"
    run_nnunet("nnUNetv2_extract_fingerprint", ["-d", *ids, "--verify_dataset_integrity", "-np", "1"],
               nnunet_paths, log)
    text = log.read_text()
    assert text.count("verify_dataset_integrity Done") == len(ids)
    assert "mismatch" not in text.lower(), text      # nnU-Net only warns about origin/direction mismatches
    assert "Unexpected labels" not in text
    for dataset in nnunet_paths.raw.iterdir():  # verified, then the fingerprint step was skipped
        assert json.loads((nnunet_paths.preprocessed / dataset.name / "dataset_fingerprint.json").read_text()) == \
            placeholder
