"""Further label sources of an evaluation: a second label map per case and repeated readings.

* :func:`label_volumes_ml` — each case's lesion volume (mL) in another folder of label maps, e.g. the infarct
  masks of a WMH test set (Kim et al. stratify a WMH model by infarct volume, not by the WMH it segments).
* :func:`write_consensus` — the reference as the majority vote of repeated readings (k of n; Alis et al.'s test
  set ground truth is 2 of 3), written once into a folder the evaluation then reads like any reference.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import array_to_image, image_files, read_array, write_image_atomic
from strokeseg.labels import lesion_mask, majority_vote
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)


def label_volumes_ml(folder: Path, case_ids: Sequence[str]) -> dict[str, float]:
    """case_id -> lesion volume in mL (label > 0) of the label maps in ``folder``; cases without a file are left
    out (their stratum is ``unknown``).

    Raises:
        InputDataError: the folder is missing, or a file is unreadable or not a label map.
    """
    if not folder.is_dir():
        raise InputDataError(f"label folder {folder} does not exist; give a folder of <case>.nii.gz label maps")
    files = image_files(folder, "label")
    volumes = {}
    for case in case_ids:
        if case not in files:
            continue
        label_map, geometry = read_array(files[case], f"label map of case {case}")
        try:
            mask = lesion_mask(label_map)
        except InputDataError as error:
            raise InputDataError(f"label map of case {case} {files[case]} {error}") from None
        volumes[case] = float(np.count_nonzero(mask)) * voxel_volume_ml(geometry.spacing)
    missing = len(case_ids) - len(volumes)
    if missing:
        logger.warning("%d evaluated case(s) have no label map in %s (stratum 'unknown')", missing, folder)
    return volumes


def write_consensus(folders: Sequence[Path], votes: int, out: Path) -> Path:
    """Write the k-of-n majority vote of the readings in ``folders`` into ``out`` (one ``<case>.nii.gz`` each).

    Every reading folder must hold the same cases on the same grid; a consensus file is uint8 0/1 on the first
    reading's grid. Written atomically; an existing file is replaced (the folder belongs to the report).

    Raises:
        ConfigurationError: fewer than two folders, or ``votes`` outside 1..n.
        InputDataError: a case is missing from a reading, or its readings differ in grid.
    """
    if len(folders) < 2:
        raise ConfigurationError("--reference-readings needs at least two folders of readings")
    if not 1 <= votes <= len(folders):
        raise ConfigurationError(f"--votes {votes}: a voxel needs between 1 and {len(folders)} votes")
    readings = [image_files(folder, "reading") for folder in folders]
    cases = sorted(readings[0])
    for folder, files in zip(folders[1:], readings[1:], strict=True):
        if set(files) != set(cases):
            different = sorted(set(files) ^ set(cases))
            raise InputDataError(f"reading {folder} does not hold the same cases as {folders[0]} "
                                 f"(differ: {', '.join(different[:10])}); every reader must read every case")
    out.mkdir(parents=True, exist_ok=True)
    for case in cases:
        arrays = [read_array(files[case], f"reading of case {case}") for files in readings]
        first = arrays[0][1]
        for (_, geometry), files in zip(arrays[1:], readings[1:], strict=True):
            problems = first.differences(geometry)
            if problems:
                raise InputDataError(f"reading {files[case]} of case {case} is on another grid than "
                                     f"{readings[0][case]}: {'; '.join(problems)}")
        consensus = majority_vote([lesion_mask(array) for array, _ in arrays], votes)
        write_image_atomic(array_to_image(consensus.astype(np.uint8), first), out / f"{case}.nii.gz")
    logger.info("consensus of %d readings (%d of %d votes) of %d cases written to %s", len(folders), votes,
                len(folders), len(cases), out)
    return out
