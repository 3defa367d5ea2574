"""Class probabilities that ``nnUNetv2_predict --save_probabilities`` writes beside each label map.

nnU-Net writes ``<case>.npz`` holding one array under the key ``probabilities``, shape (C, z, y, x) in the
label map's (z, y, x) array order: softmax class probabilities with background as class 0, or one channel
per region for region-based training. strokeseg uses the foreground probability (any lesion class) of it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from strokeseg.errors import InputDataError

#: File name ending nnU-Net's ``--save_probabilities`` gives a case's class probabilities.
PROBABILITY_SUFFIX = ".npz"
#: Key of the probabilities inside that file.
PROBABILITY_KEY = "probabilities"


def probability_file(folder: Path, case_id: str) -> Path:
    """Where nnU-Net's ``--save_probabilities`` put a case's probabilities."""
    return folder / f"{case_id}{PROBABILITY_SUFFIX}"


def probability_files(folder: Path) -> dict[str, Path]:
    """case_id -> ``.npz`` file for every probability map in ``folder`` (not recursive), in name order."""
    return {path.name[: -len(PROBABILITY_SUFFIX)]: path for path in sorted(folder.glob(f"*{PROBABILITY_SUFFIX}"))}


def foreground_probability(probabilities: np.ndarray) -> np.ndarray:
    """Foreground probability (z, y, x) from nnU-Net's class probabilities (C, z, y, x).

    C ≥ 2 (softmax with background as class 0): 1 − P(background), i.e. the probability of any lesion
    class. C = 1 (a single region/sigmoid output): that channel.
    """
    if probabilities.ndim != 4:
        raise ValueError(f"class probabilities must have shape (C, z, y, x), got {probabilities.shape}")
    if probabilities.shape[0] == 1:
        return np.asarray(probabilities[0])
    return 1.0 - np.asarray(probabilities[0])


def check_probability(probability: np.ndarray) -> None:
    """Raise ValueError unless every value is a finite probability in [0, 1]."""
    if probability.size and not (np.isfinite(probability).all() and probability.min() >= 0
                                 and probability.max() <= 1):
        raise ValueError("probabilities must be finite values in [0, 1] (probabilities, not logits)")


def read_foreground_probability(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Foreground probability (z, y, x) of one nnU-Net ``.npz`` file, checked against the label map's ``shape``.

    Raises:
        InputDataError: the file is missing, unreadable, cut off or damaged (zip CRC), has another shape, or holds
            values outside [0, 1] or NaN; every message names the file.
    """
    if not path.is_file():
        raise InputDataError(f"probability map {path} does not exist (predict with --save_probabilities)")
    try:
        with np.load(path) as archive:
            if PROBABILITY_KEY not in archive:
                raise InputDataError(f"probability map {path} has no {PROBABILITY_KEY!r} array "
                                     f"(keys: {', '.join(archive.files)})")
            probabilities = archive[PROBABILITY_KEY]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputDataError(f"probability map {path} could not be read ({type(error).__name__}: {error}); it is "
                             "damaged or incomplete: predict the case again with --save_probabilities") from None
    if probabilities.ndim != 4 or probabilities.shape[1:] != shape:
        raise InputDataError(f"probability map {path} has shape {probabilities.shape}; expected (C, "
                             f"{', '.join(map(str, shape))}) in the reference's (z, y, x) array order")
    foreground = foreground_probability(probabilities)
    try:
        check_probability(foreground)
    except ValueError as error:
        raise InputDataError(f"probability map {path}: {error}") from None
    return foreground
