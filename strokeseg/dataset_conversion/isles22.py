"""ISLES'22 (BIDS) -> nnU-Net: DWI (``_0000``), then the chosen channels among ADC and FLAIR, on the DWI grid.

The channel set is chosen per dataset (``channels``): DWI + ADC by default, DWI alone for a model trained on DWI
only (Noh et al. test on ISLES'22 with DWI only), or DWI + ADC + FLAIR (``with_flair``). The channels are written
in the order given, DWI first.

Layout (files are found by BIDS entities, sub-folders and the case of ``FLAIR`` vary between releases)::

    SRC/rawdata/sub-strokecase0009/ses-0001/[dwi/|anat/]sub-strokecase0009_ses-0001_dwi.nii.gz (+ .json, .bval)
                                                        ..._adc.nii.gz (+ .json)
                                                        ..._flair.nii.gz or ..._FLAIR.nii.gz (+ .json)
    SRC/derivatives/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_msk.nii.gz
    SRC/participants.tsv (optional)

The case id is the subject label (``strokecase0009``; ``strokecase0009_ses-0002`` when a subject has several
sessions). Vendor, field strength, scanner model, slice thickness and b-value come from the DWI sidecar.
A 4-D DWI with a ``.bval`` beside it is reduced to the volumes nearest ``target_b`` (directions combined by
geometric mean); without a ``.bval`` a 4-D DWI is skipped with a clear reason. The optional FLAIR lies on
another grid: it is registered to the DWI and resampled onto the DWI grid (columns ``flair_registration*``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.cases import safe_case_id
from strokeseg.dataset_conversion.bids import BidsFile, find_bids_images, read_sidecar, sidecar_metadata
from strokeseg.dataset_conversion.diffusion import read_bval
from strokeseg.dataset_conversion.sources import (
    SPLIT_TRAIN,
    CaseSource,
    ChannelSource,
    CohortSpec,
    Discovery,
    SkippedCase,
    choose_channels,
)
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.errors import InputDataError
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_DWI, CHANNEL_FLAIR, LABEL_BACKGROUND

COHORT = "isles22"
#: BIDS suffix (lower case) of each channel, and of the lesion mask in ``derivatives``.
_CHANNEL_SUFFIXES = {CHANNEL_DWI: "dwi", CHANNEL_ADC: "adc", CHANNEL_FLAIR: "flair"}
_MASK_SUFFIXES = ("msk", "mask")
#: participants.tsv columns that name the acquisition site.
_SITE_COLUMNS = ("site", "center", "centre", "institution")

REFERENCE = ("Hernandez Petzsche MR, de la Rosa E, et al. ISLES 2022: A multi-center magnetic resonance imaging "
             "stroke lesion segmentation dataset. Scientific Data 2022;9:762.")


#: The channels ISLES'22 provides, in their default order.
ISLES22_CHANNELS: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_ADC, CHANNEL_FLAIR)
#: The channels written when none are chosen.
DEFAULT_ISLES22_CHANNELS: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_ADC)


def isles22_channels(channels: Sequence[str] | None = None, with_flair: bool = False) -> tuple[str, ...]:
    """The validated channel set: ``channels`` (names as in ``ISLES22_CHANNELS``, any letter case), else DWI + ADC,
    with FLAIR appended when ``with_flair`` and not chosen already.

    Raises:
        ConfigurationError: an unknown or repeated channel, or DWI not first.
    """
    chosen = list(choose_channels(channels, ISLES22_CHANNELS, DEFAULT_ISLES22_CHANNELS, "ISLES'22", CHANNEL_DWI))
    if with_flair and CHANNEL_FLAIR not in chosen:
        chosen.append(CHANNEL_FLAIR)
    return tuple(chosen)


def isles22_spec(with_flair: bool = False, require_lesion: bool = True,
                 channels: Sequence[str] | None = None) -> CohortSpec:
    """The chosen channels (``isles22_channels``; default DWI, ADC); binary lesion label."""
    chosen = isles22_channels(channels, with_flair)
    names = [f"{name} registered to DWI" if name == CHANNEL_FLAIR else name for name in chosen]
    return CohortSpec(COHORT, chosen, {LABEL_BACKGROUND: 0, "lesion": 1}, require_lesion=require_lesion,
                      description=f"ISLES'22 acute/subacute ischemic stroke lesions ({', '.join(names)})",
                      extra={"reference": REFERENCE, "licence": "CC BY-SA 4.0 (ISLES'22 data)"})


def discover_isles22(source: Path, with_flair: bool = False, target_b: float = TARGET_B_VALUE,
                     channels: Sequence[str] | None = None) -> Discovery:
    """Find the ISLES'22 cases under ``source`` (the folder holding ``rawdata/`` and ``derivatives/``); a case
    needs a DWI, a lesion mask and every chosen channel (``isles22_channels(channels, with_flair)``).

    Raises:
        InputDataError: ``source`` is not a folder or holds no BIDS DWI/ADC images.
        ConfigurationError: an invalid channel set.
    """
    channels = isles22_channels(channels, with_flair)
    if not source.is_dir():
        raise InputDataError(f"ISLES'22 source {source} is not a folder")
    rawdata = source / "rawdata" if (source / "rawdata").is_dir() else source
    derivatives = source / "derivatives"
    images = [item for item in find_bids_images(rawdata) if item.suffix.lower() in _CHANNEL_SUFFIXES.values()
              and item.entity("sub") and derivatives not in item.path.parents]
    if not images:
        raise InputDataError(f"no ISLES'22 image found under {rawdata}: expected BIDS files such as "
                             "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_dwi.nii.gz; "
                             f"found {_listing(rawdata)}")
    masks = [item for item in find_bids_images(derivatives) if item.suffix.lower() in _MASK_SUFFIXES] \
        if derivatives.is_dir() else []
    by_session: dict[tuple[str, str], list[BidsFile]] = defaultdict(list)
    for item in images + masks:
        by_session[(str(item.entity("sub")), item.entity("ses") or "")].append(item)
    sessions_per_subject: dict[str, int] = defaultdict(int)
    for subject, _ in by_session:
        sessions_per_subject[subject] += 1
    participants = _read_participants(source, rawdata)
    discovery = Discovery([], [])
    for (subject, session), files in sorted(by_session.items()):
        case_id = safe_case_id(subject if sessions_per_subject[subject] == 1 else f"{subject}_ses-{session}")
        try:
            discovery.cases.append(_case(case_id, subject, session, files, channels, target_b,
                                         participants.get(subject, {})))
        except InputDataError as error:
            discovery.skipped.append(SkippedCase(case_id, str(error), {str(i.suffix): str(i.path) for i in files}))
    discovery.drop_duplicate_ids()
    return discovery


def _case(case_id: str, subject: str, session: str, files: list[BidsFile], channels: tuple[str, ...],
          target_b: float, participant: dict[str, Any]) -> CaseSource:
    where = f"sub-{subject}" + (f"/ses-{session}" if session else "")
    found: dict[str, BidsFile] = {}
    problems = []
    for kind in (*channels, "mask"):
        suffixes = _MASK_SUFFIXES if kind == "mask" else (_CHANNEL_SUFFIXES[kind],)
        matches = [item for item in files if item.suffix.lower() in suffixes]
        if not matches:
            problems.append(f"no {kind} file (*_{suffixes[0]}.nii.gz)")
        elif len(matches) > 1:
            problems.append(f"{len(matches)} {kind} files ({', '.join(m.path.name for m in matches)}); expected one")
        else:
            found[kind] = matches[0]
    if problems:
        raise InputDataError(f"{where}: {'; '.join(problems)} (missing modality)")
    dwi = found[CHANNEL_DWI]
    bval_path = dwi.sibling(".bval")
    b_values = read_bval(bval_path) if bval_path.is_file() else None
    channel_sources = [ChannelSource(CHANNEL_DWI, dwi.path, b_values, target_b if b_values else None)]
    channel_sources += [ChannelSource(name, found[name].path, register=name == CHANNEL_FLAIR) for name in channels[1:]]
    metadata: dict[str, Any] = {**participant, **sidecar_metadata(read_sidecar(dwi.sibling(".json")))}
    metadata["original_id"] = f"sub-{subject}" + (f"_ses-{session}" if session else "")
    return CaseSource(case_id, SPLIT_TRAIN, tuple(channel_sources), (found["mask"].path,), metadata)


def _read_participants(*folders: Path) -> dict[str, dict[str, Any]]:
    """participants.tsv rows by subject label (without ``sub-``); site-like columns become ``site``."""
    for folder in folders:
        path = folder / "participants.tsv"
        if path.is_file():
            table = pd.read_csv(path, sep="\t", dtype=str, na_values=["n/a", "N/A", ""], keep_default_na=False)
            if "participant_id" not in table.columns:
                raise InputDataError(f"{path} has no participant_id column (columns: {', '.join(table.columns)})")
            rows = {}
            for row in table.to_dict("records"):
                subject = str(row.pop("participant_id")).removeprefix("sub-")
                values = {str(key).lower(): value for key, value in row.items() if not pd.isna(value)}
                for column in _SITE_COLUMNS:
                    if column in values and "site" not in values:
                        values["site"] = values.pop(column)
                rows[subject] = values
            return rows
    return {}


def _listing(folder: Path, limit: int = 5) -> str:
    entries = sorted(path.name for path in folder.iterdir())[:limit] if folder.is_dir() else []
    return ", ".join(entries) + (" ..." if len(entries) == limit else "") if entries else "nothing"
