"""Ensemble uncertainty: hand-computed indices, member folders, the CSV ranking, the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_fixtures import write_nifti

from strokeseg.cli import main
from strokeseg.errors import InputDataError, OutputExistsError
from strokeseg.io import read_array
from strokeseg.postprocessing import run_uncertainty
from strokeseg.postprocessing.uncertainty import case_uncertainty

SHAPE = (6, 10, 10)
SPACING = (2.0, 2.0, 3.0)  # 12 mm³ per voxel


def _lesion() -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[2:4, 3:7, 3:7] = True  # 32 voxels
    return mask


def test_all_confident_members_give_zero_and_all_at_0_6_give_one() -> None:
    lesion = _lesion()
    confident = [np.where(lesion, p, 0.01) for p in (0.98, 0.99, 1.0)]
    _, segmentation, record = case_uncertainty(confident, 0.012)
    assert np.array_equal(segmentation, lesion)
    assert record["uncertainty_index"] == 0.0 and not record["flagged"]
    assert record["predicted_volume_ml"] == pytest.approx(32 * 0.012)
    hesitant = [np.where(lesion, p, 0.0) for p in (0.5, 0.6, 0.7)]  # p̄ = 0.6 on the lesion
    mean, _, record = case_uncertainty(hesitant, 0.012)
    assert np.allclose(mean[lesion], 0.6)
    assert record["uncertainty_index"] == 1.0 and record["flagged"] and record["uncertain_voxels"] == 32


def test_index_counts_voxels_below_the_divergence_threshold() -> None:
    # KL(0.9 || 0.5) = 0.368 nats < 0.5 -> uncertain; KL(0.97 || 0.5) = 0.558 -> certain
    lesion = _lesion()
    mean = np.where(lesion, 0.97, 0.0)
    mean[2, 3:7, 3:7] = 0.9  # 16 of 32 voxels
    _, _, record = case_uncertainty([mean], 0.012)
    assert record["uncertainty_index"] == 0.5
    _, _, strict = case_uncertainty([mean], 0.012, divergence_threshold=0.3, review_cut=0.6)
    assert strict["uncertainty_index"] == 0.0
    _, _, empty = case_uncertainty([np.zeros(SHAPE)], 0.012)
    assert math.isnan(empty["uncertainty_index"]) and not empty["flagged"]


def _write_member(folder: Path, case_id: str, foreground: np.ndarray) -> None:
    write_nifti(folder / f"{case_id}.nii.gz", (foreground >= 0.5).astype(np.uint8), SPACING)
    np.savez_compressed(folder / f"{case_id}.npz",
                        probabilities=np.stack([1 - foreground, foreground]).astype(np.float32))


def _ensemble(root: Path, n_members: int = 3) -> list[Path]:
    """Three members; 'clean' cases agree confidently, the 'corrupted' case splits the members."""
    rng = np.random.default_rng(3)
    lesion = _lesion()
    members = [root / f"member_{i}" for i in range(n_members)]
    for index, member in enumerate(members):
        for case_id in ("clean_a", "clean_b"):
            _write_member(member, case_id, np.where(lesion, rng.uniform(0.97, 1.0, SHAPE), 0.01))
        disagreeing = np.where(lesion, (0.95, 0.2, 0.7)[index % 3], 0.02)  # p̄ ≈ 0.62 in the lesion
        _write_member(member, "corrupted", disagreeing)
    return members


def test_run_uncertainty_ranks_the_disagreeing_case_first_and_writes_maps(tmp_path: Path) -> None:
    members = _ensemble(tmp_path)
    out = tmp_path / "ens"
    table = run_uncertainty(members, out)
    assert table.loc[0, "case_id"] == "corrupted"
    assert table.loc[0, "uncertainty_index"] == 1.0 and bool(table.loc[0, "flagged"])
    assert (table.loc[1:, "uncertainty_index"] == 0.0).all()
    on_disk = pd.read_csv(out / "uncertainty.csv", dtype={"case_id": str})
    assert list(on_disk["case_id"]) == list(table["case_id"])
    assert on_disk.loc[0, "predicted_volume_ml"] == pytest.approx(32 * 0.012)
    mean, geometry = read_array(out / "mean_probability" / "corrupted.nii.gz")
    assert geometry.spacing == SPACING and np.allclose(mean[_lesion()], (0.95 + 0.2 + 0.7) / 3)
    segmentation, _ = read_array(out / "corrupted.nii.gz")
    assert np.array_equal(segmentation > 0, _lesion())
    with pytest.raises(OutputExistsError):
        run_uncertainty(members, out)
    (members[1] / "clean_b.npz").unlink()
    with pytest.raises(InputDataError, match="clean_b"):
        run_uncertainty(members, out, overwrite=True, strict=True)
    table = run_uncertainty(members, out, overwrite=True).set_index("case_id")
    assert table.loc["clean_b", "status"] == "unreadable"
    assert "clean_b.npz does not exist" in table.loc["clean_b", "note"]
    assert table.loc["corrupted", "uncertainty_index"] == 1.0 and table.loc["clean_a", "status"] == "ok"


def test_uncertainty_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = _ensemble(tmp_path)
    assert main(["uncertainty", "--members", *map(str, members), "--out", str(tmp_path / "ens")]) == 0
    output = capsys.readouterr().out
    assert "1 flagged" in output and output.index("corrupted") < output.index("clean_a")
    assert main(["uncertainty", "--members", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
