"""Make strokeseg's planners, preprocessors, normalizations and trainers findable by the stock nnU-Net CLIs.

nnU-Net v2 (2.8.x) finds classes by name with ``recursive_find_python_class``. Prediction looks the trainer,
preprocessor and normalization schemes up again by the names stored in the plans, also in worker processes.
Each kind takes one of two routes (``check`` shows which):

* trainers: nnU-Net's own hook, the ``nnUNet_extTrainer`` variable (``strokeseg.nnunet.ext_trainer``); nothing is
  written into nnunetv2. ``run_nnunet`` sets it for every tool strokeseg runs; a shell that runs the tools by hand
  exports it (``strokeseg nnunet env``). Fallback: where nnU-Net cannot import its own trainer package (then it
  never reaches ``nnUNet_extTrainer``), ``install`` writes a trainer shim instead, which nnU-Net imports before the
  failing modules; the shim re-exports strokeseg's trainers and looks other names up in ``nnUNet_extTrainer``
  itself, as nnU-Net would.
* planners, fingerprint extractors, preprocessors, normalizations: nnU-Net searches only its own package folders,
  so ``install`` writes one small shim module per kind into them, re-exporting the classes in ``__all__`` of one
  strokeseg module.

``install`` records what it wrote and the trainer route in a manifest (``.strokeseg_shims.json`` in the nnunetv2
folder); ``uninstall`` removes exactly those files. A reinstalled or upgraded nnunetv2 loses the shims:
``verify_installed`` (run by ``run_nnunet`` before every stock tool) says so and how to fix it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from strokeseg import __version__
from strokeseg.errors import NnunetIntegrationError
from strokeseg.io import write_json_atomic, write_text_atomic
from strokeseg.nnunet.ext_trainer import (
    EXT_TRAINER_MODULE,
    EXT_TRAINER_ROUTE,
    EXT_TRAINER_VARIABLE,
    NNUNET_TRAINER_PACKAGE,
    SHIM_ROUTE,
    ext_trainer_folder,
    ext_trainer_route_blocker,
    find_trainer_class,
)

logger = logging.getLogger(__name__)

#: nnunetv2 releases the shims were tested against (``major.minor`` prefixes).
TESTED_NNUNET_SERIES: tuple[str, ...] = ("2.8",)
#: Manifest of the files ``install`` wrote, relative to the nnunetv2 package folder.
MANIFEST_NAME = ".strokeseg_shims.json"


@dataclass(frozen=True)
class ExportKind:
    """One kind of class nnU-Net looks up only inside its own package, and where strokeseg's shim for it goes.

    Attributes:
        kind: short name shown by ``check`` (planner, fingerprint extractor, preprocessor, normalization).
        source_module: strokeseg module whose ``__all__`` lists the classes to export.
        nnunet_folder: folder inside the nnunetv2 package that nnU-Net searches for this kind.
        shim_module: module name of the shim written into ``nnunet_folder``.
    """

    kind: str
    source_module: str
    nnunet_folder: tuple[str, ...]
    shim_module: str

    def shim_path(self, nnunet_root: Path) -> Path:
        """Where the shim file of this kind lives in the nnunetv2 package at ``nnunet_root``."""
        return nnunet_root.joinpath(*self.nnunet_folder, f"{self.shim_module}.py")


EXPORT_KINDS: tuple[ExportKind, ...] = (
    ExportKind("planner", "strokeseg.planners", ("experiment_planning",), "strokeseg_planners"),
    ExportKind("fingerprint extractor", "strokeseg.planners.fingerprint", ("experiment_planning",),
               "strokeseg_fingerprint_extractors"),
    ExportKind("preprocessor", "strokeseg.preprocessing.preprocessors", ("preprocessing", "preprocessors"),
               "strokeseg_preprocessors"),
    ExportKind("normalization", "strokeseg.preprocessing.normalization", ("preprocessing", "normalization"),
               "strokeseg_normalization"),
)
#: Trainers: found through ``nnUNet_extTrainer``; this shim only where nnU-Net never gets that far.
TRAINER_FALLBACK = ExportKind("trainer", "strokeseg.trainers", NNUNET_TRAINER_PACKAGE, EXT_TRAINER_MODULE)
#: Every kind strokeseg exports, in the order ``check`` lists them.
KINDS: tuple[str, ...] = ("planner", "fingerprint extractor", "trainer", "preprocessor", "normalization")


def exported_classes(kind: str) -> dict[str, type]:
    """The classes strokeseg exports to nnU-Net for ``kind``, by name (used by the shims)."""
    export = _export_kind(kind)
    module = importlib.import_module(export.source_module)
    names = getattr(module, "__all__", None)
    if not names:
        raise NnunetIntegrationError(f"{export.source_module} declares no __all__; nothing to export as {kind}")
    return {name: getattr(module, name) for name in names}


def _export_kind(kind: str) -> ExportKind:
    for export in (*EXPORT_KINDS, TRAINER_FALLBACK):
        if export.kind == kind:
            return export
    raise NnunetIntegrationError(f"unknown export kind {kind!r}; known: {', '.join(KINDS)}")


def shim_source(export: ExportKind) -> str:
    """Text of the shim module for one export kind.

    The shim tolerates a missing strokeseg (it warns instead of raising) so that a shim left behind after
    ``pip uninstall strokeseg`` never breaks nnU-Net's own class lookups.
    """
    text = f'''"""strokeseg {export.kind} classes, re-exported so that nnU-Net's name lookup finds them.

