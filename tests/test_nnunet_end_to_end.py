"""The stock nnU-Net CLIs plan, train and predict with strokeseg's planner and tiny trainer (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet_runner import NnunetPaths, run_nnunet
from strokeseg.synthetic.toy import write_toy_dataset

pytestmark = pytest.mark.slow

DATASET_ID = 991


def test_stock_cli_plan_train_predict(nnunet_paths: NnunetPaths, cpu_nnunet_env: dict[str, str], tmp_path) -> None:
    raw = write_toy_dataset(nnunet_paths.raw, DATASET_ID, "E2E", num_training=6, num_test=2)
    log = tmp_path / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess",
               ["-d", str(DATASET_ID), "-pl", "StrokeDWIPlanner", "-c", "3d_fullres", "-np", "1",
                "--verify_dataset_integrity"], nnunet_paths, log)
    plans_file = nnunet_paths.preprocessed / raw.name / "strokesegDWIPlans.json"
    assert plans_file.is_file()
    run_nnunet("nnUNetv2_train", [str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainer_strokeseg_Tiny",
                                  "-p", "strokesegDWIPlans", "-device", "cpu"], nnunet_paths, log, cpu_nnunet_env)
    model = nnunet_paths.results / raw.name / "nnUNetTrainer_strokeseg_Tiny__strokesegDWIPlans__3d_fullres"
    assert (model / "fold_0" / "checkpoint_final.pth").is_file()
    predictions = tmp_path / "predictions"
    run_nnunet("nnUNetv2_predict", ["-i", str(raw / "imagesTs"), "-o", str(predictions), "-d", str(DATASET_ID),
                                    "-c", "3d_fullres", "-f", "0", "-tr", "nnUNetTrainer_strokeseg_Tiny",
                                    "-p", "strokesegDWIPlans", "-device", "cpu", "--disable_tta",
                                    "-npp", "1", "-nps", "1"], nnunet_paths, log, cpu_nnunet_env)
    inputs = sorted((raw / "imagesTs").glob("*_0000.nii.gz"))
    assert len(inputs) == 2
    for image in inputs:
        case_id = image.name.removesuffix("_0000.nii.gz")
        prediction = predictions / f"{case_id}.nii.gz"
        assert prediction.is_file(), f"no prediction for {case_id}"
        array, geometry = read_array(prediction)
        assert set(np.unique(array).tolist()) <= {0, 1}
        assert geometry.differences(read_header_geometry(image)) == []
