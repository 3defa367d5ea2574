"""The values the converters' settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: ATLAS releases the ATLAS converter reads (auto: recognised from the folder layout).
RELEASES: tuple[str, ...] = ("auto", "1.2", "2.0")
