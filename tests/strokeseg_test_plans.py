"""Plans dicts as strokeseg's planners write them, for in-process tests of the preprocessing (no planning run)."""

from __future__ import annotations

from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager

from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation


def dwi_adc_plans_dict(preparation: CasePreparation | None, shape: tuple[int, int, int],
                       spacing: tuple[float, float, float]) -> dict:
    """StrokeDWIPlanner's plans for a DWI+ADC dataset (only what preprocessing reads); no settings if None."""
    configuration = {
        "data_identifier": "strokesegDWIPlans_3d_fullres", "preprocessor_name": "StrokesegPreprocessor",
        "batch_size": 2, "patch_size": [8, 32, 32], "median_image_size_in_voxels": list(shape),
        "spacing": list(spacing), "normalization_schemes": ["HistogramPeakNormalization", "ADCRangeNormalization"],
        "use_mask_for_norm": [True, True], "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {"network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                         "arch_kwargs": {}, "_kw_requires_import": []},
        "batch_dice": False,
    }
    if preparation is not None:
        configuration[PLANS_KEY] = preparation.to_plans()
    intensities = {"mean": 1.0, "std": 1.0, "percentile_00_5": 0.0, "percentile_99_5": 1.0, "median": 1.0,
                   "min": 0.0, "max": 1.0}
    return {"dataset_name": "Dataset999_Unit", "plans_name": "strokesegDWIPlans",
            "original_median_spacing_after_transp": list(spacing), "original_median_shape_after_transp": list(shape),
            "image_reader_writer": "SimpleITKIO", "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
            "configurations": {"3d_fullres": configuration}, "experiment_planner_used": "StrokeDWIPlanner",
            "label_manager": "LabelManager",
            "foreground_intensity_properties_per_channel": {"0": intensities, "1": intensities}}


def dwi_adc_plans(preparation: CasePreparation | None, shape: tuple[int, int, int],
                  spacing: tuple[float, float, float]) -> tuple[PlansManager, ConfigurationManager]:
    """``dwi_adc_plans_dict`` as nnU-Net's plans and 3d_fullres configuration managers."""
    manager = PlansManager(dwi_adc_plans_dict(preparation, shape, spacing))
    return manager, manager.get_configuration("3d_fullres")
