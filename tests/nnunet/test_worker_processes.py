"""When nnU-Net's per-case work stays in the tool's own process (strokeseg.nnunet.worker_processes)."""

from __future__ import annotations

from strokeseg.nnunet.worker_processes import CPU_IN_PROCESS_MAX_PROCESSES, work_in_process


def test_one_process_works_in_process_on_any_device() -> None:
    assert all(work_in_process(1, device) for device in ("cpu", "cuda", "mps"))


def test_a_few_cpu_processes_work_in_process_but_not_on_a_gpu() -> None:
    assert CPU_IN_PROCESS_MAX_PROCESSES == 2  # the measured case (docs/performance.md)
    assert work_in_process(2, "cpu")
    assert not work_in_process(2, "cuda") and not work_in_process(8, "cuda")


def test_more_cpu_processes_keep_nnunets_workers() -> None:
    assert not work_in_process(CPU_IN_PROCESS_MAX_PROCESSES + 1, "cpu") and not work_in_process(16, "cpu")
