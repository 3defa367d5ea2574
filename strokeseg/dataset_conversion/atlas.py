"""ATLAS (chronic stroke lesions on T1w in MNI space) R1.2 and R2.0 -> nnU-Net: one ``T1w`` channel.

R2.0 (BIDS-like; ``Testing`` has images only and goes to ``imagesTs``)::

    SRC/ATLAS_2/Training/R001/sub-r001s001/ses-1/anat/sub-r001s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz
                                                   .../sub-r001s001_ses-1_space-MNI152NLin2009aSym_label-L_desc-T1lesion_mask.nii.gz
    SRC/ATLAS_2/Testing/R0XX/sub-.../ses-1/anat/..._T1w.nii.gz
    SRC/.../*.csv   metadata with a subject column ("Subject ID", "subject", "participant_id") and a site column

R1.2 (several lesion masks per subject are combined by union)::

    SRC/Site1/031768/t01/031768_t1w_deface_stx.nii.gz
    SRC/Site1/031768/t01/031768_LesionSmooth_stx.nii.gz, 031768_LesionSmooth_1_stx.nii.gz, ...

Site: the metadata CSV when it names the subject, else the ``R0XX`` cohort folder (R2.0) or the ``Site*``
folder (R1.2). Case ids: ``r001s001`` (R2.0, BIDS subject label), the subject folder name (R1.2).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.cases import safe_case_id
from strokeseg.dataset_conversion.bids import BidsFile, find_bids_images
from strokeseg.dataset_conversion.choices import RELEASES
from strokeseg.dataset_conversion.sources import (
    SPLIT_TEST,
    SPLIT_TRAIN,
    CaseSource,
    ChannelSource,
    CohortSpec,
    Discovery,
    SkippedCase,
)
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.modalities import CHANNEL_T1W, LABEL_BACKGROUND

COHORT = "atlas"

_R12_IMAGE = re.compile(r"^(?P<subject>.+)_t1w_deface_stx\.nii(\.gz)?$", re.IGNORECASE)
_R12_MASK = "{subject}_LesionSmooth*_stx.nii*"
_SITE_FOLDER = re.compile(r"^site", re.IGNORECASE)
_COHORT_FOLDER = re.compile(r"^R\d+$")
#: Metadata CSV columns (compared case-insensitively) naming the subject and its site.
SUBJECT_COLUMNS: tuple[str, ...] = ("subject id", "subject_id", "subject", "participant_id", "participant", "id")
SITE_COLUMNS: tuple[str, ...] = ("site", "site id", "site_id", "cohort", "center", "centre", "institution")

REFERENCE = ("Liew SL, et al. A large, curated, open-source stroke neuroimaging dataset to improve lesion "
             "segmentation algorithms (ATLAS v2.0). Scientific Data 2022;9:320. R1.2: Liew SL, et al. "
             "Scientific Data 2018;5:180011.")


def atlas_spec(require_lesion: bool = True) -> CohortSpec:
    """One T1w channel; binary lesion label."""
    return CohortSpec(COHORT, (CHANNEL_T1W,), {LABEL_BACKGROUND: 0, "lesion": 1}, require_lesion=require_lesion,
                      description="ATLAS chronic stroke lesions on T1w (MNI space)",
                      extra={"reference": REFERENCE,
                             "licence": "ATLAS data use agreement (see the ATLAS release); not redistributable"})


def discover_atlas(source: Path, release: str = "auto", metadata_csv: Path | None = None) -> Discovery:
    """Find the ATLAS cases under ``source``.

    Args:
        release: ``1.2``, ``2.0`` or ``auto`` (decided by the file names found).
        metadata_csv: site per subject; by default a CSV below ``source`` that has a subject and a site column.

    Raises:
        InputDataError: nothing of either release found (the message lists the expected names and what
            was found), or both releases found with ``auto``.
        ConfigurationError: an unknown release, or a metadata CSV without subject/site columns.
    """
    if release not in RELEASES:
        raise ConfigurationError(f"ATLAS release {release!r} is not one of {', '.join(RELEASES)}")
    if not source.is_dir():
        raise InputDataError(f"ATLAS source {source} is not a folder")
    r20 = [item for item in find_bids_images(source) if item.suffix == "T1w" and item.entity("sub")] \
        if release in ("auto", "2.0") else []
    r12 = [path for path in sorted(source.rglob("*")) if _R12_IMAGE.match(path.name)] \
        if release in ("auto", "1.2") else []
    if r20 and r12:
        raise InputDataError(f"{source} holds both ATLAS R2.0 (*_T1w.nii.gz) and R1.2 (*_t1w_deface_stx.nii.gz) "
                             "images; choose one with --release 2.0 or --release 1.2")
    if not r20 and not r12:
        found = sorted({path.name for path in source.rglob("*.nii*")})[:5]
        raise InputDataError(f"no ATLAS image found under {source}: expected R2.0 files "
                             "Training/R0XX/sub-*/ses-*/anat/sub-*_space-MNI152NLin2009aSym_T1w.nii.gz or R1.2 files "
                             f"Site*/<subject>/t01/<subject>_t1w_deface_stx.nii.gz; found {found or 'no NIfTI file'}")
    sites = read_site_table(metadata_csv) if metadata_csv else _find_site_table(source)
    discovery = _discover_r20(source, r20, sites) if r20 else _discover_r12(source, r12, sites)
    discovery.drop_duplicate_ids()
    return discovery


def _discover_r20(source: Path, images: list[BidsFile], sites: dict[str, str]) -> Discovery:
    masks: dict[tuple[str, str, Path], list[Path]] = defaultdict(list)
    for item in find_bids_images(source):
        if item.suffix == "mask" and "lesion" in (item.entity("desc") or "").lower():
            masks[(str(item.entity("sub")), item.entity("ses") or "", item.path.parent)].append(item.path)
    grouped: dict[tuple[str, str], list[BidsFile]] = defaultdict(list)
    for item in images:
        grouped[(str(item.entity("sub")), item.entity("ses") or "")].append(item)
    discovery = Discovery([], [])
    for (subject, session), found in sorted(grouped.items()):
        case_id = safe_case_id(subject)
        if len(found) > 1:
            discovery.skipped.append(SkippedCase(case_id, f"sub-{subject}: {len(found)} T1w images "
                                                 f"({', '.join(str(i.path) for i in found)}); expected one"))
            continue
        image = found[0]
        folders = image.path.relative_to(source).parts[:-1]
        split = SPLIT_TEST if any(folder.lower() == "testing" for folder in folders) else SPLIT_TRAIN
        case_masks = tuple(sorted(masks.get((subject, session, image.path.parent), [])))
        if split == SPLIT_TRAIN and not case_masks:
            discovery.skipped.append(SkippedCase(
                case_id, f"no lesion mask (*_label-L_desc-T1lesion_mask.nii.gz) beside {image.path} (missing "
                "modality)", {"source_T1w": str(image.path)}))
            continue
        cohort_folder = next((folder for folder in folders if _COHORT_FOLDER.match(folder)), None)
        site = sites.get(subject) or cohort_folder
        metadata: dict[str, Any] = {"original_id": f"sub-{subject}", "release": "2.0"}
        if site:
            metadata["site"] = site
        discovery.cases.append(CaseSource(case_id, split, (ChannelSource(CHANNEL_T1W, image.path),), case_masks,
                                          metadata))
    return discovery


def _discover_r12(source: Path, images: list[Path], sites: dict[str, str]) -> Discovery:
    discovery = Discovery([], [])
    for image in images:
        match = _R12_IMAGE.match(image.name)
        assert match is not None  # the caller filtered by this pattern
        subject = match.group("subject")
        case_id = safe_case_id(subject)
        masks = tuple(sorted(image.parent.glob(_R12_MASK.format(subject=subject))))
        if not masks:
            discovery.skipped.append(SkippedCase(
                case_id, f"no lesion mask ({subject}_LesionSmooth*_stx.nii.gz) beside {image} (missing modality)",
                {"source_T1w": str(image)}))
            continue
        folders = image.relative_to(source).parts[:-1]
        site_folder = next((folder for folder in folders if _SITE_FOLDER.match(folder)), None)
        metadata: dict[str, Any] = {"original_id": subject, "release": "1.2", "n_source_masks": len(masks)}
        site = sites.get(subject) or site_folder
        if site:
            metadata["site"] = site
        discovery.cases.append(CaseSource(case_id, SPLIT_TRAIN, (ChannelSource(CHANNEL_T1W, image),), masks, metadata))
    return discovery


def read_site_table(path: Path) -> dict[str, str]:
    """Subject -> site from a metadata CSV (``sub-`` prefixes removed).

    Raises:
        ConfigurationError: the file cannot be read or lacks a subject or site column.
    """
    table = _read_table(path)
    if table is None:
        raise ConfigurationError(f"ATLAS metadata {path} could not be read as CSV")
    columns = _site_columns(table)
    if columns is None:
        raise ConfigurationError(f"ATLAS metadata {path} needs a subject column ({', '.join(SUBJECT_COLUMNS)}) and a "
                                 f"site column ({', '.join(SITE_COLUMNS)}); found {', '.join(table.columns)}")
    subject_column, site_column = columns
    return {str(subject).strip().removeprefix("sub-"): str(site).strip()
            for subject, site in zip(table[subject_column], table[site_column], strict=True)
            if not pd.isna(subject) and not pd.isna(site)}


def _find_site_table(source: Path) -> dict[str, str]:
    for path in sorted(source.rglob("*.csv")):
        if len(path.relative_to(source).parts) > 3:
            continue
        table = _read_table(path)
        if table is not None and _site_columns(table) is not None:
            return read_site_table(path)
    return {}


def _read_table(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, dtype=str, sep=None, engine="python")
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def _site_columns(table: pd.DataFrame) -> tuple[str, str] | None:
    lowered = {str(column).strip().lower(): column for column in table.columns}
    subject = next((lowered[name] for name in SUBJECT_COLUMNS if name in lowered), None)
    site = next((lowered[name] for name in SITE_COLUMNS if name in lowered), None)
    return (subject, site) if subject is not None and site is not None else None
