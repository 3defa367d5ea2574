"""The values ``strokeseg synth`` settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: On-disk layouts a phantom cohort can be written in.
LAYOUTS: tuple[str, ...] = ("registry", "isles22", "atlas2", "wmh", "wmh-registry")
#: Named site sets (``--site-set``); ``shifted`` (registry, isles22) has a documented built-in domain shift.
SITE_SETS: tuple[str, ...] = ("default", "shifted")