Written by `strokeseg nnunet install` (strokeseg {__version__}); removed by `strokeseg nnunet uninstall`.
Do not edit: the next install overwrites this file.
"""
try:
    from strokeseg.nnunet.plugins import exported_classes as _exported_classes
except ImportError as _error:  # strokeseg was removed but this shim stayed behind
    import warnings as _warnings

    _warnings.warn(f"{{__name__}}: strokeseg is not importable ({{_error}}); remove this file or reinstall "
                   "strokeseg and run `strokeseg nnunet install`", stacklevel=1)
else:
    globals().update(_exported_classes("{export.kind}"))
'''
    return text + (_EXT_TRAINER_LOOKUP if export is TRAINER_FALLBACK else "")


#: Appended to the trainer shim: names it does not export are looked up in the folders of nnUNet_extTrainer, as
#: nnU-Net would after its own package (which it cannot finish importing where the trainer shim is needed).
_EXT_TRAINER_LOOKUP = f'''

def __getattr__(name):
    """A trainer from the folders of {EXT_TRAINER_VARIABLE}, found the way nnU-Net finds them."""
    import os

    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    if not name.startswith("_"):
        for folder in os.environ.get("{EXT_TRAINER_VARIABLE}", "").split(os.pathsep):
            if folder.strip() and os.path.isdir(folder):
                found = recursive_find_python_class(folder, name, None, base_folder=folder,
                                                    cleanup_imports_from_base_folder=True)
                if found is not None:
                    return found
    raise AttributeError(name)
'''


def locate_nnunet() -> Path:
    """Folder of the importable ``nnunetv2`` package.

    Raises:
        NnunetIntegrationError: nnunetv2 is not importable in this Python environment.
    """
    spec = importlib.util.find_spec("nnunetv2")
    if spec is None or not spec.submodule_search_locations:
        raise NnunetIntegrationError(
            "nnunetv2 is not installed in this Python environment; install strokeseg with "
            "`pip install -e .` (it requires nnunetv2>=2.8.1,<2.9) or run `make test`/`make demo`")
    return Path(next(iter(spec.submodule_search_locations)))


def nnunet_version() -> str:
    """Installed nnunetv2 version string (from its package metadata)."""
    try:
        return importlib.metadata.version("nnunetv2")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _require_tested_version(force: bool) -> None:
    version = nnunet_version()
    if any(version == series or version.startswith(series + ".") for series in TESTED_NNUNET_SERIES):
        return
    message = (f"nnunetv2 {version} is installed, but strokeseg's shims were tested with nnunetv2 "
               f"{', '.join(s + '.x' for s in TESTED_NNUNET_SERIES)}; install `nnunetv2>=2.8.1,<2.9`, or pass "
               "--force to install the shims anyway")
    if not force:
        raise NnunetIntegrationError(message)
    logger.warning(message)


def _require_writable(folder: Path) -> None:
    if not os.access(folder, os.W_OK):
        raise NnunetIntegrationError(
            f"cannot write into {folder}: strokeseg needs to add shim modules to the nnunetv2 package. Use a "
            "virtual environment you own (e.g. `make test` creates .venv) or run the install as its owner")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What ``install`` wrote into nnunetv2 and which route the trainers take.

    Attributes:
        files: relative path -> sha256 of the content written.
        trainer_route: ``"nnUNet_extTrainer"``, or ``"shim"`` where nnU-Net never reaches ``nnUNet_extTrainer``.
        trainer_route_reason: why the trainers need the shim (empty for ``nnUNet_extTrainer``).
    """

    files: dict[str, str] = field(default_factory=dict)
    trainer_route: str = EXT_TRAINER_ROUTE
    trainer_route_reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """The manifest file's content."""
        return {"strokeseg_version": __version__, "files": self.files, "trainer_route": self.trainer_route,
                "trainer_route_reason": self.trainer_route_reason}


