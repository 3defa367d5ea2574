"""nnU-Net's ``nnUNet_extTrainer`` route: how the stock CLIs find strokeseg's trainers without files in nnunetv2.

nnU-Net 2.8's ``recursive_find_trainer_class_by_name`` (used by ``nnUNetv2_train`` and ``nnUNetv2_predict``)
first imports every module of its own ``nnunetv2/training/nnUNetTrainer`` package looking for the name; when that
fails it searches the folders listed in ``nnUNet_extTrainer`` (``os.pathsep``-separated), importing each module
there by its bare name with the folder temporarily on ``sys.path``. strokeseg ships such a folder
(``ext_trainer_folder()``) with one module that re-exports ``strokeseg.trainers.__all__``; the classes keep their
``strokeseg.trainers.*`` modules, so pickling and worker processes find them as usual.

The search of nnU-Net's own package comes first and stops at the first module that fails to import (e.g. a
``torchvision`` build that does not match ``torch`` breaks nnU-Net's Primus trainers), so the folders of
``nnUNet_extTrainer`` are never reached in such an environment; ``ext_trainer_route_blocker`` finds out.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import strokeseg

#: nnU-Net's environment variable listing extra folders of trainer modules.
EXT_TRAINER_VARIABLE = "nnUNet_extTrainer"
#: How nnU-Net finds strokeseg's trainers: through ``nnUNet_extTrainer``, or a shim module in its own package
#: (``strokeseg nnunet check`` shows the route of every class).
EXT_TRAINER_ROUTE, SHIM_ROUTE = EXT_TRAINER_VARIABLE, "shim"
#: The module in ``ext_trainer_folder()`` (nnU-Net imports it by this bare name).
EXT_TRAINER_MODULE = "strokeseg_trainers"
#: Package of nnU-Net's own trainers, searched before ``nnUNet_extTrainer``.
NNUNET_TRAINER_PACKAGE = ("training", "nnUNetTrainer")


def ext_trainer_folder() -> Path:
    """The folder to list in ``nnUNet_extTrainer``: it holds one module re-exporting strokeseg's trainers."""
    return Path(strokeseg.__file__).parent / "trainers" / "nnunet_ext"


def with_ext_trainer_folder(value: str | None, *folders: Path) -> str:
    """An ``nnUNet_extTrainer`` value: the folders of ``value`` (kept first, in order), then those of ``folders``
    (default: strokeseg's folder) that it does not list yet."""
    entries = [entry for entry in (value or "").split(os.pathsep) if entry.strip()]
    for folder in folders or (ext_trainer_folder(),):
        if not any(Path(entry).resolve() == folder.resolve() for entry in entries):
            entries.append(str(folder))
    return os.pathsep.join(entries)


def nnunet_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` with strokeseg's trainer folder added to ``nnUNet_extTrainer`` (what ``run_nnunet`` gives
    every stock tool)."""
    return {**environment, EXT_TRAINER_VARIABLE: with_ext_trainer_folder(environment.get(EXT_TRAINER_VARIABLE))}


def ext_trainer_export_line(environment: Mapping[str, str] | None = None) -> str:
    """The shell line that lets hand-run ``nnUNetv2_*`` tools find strokeseg's trainers (keeps listed folders)."""
    current = (os.environ if environment is None else environment).get(EXT_TRAINER_VARIABLE)
    return f"export {EXT_TRAINER_VARIABLE}={shlex.quote(with_ext_trainer_folder(current))}"


def find_trainer_class(name: str) -> type | None:
    """The trainer class nnU-Net's CLIs resolve for ``name`` in this process's environment, or None (not found, or
    nnU-Net's search failed); nnU-Net's progress messages are discarded."""
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return recursive_find_trainer_class_by_name(name)
    except (RuntimeError, ImportError):
        return None


def _is_importable_nnunet(nnunet_root: Path) -> bool:
    """Whether ``nnunet_root`` is the nnunetv2 package this interpreter imports."""
    spec = importlib.util.find_spec("nnunetv2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return any(Path(location).resolve() == nnunet_root.resolve() for location in locations)


def ext_trainer_route_blocker(nnunet_root: Path) -> str | None:
    """Why nnU-Net at ``nnunet_root`` never reaches ``nnUNet_extTrainer``, or None when it does.

    Runs nnU-Net's search of its own trainer package for a name that does not exist, in a fresh interpreter that
    imports the nnunetv2 at ``nnunet_root`` (seconds: it imports every nnU-Net trainer module); the search must
    finish for nnU-Net to go on to the ``nnUNet_extTrainer`` folders.
    """
    folder = nnunet_root.joinpath(*NNUNET_TRAINER_PACKAGE)
    code = ("from nnunetv2.utilities.find_class_by_name import recursive_find_python_class as find\n"
            f"find({str(folder)!r}, '_strokeseg_route_probe_', 'nnunetv2.{'.'.join(NNUNET_TRAINER_PACKAGE)}')\n")
    environment = dict(os.environ)
    if not _is_importable_nnunet(nnunet_root):  # another copy than this interpreter's: put it first on the path
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(nnunet_root.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    probe = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                           check=False)
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"the search exited with code {probe.returncode}"
