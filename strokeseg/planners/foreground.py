"""How much smaller the images become when strokeseg masks the foreground before nnU-Net crops them.

nnU-Net's dataset fingerprint records each case's shape after cropping the raw image to its nonzero region,
and the planner derives the median image size, the patch size and the batch size from it. strokeseg's
preprocessor zeroes everything outside the skull-strip mask first, so nnU-Net later crops to the brain, which
the fingerprint does not know. Planners therefore measure the crop on a sample of training cases and scale
the fingerprint's shapes by the median per-axis ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from nnunetv2.imageio.base_reader_writer import BaseReaderWriter
from nnunetv2.preprocessing.cropping.cropping import create_nonzero_mask
from tqdm import tqdm

from strokeseg.errors import InputDataError
from strokeseg.masks import bounding_box
from strokeseg.preprocessing import CasePreparation, skull_strip_mask


def evenly_spaced(items: Sequence[str], count: int) -> list[str]:
    """At most ``count`` items spread evenly over ``items`` (all of them when there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def _box_shape(mask: np.ndarray) -> np.ndarray:
    return np.asarray([s.stop - s.start for s in bounding_box(mask)], dtype=float)


def foreground_crop_ratios(cases: Sequence[Sequence[str]], reader: BaseReaderWriter,
                           preparation: CasePreparation) -> np.ndarray:
    """Median over ``cases`` of (skull-strip mask box / nnU-Net's nonzero box) per array axis, at most 1.

    Raises:
        InputDataError: skull stripping fails on a case (the message names its first file).
    """
    ratios = []
    for files in tqdm(cases, desc="Measuring the skull-strip crop", unit="case", disable=len(cases) < 5):
        data, properties = reader.read_images(list(files))
        try:
            mask = skull_strip_mask(data[preparation.mask_channel].astype(np.float32), properties["spacing"],
                                    preparation.skull_strip_sigma_mm, preparation.min_brain_ml)
        except InputDataError as error:
            raise InputDataError(f"{files[0]}: {error}") from None
        ratios.append(np.minimum(1.0, _box_shape(mask) / _box_shape(create_nonzero_mask(data))))
    return np.median(np.asarray(ratios), axis=0)
