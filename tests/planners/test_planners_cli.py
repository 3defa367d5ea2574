"""WMHFlairPlanner and AtlasT1Planner from the stock nnU-Net CLIs on a FLAIR+T1w phantom cohort."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FAST_FINGERPRINT
from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetBlosc2

from strokeseg.errors import ExternalToolError
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.nnunet.zoom_configurations import zoom_schedule_from_plans
from strokeseg.preprocessing.settings import PLANS_KEY
from strokeseg.synthetic.analytic_head import write_phantom_dataset

pytestmark = pytest.mark.slow

DATASET_ID = 992


def test_flair_t1w_planners(nnunet_paths: NnunetPaths, tmp_path) -> None:
    raw = write_phantom_dataset(nnunet_paths.raw, DATASET_ID, "FlairT1", channels=("FLAIR", "T1w"), num_training=3,
                                num_test=0)
    log = tmp_path / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(DATASET_ID), "-pl", "WMHFlairPlanner", "-c", "3d_fullres",
                                                "-np", "1", *FAST_FINGERPRINT], nnunet_paths, log)
    run_nnunet("nnUNetv2_plan_experiment", ["-d", str(DATASET_ID), "-pl", "AtlasT1Planner"], nnunet_paths, log)
    folder = nnunet_paths.preprocessed / raw.name

    wmh = json.loads((folder / "strokesegWMHPlans.json").read_text())
    fullres = wmh["configurations"]["3d_fullres"]
    assert fullres["preprocessor_name"] == "StrokesegPreprocessor"
    assert fullres["normalization_schemes"] == ["WMHFlairNormalization", "BrainZScoreNormalization"]
    assert not fullres[PLANS_KEY]["foreground_mask"] and fullres[PLANS_KEY]["n4_channels"] == []
    zoom_schedule_from_plans(wmh)
    data, _, _, _ = nnUNetDatasetBlosc2(str(folder / fullres["data_identifier"]), ["phantom_000"]).load_case(
        "phantom_000")
    flair = np.asarray(data[0])
    inside = flair != 0  # Kim et al.'s mask: z-scored inside, 0 outside
    assert abs(float(flair[inside].mean())) < 1e-3 and abs(float(flair[inside].std()) - 1.0) < 1e-3

    atlas = json.loads((folder / "strokesegATLASPlans.json").read_text())
    fullres = atlas["configurations"]["3d_fullres"]
    assert fullres["normalization_schemes"] == ["WMHFlairNormalization", "BrainZScoreNormalization"]
    assert fullres[PLANS_KEY]["foreground_mask"] and fullres[PLANS_KEY]["n4_channels"] == [0, 1]
    assert fullres["use_mask_for_norm"] == [False, True]
    schedule = zoom_schedule_from_plans(atlas)
    assert schedule.zoom_in_batch_size >= schedule.zoom_out_batch_size >= 2

    with pytest.raises(ExternalToolError):
        run_nnunet("nnUNetv2_plan_experiment", ["-d", str(DATASET_ID), "-pl", "StrokeDWIPlanner"], nnunet_paths, log)
    assert "StrokeDWIPlanner plans datasets with a 'DWI' channel" in log.read_text()
