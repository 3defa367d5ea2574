"""The papers' study designs as deterministic, stratified case splits (pure functions on a cases table).

Every design starts from one *stratified order* of the cases: cases are grouped into strata (site ×
lesion-volume stratum, docs/evaluation.md), shuffled within each stratum with the seed, and interleaved so that
every prefix of the order holds the strata in proportion (systematic sampling). Parts are then assigned
along that order by :func:`assign_parts`, which gives every minority part (validation, test) its share
rounded *up* as soon as a prefix needs it. Hence prefixes are nested and stratified, and even tiny
subsamples get at least one validation case.

Designs (the result is a :class:`SplitPlan`; its folds become nnU-Net's ``splits_final.json``):

* :func:`learning_curve_split` (Noh): nested subsamples of 2.5 … 100 % of the training cases (or of absolute
  sizes), each 8:2 train/val; fold k = subsample k, so ``nnUNetv2_train ID CONF k`` trains on subsample k.
  A fraction's size is rounded half to even (:func:`subsample_size`), the rule that gives the paper's
  217, 433, 866, 1,732, 4,330 and 8,661 of 8,661 images.
* :func:`domain_adaptation_split` (Noh): a fixed test pool and a disjoint adaptation pool of an external
  cohort (fractions or absolute counts: the paper's 1,777 test and 1,000 adaptation images); nested
  subsamples of 50 … 1000 adaptation cases, each 8:2; fold k = subsample k.
* :func:`vendor_split` (Alis): the cases of one vendor split 80/10/10 into train/val/test (one fold plus a
  held-out test part).
* :func:`single_site_split`: one site's cases, 8:2 (one fold).
* :func:`ensemble_split` (Kim): K members, each trained on 90 % and validated on 10 %; with K ≤ 10 the
  members' validation parts are disjoint tenths of a stratified order; fold k = member k. Kim et al.'s learning
  curve is :func:`learning_curve_split` with absolute sizes (100 ... 2,408) and their 60/20/20 split
  :func:`train_dev_test_split` with counts 60, 20, 20 (preset ``kim_wmh_flair``).
* :func:`train_dev_test_split` (Tomita): training / development / test parts of given case counts (182/26/31),
  rescaled for a cohort of another size; one fold plus a held-out test part.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from strokeseg.defaults import (
    DEFAULT_SEED,
    DOMAIN_ADAPTATION_SIZES,
    DOMAIN_ADAPTATION_TEST_FRACTION,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_SUBSET_FRACTION,
    LEARNING_CURVE_FRACTIONS,
    TOMITA_SPLIT_COUNTS,
    TRAIN_FRACTION,
    VENDOR_SPLIT_FRACTIONS,
    VOLUME_LARGE_ABOVE_ML,
    VOLUME_SMALL_BELOW_ML,
)
from strokeseg.errors import ConfigurationError
from strokeseg.splits.choices import STRATIFY_BY
from strokeseg.volumes import volume_stratum

logger = logging.getLogger(__name__)

_EPSILON = 1e-9


@dataclass(frozen=True)
class Fold:
    """One nnU-Net fold: its name in the description, and its training and validation case ids."""

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]


@dataclass(frozen=True)
class SplitPlan:
    """A study design's split of a dataset's cases.

    Attributes:
        kind: ``learning_curve``, ``domain_adaptation``, ``vendor``, ``single_site``, ``ensemble``,
            ``train_dev_test``.
        seed: the seed of the stratified order.
        parameters: the design's settings (fractions, sizes, group, ...).
        folds: nnU-Net folds (``splits_final.json`` entry k = fold k).
        test: held-out cases (never in a fold); a derived dataset puts them into ``imagesTs``.
        strata: case id -> stratum label of every case the design drew from.
    """

    kind: str
    seed: int
    parameters: Mapping[str, Any]
    folds: tuple[Fold, ...]
    test: tuple[str, ...] = ()
    strata: Mapping[str, str] = field(default_factory=dict)

    @property
    def training_cases(self) -> tuple[str, ...]:
        """Every case that appears in some fold (sorted); a derived dataset's ``imagesTr``."""
        return tuple(sorted({case for fold in self.folds for case in (*fold.train, *fold.val)}))

    def splits_final(self) -> list[dict[str, list[str]]]:
        """The content of nnU-Net's ``splits_final.json`` (sorted case lists)."""
        return [{"train": sorted(fold.train), "val": sorted(fold.val)} for fold in self.folds]

    def describe(self) -> dict[str, Any]:
        """The documentation written beside ``splits_final.json``: design, seed, sizes, strata, case lists."""
        return {
            "kind": self.kind, "seed": self.seed, "parameters": dict(self.parameters),
            "stratified_by": list(self.parameters.get("stratified_by", STRATIFY_BY)),
            "strata_counts": dict(sorted(Counter(self.strata.values()).items())),
            "folds": [{"fold": index, "name": fold.name, "n_train": len(fold.train), "n_val": len(fold.val),
                       "train": sorted(fold.train), "val": sorted(fold.val)} for index, fold in enumerate(self.folds)],
            "n_test": len(self.test), "test": sorted(self.test),
            "strata": dict(sorted(self.strata.items())),
        }


