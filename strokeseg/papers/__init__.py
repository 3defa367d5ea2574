"""Paper presets: one module per published study, naming what runs the study as published.

A preset (:class:`~strokeseg.papers.preset.Preset`) names the planner, plans, trainers (the paper-exact one, a
CPU-sized one on the same code path, fine-tuning), split design and experiment recipe of one paper, and points to
its fidelity table (``docs/papers/<key>.md``): one row per method detail the paper states, the preset's value, the
attribute of the instantiated planner / plans / trainer / split that holds it, and whether it is exact or adapted
(and why). :mod:`strokeseg.papers.fidelity` reads and checks those tables; the test suite checks every row.

Preset modules are imported on demand (:func:`get_preset`), so listing presets loads neither torch nor nnU-Net.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from strokeseg.errors import ConfigurationError

if TYPE_CHECKING:
    from strokeseg.papers.preset import Preset

#: Preset key -> module that defines ``PRESET`` (filled in as the paper presets land).
PRESET_MODULES: dict[str, str] = {
    "tomita_atlas_zoom": "strokeseg.papers.tomita_atlas_zoom",
    "noh_registry_dwi": "strokeseg.papers.noh_registry_dwi",
    "kim_wmh_flair": "strokeseg.papers.kim_wmh_flair",
    "alis_vendor_dwi_adc": "strokeseg.papers.alis_vendor_dwi_adc",
}


def preset_keys() -> tuple[str, ...]:
    """Keys of every preset, sorted."""
    return tuple(sorted(PRESET_MODULES))


def get_preset(key: str) -> Preset:
    """The preset registered under ``key``.

    Raises:
        ConfigurationError: no preset has that key.
    """
    if key not in PRESET_MODULES:
        known = ", ".join(preset_keys()) or "none"
        raise ConfigurationError(f"no paper preset {key!r}; known presets: {known}")
    preset: Preset = importlib.import_module(PRESET_MODULES[key]).PRESET
    return preset


__all__ = ["PRESET_MODULES", "get_preset", "preset_keys"]
