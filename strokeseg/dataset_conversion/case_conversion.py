"""Read, check and write one case: channels and mask(s) of a :class:`CaseSource` -> nnU-Net files + a cases.csv row.

Everything is checked before anything is written, so a bad case leaves no file behind:
unreadable files, NaN/inf voxels, channels or masks off the first channel's grid (beyond
``GRID_TOLERANCE_MM``), repeated readings on different grids, non-binary or out-of-range masks, and an
empty mask where the cohort requires a lesion all raise :class:`~strokeseg.errors.InputDataError` with the
file and the problem. Channels that agree with the reference grid within the tolerance are written with the
reference header, so nnU-Net sees one exact grid per case. Extra masks (``CaseSource.extra_masks``) are
written on their own grid into ``extra_masks/<name>/<case>.nii.gz`` beside the dataset, not as labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from strokeseg.dataset_conversion.diffusion import combine_volumes, select_b_volumes
from strokeseg.dataset_conversion.sources import SPLIT_TRAIN, CaseSource, ChannelSource, CohortSpec
from strokeseg.dataset_conversion.validation import lesion_statistics, normalise_mask, union_of_masks
from strokeseg.defaults import B0_MAX_B_VALUE, GRID_TOLERANCE_MM, LESION_CONNECTIVITY
from strokeseg.errors import InputDataError
from strokeseg.grids import on_reference_grid
from strokeseg.io import Geometry, array_to_image, read_array, write_image_atomic
from strokeseg.labels import vote_label_maps
from strokeseg.location.registration import RegistrationMethod, register_and_resample
from strokeseg.modalities import CHANNEL_ADC, adc_reference_value, adc_unit_factor
from strokeseg.nnunet.raw import image_path, label_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseOptions:
    """Per-case settings shared by all cases of a run.

    Attributes:
        registration: how channels flagged ``register`` are aligned (``rigid``, ``affine``, ``none``).
        grid_tolerance_mm: spacing/origin tolerance for "same grid" (mm).
        connectivity: connectivity of lesions counted in ``n_lesions``.
    """

    registration: RegistrationMethod = "rigid"
    grid_tolerance_mm: float = GRID_TOLERANCE_MM
    connectivity: int = LESION_CONNECTIVITY


@dataclass(frozen=True)
class LoadedImage:
    """A 3-D image as an array (z, y, x) with its grid, and the b-value it was selected at (4-D input)."""

    array: np.ndarray
    geometry: Geometry
    selected_b: float | None = None


#: Folder of the dataset that holds the extra masks (``extra_masks/<name>/<case>.nii.gz``); nnU-Net ignores it.
EXTRA_MASKS_FOLDER = "extra_masks"


def extra_mask_path(dataset_dir: Path, name: str, case_id: str) -> Path:
    """Where the extra mask ``name`` of ``case_id`` is written: ``dataset_dir/extra_masks/<name>/<case>.nii.gz``."""
    return dataset_dir / EXTRA_MASKS_FOLDER / name / f"{case_id}.nii.gz"


def nnunet_split(split: str) -> str:
    """``train`` -> ``Tr``, ``test`` -> ``Ts`` (the suffix of nnU-Net's images/labels folders)."""
    return "Tr" if split == SPLIT_TRAIN else "Ts"


def output_files(case: CaseSource, spec: CohortSpec) -> list[Path]:
    """Files (relative to the dataset folder) that converting ``case`` writes."""
    folder_split = nnunet_split(case.split)
    files = [image_path(Path(), case.case_id, index, folder_split) for index in range(len(spec.channel_names))]
    if case.masks:
        files.append(label_path(Path(), case.case_id, folder_split))
    files += [extra_mask_path(Path(), name, case.case_id) for name in case.extra_masks]
    return files


def convert_case(case: CaseSource, spec: CohortSpec, dataset_dir: Path, scratch: Path,
                 options: CaseOptions = CaseOptions()) -> dict[str, Any]:
    """Convert one case into ``dataset_dir`` and return its cases.csv row.

    Raises:
        InputDataError: the case is invalid (the message names the file and the problem); nothing was written.
    """
    if case.prepare is not None:
        case = case.prepare(case, scratch)
    if tuple(channel.name for channel in case.channels) != spec.channel_names:
        found = ", ".join(channel.name for channel in case.channels) or "none"
        raise InputDataError(f"channels {found} found, {', '.join(spec.channel_names)} needed (missing modality)")
    reference_channel = case.channels[0]
    reference = load_channel(reference_channel)
    record: dict[str, Any] = {"case_id": case.case_id, "split": case.split, **case.metadata}
    if reference.selected_b is not None and reference_channel.target_b is not None:
        record["b_value"] = reference.selected_b
    spacing = reference.geometry.spacing
    record.update({"spacing_x_mm": spacing[0], "spacing_y_mm": spacing[1], "spacing_z_mm": spacing[2]})
    arrays = [reference.array]
    channel_columns: dict[str, Any] = {}
    for channel in case.channels[1:]:
        array, extra = _channel_on_reference_grid(channel, reference_channel, reference, options)
        arrays.append(array)
        channel_columns.update(extra)
    for index, channel in enumerate(case.channels):
        if channel.name == CHANNEL_ADC:
            arrays[index], channel_columns["adc_source_unit"] = adc_in_micro_units(
                arrays[index], f"{channel.name} image {channel.path}")
    labels = _read_labels(case, spec, reference_channel, reference.geometry, options) if case.masks else None
    if case.votes is not None:
        record.update({"n_readings": len(case.masks), "votes": case.votes})
    extra_masks = {name: _read_extra_mask(name, path) for name, path in case.extra_masks.items()}
    for name, (mask, geometry) in extra_masks.items():
        volume = lesion_statistics(mask, geometry.spacing, 1, options.connectivity).volume_ml
        record.update({f"{name}_volume_ml": round(volume, 6),
                       f"{name}_mask": str(extra_mask_path(Path(), name, case.case_id))})
    if labels is not None:
        stats = lesion_statistics(labels, spacing, spec.lesion_label, options.connectivity)
        record.update({"lesion_volume_ml": round(stats.volume_ml, 6), "n_lesions": stats.n_lesions})
        if spec.volume_alias:
            record[spec.volume_alias] = record["lesion_volume_ml"]
        if spec.ignore_label is not None:
            ignored = lesion_statistics(labels, spacing, spec.ignore_label, options.connectivity)
            record["ignore_volume_ml"] = round(ignored.volume_ml, 6)
    record.update(channel_columns)
    for column, value in case.source_paths().items():
        record.setdefault(column, value)  # a prepare step may have named the true source (e.g. a DICOM series)
    _write_case(case, spec, dataset_dir, arrays, labels, reference.geometry)
    for name, (mask, geometry) in extra_masks.items():
        write_image_atomic(array_to_image(mask, geometry), extra_mask_path(dataset_dir, name, case.case_id))
    return record


def load_channel(channel: ChannelSource) -> LoadedImage:
    """Read a channel as a 3-D image; a 4-D diffusion file is reduced to the volumes at ``channel.target_b``.

    Raises:
        InputDataError: unreadable, NaN/inf voxels, 4-D without b-values, b-values that do not match the
            number of volumes, or no volume at the wanted b.
    """
    what = f"{channel.name} image"
    array, geometry = read_array(channel.path, what)
    if array.ndim == 4 and array.shape[0] == 1:
        return LoadedImage(array[0], spatial_geometry(geometry))
    if array.ndim == 4:
        if channel.b_values is None or channel.target_b is None:
            raise InputDataError(f"{what} {channel.path} is 4-D with {array.shape[0]} volumes and there is no .bval "
                                 "file beside it to tell which volume to use; add the .bval (dcm2niix writes one) "
                                 "or provide the single volume to convert")
        if len(channel.b_values) != array.shape[0]:
            raise InputDataError(f"{what} {channel.path} has {array.shape[0]} volumes but its .bval lists "
                                 f"{len(channel.b_values)} b-values")
        try:
            indices, b_value = select_b_volumes(channel.b_values, channel.target_b)
        except InputDataError as error:
            raise InputDataError(f"{what} {channel.path}: {error}") from None
        combined = combine_volumes(array[indices], geometric=b_value > B0_MAX_B_VALUE)
        return LoadedImage(combined, spatial_geometry(geometry), b_value)
    if array.ndim != 3:
        raise InputDataError(f"{what} {channel.path} has {array.ndim} dimensions; expected a 3-D volume")
    return LoadedImage(array, geometry)


def adc_in_micro_units(array: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    """An ADC map in 10⁻⁶ mm²/s, the unit every strokeseg dataset stores, and the unit it came in.

    The unit is judged by the 99th percentile of the positive voxels (see
    :func:`strokeseg.modalities.adc_unit_factor`): ISLES'22, for one, ships 10⁻³ mm²/s.

    Raises:
        InputDataError: the values are implausible in every known unit; the message names ``what``.
    """
    try:
        unit, factor = adc_unit_factor(adc_reference_value(array))
    except InputDataError as error:
        raise InputDataError(f"{what}: {error}") from None
    return (array if factor == 1.0 else array.astype(np.float32) * np.float32(factor)), unit


def spatial_geometry(geometry: Geometry) -> Geometry:
    """The 3-D part of a 4-D grid (first three axes); a 3-D grid is returned as it is."""
    if len(geometry.size) == 3:
        return geometry
    dimension = len(geometry.size)
    direction = np.asarray(geometry.direction).reshape(dimension, dimension)[:3, :3]
    return Geometry(tuple(geometry.size[:3]), tuple(geometry.spacing[:3]), tuple(geometry.origin[:3]),
                    tuple(direction.ravel().tolist()))


def _channel_on_reference_grid(channel: ChannelSource, reference_channel: ChannelSource, reference: LoadedImage,
                               options: CaseOptions) -> tuple[np.ndarray, dict[str, Any]]:
    loaded = load_channel(channel)
    prefix = channel.name.lower()
    if not channel.register or not loaded.geometry.differences(reference.geometry, options.grid_tolerance_mm):
        array, reoriented = on_reference_grid(loaded.array, loaded.geometry, reference.geometry,
                                              f"{channel.name} image {channel.path}",
                                              f"{reference_channel.name} image {reference_channel.path}",
                                              options.grid_tolerance_mm)
        extra: dict[str, Any] = {f"{prefix}_registration": "same grid"} if channel.register else {}
        if reoriented:
            extra[f"{prefix}_reoriented"] = True
        return array, extra
    moving = array_to_image(loaded.array.astype(np.float32), loaded.geometry)
    fixed = array_to_image(reference.array.astype(np.float32), reference.geometry)
    result = register_and_resample(moving, fixed, options.registration)
    extra = {f"{prefix}_registration": result.method,
                             f"{prefix}_registration_shift_mm": round(result.mean_shift_mm, 3),
                             f"{prefix}_resampled_to": reference_channel.name}
    if result.rejected_shift_mm is not None:
        extra[f"{prefix}_registration_rejected_shift_mm"] = round(result.rejected_shift_mm, 3)
    return sitk.GetArrayFromImage(result.image), extra


def _read_extra_mask(name: str, path: Path) -> tuple[np.ndarray, Geometry]:
    """An extra mask as a binary uint8 array on its own grid.

    Raises:
        InputDataError: unreadable, not 3-D, or not a binary mask; the message names the mask and the file.
    """
    what = f"{name} mask"
    array, geometry = read_array(path, what)
    if array.ndim != 3:
        raise InputDataError(f"{what} {path} has {array.ndim} dimensions; expected a 3-D mask")
    try:
        return normalise_mask(array, (0, 1), binary=True), geometry
    except InputDataError as error:
        raise InputDataError(f"{what} {path} {error}") from None


def _read_labels(case: CaseSource, spec: CohortSpec, reference_channel: ChannelSource, grid: Geometry,
                 options: CaseOptions) -> np.ndarray:
    masks = []
    first_reading: tuple[Path, Geometry] | None = None
    for number, path in enumerate(case.masks, start=1):
        array, geometry = read_array(path, "lesion mask")
        if array.ndim != 3:
            raise InputDataError(f"lesion mask {path} has {array.ndim} dimensions; expected a 3-D label map")
        if case.votes is not None and first_reading is not None:
            problems = first_reading[1].differences(geometry, options.grid_tolerance_mm)
            if problems:
                raise InputDataError(f"reading {number} of case {case.case_id} ({path}) is on another grid than "
                                     f"reading 1 ({first_reading[0]}): {'; '.join(problems)}; the readings to be "
                                     "voted on must share one grid")
        first_reading = first_reading or (path, geometry)
        array, _ = on_reference_grid(array, geometry, grid, f"lesion mask {path}",
                                     f"{reference_channel.name} image {reference_channel.path}",
                                     options.grid_tolerance_mm)
        try:
            masks.append(normalise_mask(array, spec.mask_values, spec.binary_masks))
        except InputDataError as error:
            raise InputDataError(f"lesion mask {path} {error}") from None
    if case.votes is None:
        labels = union_of_masks(masks)
    else:
        try:
            labels = vote_label_maps(masks, case.votes, spec.ignore_label)
        except InputDataError as error:
            raise InputDataError(f"readings of case {case.case_id}: {error}") from None
    if case.split == SPLIT_TRAIN and spec.require_lesion and not np.any(labels == spec.lesion_label):
        names = ", ".join(str(path) for path in case.masks)
        raise InputDataError(f"lesion mask {names} is empty (no voxel of label {spec.lesion_label}); this cohort "
                             "requires a lesion in every training case (--allow-empty-masks keeps such cases)")
    return labels


def _write_case(case: CaseSource, spec: CohortSpec, dataset_dir: Path, arrays: list[np.ndarray],
                labels: np.ndarray | None, grid: Geometry) -> None:
    folder_split = nnunet_split(case.split)
    for index, array in enumerate(arrays):
        stored = array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array
        write_image_atomic(array_to_image(stored, grid), image_path(dataset_dir, case.case_id, index, folder_split))
    if labels is not None:
        write_image_atomic(array_to_image(labels, grid), label_path(dataset_dir, case.case_id, folder_split))
    logger.debug("wrote %s (%s, %d channel(s))", case.case_id, case.split, len(arrays))