# --------------------------------------------------------------------------------------------------
# Strata and the stratified order
# --------------------------------------------------------------------------------------------------
def case_strata(cases: pd.DataFrame, stratify_by: Sequence[str] = STRATIFY_BY,
                small_below_ml: float = VOLUME_SMALL_BELOW_ML,
                large_above_ml: float = VOLUME_LARGE_ABOVE_ML) -> dict[str, str]:
    """Case id -> stratum label (``site=A|volume=small``) from the cases table.

    ``volume_stratum`` is derived from ``lesion_volume_ml``; any other name is a column of the table
    (``vendor``, ``field_strength_t`` ...). Columns that are absent are left out; missing values read ``unknown``.
    """
    labels: dict[str, list[str]] = {str(case): [] for case in cases["case_id"]}
    for key in stratify_by:
        if key == "volume_stratum":
            if "lesion_volume_ml" not in cases.columns:
                continue
            values = [volume_stratum(v, small_below_ml, large_above_ml) for v in cases["lesion_volume_ml"]]
        elif key in cases.columns:
            values = ["unknown" if pd.isna(v) else str(v) for v in cases[key]]
        else:
            continue
        for case, value in zip(cases["case_id"], values, strict=True):
            labels[str(case)].append(f"{key.removesuffix('_stratum')}={value}")
    return {case: "|".join(parts) or "all" for case, parts in labels.items()}


