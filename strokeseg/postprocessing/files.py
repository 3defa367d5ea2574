"""Reading lesion label maps for post-processing and reports (errors name the file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strokeseg.errors import InputDataError
from strokeseg.evaluation.worker import lesion_mask
from strokeseg.io import Geometry, read_array


def read_lesion_mask(path: Path, what: str) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """(label map, boolean lesion mask = label > 0, geometry) of a label-map file.

    Raises:
        InputDataError: the file is missing, unreadable, holds NaN or non-integer values.
    """
    label_map, geometry = read_array(path, what)
    try:
        return label_map, lesion_mask(label_map, None, None), geometry
    except InputDataError as error:
        raise InputDataError(f"{what} {path} {error}") from None
