"""How glibc's ``malloc`` serves the large arrays of CPU training and inference in the processes strokeseg runs.

glibc gives every block above its mmap threshold (at most 32 MiB) a memory map of its own and hands it back to the
kernel when it is freed. A sliding-window prediction allocates and frees activations of tens to hundreds of MiB for
every patch, so the kernel zero-fills the same memory again and again: one 256 x 256 x 30 DWI case through the
``noh_registry_dwi`` network took 3.7 million page faults and as much system time as computing time on 2 cores.
With large blocks served from the heap (``M_MMAP_MAX`` 0) and freed heap memory kept (``M_TRIM_THRESHOLD``), the
process reuses its memory: one DWI case took 0.46-0.62 times the wall-clock time, for a peak resident memory
1.15-1.27 times higher (figures: ``benchmarks/bench_cpu_allocator.py``, ``docs/performance.md``). Results are
unchanged: only where memory comes from differs.

strokeseg applies these settings, unless ``STROKESEG_MALLOC=system``:

* to every nnU-Net tool it starts (:func:`allocator_environment`, through glibc's ``MALLOC_MMAP_MAX_`` and
  ``MALLOC_TRIM_THRESHOLD_`` environment variables, which its worker processes inherit); a value the user has set
  for either variable is kept;
* to its own process where it predicts in process (``strokeseg predict``, :func:`use_heap_allocator`, glibc's
  ``mallopt``).

Other C libraries (musl, macOS) ignore the variables, and :func:`use_heap_allocator` does nothing there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping
from typing import Any

from strokeseg.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: Environment variable choosing the allocator settings: ``heap`` (the default) or ``system`` (glibc's own).
MALLOC_CHOICE_VARIABLE = "STROKESEG_MALLOC"
#: Values of :data:`MALLOC_CHOICE_VARIABLE`; the first is the default.
MALLOC_CHOICES: tuple[str, ...] = ("heap", "system")

#: Freed memory at the top of the heap is returned to the kernel only beyond this many bytes (the largest value
#: ``mallopt`` takes: 2 GiB - 1).
TRIM_THRESHOLD_BYTES = 2**31 - 1

#: glibc's environment variables for ``heap`` and their values: no memory maps for large blocks, freed memory kept.
HEAP_ENVIRONMENT: dict[str, str] = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES)}

#: ``mallopt`` parameters of glibc's malloc.h: M_MMAP_MAX and M_TRIM_THRESHOLD, with the values for ``heap``.
_MALLOPT_SETTINGS: tuple[tuple[int, int], ...] = ((-4, 0), (-1, TRIM_THRESHOLD_BYTES))


def malloc_choice(environ: Mapping[str, str] | None = None) -> str:
    """The allocator settings chosen by :data:`MALLOC_CHOICE_VARIABLE` in ``environ`` (default: this process's).

    Raises:
        ConfigurationError: the variable holds something other than ``heap`` or ``system``.
    """
    value = (os.environ if environ is None else environ).get(MALLOC_CHOICE_VARIABLE, MALLOC_CHOICES[0]).strip()
    if value not in MALLOC_CHOICES:
        raise ConfigurationError(f"{MALLOC_CHOICE_VARIABLE}={value!r} is not one of {', '.join(MALLOC_CHOICES)}; "
                                 f"unset it for the faster default ({MALLOC_CHOICES[0]}) or set it to system")
    return value


def allocator_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with glibc's heap settings (:data:`HEAP_ENVIRONMENT`) added for a process strokeseg starts, unless
    the choice is ``system``; a variable already set in ``environ`` keeps its value."""
    if malloc_choice(environ) == "system":
        return dict(environ)
    return {**HEAP_ENVIRONMENT, **environ}


def use_heap_allocator() -> bool:
    """Apply the heap settings to this process with glibc's ``mallopt``, unless the choice is ``system``.

    Returns:
        whether they were applied (False on ``system`` and where the C library is not glibc).
    """
    if malloc_choice() == "system":
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    applied = all(mallopt(parameter, value) == 1 for parameter, value in _MALLOPT_SETTINGS)
    logger.debug("glibc malloc: large blocks %s", "from the heap, freed memory kept" if applied else "unchanged")
    return applied


def _glibc_mallopt() -> Any | None:
    """glibc's ``int mallopt(int, int)``, or None where the C library is another (no ``gnu_get_libc_version``)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        libc = ctypes.CDLL(library)
        libc.gnu_get_libc_version  # noqa: B018  (only glibc has it)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt
