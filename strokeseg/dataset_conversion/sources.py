"""What a cohort converter found on disk: the cases to convert, the ones to skip, and the cohort's label rules.

A cohort module (``isles22``, ``atlas``, ``wmh``, ``registry``) only *discovers*: it walks the source tree
and returns a :class:`Discovery` of :class:`CaseSource` records (paths and metadata, no voxel data read)
plus :class:`SkippedCase` records for cases it can already reject (missing modality, duplicate id). The
shared runner (:mod:`strokeseg.dataset_conversion.runner`) then reads, checks and writes every case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from strokeseg.errors import ConfigurationError

#: Where a case goes: ``train`` -> imagesTr/labelsTr, ``test`` -> imagesTs (+ labelsTs when it has a mask).
SPLIT_TRAIN = "train"
SPLIT_TEST = "test"
SPLITS: tuple[str, str] = (SPLIT_TRAIN, SPLIT_TEST)

_SPLIT_ALIASES = {"train": SPLIT_TRAIN, "training": SPLIT_TRAIN, "tr": SPLIT_TRAIN,
                  "test": SPLIT_TEST, "testing": SPLIT_TEST, "ts": SPLIT_TEST}


@dataclass(frozen=True)
class ChannelSource:
    """One input channel of a case.

    Attributes:
        name: channel name written into ``dataset.json`` (``DWI``, ``ADC``, ``b0``, ``FLAIR``, ``T1w``).
        path: the image file.
        b_values: b-value of every volume of a 4-D diffusion file in s/mm² (from its ``.bval``); ``None`` for
            a 3-D file.
        target_b: with ``b_values``, keep the volumes whose b is nearest this value (0 = the b = 0 volumes)
            and average them (geometric mean over diffusion directions, arithmetic mean for b = 0).
        register: the channel lies on another grid than the case's first channel and is registered to it
            and resampled onto it (rigid/affine, see :mod:`strokeseg.location.registration`);
            otherwise it must already share the first channel's grid.
    """

    name: str
    path: Path
    b_values: tuple[float, ...] | None = None
    target_b: float | None = None
    register: bool = False


@dataclass(frozen=True)
class CaseSource:
    """Everything needed to convert one case; the first channel defines the case's voxel grid.

    Attributes:
        case_id: nnU-Net case identifier (letters, digits, ``-``, ``_``).
        split: ``train`` or ``test``.
        channels: the input channels, in dataset.json order.
        masks: lesion mask file(s); several are combined by union (ATLAS R1.2) or, with ``votes``, by a
            k-of-n vote; empty for unlabelled test cases.
        metadata: cases.csv values known from the source (site, vendor, field_strength_t, ...).
        prepare: optional step run in the worker before reading (e.g. dcm2niix): takes the case and a scratch
            folder and returns the case with concrete ``channels`` and completed ``metadata``.
        inputs: further files or folders the case is made from (e.g. its DICOM folder); with the channel
            and mask files they decide whether an interrupted run's result can be reused.
        votes: ``masks`` are repeated readings of one lesion: a voxel is lesion when at least this many of
            them mark it (:func:`strokeseg.labels.vote_label_maps`); ``None``: their union.
        extra_masks: further masks stored beside the dataset, not as labels (name -> file; e.g. ``infarct``:
            the infarct mask of a WMH case, for strata), each on its own grid.
    """

    case_id: str
    split: str
    channels: tuple[ChannelSource, ...]
    masks: tuple[Path, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    prepare: Callable[[CaseSource, Path], CaseSource] | None = None
    inputs: tuple[Path, ...] = ()
    votes: int | None = None
    extra_masks: Mapping[str, Path] = field(default_factory=dict)

    def source_paths(self) -> dict[str, str]:
        """``source_*`` columns for cases.csv and the report: one per channel, ``source_mask``, and any
        ``source_*`` value of ``metadata`` (e.g. ``source_dicom``)."""
        paths = {key: str(value) for key, value in self.metadata.items() if key.startswith("source_")}
        paths.update({f"source_{channel.name}": str(channel.path) for channel in self.channels})
        if self.masks:
            paths["source_mask"] = ";".join(str(mask) for mask in self.masks)
        paths.update({f"source_{name}_mask": str(path) for name, path in self.extra_masks.items()})
        return paths

    def with_metadata(self, **values: Any) -> CaseSource:
        """A copy with ``values`` added to (or replacing entries of) ``metadata``."""
        return replace(self, metadata={**self.metadata, **values})


@dataclass(frozen=True)
class SkippedCase:
    """A case left out of the dataset, and why (one line)."""

    case_id: str
    reason: str
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CohortSpec:
    """How a cohort's masks are read and how its dataset.json looks.

    Attributes:
        cohort: converter name (``isles22``, ``atlas``, ``wmh``, ``registry``).
        channel_names: channel names in file-index order (``_0000``, ``_0001``, ...).
        labels: dataset.json ``labels`` (name -> value); an ``ignore`` label must be the highest value.
        mask_values: values a mask may hold (after reading); other values make the case invalid.
        binary_masks: masks are binary lesion masks: any single non-zero value (1, 255, 1.0) means lesion
            and is written as 1; two different non-zero values make the case invalid.
        lesion_label: the label whose volume and components are reported (``lesion_volume_ml``, ``n_lesions``).
        require_lesion: a training mask without any lesion voxel is invalid.
        volume_alias: a further cases.csv column that repeats ``lesion_volume_ml`` (``wmh_volume_ml`` for WMH).
        description: dataset.json ``description``.
        extra: further dataset.json keys (reference, licence).
    """

    cohort: str
    channel_names: tuple[str, ...]
    labels: Mapping[str, int]
    mask_values: frozenset[int] = frozenset({0, 1})
    binary_masks: bool = True
    lesion_label: int = 1
    require_lesion: bool = True
    volume_alias: str | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ignore_label(self) -> int | None:
        """Value of the ``ignore`` label, if the cohort has one."""
        return self.labels.get("ignore")


@dataclass
class Discovery:
    """Result of walking a source tree: cases to convert and cases already rejected."""

    cases: list[CaseSource]
    skipped: list[SkippedCase]

    def drop_duplicate_ids(self) -> None:
        """Move every case whose id occurs more than once to ``skipped`` (all copies: none is preferred)."""
        counts = Counter(case.case_id for case in self.cases)
        duplicated = {case_id for case_id, count in counts.items() if count > 1}
        if not duplicated:
            return
        keep = []
        for case in self.cases:
            if case.case_id in duplicated:
                others = [str(other.channels[0].path) if other.channels else other.case_id
                          for other in self.cases if other.case_id == case.case_id and other is not case]
                self.skipped.append(SkippedCase(
                    case.case_id, f"duplicate case id {case.case_id!r} (also used by {', '.join(others)}); "
                    "make the ids unique in the source", case.source_paths()))
            else:
                keep.append(case)
        self.cases = keep


def normalise_split(value: object, where: str) -> str:
    """Map ``train``/``training``/``Tr``/``test``/``testing``/``Ts`` (any case; empty = train) to ``train``/``test``.

    Raises:
        ConfigurationError: any other value; ``where`` names the row or file.
    """
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "nan", "<na>"):
        return SPLIT_TRAIN
    if text not in _SPLIT_ALIASES:
        raise ConfigurationError(f"{where}: split {value!r} is not one of train/test")
    return _SPLIT_ALIASES[text]


def choose_channels(requested: Sequence[str] | None, available: Sequence[str], default: Sequence[str], what: str,
                    first: str | None = None) -> tuple[str, ...]:
    """A validated channel set: ``requested`` (names of ``available`` in any letter case) or ``default``.

    Args:
        requested: the user's channels, or None/empty for ``default``.
        available: the channel names the cohort can provide.
        default: the channels used when none are requested.
        what: the cohort, for the message (``"ISLES'22"``).
        first: a channel that must come first, if any.

    Raises:
        ConfigurationError: an unknown or repeated channel, no channel, or ``first`` not first.
    """
    by_lower = {name.lower(): name for name in available}
    chosen = [by_lower.get(name.strip().lower(), name.strip()) for name in requested] if requested else list(default)
    unknown = [name for name in chosen if name not in available]
    repeated = len(set(chosen)) != len(chosen)
    if unknown or repeated or not chosen or (first is not None and chosen[0] != first):
        rule = f", {first} first" if first else ""
        raise ConfigurationError(f"{what} channels {', '.join(chosen) or 'none'}: choose each of "
                                 f"{', '.join(available)} at most once{rule}"
                                 + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    return tuple(chosen)


def missing_files(paths: Iterable[tuple[str, Path | None]]) -> list[str]:
    """Human-readable list of the ``(what, path)`` pairs whose file is absent (``None`` = not given)."""
    problems = []
    for what, path in paths:
        if path is None:
            problems.append(f"no {what} given")
        elif not path.is_file():
            problems.append(f"{what} {path} does not exist")
    return problems
