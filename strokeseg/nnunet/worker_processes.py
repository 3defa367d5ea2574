"""When strokeseg runs nnU-Net's per-case work in the tool's own process instead of nnU-Net's worker processes.

nnU-Net starts its workers (prediction's preprocessing and export, ``-npp`` / ``-nps``; the export and scoring of a
training's validation, ``nnUNet_def_n_proc``) with ``spawn``: each imports torch and nnU-Net, several CPU seconds,
before its first case. On a GPU they preprocess and export while the GPU predicts. With one process they add
nothing but those imports; nor do a few of them on the CPU, where the network already keeps every core busy. So
strokeseg keeps that work in the tool's own process with one process, or on the CPU with at most
:data:`CPU_IN_PROCESS_MAX_PROCESSES` (measured on 2 cores: docs/performance.md); otherwise nnU-Net's workers run.
The files written are the same either way.
"""

from __future__ import annotations

#: Most processes with which nnU-Net's work on the CPU stays in the tool's own process: measured faster with 2 on a
#: 2-core machine (prediction 1.33x, a training's validation: docs/performance.md); more were not measured.
CPU_IN_PROCESS_MAX_PROCESSES = 2


def work_in_process(processes: int, device: str) -> bool:
    """Whether nnU-Net's per-case work with ``processes`` processes on ``device`` (``cpu``, ``cuda``, ``mps``) runs
    in the tool's own process rather than in nnU-Net's spawned workers."""
    return processes <= 1 or (device == "cpu" and processes <= CPU_IN_PROCESS_MAX_PROCESSES)