def read_manifest(nnunet_root: Path) -> Manifest:
    """What a previous install recorded (empty when nothing was installed)."""
    path = nnunet_root / MANIFEST_NAME
    if not path.is_file():
        return Manifest()
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(dict(content["files"]), str(content.get("trainer_route", EXT_TRAINER_ROUTE)),
                        str(content.get("trainer_route_reason", "")))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise NnunetIntegrationError(f"{path} is corrupt ({error}); delete it and the strokeseg_*.py shims it "
                                     "lists, then run `strokeseg nnunet install` again") from None


def _shims(trainer_route: str) -> tuple[ExportKind, ...]:
    return (*EXPORT_KINDS, TRAINER_FALLBACK) if trainer_route == SHIM_ROUTE else EXPORT_KINDS


def install(nnunet_root: Path | None = None, force: bool = False, trainer_route: str | None = None) -> Manifest:
    """Write (or refresh) the shim modules into nnunetv2 and record them; idempotent.

    Args:
        nnunet_root: the nnunetv2 package folder (default: the importable one).
        force: install into an nnunetv2 release strokeseg was not tested with.
        trainer_route: ``"nnUNet_extTrainer"`` or ``"shim"``; None decides: trainers get a shim only where nnU-Net
            cannot finish importing its own trainer package, and so never reaches ``nnUNet_extTrainer``. Deciding
            takes seconds (it imports every nnU-Net trainer module in a fresh interpreter).

    Returns:
        What is installed after the call.
    """
    if trainer_route not in (None, EXT_TRAINER_ROUTE, SHIM_ROUTE):
        raise NnunetIntegrationError(f"unknown trainer route {trainer_route!r}; use {EXT_TRAINER_ROUTE} or "
                                     f"{SHIM_ROUTE}")
    root = nnunet_root or locate_nnunet()
    _require_tested_version(force)
    _require_writable(root)
    previous = read_manifest(root)
    for kind in KINDS:
        exported_classes(kind)  # fail here, not inside nnU-Net, if an export is broken
    if trainer_route is None:
        blocker = ext_trainer_route_blocker(root)
        manifest = Manifest(trainer_route=EXT_TRAINER_ROUTE if blocker is None else SHIM_ROUTE,
                            trainer_route_reason=blocker or "")
    else:
        manifest = Manifest(trainer_route=trainer_route,
                            trainer_route_reason="chosen at install" if trainer_route == SHIM_ROUTE else "")
    for export in _shims(manifest.trainer_route):
        path = export.shim_path(root)
        _require_writable(path.parent)
        text = shim_source(export)
        relative = path.relative_to(root).as_posix()
        if not (path.is_file() and path.read_text(encoding="utf-8") == text):
            write_text_atomic(path, text)
            logger.info("wrote %s", path)
        manifest.files[relative] = _sha256(text)
    for stale in set(previous.files) - set(manifest.files):
        _remove_shim(root, stale, previous.files[stale])
    write_json_atomic(root / MANIFEST_NAME, manifest.as_json())
    return manifest


def uninstall(nnunet_root: Path | None = None) -> list[Path]:
    """Remove exactly the shim files a previous ``install`` recorded; returns the removed paths."""
    root = nnunet_root or locate_nnunet()
    recorded = read_manifest(root).files
    if not recorded:
        logger.info("no strokeseg shims are recorded in %s; nothing to remove", root)
        return []
    _require_writable(root)
    removed = [path for relative, digest in recorded.items() if (path := _remove_shim(root, relative, digest))]
    (root / MANIFEST_NAME).unlink()
    return removed


