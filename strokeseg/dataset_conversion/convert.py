"""One entry point for every cohort converter (Python API behind ``strokeseg convert``).

Example::

    from strokeseg.dataset_conversion.convert import convert
    result = convert("isles22", Path("ISLES-2022"), Path("nnUNet_raw"), 701, "ISLES22", with_flair=True, workers=4)
    print(result.dataset_dir, result.counts)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from strokeseg.dataset_conversion.atlas import atlas_spec, discover_atlas
from strokeseg.dataset_conversion.case_conversion import CaseOptions
from strokeseg.dataset_conversion.isles22 import discover_isles22, isles22_spec
from strokeseg.dataset_conversion.registry import plan_registry
from strokeseg.dataset_conversion.runner import (
    ConversionRequest,
    ConversionResult,
    convert_cohort,
    describe_conversion,
)
from strokeseg.dataset_conversion.sources import CohortSpec, Discovery
from strokeseg.dataset_conversion.wmh import discover_wmh, wmh_spec
from strokeseg.errors import ConfigurationError


def _plan_isles22(source: Path, with_flair: bool = False, require_lesion: bool = True,
                  channels: Sequence[str] | None = None, **discover: Any) -> tuple[CohortSpec, Discovery]:
    return (isles22_spec(with_flair, require_lesion, channels),
            discover_isles22(source, with_flair, channels=channels, **discover))


def _plan_atlas(source: Path, require_lesion: bool = True, **discover: Any) -> tuple[CohortSpec, Discovery]:
    return atlas_spec(require_lesion), discover_atlas(source, **discover)


def _plan_wmh(source: Path, with_t1: bool = False) -> tuple[CohortSpec, Discovery]:
    return wmh_spec(with_t1), discover_wmh(source, with_t1)


#: Cohort name -> function(source, **cohort options) -> (spec, discovery).
PLANNERS: dict[str, Callable[..., tuple[CohortSpec, Discovery]]] = {
    "isles22": _plan_isles22,   # channels, with_flair, require_lesion, target_b
    "atlas": _plan_atlas,       # release, metadata_csv, require_lesion
    "wmh": _plan_wmh,           # with_t1
    "registry": plan_registry,  # channels, target_b, require_lesion, votes, ignore_label
}
COHORTS: tuple[str, ...] = tuple(PLANNERS)


def plan(cohort: str, source: Path, **cohort_options: Any) -> tuple[CohortSpec, Discovery]:
    """Discover a cohort's cases without reading voxel data.

    Raises:
        ConfigurationError: unknown cohort.
    """
    if cohort not in PLANNERS:
        raise ConfigurationError(f"unknown cohort {cohort!r}; choose one of {', '.join(COHORTS)}")
    return PLANNERS[cohort](Path(source), **cohort_options)


def convert(cohort: str, source: Path, out_root: Path, dataset_id: int, name: str, *, strict: bool = False,
            overwrite: bool = False, workers: int = 1, case_options: CaseOptions | None = None,
            **cohort_options: Any) -> ConversionResult:
    """Convert ``source`` of ``cohort`` into ``out_root/Dataset{id:03d}_{name}`` (see :func:`convert_cohort`)."""
    spec, discovery = plan(cohort, source, **cohort_options)
    return convert_cohort(discovery, spec, _request(source, out_root, dataset_id, name, strict, overwrite, workers,
                                                    case_options))


def dry_run(cohort: str, source: Path, out_root: Path, dataset_id: int, name: str,
            **cohort_options: Any) -> list[str]:
    """Lines describing what :func:`convert` would write (no file is written)."""
    spec, discovery = plan(cohort, source, **cohort_options)
    return describe_conversion(discovery, spec, _request(source, out_root, dataset_id, name, False, False, 1, None))


def _request(source: Path, out_root: Path, dataset_id: int, name: str, strict: bool, overwrite: bool, workers: int,
             case_options: CaseOptions | None) -> ConversionRequest:
    return ConversionRequest(Path(out_root), dataset_id, name, Path(source).resolve(), strict, overwrite, workers,
                             case_options or CaseOptions())
