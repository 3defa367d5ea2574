"""Kim et al.'s ensemble uncertainty index over folders of member predictions (``strokeseg uncertainty``).

nnU-Net averages the logits of its folds (and mirrorings) before writing probabilities, so the members of a
deep ensemble must be predicted separately: one ``nnUNetv2_predict --save_probabilities`` run per member (for
a 5-fold model: ``-f 0``, ``-f 1``, ... into five folders). For every case present in all member folders
this module computes the mean foreground probability p̄, the ensemble segmentation p̄ ≥ 0.5, and the
uncertainty index (docs/evaluation.md; :func:`strokeseg.evaluation.uncertainty_index`).

Output folder:

* ``CASE.nii.gz`` — the ensemble segmentation (uint8, 0/1), so the folder is a prediction folder that
  ``strokeseg evaluate`` and ``strokeseg report`` read;
* ``mean_probability/CASE.nii.gz`` — p̄ (float32);
* ``uncertainty.csv`` — one row per case, most uncertain first (columns :data:`UNCERTAINTY_COLUMNS`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from strokeseg.defaults import (
    ENSEMBLE_LABEL_THRESHOLD,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
    UNCERTAINTY_REVIEW_CUT,
)
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError, StrokesegError
from strokeseg.evaluation import ensemble_mean_probability, uncertainty_index
from strokeseg.io import Geometry, array_to_image, atomic_path, image_files, read_header_geometry, write_image_atomic
from strokeseg.nnunet.probabilities import (
    PROBABILITY_SUFFIX,
    probability_file,
    probability_files,
    read_foreground_probability,
)
from strokeseg.volumes import voxel_volume_ml

logger = logging.getLogger(__name__)

UNCERTAINTY_FILE = "uncertainty.csv"
#: ``status`` of a processed case; a case whose files are missing or damaged gets ``unreadable`` and a ``note``.
STATUS_OK = "ok"
STATUS_UNREADABLE = "unreadable"
MEAN_PROBABILITY_FOLDER = "mean_probability"
#: Columns of ``uncertainty.csv``.
UNCERTAINTY_COLUMNS: tuple[str, ...] = ("case_id", "status", "note", "uncertainty_index", "flagged",
                                        "predicted_volume_ml", "predicted_voxels", "uncertain_voxels", "n_members",
                                        "segmentation_file", "mean_probability_file")


def member_cases(member_dirs: Sequence[Path]) -> dict[str, list[Path]]:
    """case_id -> the case's ``.npz`` path in every member folder, for every case of any member.

    A case that some member lacks keeps the path that member should have (missing, reported for that case).

    Raises:
        ConfigurationError: no member folder, or one given twice.
        InputDataError: a folder is missing or holds no ``.npz``.
    """
    if not member_dirs:
        raise ConfigurationError("the ensemble needs at least one member folder (--members DIR ...)")
    if len({path.resolve() for path in member_dirs}) != len(member_dirs):
        raise ConfigurationError("the same member folder is given twice; each member must be its own prediction")
    per_member: list[dict[str, Path]] = []
    for folder in member_dirs:
        if not folder.is_dir():
            raise InputDataError(f"member folder {folder} does not exist")
        files = probability_files(folder)
        if not files:
            raise InputDataError(f"member folder {folder} holds no probability maps (.npz); predict it with "
                                 "nnUNetv2_predict --save_probabilities")
        per_member.append(files)
    all_cases = set().union(*per_member)
    return {case: [probability_file(folder, case) for folder in member_dirs] for case in sorted(all_cases)}


def case_uncertainty(members: Sequence[np.ndarray], voxel_ml: float, *,
                     label_threshold: float = ENSEMBLE_LABEL_THRESHOLD,
                     divergence_threshold: float = UNCERTAINTY_DIVERGENCE_THRESHOLD,
                     prior: float = UNCERTAINTY_PRIOR,
                     review_cut: float = UNCERTAINTY_REVIEW_CUT) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Mean probability, ensemble segmentation and the uncertainty record of one case (pure computation).

    Args:
        members: the members' foreground probabilities (z, y, x).
        voxel_ml: volume of one voxel in mL.
        label_threshold: the segmentation is p̄ ≥ this.
        divergence_threshold, prior: of the uncertainty index (nats; Bernoulli prior).
        review_cut: the case is flagged when its index exceeds this (an empty segmentation is never flagged).

    Returns:
        (p̄, segmentation, {uncertainty_index, flagged, predicted_volume_ml, predicted_voxels,
        uncertain_voxels, n_members}).
    """
    mean = ensemble_mean_probability(members)
    segmentation = mean >= label_threshold
    index = uncertainty_index(mean, segmentation, divergence_threshold, prior)
    predicted = int(np.count_nonzero(segmentation))
    record = {"uncertainty_index": index, "flagged": bool(not math.isnan(index) and index > review_cut),
              "predicted_volume_ml": predicted * voxel_ml, "predicted_voxels": predicted,
              "uncertain_voxels": 0 if math.isnan(index) else round(index * predicted), "n_members": len(members)}
    return mean, segmentation, record


