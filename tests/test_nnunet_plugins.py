"""`strokeseg nnunet install | uninstall | check` against a real copy of the installed nnunetv2 package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strokeseg.errors import NnunetIntegrationError
from strokeseg.nnunet import plugins as nnunet_plugins


@pytest.fixture
def nnunet_copy(tmp_path: Path) -> Path:
    """A private copy of the installed nnunetv2 package, importable first via PYTHONPATH."""
    site = tmp_path / "site"
    shutil.copytree(nnunet_plugins.locate_nnunet(), site / "nnunetv2",
                    ignore=shutil.ignore_patterns("__pycache__", "strokeseg_*.py", nnunet_plugins.MANIFEST_NAME))
    return site


def _strokeseg(site: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "strokeseg", *arguments], env=env, capture_output=True,
                          text=True, check=False)


def test_check_fails_without_shims_with_a_fix_it_message(nnunet_copy: Path) -> None:
    result = _strokeseg(nnunet_copy, "nnunet", "check")
    assert result.returncode == 1
    assert "MISSING" in result.stdout
    assert "strokeseg nnunet install" in result.stdout


def test_install_check_uninstall_round_trip(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    before = {p.relative_to(root) for p in root.rglob("*") if "__pycache__" not in p.parts}
    assert _strokeseg(nnunet_copy, "nnunet", "install").returncode == 0
    assert _strokeseg(nnunet_copy, "nnunet", "install").returncode == 0  # idempotent
    check = _strokeseg(nnunet_copy, "nnunet", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    exported = [name for kind in nnunet_plugins.EXPORT_KINDS for name in nnunet_plugins.exported_classes(kind.kind)]
    for name in exported:
        assert f"{name}" in check.stdout
    assert "MISSING" not in check.stdout
    assert _strokeseg(nnunet_copy, "nnunet", "uninstall").returncode == 0
    after = {p.relative_to(root) for p in root.rglob("*") if "__pycache__" not in p.parts}
    assert after == before, "uninstall must remove exactly what install wrote"
    assert _strokeseg(nnunet_copy, "nnunet", "check").returncode == 1


def test_uninstall_keeps_a_shim_the_user_edited(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    nnunet_plugins.install(root)
    edited = nnunet_plugins.EXPORT_KINDS[0].shim_path(root)
    edited.write_text(edited.read_text() + "\n# local change\n")
    removed = nnunet_plugins.uninstall(root)
    assert edited.is_file()
    assert edited not in removed
    assert all(not kind.shim_path(root).exists() for kind in nnunet_plugins.EXPORT_KINDS[1:])


def test_untested_nnunet_version_is_refused(nnunet_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnunet_plugins, "nnunet_version", lambda: "2.9.0")
    with pytest.raises(NnunetIntegrationError, match=r"2\.9\.0.*--force"):
        nnunet_plugins.install(nnunet_copy / "nnunetv2")
    assert nnunet_plugins.install(nnunet_copy / "nnunetv2", force=True)


def test_left_over_shim_does_not_break_nnunet_lookups(nnunet_copy: Path) -> None:
    nnunet_plugins.install(nnunet_copy / "nnunetv2")
    # nnU-Net walks experiment_planning/ module by module: the shim is imported before resencUNet_planner.
    code = ("import sys, nnunetv2; sys.modules['strokeseg'] = None\n"
            "from nnunetv2.utilities.find_class_by_name import recursive_find_python_class as find\n"
            "print(find(nnunetv2.__path__[0] + '/experiment_planning', 'ResEncUNetPlanner',"
            " 'nnunetv2.experiment_planning').__name__)")
    env = {**os.environ, "PYTHONPATH": str(nnunet_copy)}
    result = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "ResEncUNetPlanner" in result.stdout
    assert "strokeseg is not importable" in result.stderr


def test_missing_nnunet_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnunet_plugins.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NnunetIntegrationError, match="nnunetv2 is not installed"):
        nnunet_plugins.locate_nnunet()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write read-only folders")
def test_read_only_nnunet_is_refused(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    root.chmod(0o555)
    try:
        with pytest.raises(NnunetIntegrationError, match="cannot write"):
            nnunet_plugins.install(root)
    finally:
        root.chmod(0o755)
