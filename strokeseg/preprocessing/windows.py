"""Per-site intensity windows for the 0-1 normalization (Alis et al.): where the values come from, and the fallback.

* Dataset metadata: dataset.json may carry ``strokeseg_intensity_windows``, ``{site: {channel name: [low,
  high]}}``: per site (or scanner: whatever the ``site`` column of cases.csv names), the intensities that map to
  0 and 1, in the channel's unit after strokeseg's case preparation (ADC in 10⁻⁶ mm²/s). A site may leave
  channels out.
* Plans: the planner copies them into the configuration under the same key, as ``{site: [[low, high] or None
  per channel]}``, so that a trained model carries its windows into ``nnUNetv2_predict``.
* A case's site: the ``site`` column of the ``cases.csv`` in the folder of its images or the folder above (the
  raw dataset's cases.csv for imagesTr and imagesTs; put one next to the images given to ``nnUNetv2_predict
  -i`` to window new cases by site).
* Fallback, for a case of unknown site or a site without a window for the channel: the
  ``WINDOW_FALLBACK_PERCENTILES`` (0.5 and 99.5 %) of the channel's nonzero voxels map to 0 and 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from strokeseg.cases import CASES_FILE, read_cases
from strokeseg.errors import ConfigurationError, InputDataError

#: Key of the windows in dataset.json and in a plans configuration.
KEY_WINDOWS = "strokeseg_intensity_windows"
#: Key of the case's window inside the per-channel intensity properties the preprocessor hands a scheme.
PROPERTY_WINDOW = "strokeseg_window"
#: cases.csv column that names a case's site (or scanner).
SITE_COLUMN = "site"

Window = tuple[float, float]


def _window(value: Any, where: str) -> Window:
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not float(value[0]) < float(value[1])):
        raise ConfigurationError(f"{where}: a window is [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def windows_from_dataset_json(dataset_json: Mapping[str, Any],
                              channel_names: Sequence[str]) -> dict[str, list[list[float] | None]]:
    """The dataset's windows per site as plans store them: one ``[low, high]`` (or None) per channel.

    Raises:
        ConfigurationError: the key is no mapping of sites to mappings of channel names, a channel name is not one
            of the dataset's, or a window is not ``[low, high]`` with low < high.
    """
    given = dataset_json.get(KEY_WINDOWS, {})
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"dataset.json {KEY_WINDOWS} must map sites to {{channel: [low, high]}}, "
                                 f"got {given!r}")
    folded = [name.casefold() for name in channel_names]
    windows: dict[str, list[list[float] | None]] = {}
    for site, per_channel in given.items():
        where = f"dataset.json {KEY_WINDOWS}[{site!r}]"
        if not isinstance(per_channel, Mapping):
            raise ConfigurationError(f"{where} must map channel names to [low, high], got {per_channel!r}")
        unknown = [name for name in per_channel if str(name).casefold() not in folded]
        if unknown:
            raise ConfigurationError(f"{where} names channels {unknown} that dataset.json does not have "
                                     f"(channel_names: {list(channel_names)})")
        row: list[list[float] | None] = [None] * len(channel_names)
        for name, value in per_channel.items():
            row[folded.index(str(name).casefold())] = list(_window(value, f"{where}[{name!r}]"))
        windows[str(site)] = row
    return windows


def case_windows(configuration: Mapping[str, Any], site: str | None) -> list[list[float] | None] | None:
    """The plans' windows of ``site`` (one per channel, None where the fallback applies); None if none known."""
    if site is None:
        return None
    stored = configuration.get(KEY_WINDOWS) or {}
    return stored.get(site)


@lru_cache(maxsize=8)
def _sites(path: str, modified_ns: int) -> dict[str, str]:
    table = read_cases(path)
    if SITE_COLUMN not in table.columns:
        return {}
    known = table.dropna(subset=[SITE_COLUMN])
    return dict(zip(known["case_id"].astype(str), known[SITE_COLUMN].astype(str), strict=True))


def case_site(image_file: str | Path, case_id: str) -> str | None:
    """The case's site from the cases.csv next to its images (or one folder up); None when neither names it."""
    folder = Path(image_file).parent
    for candidate in (folder / CASES_FILE, folder.parent / CASES_FILE):
        if candidate.is_file():
            site = _sites(str(candidate), candidate.stat().st_mtime_ns).get(case_id)
            if site is not None:
                return site
    return None


def percentile_window(image: np.ndarray, percentiles: Window) -> Window:
    """The fallback window: these percentiles (%) of the image's nonzero voxels.

    Raises:
        InputDataError: the image has no nonzero voxel or is constant there (no window can be drawn).
    """
    values = image[image != 0]
    if values.size == 0:
        raise InputDataError("channel is all zero: no intensity window can be drawn from it")
    low, high = (float(v) for v in np.percentile(values, percentiles))
    if not low < high:
        raise InputDataError(f"channel is constant ({low:g}) on its nonzero voxels: no intensity window can be "
                             "drawn; give the site a window in dataset.json or exclude the case")
    return low, high


def apply_window(image: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """``low -> 0``, ``high -> 1``, linear between, clipped to [0, 1] (float32)."""
    low, high = _window(list(window), "intensity window")
    scaled = (np.asarray(image, dtype=np.float32) - np.float32(low)) / np.float32(high - low)
    return np.clip(scaled, 0.0, 1.0)
