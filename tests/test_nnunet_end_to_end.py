"""The stock nnU-Net CLIs plan, train and predict with strokeseg's planner, preprocessor and tiny trainer (CPU).

The dataset is a DWI+ADC phantom cohort with skull rings and bias fields, so planning runs strokeseg's whole
DWI pipeline (skull strip, N4, histogram-peak and ADC normalizations) and writes the zoom configurations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nnunetv2.inference.data_iterators import preprocessing_iterator_fromfiles
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetBlosc2

from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet_runner import NnunetPaths, run_nnunet
from strokeseg.planners.zoom_config import ZOOM_IN_CONFIGURATION, ZOOM_OUT_CONFIGURATION, zoom_schedule_from_plans
from strokeseg.preprocessing.phantom import write_phantom_dataset
from strokeseg.preprocessing.settings import PLANS_KEY

pytestmark = pytest.mark.slow

DATASET_ID = 991


def check_dwi_plans(plans: dict) -> None:
    """The plans name strokeseg's preprocessor, normalizations, settings and a valid zoom schedule."""
    fullres = plans["configurations"]["3d_fullres"]
    assert fullres["preprocessor_name"] == "StrokesegPreprocessor"
    assert fullres["normalization_schemes"] == ["HistogramPeakNormalization", "ADCRangeNormalization"]
    assert fullres["use_mask_for_norm"] == [True, True]
    assert fullres[PLANS_KEY]["foreground_mask"] and fullres[PLANS_KEY]["n4_channels"] == [0]
    assert fullres[PLANS_KEY]["adc_channels"] == [1]
    zoom_in, zoom_out = (plans["configurations"][name] for name in (ZOOM_IN_CONFIGURATION, ZOOM_OUT_CONFIGURATION))
    assert zoom_in["data_identifier"] == zoom_out["data_identifier"] == fullres["data_identifier"]
    assert zoom_in["architecture"] == zoom_out["architecture"]
    schedule = zoom_schedule_from_plans(plans)
    strides = np.prod(zoom_out["architecture"]["arch_kwargs"]["strides"], axis=0)
    assert np.all(np.asarray(schedule.zoom_out_patch_size) % strides == 0)


def preprocessed_as_predict_does(model: Path, images: list[str]) -> tuple[np.ndarray, dict]:
    """The array nnUNetv2_predict feeds the network for ``images``, and its properties.

    nnUNetv2_predict preprocesses in worker processes and keeps nothing, so this calls what its
    ``nnUNetPredictor.predict_from_files`` calls: ``preprocessing_iterator_fromfiles`` (a spawned worker running
    the preprocessor class named in the plans) with the plans, configuration and dataset.json that the
    predictor loads from the trained model folder. Nothing of nnU-Net is replaced or mocked; only the network
    is not run.
    """
    predictor = nnUNetPredictor(device=torch.device("cpu"), verbose=False)
    predictor.initialize_from_trained_model_folder(str(model), use_folds=(0,), checkpoint_name="checkpoint_final.pth")
    items = list(preprocessing_iterator_fromfiles([images], None, None, predictor.plans_manager,
                                                  predictor.dataset_json, predictor.configuration_manager, 1))
    assert len(items) == 1
    return items[0]["data"].numpy(), items[0]["data_properties"]


def test_stock_cli_plan_train_predict(nnunet_paths: NnunetPaths, cpu_nnunet_env: dict[str, str], tmp_path) -> None:
    raw = write_phantom_dataset(nnunet_paths.raw, DATASET_ID, "E2E", channels=("DWI", "ADC"), num_training=6,
                                num_test=2)
    log = tmp_path / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess",
               ["-d", str(DATASET_ID), "-pl", "StrokeDWIPlanner", "-c", "3d_fullres", "-np", "1",
                "--verify_dataset_integrity"], nnunet_paths, log)
    plans_file = nnunet_paths.preprocessed / raw.name / "strokesegDWIPlans.json"
    check_dwi_plans(json.loads(plans_file.read_text()))
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

    # prediction parity: a training case preprocessed by planning and by the prediction path is identical
    case_id = "phantom_000"
    planned = nnUNetDatasetBlosc2(str(nnunet_paths.preprocessed / raw.name / "strokesegDWIPlans_3d_fullres"),
                                  identifiers=[case_id])
    planned_data, _, _, planned_properties = planned.load_case(case_id)
    images = [str(raw / "imagesTr" / f"{case_id}_{channel:04d}.nii.gz") for channel in range(2)]
    predicted_data, predicted_properties = preprocessed_as_predict_does(model, images)
    assert np.array_equal(np.asarray(planned_data[:]), predicted_data)
    assert planned_properties["bbox_used_for_cropping"] == predicted_properties["bbox_used_for_cropping"]
    assert planned_properties[PLANS_KEY] == predicted_properties[PLANS_KEY]
