"""Stage packages export their public API lazily: importing a package is cheap, every public name resolves."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

#: Packages whose ``__init__`` exports through ``strokeseg.lazy_exports``.
LAZY_PACKAGES = ("strokeseg.dataset_conversion", "strokeseg.evaluation", "strokeseg.experiments.recipes",
                 "strokeseg.postprocessing", "strokeseg.preprocessing", "strokeseg.splits", "strokeseg.synthetic")
HEAVY_MODULES = ("torch", "nnunetv2", "SimpleITK", "pandas", "scipy", "matplotlib")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, type(module)), f"{package}.{name} is a module"
        assert name in dir(module)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


IMPORT_IN_A_FRESH_INTERPRETER = """
import importlib, json, sys
for package in json.loads(sys.argv[1]):
    importlib.import_module(package)
print(json.dumps(sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)))
"""


def test_importing_the_packages_loads_no_heavy_library() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_IN_A_FRESH_INTERPRETER, json.dumps(LAZY_PACKAGES),
                             json.dumps(HEAVY_MODULES)], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_a_public_name_keeps_meaning_the_function_when_its_module_was_imported_first() -> None:
    # strokeseg.dataset_conversion.convert is both a module and the function it defines; Python binds a loaded
    # submodule on its package, which must not hide the function
    code = ("import strokeseg.dataset_conversion.convert\n"
            "from strokeseg.dataset_conversion import convert, dry_run\n"
            "from strokeseg.dataset_conversion.convert import convert as defined\n"
            "print(callable(convert) and convert is defined and callable(dry_run))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
