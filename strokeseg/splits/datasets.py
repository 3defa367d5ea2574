"""Write split plans to disk: ``splits_final.json`` in place, or a derived dataset that links the source's files.

Files written beside each other:

* ``splits_final.json`` — nnU-Net's folds (list of ``{"train": [...], "val": [...]}``). nnU-Net copies it from
  the raw dataset into ``nnUNet_preprocessed`` when planning; if the preprocessed folder already exists, it is
  written there too (nnU-Net refuses to plan when the two differ).
* ``strokeseg_splits.json`` — what the splits are: design, seed, parameters, strata, sizes and case lists.

A *derived dataset* (vendor split, single site, domain adaptation, or on request any design) is a new
``DatasetXXX_Name`` whose ``imagesTr``/``labelsTr`` (and ``imagesTs``/``labelsTs`` for held-out cases) are
links to the source dataset's files (relative symlinks by default; hard links or copies on request), with
its own dataset.json, cases.csv, splits and report of where it came from. Derived datasets draw from the
source's training cases (``imagesTr``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg import __version__
from strokeseg.cases import CASES_FILE, read_cases, safe_case_id, write_cases
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError
from strokeseg.io import PathLike, write_json_atomic
from strokeseg.nnunet.raw import FILE_ENDING, check_new_dataset, find_dataset, publish_dataset
from strokeseg.splits.choices import LINK_MODES
from strokeseg.splits.designs import (
    SplitPlan,
    domain_adaptation_split,
    ensemble_split,
    learning_curve_split,
    single_site_split,
    train_dev_test_split,
    vendor_split,
)

logger = logging.getLogger(__name__)

SPLITS_FILE = "splits_final.json"
SPLITS_INFO_FILE = "strokeseg_splits.json"


def read_dataset_json(dataset_dir: Path) -> dict[str, Any]:
    """``dataset.json`` of a raw dataset.

    Raises:
        InputDataError: missing or not JSON.
    """
    path = dataset_dir / "dataset.json"
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputDataError(f"{path} could not be read ({error}); is {dataset_dir} an nnU-Net raw dataset?") from None
    if not isinstance(content, dict) or "channel_names" not in content:
        raise InputDataError(f"{path} is not an nnU-Net v2 dataset.json (no channel_names)")
    return content


def load_training_cases(dataset_dir: Path) -> pd.DataFrame:
    """The dataset's training cases (those in ``imagesTr``) with their cases.csv columns.

    Cases in ``imagesTr`` without a cases.csv row keep empty metadata (stratified as ``unknown``); a
    dataset without cases.csv gets a table of case ids only (logged).

    Raises:
        InputDataError: no training case found.
    """
    ending = read_dataset_json(dataset_dir).get("file_ending", FILE_ENDING)
    images = dataset_dir / "imagesTr"
    ids = sorted(path.name[: -len(f"_0000{ending}")] for path in images.glob(f"*_0000{ending}")) \
        if images.is_dir() else []
    if not ids:
        raise InputDataError(f"{images} holds no training case (*_0000{ending})")
    frame = pd.DataFrame({"case_id": pd.Series(ids, dtype="string")})
    cases_file = dataset_dir / CASES_FILE
    if not cases_file.is_file():
        logger.warning("%s has no %s: splits are stratified by nothing (convert with strokeseg convert to get "
                       "site and lesion volume)", dataset_dir, CASES_FILE)
        return frame
    table = read_cases(cases_file)
    unknown = sorted(set(ids) - set(table["case_id"]))
    if unknown:
        logger.warning("%d case(s) of %s are not in %s (e.g. %s); their strata are 'unknown'", len(unknown),
                       images, cases_file.name, ", ".join(unknown[:3]))
    return frame.merge(table, on="case_id", how="left")


def write_splits(dataset_dir: Path, plan: SplitPlan, overwrite: bool = False,
                 preprocessed_dir: Path | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``splits_final.json`` and ``strokeseg_splits.json`` into ``dataset_dir`` (and ``preprocessed_dir``
    when that folder exists); returns the raw ``splits_final.json``.

    Raises:
        OutputExistsError: a different ``splits_final.json`` exists there and ``overwrite`` is off.
    """
    content = plan.splits_final()
    targets = [dataset_dir] + ([preprocessed_dir] if preprocessed_dir is not None and preprocessed_dir.is_dir() else [])
    for folder in targets:
        existing = folder / SPLITS_FILE
        if existing.is_file() and not overwrite and _load(existing) != content:
            raise OutputExistsError(f"{existing} already holds other splits; pass --overwrite to replace them (models "
                                    "trained on the old folds no longer match)")
    info = {**plan.describe(), "dataset": dataset_dir.name, "created": _now(), "strokeseg_version": __version__,
            **(extra or {})}
    for folder in targets:
        write_json_atomic(folder / SPLITS_FILE, content)
        write_json_atomic(folder / SPLITS_INFO_FILE, info)
        logger.info("wrote %s (%d fold(s), %s)", folder / SPLITS_FILE, len(content), plan.kind)
    return dataset_dir / SPLITS_FILE


