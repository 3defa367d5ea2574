"""Make strokeseg's planners, preprocessors, normalizations and trainers findable by the stock nnU-Net CLIs.

nnU-Net v2 (2.8.x) finds classes by name with ``recursive_find_python_class``, which walks folders of the
installed ``nnunetv2`` package only (trainers may also come from ``nnUNet_extTrainer``). Prediction looks the
trainer, preprocessor and normalization schemes up again by the names stored in the plans, also in worker
processes. ``install`` therefore writes one small shim module per kind into those folders; each shim
re-exports the classes listed in ``__all__`` of one strokeseg module. Trainers use the same shim route, so
nothing has to be exported in the user's shell. ``install`` records what it wrote in a manifest
(``.strokeseg_shims.json`` in the nnunetv2 folder); ``uninstall`` removes exactly those files; ``check``
resolves every exported class with nnU-Net's own lookup functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from strokeseg import __version__
from strokeseg.errors import NnunetIntegrationError
from strokeseg.io import write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

#: nnunetv2 releases the shims were tested against (``major.minor`` prefixes).
TESTED_NNUNET_SERIES: tuple[str, ...] = ("2.8",)
#: Manifest of the files ``install`` wrote, relative to the nnunetv2 package folder.
MANIFEST_NAME = ".strokeseg_shims.json"


@dataclass(frozen=True)
class ExportKind:
    """One kind of class nnU-Net looks up by name, and where strokeseg's shim for it goes.

    Attributes:
        kind: short name shown by ``check`` (planner, preprocessor, normalization, trainer).
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
    ExportKind("trainer", "strokeseg.trainers", ("training", "nnUNetTrainer"), "strokeseg_trainers"),
    ExportKind("preprocessor", "strokeseg.preprocessing.preprocessors", ("preprocessing", "preprocessors"),
               "strokeseg_preprocessors"),
    ExportKind("normalization", "strokeseg.preprocessing.normalization", ("preprocessing", "normalization"),
               "strokeseg_normalization"),
)


def exported_classes(kind: str) -> dict[str, type]:
    """The classes strokeseg exports to nnU-Net for ``kind``, by name (used by the shims)."""
    export = _export_kind(kind)
    module = importlib.import_module(export.source_module)
    names = getattr(module, "__all__", None)
    if not names:
        raise NnunetIntegrationError(f"{export.source_module} declares no __all__; nothing to export as {kind}")
    return {name: getattr(module, name) for name in names}


def _export_kind(kind: str) -> ExportKind:
    for export in EXPORT_KINDS:
        if export.kind == kind:
            return export
    raise NnunetIntegrationError(f"unknown export kind {kind!r}; known: {', '.join(k.kind for k in EXPORT_KINDS)}")


def shim_source(export: ExportKind) -> str:
    """Text of the shim module for one export kind.

    The shim tolerates a missing strokeseg (it warns instead of raising) so that a shim left behind after
    ``pip uninstall strokeseg`` never breaks nnU-Net's own class lookups.
    """
    return f'''"""strokeseg {export.kind} classes, re-exported so that nnU-Net's name lookup finds them.

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


def _read_manifest(nnunet_root: Path) -> dict[str, str]:
    """Files recorded by a previous install: relative path -> sha256 of the content written."""
    path = nnunet_root / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError) as error:
        raise NnunetIntegrationError(f"{path} is corrupt ({error}); delete it and the strokeseg_*.py shims it "
                                     "lists, then run `strokeseg nnunet install` again") from None


def install(nnunet_root: Path | None = None, force: bool = False) -> list[Path]:
    """Write (or refresh) the shim modules into nnunetv2 and record them; idempotent.

    Returns:
        The shim files that are installed after the call.
    """
    root = nnunet_root or locate_nnunet()
    _require_tested_version(force)
    _require_writable(root)
    previous = _read_manifest(root)
    written: dict[str, str] = {}
    for export in EXPORT_KINDS:
        exported_classes(export.kind)  # fail here, not inside nnU-Net, if an export is broken
        path = export.shim_path(root)
        _require_writable(path.parent)
        text = shim_source(export)
        relative = path.relative_to(root).as_posix()
        if not (path.is_file() and path.read_text(encoding="utf-8") == text):
            write_text_atomic(path, text)
            logger.info("wrote %s", path)
        written[relative] = _sha256(text)
    for stale in set(previous) - set(written):
        _remove_shim(root, stale, previous[stale])
    write_json_atomic(root / MANIFEST_NAME, {"strokeseg_version": __version__, "files": written})
    return [root / relative for relative in written]


def uninstall(nnunet_root: Path | None = None) -> list[Path]:
    """Remove exactly the shim files a previous ``install`` recorded; returns the removed paths."""
    root = nnunet_root or locate_nnunet()
    recorded = _read_manifest(root)
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


@dataclass(frozen=True)
class LookupResult:
    """Outcome of resolving one exported class with nnU-Net's own lookup."""

    kind: str
    name: str
    found_in: str | None
    ok: bool


def _nnunet_lookup(kind: str, nnunet_root: Path) -> Callable[[str], type | None]:
    """nnU-Net's own name-lookup function for ``kind``, as its CLIs call it."""
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    if kind == "trainer":
        from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

        def find_trainer(name: str) -> type | None:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    return recursive_find_trainer_class_by_name(name)
            except RuntimeError:
                return None

        return find_trainer
    folder = _export_kind(kind).nnunet_folder
    # planners are searched from experiment_planning/, preprocessors from preprocessing/,
    # normalizations from preprocessing/normalization/ (as in nnU-Net 2.8's code).
    search = folder if kind != "preprocessor" else folder[:1]
    module = ".".join(("nnunetv2", *search))
    return lambda name: recursive_find_python_class(str(nnunet_root.joinpath(*search)), name, module)


def check(nnunet_root: Path | None = None) -> list[LookupResult]:
    """Resolve every exported class by name with nnU-Net's lookup functions; one result per class."""
    root = nnunet_root or locate_nnunet()
    results = []
    for export in EXPORT_KINDS:
        lookup = _nnunet_lookup(export.kind, root)
        for name, cls in exported_classes(export.kind).items():
            found = lookup(name)
            ok = found is not None and found.__module__ == cls.__module__ and found.__qualname__ == cls.__qualname__
            results.append(LookupResult(export.kind, name, found.__module__ if found is not None else None, ok))
    return results


def format_check_table(results: list[LookupResult]) -> str:
    """Plain-text table of ``check`` results."""
    rows = [("kind", "class", "status", "resolved from")]
    rows += [(r.kind, r.name, "found" if r.ok else "MISSING", r.found_in or "-") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
