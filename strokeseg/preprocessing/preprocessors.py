"""strokeseg's nnU-Net preprocessor: the papers' skull strip, N4 and ADC checks before nnU-Net's own steps.

nnU-Net stores the preprocessor's class name in the plans and instantiates it again inside
``nnUNetv2_predict``, so everything done here runs identically on training and on test cases. The steps
and their numbers come from the plans (``strokeseg_preprocessing`` in each configuration, written by
strokeseg's planners); plans without that key get the settings strokeseg's planners would write for the
dataset's channel names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
from batchgenerators.utilities.file_and_folder_operations import load_json
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager

from strokeseg.errors import InputDataError, StrokesegError
from strokeseg.image_integrity import check_image_complete
from strokeseg.io import IMAGE_SUFFIXES, count_nonfinite_voxels, strip_image_suffix
from strokeseg.nnunet.zoom_configurations import KEY_CENTRE_CROP_MM
from strokeseg.preprocessing.centre_crop import zero_outside_centre_box
from strokeseg.preprocessing.in_plane import in_plane_configuration
from strokeseg.preprocessing.normalization import nonzero_seg
from strokeseg.preprocessing.pipeline import prepare_case
from strokeseg.preprocessing.settings import PLANS_KEY, CasePreparation
from strokeseg.preprocessing.windows import PROPERTY_WINDOW, case_site, case_windows

__all__ = ["StrokesegPreprocessor"]

logger = logging.getLogger(__name__)

#: The case being preprocessed, for messages raised deep inside nnU-Net's ``run_case_npy`` call chain.
_CURRENT_CASE: ContextVar[str] = ContextVar("strokeseg_current_case", default="case given as arrays")
#: Its site (cases.csv next to its images), for the per-site intensity windows; None when unknown.
_CURRENT_SITE: ContextVar[str | None] = ContextVar("strokeseg_current_site", default=None)


def case_id_of(image_file: str) -> str:
    """``toy_001`` for ``/data/imagesTr/toy_001_0000.nii.gz`` (nnU-Net's channel suffix removed)."""
    first = Path(image_file)
    name = strip_image_suffix(first) if first.name.lower().endswith(IMAGE_SUFFIXES) else first.name
    return re.sub(r"_\d{4}$", "", name)


def case_label(image_files: Sequence[str]) -> str:
    """``case toy_001 (/data/imagesTr/toy_001_0000.nii.gz)`` for messages."""
    return f"case {case_id_of(image_files[0])} ({Path(image_files[0])})"


def with_case_windows(properties: dict, windows: Sequence[Sequence[float] | None] | None) -> dict:
    """Per-channel intensity properties with the case's window of each channel added (where it has one)."""
    if not windows:
        return properties
    return {channel: {**values, PROPERTY_WINDOW: windows[int(channel)]}
            if int(channel) < len(windows) and windows[int(channel)] is not None else values
            for channel, values in properties.items()}


def refuse_damaged_files(image_files: Sequence[str], seg_file: str | None = None) -> None:
    """Raise InputDataError for a cut-off or damaged NIfTI file, or an image with NaN/inf voxels.

    nnU-Net's reader (SimpleITK) would read the missing voxels of a truncated file, and NaN/inf, as 0.
    """
    if seg_file is not None and seg_file.lower().endswith((".nii", ".nii.gz")):
        check_image_complete(Path(seg_file), "label map")
    for path in image_files:
        if not path.lower().endswith((".nii", ".nii.gz")):
            continue  # other formats are checked on the array nnU-Net reads
        bad = count_nonfinite_voxels(path)
        if bad:
            raise InputDataError(f"{path} contains {bad} NaN or infinite voxels (nnU-Net would read them as 0); fix "
                                 "or exclude this case")


def _raise_if_damaged(check: Future[None], label: str) -> None:
    """Wait for ``refuse_damaged_files`` running in ``check``; its error, if any, with ``label`` in front."""
    try:
        check.result()
    except StrokesegError as error:
        raise type(error)(f"{label}: {error}") from error


def channel_names(dataset_json: dict[str, Any]) -> list[str]:
    """Channel names of dataset.json in channel order (``channel_names``, or the legacy ``modality``)."""
    names = dataset_json.get("channel_names", dataset_json.get("modality", {}))
    return [str(names[key]) for key in sorted(names, key=int)]


def case_preparation(configuration: dict[str, Any], names: Sequence[str]) -> CasePreparation:
    """The preparation settings of a plans configuration (defaults for the channel names when absent)."""
    stored = configuration.get(PLANS_KEY)
    if stored is None:
        return CasePreparation.for_channels(names)
    return CasePreparation.from_plans(stored)


def per_case_configuration(configuration_manager: ConfigurationManager, plans_manager: PlansManager,
                           shape: Sequence[int], spacing: Sequence[float]) -> ConfigurationManager:
    """The configuration to preprocess one case with: its own target spacing under a fixed in-plane size.

    ``shape`` and ``spacing`` (mm) are the case's, in the axis order read from disk (before nnU-Net's transpose).
    """
    transpose = plans_manager.transpose_forward
    adapted = in_plane_configuration(configuration_manager.configuration, [shape[i] for i in transpose],
                                     [spacing[i] for i in transpose])
    return configuration_manager if adapted is None else ConfigurationManager(adapted)


class StrokesegPreprocessor(DefaultPreprocessor):
    """nnU-Net's DefaultPreprocessor preceded by skull stripping, N4 and ADC unit checks.

    Order per case: NaN/inf and constant-channel checks -> skull-strip mask (Gaussian + Otsu) -> voxels outside
    it set to 0 -> N4 on the magnitude channels -> ADC unit harmonization -> nnU-Net's transpose, crop to the
    nonzero region, normalization (the plans' schemes), resampling. The normalization mask is the nonzero
    region of the image (the brain after skull stripping), never the label map, so training and prediction
    see identical inputs. A configuration with ``strokeseg_centre_crop_mm`` predicts only the centre box of that
    size (``strokeseg.preprocessing.centre_crop``); one with ``strokeseg_in_plane_size`` resamples every case's
    slices to that many rows and columns (``strokeseg.preprocessing.in_plane``). Schemes that window intensities
    per site get the case's window from the plans (``strokeseg.preprocessing.windows``).
    """

    def run_case(self, image_files: list[str], seg_file: str | None, plans_manager: PlansManager,
                 configuration_manager: ConfigurationManager, dataset_json: dict | str):
        label = case_label(image_files)
        token = _CURRENT_CASE.set(label)
        site_token = _CURRENT_SITE.set(case_site(image_files[0], case_id_of(image_files[0])))
        try:
            # The integrity check inflates every file once more than nnU-Net's reader does. It runs beside the
            # reading and preprocessing (zlib and SimpleITK release the GIL; 0.2 s of a 1 mm T1w case), and a
            # damaged file is reported whatever they returned or raised.
            with ThreadPoolExecutor(max_workers=1) as pool:
                check = pool.submit(refuse_damaged_files, image_files, seg_file)
                try:
                    return super().run_case(image_files, seg_file, plans_manager, configuration_manager,
                                            dataset_json)
                finally:
                    _raise_if_damaged(check, label)
        finally:
            _CURRENT_SITE.reset(site_token)
            _CURRENT_CASE.reset(token)

    def run_case_npy(self, data: np.ndarray, seg: np.ndarray | None, properties: dict,
                     plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                     dataset_json: dict | str):
        label = _CURRENT_CASE.get()
        dataset: dict = load_json(dataset_json) if isinstance(dataset_json, str) else dataset_json
        names = channel_names(dataset)
        try:
            settings = case_preparation(configuration_manager.configuration, names)
            prepared = prepare_case(data, properties["spacing"], settings, names)
            for warning in prepared.warnings:
                logger.warning("%s: %s", label, warning)
            properties[PLANS_KEY] = prepared.provenance()
            data = prepared.data
            crop_mm = configuration_manager.configuration.get(KEY_CENTRE_CROP_MM)
            if seg is None and crop_mm is not None:  # prediction only (training cases always come with labels)
                data = zero_outside_centre_box(data, properties["spacing"], crop_mm)
            configuration_manager = per_case_configuration(configuration_manager, plans_manager, data.shape[1:],
                                                           properties["spacing"])
            return super().run_case_npy(data, seg, properties, plans_manager, configuration_manager, dataset)
        except StrokesegError as error:
            raise type(error)(f"{label}: {error}") from error

    def _normalize(self, data: np.ndarray, seg: np.ndarray, configuration_manager: ConfigurationManager,
                   foreground_intensity_properties_per_channel: dict) -> np.ndarray:
        # the label-free mask keeps training (label map given) and prediction (no label) identical
        windows = case_windows(configuration_manager.configuration, _CURRENT_SITE.get())
        return super()._normalize(data, nonzero_seg(data), configuration_manager,
                                  with_case_windows(foreground_intensity_properties_per_channel, windows))