def write_derived_dataset(source_dir: Path, raw_root: Path, dataset_id: int, name: str, plan: SplitPlan,
                          link: str = "symlink", overwrite: bool = False) -> Path:
    """Create ``raw_root/Dataset{id:03d}_{name}`` holding the plan's cases as links to ``source_dir``'s files.

    ``imagesTr``/``labelsTr`` hold every case of a fold, ``imagesTs``/``labelsTs`` the plan's held-out cases;
    dataset.json (``numTraining`` updated, provenance added), cases.csv (rows of these cases, ``split``
    updated) and the splits files are written; the folder appears only when complete.

    Raises:
        OutputExistsError: the id is taken or the dataset exists without ``overwrite``.
        ConfigurationError: unknown link mode.
        InputDataError: a source file is missing.
    """
    if link not in LINK_MODES:
        raise ConfigurationError(f"link mode {link!r} is not one of {', '.join(LINK_MODES)}")
    target = check_new_dataset(raw_root, dataset_id, name, overwrite)
    if target.resolve() == source_dir.resolve():
        raise ConfigurationError(f"the derived dataset {target.name} would replace its own source; choose another id")
    dataset_json = read_dataset_json(source_dir)
    ending = dataset_json.get("file_ending", FILE_ENDING)
    n_channels = len(dataset_json["channel_names"])
    staging = raw_root / f".{target.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    for cases, folder_split in ((plan.training_cases, "Tr"), (tuple(sorted(plan.test)), "Ts")):
        for case in cases:
            for channel in range(n_channels):
                name_ = f"{case}_{channel:04d}{ending}"
                _link(source_dir / "imagesTr" / name_, staging / f"images{folder_split}" / name_, link)
            _link(source_dir / "labelsTr" / f"{case}{ending}", staging / f"labels{folder_split}" / f"{case}{ending}",
                  link)
    provenance = {"derived_from": source_dir.name, "source_path": str(source_dir.resolve()), "kind": plan.kind,
                  "link": link, "created": _now(), "strokeseg_version": __version__}
    write_json_atomic(staging / "dataset.json", {**dataset_json, "numTraining": len(plan.training_cases),
                                                 "strokeseg_derived": provenance})
    _write_derived_cases(source_dir, staging, plan)
    write_splits(staging, plan, overwrite=True, extra={"derived_from": source_dir.name})
    replacing = target.exists()
    publish_dataset(staging, target)
    if replacing:
        logger.info("replaced %s; re-run nnUNetv2_plan_and_preprocess, its preprocessed data are out of date", target)
    return target


def _write_derived_cases(source_dir: Path, staging: Path, plan: SplitPlan) -> None:
    cases_file = source_dir / CASES_FILE
    if not cases_file.is_file():
        return
    table = read_cases(cases_file)
    split = {**{case: "train" for case in plan.training_cases}, **{case: "test" for case in plan.test}}
    subset = table[table["case_id"].isin(list(split))].copy()
    subset["split"] = subset["case_id"].map(split)
    write_cases(subset.reset_index(drop=True), staging / CASES_FILE, overwrite=True)