def run_uncertainty(member_dirs: Sequence[Path], out_dir: Path, *, overwrite: bool = False,
                    label_threshold: float = ENSEMBLE_LABEL_THRESHOLD,
                    divergence_threshold: float = UNCERTAINTY_DIVERGENCE_THRESHOLD,
                    prior: float = UNCERTAINTY_PRIOR,
                    review_cut: float = UNCERTAINTY_REVIEW_CUT, strict: bool = False) -> pd.DataFrame:
    """Uncertainty index, mean probability map and ensemble segmentation of every case (module docstring).

    Args:
        member_dirs: one ``nnUNetv2_predict --save_probabilities`` output folder per ensemble member.
        out_dir: output folder.
        overwrite: replace an existing ``uncertainty.csv`` and maps.
        label_threshold, divergence_threshold, prior, review_cut: see :func:`case_uncertainty`.
        strict: raise InputDataError (after writing the table) when any case could not be processed.

    A case whose probability maps or label map are missing or damaged gets status ``unreadable`` and a note
    naming the file; the other cases are processed.

    Returns:
        The ``uncertainty.csv`` table, most uncertain case first (empty segmentations, index NaN, last).
    """
    member_dirs = [Path(folder) for folder in member_dirs]
    if Path(out_dir).resolve() in {folder.resolve() for folder in member_dirs}:
        raise ConfigurationError(f"the output folder {out_dir} is a member folder; choose another --out")
    table_file = out_dir / UNCERTAINTY_FILE
    if table_file.exists() and not overwrite:
        raise OutputExistsError(f"{table_file} already exists; pass --overwrite to replace it")
    cases = member_cases(member_dirs)
    if len(member_dirs) < 2:
        logger.warning("one member only: the index then measures that model's own confidence, not an ensemble's")
    label_maps = image_files(member_dirs[0], "member predictions")
    settings = {"label_threshold": label_threshold, "divergence_threshold": divergence_threshold, "prior": prior,
                "review_cut": review_cut}
    rows = []
    for case_id, files in tqdm(cases.items(), desc="ensemble uncertainty", unit="case", disable=len(cases) < 2,
                               leave=False):
        try:
            rows.append(_case_row(case_id, files, label_maps.get(case_id), member_dirs[0], out_dir, overwrite,
                                  settings))
        except OutputExistsError:
            raise
        except StrokesegError as error:
            rows.append({"case_id": case_id, "status": STATUS_UNREADABLE, "note": str(error),
                         "n_members": len(files)})
            logger.warning("case %s skipped: %s", case_id, error)
    table = pd.DataFrame(rows, columns=list(UNCERTAINTY_COLUMNS))
    table = table.sort_values("uncertainty_index", ascending=False, na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    with atomic_path(table_file, overwrite) as temporary:
        table.to_csv(temporary, index=False)
    logger.info("%d case(s), %d flagged for review (index > %g); wrote %s", len(table),
                flagged_count(table), review_cut, table_file)
    problems = table[table["status"] != STATUS_OK]
    if strict and len(problems):
        lines = "\n".join(f"  {row.case_id}: {row.note}" for row in problems.itertuples())
        raise InputDataError(f"--strict: {len(problems)} case(s) could not be processed (the others are in "
                             f"{table_file}):\n{lines}")
    return table


def flagged_count(table: pd.DataFrame) -> int:
    """Cases of an uncertainty table flagged for review (problem rows have no flag)."""
    return int(table["flagged"].eq(True).sum())


def _case_row(case_id: str, files: Sequence[Path], label_map: Path | None, first_member: Path, out_dir: Path,
              overwrite: bool, settings: dict[str, float]) -> dict[str, Any]:
    """The uncertainty.csv row of one case, after writing its maps.

    Raises:
        InputDataError: a probability map or the label map (whose grid the outputs take) is missing or bad.
    """
    if label_map is None:
        raise InputDataError(f"member folder {first_member} has {case_id}{PROBABILITY_SUFFIX} but no label map "
                             f"{case_id}.nii.gz, whose grid the outputs need")
    geometry = read_header_geometry(label_map)
    shape = tuple(reversed(geometry.size))
    members = [read_foreground_probability(path, shape) for path in files]
    mean, segmentation, record = case_uncertainty(members, voxel_volume_ml(geometry.spacing),
                                                  label_threshold=settings["label_threshold"],
                                                  divergence_threshold=settings["divergence_threshold"],
                                                  prior=settings["prior"], review_cut=settings["review_cut"])
    return {"case_id": case_id, "status": STATUS_OK, "note": "", **record,
            **_write_maps(out_dir, case_id, mean, segmentation, geometry, overwrite)}


def _write_maps(out_dir: Path, case_id: str, mean: np.ndarray, segmentation: np.ndarray, geometry: Geometry,
                overwrite: bool) -> dict[str, str]:
    segmentation_file = write_image_atomic(array_to_image(segmentation.astype(np.uint8), geometry),
                                           out_dir / f"{case_id}.nii.gz", overwrite)
    mean_file = write_image_atomic(array_to_image(mean.astype(np.float32), geometry),
                                   out_dir / MEAN_PROBABILITY_FOLDER / f"{case_id}.nii.gz", overwrite)
    return {"segmentation_file": str(segmentation_file), "mean_probability_file": str(mean_file)}


def read_uncertainty_table(path: Path) -> pd.DataFrame:
    """An ``uncertainty.csv`` (at least case_id, uncertainty_index, flagged), indexed by case_id."""
    if not path.is_file():
        raise InputDataError(f"uncertainty table {path} does not exist; run strokeseg uncertainty first")
    table = pd.read_csv(path, dtype={"case_id": str})
    missing = [column for column in ("case_id", "uncertainty_index", "flagged") if column not in table.columns]
    if missing:
        raise InputDataError(f"uncertainty table {path} lacks column(s) {', '.join(missing)}")
    if table["case_id"].duplicated().any():
        raise InputDataError(f"uncertainty table {path} lists a case twice")
    return table.set_index("case_id")
