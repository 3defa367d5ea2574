"""The values the split settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: How a derived dataset reuses the source dataset's files.
LINK_MODES: tuple[str, ...] = ("symlink", "hardlink", "copy")
#: Columns of the cases table the strata are built from (missing columns are left out).
STRATIFY_BY: tuple[str, ...] = ("site", "volume_stratum")
