"""Lesions as connected components of a binary mask (shared by evaluation, post-processing and reports).

A lesion is a connected component of the lesion mask: 26-connectivity by default (face, edge and corner
neighbours), 6 (faces) or 18 (faces and edges) selectable. Lesion-wise metrics built on these components
live in evaluation; this module only defines and finds the components.
"""

from __future__ import annotations

from typing import Literal, cast

import cc3d
import numpy as np

from strokeseg.defaults import LESION_CONNECTIVITY

#: Connectivities a lesion can be defined with: face (6), face+edge (18), face+edge+corner (26) neighbours.
CONNECTIVITIES: tuple[int, ...] = (6, 18, 26)


def check_connectivity(connectivity: int) -> int:
    """Return ``connectivity`` if it is 6, 18 or 26, else raise ValueError."""
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"lesion connectivity must be one of {CONNECTIVITIES}, got {connectivity}")
    return connectivity


def label_lesions(mask: np.ndarray, connectivity: int = LESION_CONNECTIVITY) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask: (label array with 1..n, n).

    Uses ``cc3d`` (connected-components-3d, the library of the ISLES'22 reference evaluation), which is an
    order of magnitude faster than ``scipy.ndimage.label`` on lesion masks and gives the same components.
    """
    neighbourhood = cast(Literal[6, 18, 26], check_connectivity(connectivity))
    labels, count = cc3d.connected_components(np.asarray(mask, dtype=bool), connectivity=neighbourhood,
                                              binary_image=True, return_N=True)
    return labels, int(count)
