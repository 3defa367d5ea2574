"""Running one function over many cases in worker processes, with a progress bar.

Used by every command that processes cases independently (``strokeseg evaluate -j N``, ``strokeseg report
-j N``). Results come back in input order whatever order the workers finish in.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

import SimpleITK as sitk
from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_parallel(function: Callable[[Item], Result], items: Sequence[Item], jobs: int,
                 device: str = "cpu", description: str = "evaluating", unit: str = "case") -> list[Result]:
    """Apply ``function`` to every item with ``jobs`` worker processes and a progress bar (``description``,
    counting ``unit``); results in order.

    CUDA workers are started with ``spawn`` (CUDA cannot be used after ``fork``), CPU workers with ``fork``
    where it exists (no start-up imports; the parent has run no threaded computation at that point) and
    ``spawn`` elsewhere. Each worker process uses one thread for SimpleITK so that ``-j`` scales.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    progress = tqdm(total=len(items), desc=description, unit=unit, disable=len(items) < 2, leave=False)
    if jobs == 1 or len(items) < 2:
        results = []
        for item in items:
            results.append(function(item))
            progress.update()
        progress.close()
        return results
    method = "spawn" if device == "cuda" or "fork" not in multiprocessing.get_all_start_methods() else "fork"
    ordered: list[Result | None] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context(method),
                             initializer=_single_threaded) as pool:
        futures = {pool.submit(function, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            ordered[futures[future]] = future.result()
            progress.update()
    progress.close()
    return [row for row in ordered if row is not None]


def _single_threaded() -> None:
    """Worker initialiser: one thread per process for SimpleITK and OpenMP, so that ``-j`` scales."""
    os.environ["OMP_NUM_THREADS"] = "1"
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
