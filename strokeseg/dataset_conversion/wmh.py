"""MICCAI 2017 WMH Segmentation Challenge -> nnU-Net: FLAIR (``_0000``) (+ T1 as ``T1w``, ``_0001``).

Layout::

    SRC/training/<Site>[/<Scanner>]/<subject>/wmh.nii.gz        0 background, 1 WMH, 2 other pathology
    SRC/training/<Site>[/<Scanner>]/<subject>/pre/FLAIR.nii.gz   (+ pre/T1.nii.gz, registered to FLAIR)
    SRC/test/...                                                 same layout -> imagesTs/labelsTs

Label 2 ("other pathology") becomes nnU-Net's ignore label: ``labels = {"background": 0, "WMH": 1,
"ignore": 2}``. nnU-Net (>= 2.2) then neither teaches it as background nor as WMH, and strokeseg's
evaluation excludes it. The site is the folder path below ``training/`` (``Utrecht``, ``Singapore``,
``Amsterdam_GE3T``); vendor and field strength of the three training sites are filled in from the
challenge description. ``wmh_volume_ml`` = ``lesion_volume_ml`` = volume of label 1; ``ignore_volume_ml``
= volume of label 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strokeseg.cases import safe_case_id
from strokeseg.dataset_conversion.sources import (
    SPLIT_TEST,
    SPLIT_TRAIN,
    CaseSource,
    ChannelSource,
    CohortSpec,
    Discovery,
    SkippedCase,
    missing_files,
)
from strokeseg.errors import InputDataError
from strokeseg.modalities import CHANNEL_FLAIR, CHANNEL_T1W, LABEL_BACKGROUND, LABEL_IGNORE

COHORT = "wmh"
WMH_LABELS: dict[str, int] = {LABEL_BACKGROUND: 0, "WMH": 1, LABEL_IGNORE: 2}
#: Vendor and field strength (T) of the training sites, from the challenge description; matched against
#: the lower-cased site folder name(s).
KNOWN_SITES: dict[str, tuple[str, float]] = {"utrecht": ("Philips", 3.0), "singapore": ("Siemens", 3.0),
                                             "ge3t": ("GE", 3.0)}
_SPLIT_FOLDERS = (("training", SPLIT_TRAIN), ("test", SPLIT_TEST))

REFERENCE = ("Kuijf HJ, et al. Standardized assessment of automatic segmentation of white matter hyperintensities "
             "and results of the WMH Segmentation Challenge. IEEE TMI 2019;38(11):2556-2568.")


def wmh_spec(with_t1: bool = False) -> CohortSpec:
    """FLAIR (+ T1w); labels 0/1 plus the ignore label 2; empty WMH masks are allowed."""
    return CohortSpec(COHORT, (CHANNEL_FLAIR,) + ((CHANNEL_T1W,) if with_t1 else ()), WMH_LABELS,
                      mask_values=frozenset(WMH_LABELS.values()), binary_masks=False, require_lesion=False,
                      volume_alias="wmh_volume_ml",
                      description="MICCAI 2017 WMH Segmentation Challenge (FLAIR" + (", T1" if with_t1 else "")
                                  + "); label 2 (other pathology) is nnU-Net's ignore label",
                      extra={"reference": REFERENCE,
                             "licence": "WMH challenge data licence (see the data release); not redistributable"})


def discover_wmh(source: Path, with_t1: bool = False) -> Discovery:
    """Find the WMH challenge subjects under ``source`` (the folder holding ``training/`` and/or ``test/``).

    Raises:
        InputDataError: ``source`` is not a folder or holds no ``wmh.nii.gz``.
    """
    if not source.is_dir():
        raise InputDataError(f"WMH source {source} is not a folder")
    roots = [(source / folder, split) for folder, split in _SPLIT_FOLDERS if (source / folder).is_dir()]
    discovery = Discovery([], [])
    for root, split in roots or [(source, SPLIT_TRAIN)]:
        for label_file in sorted(root.rglob("wmh.nii*")):
            _add_case(discovery, root, label_file, split, with_t1)
    if not discovery.cases and not discovery.skipped:
        raise InputDataError(f"no WMH subject found under {source}: expected training/<Site>/<subject>/wmh.nii.gz "
                             "with pre/FLAIR.nii.gz beside it")
    discovery.drop_duplicate_ids()
    return discovery


def _add_case(discovery: Discovery, root: Path, label_file: Path, split: str, with_t1: bool) -> None:
    """Add the subject whose ``wmh.nii.gz`` is ``label_file`` to ``discovery`` (or to its skipped cases)."""
    subject_dir = label_file.parent
    site_parts = subject_dir.relative_to(root).parts[:-1]
    site = "_".join(site_parts)
    case_id = safe_case_id(f"{site}_{subject_dir.name}" if site else subject_dir.name)
    flair = _image(subject_dir / "pre", "FLAIR")
    t1 = _image(subject_dir / "pre", "T1") if with_t1 else None
    problems = missing_files([("FLAIR image", flair)] + ([("T1 image", t1)] if with_t1 else []))
    if problems:
        discovery.skipped.append(SkippedCase(case_id, f"{subject_dir}: {'; '.join(problems)} (missing modality)",
                                             {"source_mask": str(label_file)}))
        return
    assert flair is not None
    channels = [ChannelSource(CHANNEL_FLAIR, flair)]
    if t1 is not None:
        channels.append(ChannelSource(CHANNEL_T1W, t1))
    metadata: dict[str, Any] = {"original_id": subject_dir.name}
    if site:
        metadata["site"] = site
    for part in reversed(site_parts):
        if part.lower() in KNOWN_SITES:
            metadata["vendor"], metadata["field_strength_t"] = KNOWN_SITES[part.lower()]
            break
    discovery.cases.append(CaseSource(case_id, split, tuple(channels), (label_file,), metadata))


def _image(folder: Path, stem: str) -> Path:
    """``folder/stem.nii.gz``, or ``folder/stem.nii`` when only that exists."""
    compressed = folder / f"{stem}.nii.gz"
    plain = folder / f"{stem}.nii"
    return plain if plain.is_file() and not compressed.is_file() else compressed
