"""The values the post-processing settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: Objectives ``fit`` can maximise: mean per-case Dice or mean per-case lesion F1.
OBJECTIVES: tuple[str, ...] = ("dice", "lesion_f1")