def _remove_shim(root: Path, relative: str, digest: str) -> Path | None:
    path = root / relative
    if not path.is_file():
        return None
    if _sha256(path.read_text(encoding="utf-8")) != digest:
        logger.warning("%s was changed after strokeseg installed it; left in place, delete it by hand", path)
        return None
    path.unlink()
    for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        compiled.unlink()
    logger.info("removed %s", path)
    return path


def verify_installed(nnunet_root: Path | None = None) -> None:
    """Cheap check that the shims ``install`` wrote are in place (file presence and content; nothing is imported).

    Run by ``run_nnunet`` before every stock tool; a success is remembered for the rest of the process.

    Raises:
        NnunetIntegrationError: a shim is missing, changed or outdated (e.g. nnunetv2 was reinstalled or upgraded
            after ``strokeseg nnunet install``); the message says how to fix it.
    """
    _verify_shims((nnunet_root or locate_nnunet()).resolve())


@cache
def _verify_shims(root: Path) -> None:
    ext_module = ext_trainer_folder() / f"{EXT_TRAINER_MODULE}.py"
    if not ext_module.is_file():
        raise NnunetIntegrationError(f"{ext_module} is missing, so nnU-Net cannot find strokeseg's trainers; "
                                     "reinstall strokeseg (`pip install -e .` or `make install`)")
    manifest = read_manifest(root)
    expected = [export.shim_path(root).relative_to(root).as_posix() for export in _shims(manifest.trainer_route)]
    problems = [f"{relative} is missing" for relative in expected if not (root / relative).is_file()]
    problems += [f"{relative} was changed after install" for relative in expected
                 if (root / relative).is_file() and relative in manifest.files
                 and _sha256((root / relative).read_text(encoding="utf-8")) != manifest.files[relative]]
    problems += [f"{relative} is left over from an older strokeseg" for relative in set(manifest.files) - set(expected)
                 if (root / relative).is_file()]
    if problems:
        strokeseg_cli = Path(sys.executable).parent / "strokeseg"
        raise NnunetIntegrationError(
            f"strokeseg's shims in nnunetv2 at {root} are not in place ({'; '.join(sorted(problems))}), so the stock "
            "nnU-Net tools would not find strokeseg's classes (a reinstalled or upgraded nnunetv2 has none; an "
            f"upgraded strokeseg may need new ones). Fix: run `{strokeseg_cli} nnunet install`, then "
            "`strokeseg nnunet check`.")


@dataclass(frozen=True)
class LookupResult:
    """Outcome of resolving one exported class with nnU-Net's own lookup."""

    kind: str
    name: str
    route: str
    found_in: str | None
    ok: bool


def _nnunet_lookup(kind: str, nnunet_root: Path) -> Callable[[str], type | None]:
    """nnU-Net's own name-lookup function for ``kind``, as its CLIs call it."""
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    if kind == "trainer":
        return find_trainer_class
    folder = _export_kind(kind).nnunet_folder
    # planners and fingerprint extractors are searched from experiment_planning/, preprocessors from preprocessing/,
    # normalizations from preprocessing/normalization/ (as in nnU-Net 2.8's code).
    search = folder if kind != "preprocessor" else folder[:1]
    module = ".".join(("nnunetv2", *search))
    return lambda name: recursive_find_python_class(str(nnunet_root.joinpath(*search)), name, module)


def check(nnunet_root: Path | None = None) -> list[LookupResult]:
    """Resolve every exported class by name with nnU-Net's lookup functions, in this process's environment (on the
    ``nnUNet_extTrainer`` route, the variable decides whether trainers are found); one result per class."""
    root = nnunet_root or locate_nnunet()
    trainer_route = read_manifest(root).trainer_route
    results = []
    for kind in KINDS:
        lookup = _nnunet_lookup(kind, root)
        route = trainer_route if kind == "trainer" else SHIM_ROUTE
        for name, cls in exported_classes(kind).items():
            found = lookup(name)
            ok = found is not None and found.__module__ == cls.__module__ and found.__qualname__ == cls.__qualname__
            results.append(LookupResult(kind, name, route, found.__module__ if found is not None else None, ok))
    return results


def format_check_table(results: list[LookupResult]) -> str:
    """Plain-text table of ``check`` results."""
    rows = [("kind", "class", "route", "status", "resolved from")]
    rows += [(r.kind, r.name, r.route, "found" if r.ok else "MISSING", r.found_in or "-") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
