"""nnU-Net's end-of-training validation in the trainer's process (strokeseg.nnunet.validation_pools): the pools the two
nnU-Net modules open while it is active, and that nnU-Net's own metrics come out the same as from its spawned pool."""

from __future__ import annotations

import importlib
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from nnunetv2.evaluation.evaluate_predictions import compute_metrics_on_folder
from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
from nnunetv2.utilities.file_path_utilities import check_workers_alive_and_busy

from strokeseg.nnunet.validation_pools import (
    VALIDATION_MODULES,
    InProcessPool,
    patchable_modules,
    validation_in_process,
)


def spawn_pool_class(module_name: str) -> type:
    """The class of pool that ``module_name``'s ``multiprocessing.get_context("spawn").Pool`` makes, not started."""
    module = importlib.import_module(module_name)
    return module.__dict__["multiprocessing"].get_context("spawn").Pool  # type: ignore[no-any-return]


def test_both_nnunet_modules_can_be_switched() -> None:
    """A future nnU-Net that stops calling ``multiprocessing.get_context`` by that name fails here, not silently."""
    assert [module.__name__ for module in patchable_modules()] == list(VALIDATION_MODULES)


@pytest.mark.parametrize("module_name", VALIDATION_MODULES)
def test_pools_run_in_process_only_while_open(module_name: str) -> None:
    module = importlib.import_module(module_name)
    with validation_in_process():
        assert spawn_pool_class(module_name) is InProcessPool
        assert module.__dict__["multiprocessing"].cpu_count is multiprocessing.cpu_count  # the rest: the real module
    assert module.__dict__["multiprocessing"] is multiprocessing
    with validation_in_process(enabled=False):
        assert module.__dict__["multiprocessing"] is multiprocessing
    with pytest.raises(KeyError), validation_in_process():
        raise KeyError("failed validation")
    assert module.__dict__["multiprocessing"] is multiprocessing


def test_the_pool_runs_tasks_at_once_and_never_looks_busy() -> None:
    """What nnU-Net's export loop asks of its pool: results, a live worker list, and room for the next case."""
    with InProcessPool(4) as pool:
        results = [pool.starmap_async(pow, [(2, 3), (3, 2)]), pool.starmap_async(divmod, [(7, 2)])]
        assert not check_workers_alive_and_busy(pool, pool._pool, results, allowed_num_queued=0)
        assert [result.get() for result in results] == [[8, 9], [(3, 1)]]
        assert pool.starmap(max, [(1, 5), (4, 2)]) == [5, 4]
    with pytest.raises(ZeroDivisionError):
        InProcessPool().starmap_async(divmod, [(1, 0)])


def write_mask(path: Path, array: np.ndarray) -> None:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing((1.0, 1.0, 2.0))
    sitk.WriteImage(image, str(path))


def test_metrics_in_process_equal_nnunets_spawned_pool(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    references, predictions = tmp_path / "gt", tmp_path / "pred"
    references.mkdir()
    predictions.mkdir()
    for case in ("a", "b", "c"):
        reference = rng.random((6, 12, 12)) > 0.7
        write_mask(references / f"{case}.nii.gz", reference)
        write_mask(predictions / f"{case}.nii.gz", reference ^ (rng.random((6, 12, 12)) > 0.9))

    def metrics(summary: Path) -> dict:
        return compute_metrics_on_folder(str(references), str(predictions), str(summary), SimpleITKIO(), ".nii.gz",
                                         [1], None, num_processes=1)

    spawned = metrics(tmp_path / "spawned.json")
    with validation_in_process():
        in_process = metrics(tmp_path / "in_process.json")
    assert in_process == spawned
    assert 0 < in_process["foreground_mean"]["Dice"] < 1
    assert (tmp_path / "in_process.json").read_text() == (tmp_path / "spawned.json").read_text()
