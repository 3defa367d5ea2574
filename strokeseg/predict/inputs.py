"""What ``strokeseg predict`` is pointed at: the cases of a DICOM folder, a BIDS dataset or NIfTI files.

Each case becomes a :class:`~strokeseg.dataset_conversion.sources.CaseSource` (test split, no mask) whose
channels are the model's, in the model's order, so that the converter's own per-case step
(:func:`strokeseg.dataset_conversion.case_conversion.convert_case`) reads, checks and writes it exactly as
``strokeseg convert`` does. Channel names are matched to the model's without regard to letter case.

* DICOM (one folder = one case, its name the case ID): dcm2niix and the registry converter's b-value choice
  and ADC (:func:`strokeseg.dataset_conversion.dicom.resolve_dicom_case`); the model may take DWI, ADC and b0.
* BIDS (``participant`` level): every ``sub-*/[ses-*/]`` of ``rawdata/`` (or the root) is a case; a channel is
  the file whose suffix is its name (``_dwi`` -> DWI, ``_adc`` -> ADC, ``_flair`` -> FLAIR); a 4-D DWI with a
  ``.bval`` is reduced to the b nearest ``target_b``; a FLAIR on another grid is registered to the first channel.
* NIfTI: a folder of ``CASE_0000.nii.gz`` (nnU-Net numbering) or ``CASE_<channel>.nii.gz`` files, or one such
  file (its siblings of the same case are gathered); with a one-channel model any ``CASE.nii.gz``.

A case that lacks a channel, or has two files for one, is kept with a ``problem`` (reported, not predicted).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from strokeseg.cases import safe_case_id
from strokeseg.dataset_conversion.bids import BidsFile, find_bids_images, read_sidecar, sidecar_metadata
from strokeseg.dataset_conversion.dicom import DICOM_CHANNELS, resolve_dicom_case
from strokeseg.dataset_conversion.diffusion import read_bval
from strokeseg.dataset_conversion.sources import SPLIT_TEST, CaseSource, ChannelSource
from strokeseg.defaults import TARGET_B_VALUE
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.io import IMAGE_SUFFIXES, image_files, strip_image_suffix
from strokeseg.modalities import CHANNEL_DWI, CHANNEL_FLAIR

KIND_DICOM, KIND_BIDS, KIND_NIFTI = "dicom", "bids", "nifti"
#: BIDS folders that never hold a participant's raw images.
_BIDS_SKIPPED_FOLDERS = ("derivatives", "sourcedata", "code")


@dataclass(frozen=True)
class PredictCase:
    """One case to predict and where its results go.

    Attributes:
        case_id: the case's ID (letters, digits, ``-``, ``_``), also the nnU-Net file name stem.
        folder: its output folder, relative to OUTPUT (``CASE`` or, for BIDS, ``sub-X[/ses-Y]``).
        prefix: the file-name prefix of its outputs (``CASE`` or ``sub-X[_ses-Y]``).
        source: the case's channels as the converter takes them (None when ``problem`` is set).
        problem: why the case cannot be predicted (missing or ambiguous channel); empty when it can.
        inputs: the files or folders the case is made from (they decide whether a result is still current).
    """

    case_id: str
    folder: Path
    prefix: str
    source: CaseSource | None
    problem: str = ""
    inputs: tuple[Path, ...] = ()


def match_channel(name: str, channels: Sequence[str]) -> int | None:
    """Index of the model channel called ``name`` (any letter case), or None."""
    lowered = [channel.lower() for channel in channels]
    return lowered.index(name.lower()) if name.lower() in lowered else None


def detect_kind(path: Path) -> str:
    """``nifti`` for an image file or a folder with image files in it, ``bids`` for a folder with
    ``dataset_description.json``, ``rawdata/`` or ``sub-*`` folders, else ``dicom``.

    Raises:
        InputDataError: ``path`` does not exist.
    """
    if path.is_file():
        return KIND_NIFTI
    if not path.is_dir():
        raise InputDataError(f"input {path} does not exist")
    if (path / "dataset_description.json").is_file() or (path / "rawdata").is_dir() or \
            any(child.is_dir() for child in path.glob("sub-*")):
        return KIND_BIDS
    if any(child.is_file() and child.name.lower().endswith(IMAGE_SUFFIXES) for child in path.iterdir()):
        return KIND_NIFTI
    return KIND_DICOM


def discover_cases(path: Path, kind: str, channels: Sequence[str], *, participant_labels: Sequence[str] = (),
                   target_b: float = TARGET_B_VALUE, exclude: Path | None = None) -> list[PredictCase]:
    """The cases of ``path`` (module docstring) for a model taking ``channels``, in ID order.

    Args:
        path: INPUT.
        kind: ``dicom``, ``bids`` or ``nifti`` (:func:`detect_kind` for auto).
        channels: the model's channel names, in input order.
        participant_labels: BIDS only: these subjects (with or without ``sub-``).
        target_b: b-value (s/mm²) of the DWI taken from multi-b series.
        exclude: a folder to leave out of a BIDS search (the output, when it lies inside INPUT).

    Raises:
        InputDataError: INPUT is missing or holds no case of that kind.
        ConfigurationError: ``participant_labels`` for a non-BIDS input, or a label not in the dataset.
    """
    if participant_labels and kind != KIND_BIDS:
        raise ConfigurationError(f"--participant-label selects subjects of a BIDS dataset; {path} is read as {kind}")
    if kind == KIND_DICOM:
        return [dicom_case(path, channels, target_b)]
    if kind == KIND_BIDS:
        return bids_cases(path, channels, participant_labels, target_b, exclude)
    if kind == KIND_NIFTI:
        return nifti_cases(path, channels)
    raise ConfigurationError(f"unknown input kind {kind!r}; choose dicom, bids or nifti")


# ----------------------------------------------------------------------------------------------------------
# DICOM
# ----------------------------------------------------------------------------------------------------------
def dicom_case(folder: Path, channels: Sequence[str], target_b: float = TARGET_B_VALUE) -> PredictCase:
    """The one case of a DICOM folder (case ID: the folder's name)."""
    if not folder.is_dir():
        raise InputDataError(f"DICOM folder {folder} does not exist")
    case_id = safe_case_id(folder.resolve().name) or "case"
    dicom_names = []
    for name in channels:
        index = match_channel(name, DICOM_CHANNELS)
        if index is None:
            return PredictCase(case_id, Path(case_id), case_id, None,
                               f"the model takes channel {name}, which a DICOM diffusion export cannot provide (it "
                               f"gives {', '.join(DICOM_CHANNELS)}); give the case as NIfTI or BIDS instead",
                               (folder,))
        dicom_names.append(DICOM_CHANNELS[index])
    prepare = functools.partial(_resolve_dicom, dicom_dir=folder, dicom_channels=tuple(dicom_names),
                                model_channels=tuple(channels), target_b=target_b)
    source = CaseSource(case_id, SPLIT_TEST, (), (), {"source_dicom": str(folder)}, prepare, (folder,))
    return PredictCase(case_id, Path(case_id), case_id, source, "", (folder,))


def _resolve_dicom(case: CaseSource, scratch: Path, dicom_dir: Path, dicom_channels: tuple[str, ...],
                   model_channels: tuple[str, ...], target_b: float) -> CaseSource:
    """dcm2niix + channel choice (the registry converter's step), the channels renamed as the model names them."""
    resolved = resolve_dicom_case(case, scratch, dicom_dir, dicom_channels, target_b)
    renamed = tuple(replace(channel, name=name)
                    for channel, name in zip(resolved.channels, model_channels, strict=True))
    return replace(resolved, channels=renamed)


# ----------------------------------------------------------------------------------------------------------
# BIDS
# ----------------------------------------------------------------------------------------------------------
def bids_cases(root: Path, channels: Sequence[str], participant_labels: Sequence[str] = (),
               target_b: float = TARGET_B_VALUE, exclude: Path | None = None) -> list[PredictCase]:
    """The sessions of a BIDS dataset (module docstring)."""
    rawdata = root / "rawdata" if (root / "rawdata").is_dir() else root
    skipped = [(rawdata / name).resolve() for name in _BIDS_SKIPPED_FOLDERS] + ([exclude.resolve()] if exclude else [])
    images = [item for item in find_bids_images(rawdata)
              if item.entity("sub") and not any(folder in item.path.resolve().parents for folder in skipped)]
    wanted = {label.removeprefix("sub-") for label in participant_labels}
    subjects = {str(item.entity("sub")) for item in images}
    unknown = sorted(wanted - subjects)
    if unknown:
        raise ConfigurationError(f"--participant-label {', '.join(unknown)}: no such subject in {rawdata} "
                                 f"(subjects: {', '.join(sorted(subjects)) or 'none'})")
    if not images:
        raise InputDataError(f"no BIDS image found under {rawdata}: expected files such as "
                             "sub-01/ses-01/dwi/sub-01_ses-01_dwi.nii.gz")
    sessions: dict[tuple[str, str], list[BidsFile]] = defaultdict(list)
    for item in images:
        if not wanted or item.entity("sub") in wanted:
            sessions[(str(item.entity("sub")), item.entity("ses") or "")].append(item)
    return [_bids_case(subject, session, files, channels, target_b)
            for (subject, session), files in sorted(sessions.items())]


def _bids_case(subject: str, session: str, files: list[BidsFile], channels: Sequence[str],
               target_b: float) -> PredictCase:
    prefix = f"sub-{subject}" + (f"_ses-{session}" if session else "")
    folder = Path(f"sub-{subject}") / (f"ses-{session}" if session else "")
    case_id = safe_case_id(prefix)
    inputs = tuple(item.path for item in files)
    found, problems = [], []
    for name in channels:
        matches = [item for item in files if item.suffix.lower() == name.lower()]
        if len(matches) == 1:
            found.append(matches[0])
        else:
            what = "no" if not matches else f"{len(matches)} ({', '.join(m.path.name for m in matches)}; keep one)"
            problems.append(f"{what} {name} file (*_{name.lower()}.nii.gz)")
    if problems:
        return PredictCase(case_id, folder, prefix, None, f"{prefix}: {'; '.join(problems)} (missing channel)", inputs)
    sources = []
    for index, (name, item) in enumerate(zip(channels, found, strict=True)):
        bval = item.sibling(".bval")
        b_values = read_bval(bval) if name.upper() == CHANNEL_DWI and bval.is_file() else None
        sources.append(ChannelSource(name, item.path, b_values, target_b if b_values else None,
                                     register=index > 0 and name.upper() == CHANNEL_FLAIR))
    metadata = {**sidecar_metadata(read_sidecar(found[0].sibling(".json"))), "original_id": prefix}
    return PredictCase(case_id, folder, prefix, CaseSource(case_id, SPLIT_TEST, tuple(sources), (), metadata),
                       "", inputs)


# ----------------------------------------------------------------------------------------------------------
# NIfTI
# ----------------------------------------------------------------------------------------------------------
def nifti_cases(path: Path, channels: Sequence[str]) -> list[PredictCase]:
    """The cases of a folder of NIfTI files, or of the one case a file belongs to (module docstring)."""
    folder = path.parent if path.is_file() else path
    named: dict[str, dict[int, list[Path]]] = defaultdict(lambda: defaultdict(list))
    unmatched: dict[str, list[Path]] = defaultdict(list)
    for stem, file in image_files(folder, "NIfTI input").items():
        case, index = split_channel(stem, channels)
        if index is None:
            unmatched[case].append(file)
        else:
            named[case][index].append(file)
    if path.is_file():
        wanted = split_channel(strip_image_suffix(path), channels)[0]
        named = defaultdict(lambda: defaultdict(list), {wanted: named[wanted]})
        unmatched = defaultdict(list, {wanted: unmatched[wanted]} if unmatched.get(wanted) else {})
    if not named and not unmatched:
        raise InputDataError(f"no image file in {folder} (expected CASE_0000.nii.gz or CASE_<channel>.nii.gz)")
    return [_nifti_case(case, named.get(case, {}), unmatched.get(case, []), channels)
            for case in sorted(set(named) | set(unmatched))]


def split_channel(stem: str, channels: Sequence[str]) -> tuple[str, int | None]:
    """(case, channel index) of a file-name stem: ``CASE_0001`` -> 1, ``CASE_ADC`` -> the ADC channel; with a
    one-channel model any other stem is that channel; else the channel is None."""
    head, separator, tail = stem.rpartition("_")
    if separator and head:
        if len(tail) == 4 and tail.isdigit():
            return head, int(tail)
        index = match_channel(tail, channels)
        if index is not None:
            return head, index
    return stem, 0 if len(channels) == 1 else None


def _nifti_case(case: str, files: dict[int, list[Path]], unmatched: list[Path],
                channels: Sequence[str]) -> PredictCase:
    case_id = safe_case_id(case) or "case"
    inputs = tuple(sorted([*unmatched, *(path for paths in files.values() for path in paths)]))
    problems = []
    for index, name in enumerate(channels):
        given = files.get(index, [])
        if not given:
            problems.append(f"no {name} image ({case}_{index:04d}.nii.gz or {case}_{name}.nii.gz)")
        elif len(given) > 1:
            problems.append(f"{len(given)} {name} images ({', '.join(path.name for path in given)}); keep one")
    extra = sorted(index for index in files if index >= len(channels))
    if extra:
        problems.append(f"channel number(s) {', '.join(f'{index:04d}' for index in extra)}, but the model takes "
                        f"{len(channels)} channel(s) ({', '.join(channels)})")
    if unmatched:
        problems.append(f"file(s) {', '.join(path.name for path in unmatched)} name no channel of the model "
                        f"({', '.join(channels)})")
    if problems:
        return PredictCase(case_id, Path(case_id), case_id, None, f"case {case}: {'; '.join(problems)}", inputs)
    sources = tuple(ChannelSource(name, files[index][0], register=index > 0 and name.upper() == CHANNEL_FLAIR)
                    for index, name in enumerate(channels))
    return PredictCase(case_id, Path(case_id), case_id, CaseSource(case_id, SPLIT_TEST, sources), "", inputs)
