"""Diffusion series: pick the b ≈ 1000 and b = 0 volumes, combine directions, compute an ADC map.

Pure functions on numbers and arrays (no file access except :func:`read_bval`). Conventions: b-values in
s/mm², ADC in 10⁻⁶ mm²/s (the unit scanners store ADC maps in), arrays (volume, z, y, x).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from strokeseg.defaults import B0_MAX_B_VALUE
from strokeseg.errors import InputDataError

#: Volumes whose b-values differ by at most this fraction of the chosen b belong to one diffusion weighting
#: (scanners report e.g. 995/1000/1005 for the three directions of one b = 1000 acquisition).
SAME_B_RELATIVE_TOLERANCE = 0.05
#: Computed ADC values are clipped to [0, this] (10⁻⁶ mm²/s); free water at body temperature is about 3000.
ADC_CLIP_MAX = 5000.0


def read_bval(path: Path) -> tuple[float, ...]:
    """b-values of an FSL/BIDS ``.bval`` file (one line of whitespace-separated numbers).

    Raises:
        InputDataError: the file is missing, empty or holds something other than numbers.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputDataError(f"b-value file {path} could not be read ({error.strerror})") from None
    try:
        values = tuple(float(token) for token in text.split())
    except ValueError:
        raise InputDataError(f"b-value file {path} holds something other than numbers") from None
    if not values:
        raise InputDataError(f"b-value file {path} is empty")
    return values


def select_b_volumes(b_values: Sequence[float], target_b: float,
                     b0_max: float = B0_MAX_B_VALUE) -> tuple[list[int], float]:
    """Indices of the volumes that make up the image at ``target_b``, and their mean b-value.

    ``target_b <= b0_max`` selects every b = 0 volume (b at or below ``b0_max``). Otherwise the diffusion-
    weighted volume (b above ``b0_max``) whose b is nearest ``target_b`` is found (on a tie, the lower b), and every
    volume within
    :data:`SAME_B_RELATIVE_TOLERANCE` of that b is selected (its diffusion directions).

    Raises:
        InputDataError: no volume qualifies (e.g. only b = 0 volumes when a b ≈ 1000 image is wanted).
    """
    values = np.asarray(b_values, dtype=float)
    if target_b <= b0_max:
        indices = np.flatnonzero(values <= b0_max)
        if indices.size == 0:
            raise InputDataError(f"no b = 0 volume (b <= {b0_max:g}) among b-values {_listing(values)}")
        return indices.tolist(), float(values[indices].mean())
    weighted = np.flatnonzero(values > b0_max)
    if weighted.size == 0:
        raise InputDataError(f"no diffusion-weighted volume (b > {b0_max:g}) among b-values {_listing(values)}")
    nearest = min(values[weighted], key=lambda b: (abs(b - target_b), b))  # a tie goes to the lower b
    indices = weighted[np.abs(values[weighted] - nearest) <= SAME_B_RELATIVE_TOLERANCE * nearest]
    return indices.tolist(), float(values[indices].mean())


def combine_volumes(volumes: np.ndarray, geometric: bool) -> np.ndarray:
    """Average volumes (first axis) into one float32 image.

    The geometric mean of the directional diffusion-weighted images is the isotropic ("trace") DWI that
    scanners display; b = 0 repeats are averaged arithmetically. Non-positive voxels make the geometric mean 0.
    """
    stack = np.asarray(volumes, dtype=np.float64)
    if stack.shape[0] == 1:
        return stack[0].astype(np.float32)
    if not geometric:
        return stack.mean(axis=0).astype(np.float32)
    positive = np.all(stack > 0, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(stack > 0, stack, 1.0))
    return np.where(positive, np.exp(logs.mean(axis=0)), 0.0).astype(np.float32)


def compute_adc(b0: np.ndarray, dwi: np.ndarray, b_value: float, clip_max: float = ADC_CLIP_MAX) -> np.ndarray:
    """ADC = ln(S0 / Sb) / b in 10⁻⁶ mm²/s, float32; voxels with S0 or Sb <= 0 get 0; clipped to [0, clip_max]."""
    if b_value <= 0:
        raise InputDataError(f"cannot compute an ADC map from b = {b_value:g}; a diffusion weighting b > 0 is needed")
    s0 = np.asarray(b0, dtype=np.float64)
    sb = np.asarray(dwi, dtype=np.float64)
    valid = (s0 > 0) & (sb > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        adc = np.where(valid, np.log(np.where(valid, s0, 1.0) / np.where(valid, sb, 1.0)) / b_value * 1e6, 0.0)
    return np.clip(adc, 0.0, clip_max).astype(np.float32)


def _listing(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{value:g}" for value in values) + "]"
