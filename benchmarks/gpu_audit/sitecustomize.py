"""Import audit of the GPU check's dry run (``benchmarks/gpu_check.sh --dry-run`` puts this folder on PYTHONPATH).

When ``STROKESEG_IMPORT_AUDIT`` names a folder, every Python process started with this folder on its path writes
the top-level names of the modules it imported to ``<folder>/<pid>.txt`` at exit; ``gpu_wheels.py audit`` maps
them to distributions and checks that the GPU machine has each one.
"""

from __future__ import annotations

import atexit
import os
import sys


def _write_imported_modules(folder: str) -> None:
    names = sorted({name.split(".", 1)[0] for name in list(sys.modules)})
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{os.getpid()}.txt"), "w", encoding="utf-8") as record:
        record.write("\n".join(names) + "\n")


if os.environ.get("STROKESEG_IMPORT_AUDIT"):
    atexit.register(_write_imported_modules, os.environ["STROKESEG_IMPORT_AUDIT"])
