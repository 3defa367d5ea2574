"""benchmarks/bench_trainers.py: its nnU-Net datasets never share an ID (the GPU check runs every block in one
nnU-Net folder; two datasets with one ID make nnU-Net refuse both), and ``--inputs`` keeps the rows of the inputs
it names. The blocks themselves run in the GPU check's dry run (tests/test_gpu_check.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "benchmarks"))

import bench_trainers  # noqa: E402


def test_every_benchmark_dataset_has_its_own_id() -> None:
    tiny_geometries, _ = bench_trainers.tiny(bench_trainers.GEOMETRIES, bench_trainers.PREDICTION_ROWS)
    for geometries in (bench_trainers.GEOMETRIES, tiny_geometries):
        ids = [geometry.dataset_id for geometry in geometries.values()] + [bench_trainers.ALIS_DATASET_ID]
        assert len(ids) == len(set(ids)), ids
    assert bench_trainers.ALIS_DATASET_NAME.startswith(f"Dataset{bench_trainers.ALIS_DATASET_ID}_")


def test_inputs_select_their_rows_with_each_stock_row_first() -> None:
    geometries, rows = bench_trainers.select_inputs(bench_trainers.GEOMETRIES, bench_trainers.PREDICTION_ROWS,
                                                    ["flair", "dwi"])
    assert list(geometries) == ["dwi", "flair"]
    assert {row.geometry for row in rows} == {"dwi", "flair"}
    assert [row for row in bench_trainers.PREDICTION_ROWS if row.geometry in ("dwi", "flair")] == list(rows)
    for key in geometries:
        assert next(row for row in rows if row.geometry == key).trainer == "nnUNetTrainer"
    assert bench_trainers.select_inputs(bench_trainers.GEOMETRIES, bench_trainers.PREDICTION_ROWS, None) == (
        bench_trainers.GEOMETRIES, bench_trainers.PREDICTION_ROWS)
    with pytest.raises(SystemExit, match=r"unknown input\(s\) mri"):
        bench_trainers.select_inputs(bench_trainers.GEOMETRIES, bench_trainers.PREDICTION_ROWS, ["dwi", "mri"])
