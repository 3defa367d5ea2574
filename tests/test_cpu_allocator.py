"""strokeseg.cpu_allocator: the heap settings reach the tools strokeseg starts, a user's own values and the
``system`` choice are respected, and glibc really stops re-faulting large blocks, checked in fresh processes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from strokeseg.cpu_allocator import (
    HEAP_ENVIRONMENT,
    MALLOC_CHOICE_VARIABLE,
    allocator_environment,
    malloc_choice,
)
from strokeseg.errors import ConfigurationError
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import tool_environment

GLIBC = platform.libc_ver()[0] == "glibc"

#: Allocates and frees a 64 MiB array 20 times (touching every page) and prints the minor page faults of the loop;
#: with ``apply`` it first calls use_heap_allocator() and prints what it returned.
_FAULT_PROBE = """
import json, resource, sys
import numpy as np
applied = None
if sys.argv[1] == "apply":
    from strokeseg.cpu_allocator import use_heap_allocator
    applied = use_heap_allocator()
np.ones(1 << 24, dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(1 << 24, dtype=np.float32)
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _without_malloc_variables() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if key not in HEAP_ENVIRONMENT and key != MALLOC_CHOICE_VARIABLE}


def _probe(environment: dict[str, str], mode: str = "env") -> dict[str, object]:
    # numpy asks for transparent huge pages for large arrays (2 MiB per fault); torch's CPU tensors do not: probe
    # with 4 KiB pages, as a network's activations get them
    environment = {**environment, "NUMPY_MADVISE_HUGEPAGE": "0"}
    completed = subprocess.run([sys.executable, "-c", _FAULT_PROBE, mode], env=environment, capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout)


def test_heap_settings_are_added_unless_system_or_set_by_the_user(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin"}
    assert allocator_environment(base) == {**base, **HEAP_ENVIRONMENT}
    assert allocator_environment({**base, "MALLOC_MMAP_MAX_": "65536"})["MALLOC_MMAP_MAX_"] == "65536"
    system = {**base, MALLOC_CHOICE_VARIABLE: "system"}
    assert allocator_environment(system) == system
    with pytest.raises(ConfigurationError, match="STROKESEG_MALLOC='jemalloc' is not one of heap, system"):
        malloc_choice({MALLOC_CHOICE_VARIABLE: "jemalloc"})
    # what every nnU-Net tool strokeseg starts gets
    environment = tool_environment(NnunetPaths.under(tmp_path))
    assert all(environment[key] == os.environ.get(key, value) for key, value in HEAP_ENVIRONMENT.items())


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc settings; other C libraries ignore them")
def test_glibc_reuses_large_blocks_with_the_heap_settings() -> None:
    system = _probe(_without_malloc_variables())
    heap = _probe(allocator_environment(_without_malloc_variables()))
    # 20 x 64 MiB re-faulted page by page with glibc's defaults; reused from the heap with the settings
    assert system["faults"] > 20 * 10_000 > 100 * heap["faults"], (system, heap)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_use_heap_allocator_applies_mallopt_in_process_unless_system() -> None:
    applied = _probe(_without_malloc_variables(), "apply")
    assert applied["applied"] is True and applied["faults"] < 2_000, applied
    declined = _probe({**_without_malloc_variables(), MALLOC_CHOICE_VARIABLE: "system"}, "apply")
    assert declined["applied"] is False and declined["faults"] > 20 * 10_000, declined