def _link(source: Path, target: Path, mode: str) -> None:
    if not source.is_file():
        raise InputDataError(f"{source} does not exist; the source dataset is incomplete")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if mode == "symlink":
            os.symlink(os.path.relpath(source.resolve(), target.parent.resolve()), target)
        elif mode == "hardlink":
            os.link(source, target)
        else:
            shutil.copy2(source, target)
    except OSError as error:
        raise ConfigurationError(f"could not {mode} {source} to {target} ({error.strerror}); try --link copy") from None


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# One call per design (the API the experiment recipes use)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrittenSplits:
    """A design written to disk: its plan, the dataset folder holding the splits, and ``splits_final.json``."""

    plan: SplitPlan
    dataset_dir: Path
    splits_file: Path


#: Design name (as on the command line) -> function(cases table, **options) -> SplitPlan.
DESIGNS: dict[str, Callable[..., SplitPlan]] = {
    "learning-curve": learning_curve_split,          # fractions or sizes, train_fraction
    "domain-adaptation": domain_adaptation_split,    # sizes, test_fraction, test_size, pool_size, train_fraction
    "vendor": vendor_split,                          # group, column, fractions
    "site": single_site_split,                       # site, train_fraction
    "ensemble": ensemble_split,                      # members, subset_fraction
    "train-dev-test": train_dev_test_split,          # counts
}


def split_dataset(raw_root: PathLike, dataset: str | int, design: str, *, derived_id: int | None = None,
                  derived_name: str | None = None, link: str = "symlink", overwrite: bool = False,
                  preprocessed_root: PathLike | None = None, **design_options: Any) -> WrittenSplits:
    """Plan ``design`` on the training cases of ``dataset`` and write it (see :func:`apply_design`).

    Example (Alis' vendor split)::

        for vendor, dataset_id in (("Siemens", 601), ("GE", 602)):
            split_dataset(raw, 600, "vendor", group=vendor, derived_id=dataset_id, seed=0)

    Raises:
        ConfigurationError: unknown design or invalid options.
    """
    if design not in DESIGNS:
        raise ConfigurationError(f"unknown split design {design!r}; choose one of {', '.join(DESIGNS)}")
    cases = load_training_cases(find_dataset(raw_root, dataset))
    plan = DESIGNS[design](cases, **design_options)
    return apply_design(raw_root, dataset, plan, derived_id=derived_id, derived_name=derived_name, link=link,
                        overwrite=overwrite, preprocessed_root=preprocessed_root)


def apply_design(raw_root: PathLike, dataset: str | int, plan: SplitPlan, *, derived_id: int | None = None,
                 derived_name: str | None = None, link: str = "symlink", overwrite: bool = False,
                 preprocessed_root: PathLike | None = None) -> WrittenSplits:
    """Write ``plan`` into the source dataset (``derived_id`` None) or into a new derived dataset.

    In place, ``splits_final.json`` also goes to ``preprocessed_root/<dataset>`` when that folder exists.
    A plan with held-out ``test`` cases needs a derived dataset (they must not stay in ``imagesTr``).
    """
    source = find_dataset(raw_root, dataset)
    if derived_id is None:
        if plan.test:
            raise ConfigurationError(f"the {plan.kind} design holds out {len(plan.test)} test case(s); write it to a "
                                     "derived dataset (--derived-id) so that they leave imagesTr")
        preprocessed = Path(preprocessed_root) / source.name if preprocessed_root is not None else None
        return WrittenSplits(plan, source, write_splits(source, plan, overwrite, preprocessed))
    name = derived_name or _derived_name(source, plan)
    target = write_derived_dataset(source, Path(raw_root), derived_id, name, plan, link, overwrite)
    return WrittenSplits(plan, target, target / SPLITS_FILE)


def _derived_name(source: Path, plan: SplitPlan) -> str:
    base = source.name.split("_", 1)[1] if "_" in source.name else source.name
    suffix = {"vendor": str(plan.parameters.get("group", "")), "single_site": str(plan.parameters.get("site", "")),
              "domain_adaptation": "DA", "learning_curve": "LC", "ensemble": "Ensemble",
              "train_dev_test": "TrainDevTest"}[plan.kind]
    return safe_case_id(f"{base}_{suffix}") if suffix else base
