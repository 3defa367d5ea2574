"""The values the evaluation settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: How ``--location`` chooses the location strata: cases.csv, the atlas, none, or auto (cases.csv when it
#: has locations, else none).
LOCATION_SOURCES: tuple[str, ...] = ("auto", "cases", "atlas", "none")
