"""nnU-Net's end-of-training validation in the trainer's own process.

``nnUNetTrainer.perform_actual_validation`` exports each validation case's prediction through a pool of
``nnUNet_def_n_proc`` *spawned* processes, and ``compute_metrics_on_folder`` scores them through a second such pool.
A spawned worker imports torch and nnU-Net before its first task (about 3 CPU seconds here), so with one process
the two pools cost those imports and the pickling of every case's logits and add no parallelism over doing the
same work in the trainer's process; on a 2-core CPU two workers each cost more than they save
(``strokeseg.nnunet.worker_processes`` decides). ``validation_in_process`` hands both of nnU-Net's calls an
``InProcessPool`` instead, for as long as it is open; the exported files and ``summary.json`` are the same.

It replaces the ``multiprocessing`` name that the two nnU-Net modules call ``get_context("spawn")`` on, and only
there: any other use of that name inside the two modules reaches the real module.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType, TracebackType
from typing import Any

#: The nnU-Net modules whose ``multiprocessing.get_context("spawn").Pool(n)`` the validation goes through.
VALIDATION_MODULES: tuple[str, ...] = (
    "nnunetv2.training.nnUNetTrainer.nnUNetTrainer",
    "nnunetv2.evaluation.evaluate_predictions",
)
#: How a trainer's log says that it validated in its own process.
IN_PROCESS_VALIDATION_LOG = "validation in the trainer's process"


class _Worker:
    """The pool's one "worker": the calling process, always alive (nnU-Net checks its workers are)."""

    @staticmethod
    def is_alive() -> bool:
        return True


class _DoneResult:
    """An ``AsyncResult`` whose work already ran: ``ready()`` is true and ``get()`` returns the values."""

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def ready(self) -> bool:
        return True

    def get(self, timeout: float | None = None) -> list[Any]:
        return self._values


class InProcessPool:
    """The part of ``multiprocessing.pool.Pool`` nnU-Net's validation uses, running each task at once in the calling
    process: ``starmap``, ``starmap_async``, the context manager and the ``_pool`` worker list."""

    def __init__(self, processes: int | None = None) -> None:
        self._pool = [_Worker()]

    def __enter__(self) -> InProcessPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        return None

    def starmap(self, function: Callable[..., Any], arguments: Iterable[Iterable[Any]]) -> list[Any]:
        return [function(*task) for task in arguments]

    def starmap_async(self, function: Callable[..., Any], arguments: Iterable[Iterable[Any]]) -> _DoneResult:
        return _DoneResult(self.starmap(function, arguments))


class _InProcessContext:
    """A multiprocessing context whose ``Pool`` is an ``InProcessPool``."""

    Pool = InProcessPool


class _MultiprocessingInProcess:
    """Stands for the ``multiprocessing`` module inside nnU-Net's validation modules: ``get_context`` hands out
    in-process pools, every other attribute is the real module's."""

    def get_context(self, method: str | None = None) -> _InProcessContext:
        return _InProcessContext()

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


@contextmanager
def _replaced(module: ModuleType) -> Iterator[None]:
    """``module.multiprocessing`` is the in-process stand-in while open (restored on exit, also on error)."""
    original = module.multiprocessing
    module.multiprocessing = _MultiprocessingInProcess()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.multiprocessing = original  # type: ignore[attr-defined]


def patchable_modules() -> list[ModuleType]:
    """The nnU-Net validation modules that call ``multiprocessing.get_context`` through a module-level
    ``multiprocessing`` name (all of ``VALIDATION_MODULES`` for the nnU-Net versions strokeseg supports; a future
    version that does otherwise is left alone)."""
    modules = [importlib.import_module(name) for name in VALIDATION_MODULES]
    return [module for module in modules if getattr(module, "multiprocessing", None) is multiprocessing]


@contextmanager
def validation_in_process(enabled: bool = True) -> Iterator[None]:
    """While open (and ``enabled``), nnU-Net's validation export and metrics run in this process instead of in
    spawned worker pools. Not thread-safe: open it around one validation at a time (nnU-Net's trainers validate once,
    at the end of training)."""
    with ExitStack() as stack:
        if enabled:
            for module in patchable_modules():
                stack.enter_context(_replaced(module))
        yield
