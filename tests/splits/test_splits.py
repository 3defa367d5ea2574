"""Study-design splits: nested, disjoint, stratified, deterministic; splits_final.json and derived datasets."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_fixtures import make_registry

from strokeseg.cases import read_cases
from strokeseg.cli import main
from strokeseg.dataset_conversion.convert import convert
from strokeseg.errors import ConfigurationError, OutputExistsError
from strokeseg.splits.datasets import (
    SPLITS_FILE,
    SPLITS_INFO_FILE,
    apply_design,
    load_training_cases,
    split_dataset,
)
from strokeseg.splits.designs import (
    assign_parts,
    case_strata,
    domain_adaptation_split,
    ensemble_split,
    learning_curve_split,
    single_site_split,
    stratified_order,
    subsample_size,
    vendor_split,
)
from strokeseg.volumes import volume_stratum


def _cohort(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "case_id": [f"case{i:04d}" for i in range(n)],
        "site": rng.choice(["A", "B", "C", "D"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
        "vendor": rng.choice(["Siemens", "GE", "Philips"], size=n),
        "lesion_volume_ml": rng.lognormal(1.0, 1.5, size=n),
    })


# ------------------------------------------------------------------------------------------- building blocks
def test_volume_strata_follow_the_documented_cut_offs() -> None:
    assert [volume_stratum(v) for v in (0.0, 1.69, 1.7, 14.0, 14.01, None, float("nan"))] == \
        ["no lesion", "small", "medium", "medium", "large", "unknown", "unknown"]


def test_strata_combine_site_and_volume() -> None:
    table = pd.DataFrame({"case_id": ["a", "b"], "site": ["X", None], "lesion_volume_ml": [20.0, 0.5]})
    assert case_strata(table) == {"a": "site=X|volume=large", "b": "site=unknown|volume=small"}
    assert case_strata(table[["case_id"]]) == {"a": "all", "b": "all"}


def test_stratified_order_is_deterministic_and_proportional_in_every_prefix() -> None:
    cases = _cohort()
    strata = case_strata(cases, ("site",))
    order = stratified_order(strata, seed=7)
    assert order == stratified_order(strata, seed=7)
    assert order != stratified_order(strata, seed=8)
    assert sorted(order) == sorted(strata)
    totals = Counter(strata.values())
    for prefix in (20, 50, 100):
        counts = Counter(strata[case] for case in order[:prefix])
        for stratum, total in totals.items():
            assert abs(counts[stratum] - prefix * total / len(order)) <= 1.0 + 1e-9, (prefix, stratum)


def test_assign_parts_rounds_minorities_up_and_is_nested() -> None:
    parts = assign_parts(25, (0.8, 0.1, 0.1))
    assert parts[:2] == [1, 2]                      # the first positions serve the minority parts
    for n in range(2, 26):
        counts = Counter(parts[:n])
        for part in (1, 2):  # ceil(0.1 n), or one less while the other minority part takes its turn
            assert int(np.ceil(0.1 * n - 1e-9)) - 1 <= counts[part] <= int(np.ceil(0.1 * n - 1e-9))
            assert counts[part] >= 1
    assert Counter(parts[:20]) == {0: 16, 1: 2, 2: 2}
    assert assign_parts(10, (0.8, 0.2)) == assign_parts(20, (0.8, 0.2))[:10]
    with pytest.raises(ConfigurationError, match="sum to 1"):
        assign_parts(3, (0.8, 0.1))


# ------------------------------------------------------------------------------------------- designs
def test_learning_curve_is_nested_disjoint_and_8_to_2() -> None:
    cases = _cohort(400)
    plan = learning_curve_split(cases, seed=3)
    assert [fold.name for fold in plan.folds] == ["2.5%", "5%", "10%", "20%", "50%", "100%"]
    sizes = [len(fold.train) + len(fold.val) for fold in plan.folds]
    assert sizes == [10, 20, 40, 80, 200, 400]
    for fold in plan.folds:
        assert not set(fold.train) & set(fold.val)
        assert len(fold.val) == int(np.ceil(0.2 * (len(fold.train) + len(fold.val))))
    for smaller, larger in zip(plan.folds, plan.folds[1:], strict=False):
        assert set(smaller.train) <= set(larger.train)
        assert set(smaller.val) <= set(larger.val)
    assert plan.splits_final() == learning_curve_split(cases, seed=3).splits_final()
    assert plan.splits_final() != learning_curve_split(cases, seed=4).splits_final()
    # the 20 % subsample keeps the site proportions
    sites = dict(zip(cases["case_id"], cases["site"], strict=True))
    counts = Counter(sites[c] for c in (*plan.folds[3].train, *plan.folds[3].val))
    overall = Counter(cases["site"])
    for site, total in overall.items():
        assert abs(counts[site] - 80 * total / 400) <= 2


def test_learning_curve_draws_are_independent_nested_subsamples_of_the_same_sizes() -> None:
    cases = _cohort(100)
    single = learning_curve_split(cases, fractions=(0.2, 0.5, 1.0), seed=3)
    plan = learning_curve_split(cases, fractions=(0.2, 0.5, 1.0), seed=3, draws=3)
    assert [fold.name for fold in plan.folds] == ["20%", "20% draw 2", "20% draw 3", "50%", "50% draw 2",
                                                  "50% draw 3", "100%"]
    assert plan.parameters["draws"] == 3 and single.parameters["draws"] == 1
    assert [len(f.train) + len(f.val) for f in plan.folds] == [20, 20, 20, 50, 50, 50, 100]
    # draw 1 is the single-draw split (seed 3); draw k is the split of seed 3 + k - 1; all cases once
    assert [plan.folds[i] for i in (0, 3, 6)] == list(single.folds)
    for draw, (small, large) in enumerate(((1, 4), (2, 5)), start=2):
        other = learning_curve_split(cases, fractions=(0.2, 0.5, 1.0), seed=3 + draw - 1)
        assert (plan.folds[small].train, plan.folds[large].train) == (other.folds[0].train, other.folds[1].train)
        assert set(plan.folds[small].train) <= set(plan.folds[large].train)  # nested within the draw
    members = [frozenset((*f.train, *f.val)) for f in plan.folds[:3]]
    assert len(set(members)) == 3  # three different sets of 20 cases
    with pytest.raises(ConfigurationError, match="draws must be at least 1"):
        learning_curve_split(cases, draws=0)


def test_learning_curve_on_a_tiny_set_keeps_two_cases_and_one_validation_case() -> None:
    plan = learning_curve_split(_cohort(20), fractions=(0.025, 0.5))
    assert (len(plan.folds[0].train), len(plan.folds[0].val)) == (1, 1)


def test_fraction_sizes_round_half_to_even_as_in_noh() -> None:
    """2.5 ... 100 % of 8,661 images are 217, 433, 866, 1,732, 4,330 and 8,661 (half up would give 4,331 at 50 %,
    truncation 216 at 2.5 %)."""
    fractions = (0.025, 0.05, 0.10, 0.20, 0.50, 1.00)
    assert [subsample_size(f, 8661) for f in fractions] == [217, 433, 866, 1732, 4330, 8661]
    assert subsample_size(0.5, 8663) == 4332 and subsample_size(0.1, 45) == 4 and subsample_size(0.1, 55) == 6


def test_learning_curve_takes_absolute_sizes_and_the_paper_counts() -> None:
    cases = _cohort(8661)
    plan = learning_curve_split(cases, stratify_by=("site",))
    assert [len(f.train) + len(f.val) for f in plan.folds] == [217, 433, 866, 1732, 4330, 8661]
    assert [len(f.val) for f in plan.folds] == [int(np.ceil(0.2 * n)) for n in (217, 433, 866, 1732, 4330, 8661)]
    by_size = learning_curve_split(cases, sizes=(866, 217, 433), stratify_by=("site",))
    assert [fold.name for fold in by_size.folds] == ["n=217", "n=433", "n=866"]
    assert by_size.parameters["sizes"] == [217, 433, 866] and "fractions" not in by_size.parameters
    assert [(f.train, f.val) for f in by_size.folds] == [(f.train, f.val) for f in plan.folds[:3]]
    with pytest.raises(ConfigurationError, match="between 2 and 20"):
        learning_curve_split(_cohort(20), sizes=(5, 21))


def test_domain_adaptation_with_absolute_pool_and_test_counts_as_in_noh() -> None:
    cases = _cohort(2777)
    plan = domain_adaptation_split(cases, sizes=(50, 100, 200, 500, 1000), test_size=1777, pool_size=1000)
    pool = set(plan.parameters["adaptation_pool"])
    assert len(plan.test) == 1777 and len(pool) == 1000 and not pool & set(plan.test)
    assert plan.parameters["n_unused"] == 0
    assert [(len(f.train), len(f.val)) for f in plan.folds] == [(40, 10), (80, 20), (160, 40), (400, 100),
                                                                (800, 200)]
    assert set(plan.folds[-1].train) | set(plan.folds[-1].val) == pool
    assert len(domain_adaptation_split(cases, sizes=(50,), pool_size=1000).test) == 1777
    smaller = domain_adaptation_split(cases, sizes=(50,), test_size=1000, pool_size=1000)
    assert (len(smaller.test), len(smaller.parameters["adaptation_pool"]), smaller.parameters["n_unused"]) == \
        (1000, 1000, 777)
    with pytest.raises(ConfigurationError, match="exceed"):
        domain_adaptation_split(cases, sizes=(50,), test_size=1778, pool_size=1000)


def test_domain_adaptation_pools_are_disjoint_and_subsamples_nested() -> None:
    cases = _cohort(400)
    plan = domain_adaptation_split(cases, sizes=(50, 100, 200, 500), seed=1)
    assert len(plan.test) == 80
    pool = set(plan.parameters["adaptation_pool"])
    assert len(pool) == 320 and not pool & set(plan.test)
    assert plan.parameters["sizes"] == [50, 100, 200] and plan.parameters["dropped_sizes"] == [500]
    for fold, size in zip(plan.folds, (50, 100, 200), strict=True):
        members = set(fold.train) | set(fold.val)
        assert len(members) == size and members <= pool
        assert len(fold.val) == 10 * size // 50
    for smaller, larger in zip(plan.folds, plan.folds[1:], strict=False):
        assert set(smaller.train) <= set(larger.train) and set(smaller.val) <= set(larger.val)
    fixed = domain_adaptation_split(cases, sizes=(50,), test_size=123)
    assert len(fixed.test) == 123 and len(fixed.parameters["adaptation_pool"]) == 277


def test_vendor_split_is_80_10_10_within_one_vendor() -> None:
    cases = _cohort(400)
    plan = vendor_split(cases, "siemens")
    siemens = set(cases.loc[cases["vendor"] == "Siemens", "case_id"])
    fold = plan.folds[0]
    parts = [set(fold.train), set(fold.val), set(plan.test)]
    assert set().union(*parts) == siemens
    assert sum(len(p) for p in parts) == len(siemens)
    for part in (fold.val, plan.test):
        assert abs(len(part) - 0.1 * len(siemens)) < 1
    with pytest.raises(ConfigurationError, match=r"0 case\(s\) with vendor = 'Canon'.*GE, Philips, Siemens"):
        vendor_split(cases, "Canon")


def test_single_site_and_ensemble() -> None:
    cases = _cohort(200)
    site = single_site_split(cases, "B")
    assert set(site.training_cases) == set(cases.loc[cases["site"] == "B", "case_id"])
    plan = ensemble_split(cases, members=5, subset_fraction=0.9)
    assert plan.parameters["validation_scheme"] == "disjoint"
    vals = [set(fold.val) for fold in plan.folds]
    assert all(len(v) == 20 for v in vals)
    assert len(set().union(*vals)) == 100                     # disjoint tenths
    for fold in plan.folds:
        assert set(fold.train) | set(fold.val) == set(cases["case_id"])
        assert len(fold.train) == 180
    many = ensemble_split(cases, members=12, subset_fraction=0.9)
    assert many.parameters["validation_scheme"] == "independent"
    assert len({tuple(sorted(fold.val)) for fold in many.folds}) == 12
    with pytest.raises(ConfigurationError, match="too few"):
        ensemble_split(cases.head(3), members=5)


# ------------------------------------------------------------------------------------------- files
@pytest.fixture
def converted(tmp_path: Path) -> Path:
    """A converted registry dataset with 15 training cases (3 vendors, 3 hospitals) and 2 test cases."""
    cohort = make_registry(tmp_path / "src", n_cases=17, n_test=2)
    return convert("registry", cohort.root, tmp_path / "raw", 70, "Registry").dataset_dir


def test_in_place_splits_go_to_raw_and_existing_preprocessed(converted: Path, tmp_path: Path) -> None:
    raw = converted.parent
    preprocessed = tmp_path / "preprocessed"
    (preprocessed / converted.name).mkdir(parents=True)
    result = split_dataset(raw, 70, "learning-curve", fractions=(0.5, 1.0), preprocessed_root=preprocessed)
    splits = json.loads((converted / SPLITS_FILE).read_text())
    assert splits == json.loads((preprocessed / converted.name / SPLITS_FILE).read_text())
    assert [len(f["train"]) + len(f["val"]) for f in splits] == [8, 15]       # imagesTr only: 15 training cases
    info = json.loads((converted / SPLITS_INFO_FILE).read_text())
    assert info["kind"] == "learning_curve" and info["seed"] == 12345
    assert info["folds"][1]["val"] == splits[1]["val"]
    assert set(info["strata"]) == set(splits[1]["train"]) | set(splits[1]["val"])
    assert result.splits_file == converted / SPLITS_FILE
    split_dataset(raw, 70, "learning-curve", fractions=(0.5, 1.0), preprocessed_root=preprocessed)  # same: fine
    with pytest.raises(OutputExistsError, match="already holds other splits; pass --overwrite"):
        split_dataset(raw, 70, "ensemble", members=3)
    split_dataset(raw, 70, "ensemble", members=3, overwrite=True)
    assert len(json.loads((converted / SPLITS_FILE).read_text())) == 3


def test_vendor_datasets_link_the_source_files(converted: Path) -> None:
    raw = converted.parent
    cases = load_training_cases(converted)
    siemens = split_dataset(raw, "Dataset070_Registry", "vendor", group="Siemens", derived_id=71)
    derived = siemens.dataset_dir
    assert derived.name == "Dataset071_Registry_Siemens"
    expected = set(cases.loc[cases["vendor"] == "Siemens", "case_id"])
    assert set(siemens.plan.training_cases) | set(siemens.plan.test) == expected
    content = json.loads((derived / "dataset.json").read_text())
    assert content["numTraining"] == len(siemens.plan.training_cases)
    assert content["strokeseg_derived"]["derived_from"] == "Dataset070_Registry"
    image = next((derived / "imagesTr").iterdir())
    assert image.is_symlink() and not os.path.isabs(os.readlink(image))
    assert image.resolve() == (converted / "imagesTr" / image.name).resolve()
    assert sorted(p.name for p in (derived / "labelsTs").iterdir()) == sorted(f"{c}.nii.gz" for c in siemens.plan.test)
    table = read_cases(derived / "cases.csv").set_index("case_id")
    assert set(table.index) == expected
    assert set(table.loc[list(siemens.plan.test), "split"]) == {"test"}
    splits = json.loads((derived / SPLITS_FILE).read_text())
    assert len(splits) == 1 and not set(splits[0]["train"]) & set(siemens.plan.test)


def test_designs_with_a_test_part_need_a_derived_dataset(converted: Path) -> None:
    cases = load_training_cases(converted)
    plan = domain_adaptation_split(cases, sizes=(4, 8), test_size=3)
    with pytest.raises(ConfigurationError, match="derived dataset"):
        apply_design(converted.parent, 70, plan)
    result = apply_design(converted.parent, 70, plan, derived_id=72, link="copy")
    assert sorted(p.name for p in (result.dataset_dir / "labelsTs").iterdir()) == sorted(
        f"{case}.nii.gz" for case in plan.test)
    assert not any(p.is_symlink() for p in (result.dataset_dir / "imagesTr").iterdir())
    info = json.loads((result.dataset_dir / SPLITS_INFO_FILE).read_text())
    assert info["parameters"]["n_test"] == 3 and info["derived_from"] == "Dataset070_Registry"


def test_cli_split(converted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = str(converted.parent)
    assert main(["split", "vendor", "-d", "70", "--raw", raw, "--groups", "Siemens:73", "GE:74:OnlyGE"]) == 0
    out = capsys.readouterr().out
    assert "Dataset073_Registry_Siemens/splits_final.json: 1 fold(s)" in out
    assert (converted.parent / "Dataset074_OnlyGE" / SPLITS_FILE).is_file()
    assert main(["split", "site", "-d", "70", "--raw", raw, "--site", "hospital2", "--derived-id", "75"]) == 0
    assert main(["split", "ensemble", "-d", "70", "--raw", raw, "--members", "3", "--seed", "1"]) == 0
    assert len(json.loads((converted / SPLITS_FILE).read_text())) == 3
    assert main(["split", "site", "-d", "70", "--raw", raw, "--site", "nowhere", "--derived-id", "76"]) == 2
    assert "0 case(s) from site 'nowhere'" in capsys.readouterr().err


def test_cli_split_takes_subsample_sizes_and_an_adaptation_pool_size(converted: Path) -> None:
    raw = str(converted.parent)
    assert main(["split", "learning-curve", "-d", "70", "--raw", raw, "--sizes", "4,15", "--overwrite"]) == 0
    splits = json.loads((converted / SPLITS_FILE).read_text())
    assert [len(f["train"]) + len(f["val"]) for f in splits] == [4, 15]
    assert main(["split", "learning-curve", "-d", "70", "--raw", raw, "--sizes", "4,8,15", "--draws", "2",
                 "--overwrite"]) == 0
    splits = json.loads((converted / SPLITS_FILE).read_text())
    assert [len(f["train"]) + len(f["val"]) for f in splits] == [4, 4, 8, 8, 15]  # 15: all cases, once
    assert {*splits[0]["train"], *splits[0]["val"]} != {*splits[1]["train"], *splits[1]["val"]}
    assert main(["split", "domain-adaptation", "-d", "70", "--raw", raw, "--derived-id", "77", "--sizes", "4,8",
                 "--pool-size", "8", "--test-size", "5"]) == 0
    info = json.loads((converted.parent / "Dataset077_Registry_DA" / SPLITS_INFO_FILE).read_text())
    assert (info["parameters"]["n_adaptation_pool"], info["n_test"], info["parameters"]["n_unused"]) == (8, 5, 2)
