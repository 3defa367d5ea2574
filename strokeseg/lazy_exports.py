"""Public names of a package imported on first use (PEP 562), so that importing the package stays cheap.

A stage's ``__init__`` lists its public API; importing ``strokeseg.<stage>`` (which ``strokeseg <command>
--help`` does to reach ``strokeseg.<stage>.cli``) must not load SimpleITK, pandas, scipy, torch or nnU-Net.
``lazy_exports`` returns the package's ``__getattr__`` and ``__dir__``: ``from strokeseg.synthetic import
generate_cohort`` imports ``strokeseg.synthetic.cohort`` only then.

A public name may be the name of the submodule that defines it (``strokeseg.dataset_conversion.convert``, the
function, lives in the module of the same name). Python binds every submodule it loads as an attribute of its
package, which would replace the function by the module whenever anything imports the module first; such
packages get a module class that keeps the public name (the documented way to customise a module's attribute
assignment), as the eager ``from .convert import convert`` did.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public names live in submodules.

    Args:
        package: the package's ``__name__`` (the package is being imported: it is in ``sys.modules``).
        homes: public name -> the module that defines it, or ``"module:attribute"`` where the attribute is
            named differently there.
    """

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = home.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    shadowed = frozenset(name for name, home in homes.items() if home.partition(":")[0] == f"{package}.{name}")
    if shadowed:
        sys.modules[package].__class__ = _package_keeping(shadowed)
    return getattr_, dir_


def _package_keeping(names: frozenset[str]) -> type[types.ModuleType]:
    """A module class that ignores the import system binding a submodule over one of ``names``."""

    class PackageKeepingPublicNames(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, types.ModuleType):
                return  # the public name (resolved by __getattr__) keeps meaning the function, not its module
            super().__setattr__(name, value)

    return PackageKeepingPublicNames
