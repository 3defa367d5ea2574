"""``strokeseg demo``: Noh et al.'s DWI study in miniature on a built-in phantom registry.

See ``strokeseg.demo.pipeline`` for the stages, ``strokeseg.demo.profiles`` for the sizes and ``docs/demo.md``.
"""

from __future__ import annotations

from strokeseg.demo.cli import register, run_demo

__all__ = ["register", "run_demo"]