def stratified_order(strata: Mapping[str, str], seed: int) -> list[str]:
    """All case ids in an order whose every prefix holds the strata in proportion (deterministic by ``seed``).

    Within a stratum of n cases the cases are shuffled and given the positions (rank + u) / n with one
    random offset u per stratum; sorting all cases by that position interleaves the strata.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str, list[str]] = defaultdict(list)
    for case in sorted(strata):
        groups[strata[case]].append(case)
    keys: dict[str, tuple[float, float]] = {}
    for stratum in sorted(groups):
        members = groups[stratum]
        permutation = rng.permutation(len(members))
        offset = float(rng.random())
        for rank, index in enumerate(permutation):
            keys[members[index]] = ((rank + offset) / len(members), float(rng.random()))
    return sorted(strata, key=lambda case: keys[case])


def assign_parts(n: int, fractions: Sequence[float]) -> list[int]:
    """Part index (0 = the majority part) for each of ``n`` ordered positions.

    Part p ≥ 1 receives position i when its count is below ceil((i + 1) · fractions[p]); every prefix of
    length m therefore holds about ceil(m · fractions[p]) cases of part p (at least one as soon as m allows),
    and assignments never change when n grows (nested prefixes).
    """
    if any(fraction < 0 for fraction in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigurationError(f"split fractions {list(fractions)} must be non-negative and sum to 1")
    counts = [0] * len(fractions)
    parts = []
    for position in range(n):
        chosen = 0
        for part in range(1, len(fractions)):
            if counts[part] < math.ceil((position + 1) * fractions[part] - _EPSILON):
                chosen = part
                break
        counts[chosen] += 1
        parts.append(chosen)
    return parts


def _split_order(order: Sequence[str], fractions: Sequence[float]) -> list[list[str]]:
    """``order`` divided into parts by :func:`assign_parts` (each part keeps the order)."""
    parts: list[list[str]] = [[] for _ in fractions]
    for case, part in zip(order, assign_parts(len(order), fractions), strict=True):
        parts[part].append(case)
    return parts


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigurationError(message)


def _case_ids(cases: pd.DataFrame) -> list[str]:
    _require("case_id" in cases.columns, "the cases table has no case_id column")
    ids = [str(case) for case in cases["case_id"]]
    duplicated = sorted({case for case in ids if ids.count(case) > 1})
    _require(not duplicated, f"the cases table repeats case ids {', '.join(duplicated[:5])}")
    return ids


# --------------------------------------------------------------------------------------------------
# Designs
# --------------------------------------------------------------------------------------------------
def subsample_size(fraction: float, n: int) -> int:
    """Cases in a ``fraction`` subsample of ``n`` cases: ``fraction · n`` rounded half to even.

    The fraction is taken as written in decimal (0.025 is exactly 1/40), so that exact halves stay halves:
    50 % of 8,661 is 4,330 and 2.5 % is 217, Noh et al.'s counts (rounding half up would give 4,331,
    truncation 216).
    """
    return round(Fraction(repr(float(fraction))) * n)


def learning_curve_split(cases: pd.DataFrame, fractions: Sequence[float] = LEARNING_CURVE_FRACTIONS,
                         train_fraction: float = TRAIN_FRACTION, seed: int = DEFAULT_SEED,
                         stratify_by: Sequence[str] = STRATIFY_BY, sizes: Sequence[int] | None = None,
                         draws: int = 1) -> SplitPlan:
    """Nested subsamples of ``cases``, each split ``train_fraction`` : rest into train/val; fold k = subsample k
    (ascending size).

    Args:
        fractions: subsample fractions of the cases (sizes by :func:`subsample_size`, at least 2).
        sizes: absolute subsample sizes instead of ``fractions`` (each between 2 and the number of cases).
        draws: independent draws of every subsample smaller than all cases (draw k: the stratified order of seed
            ``seed + k − 1``, nested within the draw), so that a learning curve can average over which cases a
            small training set holds. Folds ascend by size, the draws of one size in turn (``"25%"``,
            ``"25% draw 2"``, ...); all cases form one fold (draw 1's train/val division).
    """
    _case_ids(cases)
    n = len(cases)
    _require(n >= 2, f"a learning curve needs at least 2 cases, got {n}")
    if sizes is not None:
        _require(len(sizes) > 0 and all(2 <= size <= n for size in sizes),
                 f"learning-curve sizes must lie between 2 and {n} (the number of cases), got {list(sizes)}")
        subsamples = [(int(size), f"n={size}") for size in sorted(sizes)]
    else:
        _require(all(0 < f <= 1 for f in fractions) and len(fractions) > 0,
                 f"learning-curve fractions must lie in (0, 1], got {list(fractions)}")
        subsamples = [(max(2, min(n, subsample_size(fraction, n))), f"{100 * fraction:g}%")
                      for fraction in sorted(fractions)]
    _require(draws >= 1, f"learning-curve draws must be at least 1, got {draws}")
    strata = case_strata(cases, stratify_by)
    orders = [stratified_order(strata, seed + draw) for draw in range(draws)]
    flags = assign_parts(n, (train_fraction, 1 - train_fraction))
    folds: list[Fold] = []
    for size, name in subsamples:
        if folds and size == len(folds[-1].train) + len(folds[-1].val):
            logger.warning("learning curve: subsample %s of %d cases gives the same %d cases as the previous one",
                           name, n, size)
        for draw, order in enumerate(orders if size < n else orders[:1]):
            prefix = list(zip(order[:size], flags[:size], strict=True))
            folds.append(Fold(name if draw == 0 else f"{name} draw {draw + 1}", tuple(c for c, p in prefix if p == 0),
                              tuple(c for c, p in prefix if p == 1)))
    subsample = {"sizes": sorted(int(size) for size in sizes)} if sizes is not None \
        else {"fractions": sorted(fractions)}
    return SplitPlan("learning_curve", seed, {**subsample, "train_fraction": train_fraction, "n_cases": n,
                                              "stratified_by": list(stratify_by), "draws": draws}, tuple(folds), (),
                     strata)


def domain_adaptation_split(cases: pd.DataFrame, sizes: Sequence[int] = DOMAIN_ADAPTATION_SIZES,
                            test_fraction: float = DOMAIN_ADAPTATION_TEST_FRACTION, test_size: int | None = None,
                            train_fraction: float = TRAIN_FRACTION, seed: int = DEFAULT_SEED,
                            stratify_by: Sequence[str] = STRATIFY_BY, pool_size: int | None = None) -> SplitPlan:
    """A fixed test pool (``test_size`` cases, else ``test_fraction``) and nested adaptation subsamples of
    ``sizes`` drawn from the disjoint rest, each split ``train_fraction`` : rest; fold k = size k (ascending).

    ``pool_size`` caps the adaptation pool at that many cases (Noh et al.: 1,000 of 2,777 external images, the
    other 1,777 the test set); without ``test_size`` the test pool is then every other case. Cases in neither
    pool are unused (logged). Sizes larger than the adaptation pool are dropped with a warning.
    """
    _case_ids(cases)
    n = len(cases)
    if pool_size is not None:
        _require(2 <= pool_size < n, f"adaptation pool size {pool_size} must lie between 2 and {n - 1} "
                                     f"(the cohort has {n} cases)")
        test_size = n - pool_size if test_size is None else test_size
        _require(pool_size + test_size <= n, f"adaptation pool ({pool_size}) and test pool ({test_size}) exceed the "
                                             f"cohort's {n} cases")
    if test_size is not None:
        _require(0 < test_size < n, f"test size {test_size} must lie between 1 and {n - 1} (the cohort has {n} cases)")
        test_fraction = test_size / n
    _require(0 < test_fraction < 1, f"test fraction {test_fraction} must lie in (0, 1)")
    strata = case_strata(cases, stratify_by)
    order = stratified_order(strata, seed)
    pool, test = _split_order(order, (1 - test_fraction, test_fraction))
    if test_size is not None:  # the ceil rule may give one more; move the surplus back in order
        position = {case: index for index, case in enumerate(order)}
        pool, test = sorted(pool + test[test_size:], key=position.__getitem__), test[:test_size]
    unused = pool[pool_size:] if pool_size is not None else []
    if unused:
        logger.warning("domain adaptation: %d case(s) are in neither the adaptation pool (%d) nor the test pool "
                       "(%d) and stay unused", len(unused), pool_size, len(test))
        pool = pool[:pool_size]
    usable = sorted(size for size in sizes if size <= len(pool))
    dropped = sorted(set(sizes) - set(usable))
    if dropped:
        logger.warning("domain adaptation: sizes %s exceed the adaptation pool of %d cases and are dropped",
                       dropped, len(pool))
    _require(bool(usable) and usable[0] >= 2, f"no adaptation size fits the pool of {len(pool)} cases "
                                              f"(sizes {list(sizes)}); pass smaller sizes")
    flags = assign_parts(len(pool), (train_fraction, 1 - train_fraction))
    folds: list[Fold] = []
    for size in usable:
        prefix = list(zip(pool[:size], flags[:size], strict=True))
        folds.append(Fold(f"n={size}", tuple(c for c, p in prefix if p == 0), tuple(c for c, p in prefix if p == 1)))
    parameters = {"sizes": usable, "dropped_sizes": dropped, "test_fraction": round(test_fraction, 6),
                  "n_test": len(test), "n_adaptation_pool": len(pool), "adaptation_pool": sorted(pool),
                  "n_unused": len(unused),
                  "train_fraction": train_fraction, "stratified_by": list(stratify_by)}
    return SplitPlan("domain_adaptation", seed, parameters, tuple(folds), tuple(test), strata)


def vendor_split(cases: pd.DataFrame, group: str, column: str = "vendor",
                 fractions: Sequence[float] = VENDOR_SPLIT_FRACTIONS, seed: int = DEFAULT_SEED,
                 stratify_by: Sequence[str] = STRATIFY_BY) -> SplitPlan:
    """The cases whose ``column`` equals ``group`` (case-insensitive), split train/val/test by ``fractions``."""
    _case_ids(cases)
    _require(column in cases.columns, f"the cases table has no {column!r} column to split by")
    _require(len(fractions) == 3, f"vendor split fractions must be (train, val, test), got {list(fractions)}")
    selected = cases[cases[column].astype("string").str.lower() == group.lower()]
    available = sorted({str(v) for v in cases[column].dropna()})
    _require(len(selected) >= 3, f"{len(selected)} case(s) with {column} = {group!r}; at least 3 are needed "
                                 f"(values present: {', '.join(available) or 'none'})")
    strata = case_strata(selected, stratify_by)
    train, val, test = _split_order(stratified_order(strata, seed), fractions)
    _require(bool(train), f"too few {group} cases ({len(selected)}) for a train/val/test split")
    parameters = {"column": column, "group": group, "fractions": list(fractions), "stratified_by": list(stratify_by)}
    return SplitPlan("vendor", seed, parameters, (Fold(f"{column}={group}", tuple(train), tuple(val)),),
                     tuple(test), strata)


def single_site_split(cases: pd.DataFrame, site: str, train_fraction: float = TRAIN_FRACTION,
                      seed: int = DEFAULT_SEED, stratify_by: Sequence[str] = ("volume_stratum",)) -> SplitPlan:
    """The cases of one ``site`` split ``train_fraction`` : rest into train/val (one fold)."""
    _case_ids(cases)
    _require("site" in cases.columns, "the cases table has no 'site' column")
    selected = cases[cases["site"].astype("string") == site]
    available = sorted({str(v) for v in cases["site"].dropna()})
    _require(len(selected) >= 2, f"{len(selected)} case(s) from site {site!r}; at least 2 are needed "
                                 f"(sites: {', '.join(available) or 'none'})")
    strata = case_strata(selected, stratify_by)
    train, val = _split_order(stratified_order(strata, seed), (train_fraction, 1 - train_fraction))
    parameters = {"site": site, "train_fraction": train_fraction, "stratified_by": list(stratify_by)}
    return SplitPlan("single_site", seed, parameters, (Fold(f"site={site}", tuple(train), tuple(val)),), (), strata)


def ensemble_split(cases: pd.DataFrame, members: int = ENSEMBLE_MEMBERS,
                   subset_fraction: float = ENSEMBLE_SUBSET_FRACTION, seed: int = DEFAULT_SEED,
                   stratify_by: Sequence[str] = STRATIFY_BY) -> SplitPlan:
    """K = ``members`` training subsets of ``subset_fraction`` each; fold k = member k (its 90 % / 10 %).

    With K ≤ round(1 / (1 − subset_fraction)) the stratified order is dealt into that many groups and
    member k validates on group k (disjoint validation parts). More members draw independent stratified
    orders (seed + k) and validate on their first ceil((1 − subset_fraction) · n) cases.
    """
    ids = _case_ids(cases)
    _require(members >= 1, f"an ensemble needs at least one member, got {members}")
    _require(0 < subset_fraction < 1, f"subset fraction {subset_fraction} must lie in (0, 1)")
    strata = case_strata(cases, stratify_by)
    n_groups = max(1, round(1 / (1 - subset_fraction)))
    folds: list[Fold] = []
    if members <= n_groups:
        order = stratified_order(strata, seed)
        groups = [order[start::n_groups] for start in range(n_groups)]
        for member in range(members):
            held_out = set(groups[member])
            folds.append(Fold(f"member {member}", tuple(c for c in order if c not in held_out), tuple(groups[member])))
        scheme = "disjoint"
    else:
        n_val = math.ceil((1 - subset_fraction) * len(ids) - _EPSILON)
        for member in range(members):
            order = stratified_order(strata, seed + member)
            folds.append(Fold(f"member {member}", tuple(order[n_val:]), tuple(order[:n_val])))
        scheme = "independent"
    for fold in folds:
        _require(bool(fold.train) and bool(fold.val), f"{len(ids)} cases are too few for {members} ensemble "
                                                      f"members with {subset_fraction:g} subsets")
    parameters = {"members": members, "subset_fraction": subset_fraction, "validation_scheme": scheme,
                  "stratified_by": list(stratify_by)}
    return SplitPlan("ensemble", seed, parameters, tuple(folds), (), strata)


def _scaled_counts(counts: Sequence[int], n: int) -> list[int]:
    """``counts`` rescaled to ``n`` cases (largest remainder, every part at least one case when n allows)."""
    total = sum(counts)
    exact = [n * count / total for count in counts]
    scaled = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(counts)), key=lambda part: (scaled[part] - exact[part], part))
    for part in by_remainder[: n - sum(scaled)]:
        scaled[part] += 1
    for part in range(1, len(counts)):  # minority parts never vanish; the training part pays
        if scaled[part] == 0 and scaled[0] > 1:
            scaled[part], scaled[0] = 1, scaled[0] - 1
    return scaled


def _stratum_quotas(sizes: Mapping[str, int], counts: Sequence[int]) -> dict[str, list[int]]:
    """Cases of each part per stratum: proportional to the stratum's size, parts 1.. exactly ``counts`` in all
    (largest remainder), part 0 the rest of every stratum."""
    n = sum(sizes.values())
    quotas = {stratum: [0] * len(counts) for stratum in sizes}
    for part in range(1, len(counts)):
        exact = {stratum: size * counts[part] / n for stratum, size in sizes.items()}
        for stratum in sizes:
            quotas[stratum][part] = math.floor(exact[stratum] + _EPSILON)
        missing = counts[part] - sum(quota[part] for quota in quotas.values())
        ranked = sorted(sizes, key=lambda stratum: (math.floor(exact[stratum] + _EPSILON) - exact[stratum], stratum))
        while missing > 0:
            room = [stratum for stratum in ranked if sum(quotas[stratum][1:]) < sizes[stratum]]
            for stratum in room[:missing]:
                quotas[stratum][part] += 1
            missing -= len(room[:missing])
    for stratum, size in sizes.items():
        quotas[stratum][0] = size - sum(quotas[stratum][1:])
    return quotas


def _parts_by_counts(order: Sequence[str], strata: Mapping[str, str], counts: Sequence[int]) -> list[list[str]]:
    """``order`` dealt into parts of exactly ``counts`` cases, every stratum in proportion (each part keeps the
    order)."""
    quotas = _stratum_quotas(Counter(strata[case] for case in order), counts)
    dealt = {stratum: 0 for stratum in quotas}
    parts: list[list[str]] = [[] for _ in counts]
    for case in order:  # within a stratum: parts 1.. first, in the (seeded) order, then part 0
        stratum = strata[case]
        bounds = np.cumsum([*quotas[stratum][1:], quotas[stratum][0]])
        slot = int(np.searchsorted(bounds, dealt[stratum], side="right"))
        parts[(slot + 1) % len(counts)].append(case)
        dealt[stratum] += 1
    return parts


def train_dev_test_split(cases: pd.DataFrame, counts: Sequence[int] = TOMITA_SPLIT_COUNTS,
                         seed: int = DEFAULT_SEED, stratify_by: Sequence[str] = STRATIFY_BY) -> SplitPlan:
    """Training / development (validation) / test parts of exactly ``counts`` cases (Tomita: 182/26/31 of
    ATLAS R1.2); one fold plus a held-out test part.

    A cohort with another number of cases is split in the same proportions (counts rescaled, largest remainder;
    ``parameters`` records both the paper's counts and the counts used).
    """
    ids = _case_ids(cases)
    _require(len(counts) == 3 and all(int(c) >= 1 for c in counts),
             f"train/dev/test counts must be three positive numbers, got {list(counts)}")
    _require(len(ids) >= 3, f"a train/dev/test split needs at least 3 cases, got {len(ids)}")
    counts = [int(c) for c in counts]
    used = counts if len(ids) == sum(counts) else _scaled_counts(counts, len(ids))
    if used != counts:
        logger.info("train/dev/test: %d cases instead of %d; counts %s rescaled to %s", len(ids), sum(counts),
                    counts, used)
    strata = case_strata(cases, stratify_by)
    train, dev, test = _parts_by_counts(stratified_order(strata, seed), strata, used)
    parameters = {"counts": counts, "used_counts": used, "fractions": [round(c / sum(counts), 6) for c in counts],
                  "n_cases": len(ids), "stratified_by": list(stratify_by)}
    return SplitPlan("train_dev_test", seed, parameters, (Fold("train/dev", tuple(train), tuple(dev)),), tuple(test),
                     strata)
