"""The train/dev/test design by case counts (Tomita: 182/26/31 of ATLAS R1.2)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_fixtures import make_registry

from strokeseg.cli import main
from strokeseg.dataset_conversion.convert import convert
from strokeseg.defaults import TOMITA_SPLIT_COUNTS
from strokeseg.errors import ConfigurationError
from strokeseg.splits.datasets import SPLITS_INFO_FILE
from strokeseg.splits.designs import train_dev_test_split


def _cohort(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"case_id": [f"case{i:04d}" for i in range(n)],
                         "site": rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2]),
                         "lesion_volume_ml": rng.lognormal(1.0, 1.5, size=n)})


def test_the_papers_counts_on_a_cohort_of_the_papers_size() -> None:
    cases = _cohort(sum(TOMITA_SPLIT_COUNTS))
    plan = train_dev_test_split(cases, seed=3)
    (fold,) = plan.folds
    assert (len(fold.train), len(fold.val), len(plan.test)) == (182, 26, 31)
    assert len({*fold.train, *fold.val, *plan.test}) == 239
    assert plan.parameters["counts"] == [182, 26, 31] == plan.parameters["used_counts"]
    assert plan.parameters["fractions"] == pytest.approx([182 / 239, 26 / 239, 31 / 239], abs=1e-6)
    assert train_dev_test_split(cases, seed=3) == plan  # deterministic
    # every part is stratified: each stratum's count in the test part is within about one case of its share
    strata = plan.strata
    overall, in_test = Counter(strata.values()), Counter(strata[c] for c in plan.test)
    for stratum, count in overall.items():
        assert abs(in_test[stratum] - count * 31 / 239) <= 1.5


@pytest.mark.parametrize(("n", "expected"), [(100, (76, 11, 13)), (10, (8, 1, 1)), (3, (1, 1, 1))])
def test_other_cohort_sizes_keep_the_proportions(n: int, expected: tuple[int, int, int]) -> None:
    plan = train_dev_test_split(_cohort(n))
    (fold,) = plan.folds
    assert (len(fold.train), len(fold.val), len(plan.test)) == expected
    assert tuple(plan.parameters["used_counts"]) == expected and plan.parameters["counts"] == [182, 26, 31]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="three positive numbers"):
        train_dev_test_split(_cohort(20), counts=(10, 0, 5))
    with pytest.raises(ConfigurationError, match="at least 3 cases"):
        train_dev_test_split(_cohort(2))


def test_cli_writes_a_derived_dataset_with_the_counts(tmp_path: Path) -> None:
    cohort = make_registry(tmp_path / "src", n_cases=7, n_test=1)
    convert("registry", cohort.root, tmp_path / "raw", 70, "Registry")
    assert main(["split", "train-dev-test", "-d", "70", "--raw", str(tmp_path / "raw"), "--counts", "4,1,1",
                 "--derived-id", "77"]) == 0
    derived = tmp_path / "raw" / "Dataset077_Registry_TrainDevTest"
    info = json.loads((derived / SPLITS_INFO_FILE).read_text())
    assert (info["folds"][0]["n_train"], info["folds"][0]["n_val"], info["n_test"]) == (4, 1, 1)
