"""Experiment recipes: one module per study kind, each adding its jobs to the shared step graph.

``RECIPES`` maps the ``kind`` of an experiment file to its recipe; :func:`build_graph` runs it (both live in
``catalogue`` and are imported on first use, so that ``strokeseg demo --help`` does not load the recipes). The
demo (``strokeseg demo``) is a built-in recipe in :mod:`strokeseg.experiments.recipes.demo`, run by the same
executors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strokeseg.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from strokeseg.experiments.recipes.catalogue import RECIPES, build_graph

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(("RECIPES", "build_graph"),
                                                            "strokeseg.experiments.recipes.catalogue"))

__all__ = ["RECIPES", "build_graph"]
