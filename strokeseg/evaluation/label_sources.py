"""Further label sources of an evaluation: a second label map per case and repeated readings.

* :func:`label_volumes_ml` — each case's lesion volume (mL) in another folder of label maps, e.g. the infarct
  masks of a WMH test set (Kim et al. stratify a WMH model by infarct volume, not by the WMH it segments).
* :func:`write_consensus` — the reference as the majority vote of repeated readings (k of n; Alis et al.'s test
  set ground truth is 2 of 3), written once into a folder the evaluation then reads like any reference. The
  vote is :func:`strokeseg.labels.vote_label_maps`, the one the converters use (``strokeseg convert registry
  --votes``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import array_to_image, image_files, read_array, write_image_atomic
from strokeseg.labels import lesion_mask, vote_label_maps
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


@dataclass(frozen=True)
class Consensus:
    """The majority-vote reference: its folder and the cases left out of it, with the reason for each."""

    folder: Path
    skipped: dict[str, str]


def write_consensus(folders: Sequence[Path], votes: int, out: Path, ignore_label: int | None = None) -> Consensus:
    """Write the k-of-n majority vote of the readings in ``folders`` into ``out`` (one ``<case>.nii.gz`` each).

    A consensus file is uint8 0/1 (and ``ignore_label`` where k readings mark it) on the first reading's grid
    (:func:`strokeseg.labels.vote_label_maps`), written
    atomically; an existing file is replaced (the folder belongs to the report). A case that some reading lacks,
    or whose readings differ in grid or are no label maps, is left out with its reason (one bad case never stops
    the others); the evaluation then has no reference for it.

    Raises:
        ConfigurationError: fewer than two folders, or ``votes`` outside 1..n.
        InputDataError: no case could be voted on.
    """
    if len(folders) < 2:
        raise ConfigurationError("--reference-readings needs at least two folders of readings")
    if not 1 <= votes <= len(folders):
        raise ConfigurationError(f"--votes {votes}: a voxel needs between 1 and {len(folders)} votes")
    readings = [image_files(folder, "reading") for folder in folders]
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    for case in sorted(set().union(*readings)):
        lacking = [str(folder) for folder, files in zip(folders, readings, strict=True) if case not in files]
        try:
            if lacking:
                raise InputDataError(f"no reading in {', '.join(lacking)}; every reader must read every case")
            _write_case_consensus(case, [files[case] for files in readings], votes, out, ignore_label)
        except InputDataError as error:
            skipped[case] = " ".join(str(error).split())
            logger.warning("reference consensus: case %s left out: %s", case, skipped[case])
    if len(skipped) == len(set().union(*readings)):
        raise InputDataError(f"no case could be voted on from {', '.join(map(str, folders))}; the first: "
                             f"{next(iter(skipped.items()), ('', 'no reading found'))[1]}")
    logger.info("consensus of %d readings (%d of %d votes) written to %s (%d case(s) left out)", len(folders), votes,
                len(folders), out, len(skipped))
    return Consensus(out, skipped)


def _write_case_consensus(case: str, files: Sequence[Path], votes: int, out: Path, ignore_label: int | None) -> None:
    """Vote on one case's readings ``files`` and write the result as ``out/<case>.nii.gz``.

    Raises:
        InputDataError: a reading is unreadable or no label map, or lies on another grid than the first.
    """
    arrays = [read_array(path, f"reading of case {case}") for path in files]
    first = arrays[0][1]
    for (_, geometry), path in zip(arrays[1:], files[1:], strict=True):
        problems = first.differences(geometry)
        if problems:
            raise InputDataError(f"reading {path} is on another grid than {files[0]}: {'; '.join(problems)}")
    try:
        consensus = vote_label_maps([array for array, _ in arrays], votes, ignore_label)
    except InputDataError as error:
        raise InputDataError(f"readings {', '.join(map(str, files))}: {error}") from None
    write_image_atomic(array_to_image(consensus, first), out / f"{case}.nii.gz")
