"""What strokeseg's planners share: our preprocessor, channel-name normalizations, zoom configurations."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import nnunetv2
import numpy as np
from batchgenerators.utilities.file_and_folder_operations import join
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

from strokeseg.errors import ConfigurationError
from strokeseg.planners.foreground import evenly_spaced, foreground_crop_ratios
from strokeseg.planners.zoom import add_zoom_configurations
from strokeseg.preprocessing import (
    PLANS_KEY,
    CasePreparation,
    StrokesegPreprocessor,
    channel_names,
    normalization_for_channel,
)

logger = logging.getLogger(__name__)

#: nnU-Net uses a nonzero mask for normalization when cropping to it shrinks the median image below this.
NNUNET_MASK_FOR_NORM_BELOW = 3 / 4


class StrokesegPlanner(ExperimentPlanner):
    """nnU-Net's ExperimentPlanner with strokeseg's preprocessing, normalizations and zoom configurations.

    * ``preprocessor_name``: nnUNetv2_plan_and_preprocess always passes ``DefaultPreprocessor``; it is replaced
      by ``StrokesegPreprocessor``. Any other name given with ``-preprocessor_name`` is kept.
    * normalizations by dataset.json channel name (DWI, b0 -> HistogramPeakNormalization, ADC ->
      ADCRangeNormalization, FLAIR -> WMHFlairNormalization, T1w -> BrainZScoreNormalization; other names as
      nnU-Net maps them).
    * every configuration carries the case-preparation settings (``strokeseg_preprocessing``).
    * with a foreground mask, image sizes (and so patch and batch sizes) are planned for the masked crop.
    * 3D datasets get ``3d_zoomin`` and ``3d_zoomout`` (see ``strokeseg.planners.zoom``).

    Subclasses set the plans name, the channel they require and whether to mask the foreground and correct
    the bias field.
    """

    default_plans_name: ClassVar[str] = "strokesegPlans"
    required_channel: ClassVar[str | None] = None
    foreground_mask: ClassVar[bool] = True
    bias_correction: ClassVar[bool] = True
    #: Training cases on which the foreground crop is measured (see ``strokeseg.planners.foreground``).
    foreground_sample_cases: ClassVar[int] = 20

    def __init__(self, dataset_name_or_id: str | int, gpu_memory_target_in_gb: float = 8,
                 preprocessor_name: str = DefaultPreprocessor.__name__, plans_name: str | None = None,
                 overwrite_target_spacing: list[float] | tuple[float, ...] | None = None,
                 suppress_transpose: bool = False) -> None:
        if preprocessor_name == DefaultPreprocessor.__name__:
            preprocessor_name = StrokesegPreprocessor.__name__
        else:
            _warn_unless_strokeseg_preprocessor(preprocessor_name)
        super().__init__(dataset_name_or_id, gpu_memory_target_in_gb, preprocessor_name,
                         plans_name or self.default_plans_name, overwrite_target_spacing, suppress_transpose)
        self.channel_names = channel_names(self.dataset_json)
        self._require_channel()
        self.case_preparation = CasePreparation.for_channels(self.channel_names, self.foreground_mask,
                                                             self.bias_correction)
        if self.foreground_mask:
            self._shrink_fingerprint_shapes_to_the_foreground()

    def _shrink_fingerprint_shapes_to_the_foreground(self) -> None:
        """Scale the fingerprint's cropped shapes by the crop the foreground mask adds (measured on a sample)."""
        sample = evenly_spaced(sorted(self.dataset), self.foreground_sample_cases)
        ratios = foreground_crop_ratios([self.dataset[key]["images"] for key in sample],
                                        self.determine_reader_writer()(), self.case_preparation)
        shapes = self.dataset_fingerprint["shapes_after_crop"]
        self.dataset_fingerprint["shapes_after_crop"] = [
            [max(1, round(size * ratio)) for size, ratio in zip(shape, ratios, strict=True)] for shape in shapes]
        logger.info("foreground mask crops the images to %s of nnU-Net's nonzero crop per axis (median of %d "
                    "cases); planning with the cropped sizes", np.round(ratios, 3).tolist(), len(sample))

    def _require_channel(self) -> None:
        if self.required_channel is None:
            return
        if self.required_channel.casefold() not in (name.casefold() for name in self.channel_names):
            raise ConfigurationError(
                f"{type(self).__name__} plans datasets with a {self.required_channel!r} channel, but dataset.json of "
                f"{self.dataset_name} has channel_names {self.channel_names}; fix the channel names (strokeseg's "
                "converters write DWI, ADC, b0, FLAIR, T1w) or choose the planner for this modality")

    def determine_normalization_scheme_and_whether_mask_is_used_for_norm(self) -> tuple[list[str], list[bool]]:
        schemes = [normalization_for_channel(name) for name in self.channel_names]
        if self.foreground_mask:
            use_mask = [bool(s.leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true) for s in schemes]
        else:  # nnU-Net's rule: use the nonzero mask when cropping to it removes much of the image
            relative_size = self.dataset_fingerprint["median_relative_size_after_cropping"]
            cropping_helps = relative_size < NNUNET_MASK_FOR_NORM_BELOW
            use_mask = [cropping_helps and bool(s.leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true)
                        for s in schemes]
        return [s.__name__ for s in schemes], use_mask

    def get_plans_for_configuration(self, spacing: Any, median_shape: Any, data_identifier: str,
                                    approximate_n_voxels_dataset: float, _cache: dict) -> dict:
        plan = super().get_plans_for_configuration(spacing, median_shape, data_identifier,
                                                   approximate_n_voxels_dataset, _cache)
        plan[PLANS_KEY] = self.case_preparation.to_plans()
        return plan

    def save_plans(self, plans: dict) -> None:
        self._add_zoom_configurations(plans)
        super().save_plans(plans)

    def _add_zoom_configurations(self, plans: dict) -> None:
        """Add the zoom-in & out configurations (strokeseg's rounded, memory-fitted patches)."""
        add_zoom_configurations(plans, self)


def _warn_unless_strokeseg_preprocessor(name: str) -> None:
    found = recursive_find_python_class(join(nnunetv2.__path__[0], "preprocessing"), name,
                                        "nnunetv2.preprocessing")
    if found is None:
        raise ConfigurationError(f"preprocessor {name!r} is not known to nnU-Net; run `strokeseg nnunet install` or "
                                 "check the -preprocessor_name spelling")
    if not issubclass(found, StrokesegPreprocessor):
        logger.warning("preprocessor %s does not subclass StrokesegPreprocessor: the plans' skull stripping, N4 "
                       "and ADC unit steps will not run", name)
