"""The recipe of each study kind: ``RECIPES`` maps the ``kind`` of an experiment file to it; :func:`build_graph`
runs it."""

from __future__ import annotations

from collections.abc import Callable

from strokeseg.experiments.config import ExperimentConfig
from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.recipes import (
    domain_adaptation,
    ensemble,
    learning_curve,
    vendor_transfer,
    zoom_ablation,
)
from strokeseg.experiments.recipes.study import StudyBuilder

#: ``kind`` of an experiment file -> the function that adds its jobs.
RECIPES: dict[str, Callable[[StudyBuilder], None]] = {
    "learning-curve": learning_curve.build,
    "domain-adaptation": domain_adaptation.build,
    "vendor-transfer": vendor_transfer.build,
    "zoom-ablation": zoom_ablation.build,
    "ensemble": ensemble.build,
}


def build_graph(config: ExperimentConfig) -> JobGraph:
    """The jobs of ``config``'s experiment, dependencies first.

    Raises:
        InputDataError: a dataset is missing from nnUNet_raw.
        ConfigurationError: a split design does not fit the cohort.
    """
    study = StudyBuilder(config)
    RECIPES[config.kind](study)
    return study.graph
