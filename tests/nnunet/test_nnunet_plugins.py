"""`strokeseg nnunet install | uninstall | check | env` and the check before every stock tool, against real copies
of the installed nnunetv2 package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from strokeseg.cli import main
from strokeseg.errors import NnunetIntegrationError
from strokeseg.io import write_json_atomic
from strokeseg.nnunet import plugins as nnunet_plugins
from strokeseg.nnunet.ext_trainer import EXT_TRAINER_VARIABLE, ext_trainer_folder

#: nnU-Net's trainer subpackage that needs timm and torchvision; left out of the copies below that must import
#: every remaining trainer module, so that they behave the same whether or not torchvision works here.
PRIMUS = "primus"


def _copy_nnunet(site: Path, *left_out: str) -> Path:
    shutil.copytree(nnunet_plugins.locate_nnunet(), site / "nnunetv2",
                    ignore=shutil.ignore_patterns("__pycache__", "strokeseg_*.py", nnunet_plugins.MANIFEST_NAME,
                                                  *left_out))
    return site


@pytest.fixture
def nnunet_copy(tmp_path: Path) -> Path:
    """A private copy of the installed nnunetv2 package, importable first via PYTHONPATH."""
    return _copy_nnunet(tmp_path / "site")


@pytest.fixture
def importable_nnunet_copy(tmp_path: Path) -> Path:
    """A copy whose trainer package imports completely (without Primus), so nnU-Net reaches nnUNet_extTrainer."""
    return _copy_nnunet(tmp_path / "site", PRIMUS)


def _strokeseg(site: Path, *arguments: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**(os.environ if env is None else env), "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "strokeseg", *arguments], env=environment, capture_output=True,
                          text=True, check=False)


def _check_row(stdout: str, name: str) -> list[str]:
    """Route, status and origin of one class in the table of `strokeseg nnunet check`."""
    rows = [line.split() for line in stdout.splitlines() if len(line.split()) >= 4 and line.split()[1] == name]
    assert len(rows) == 1, stdout
    return rows[0][2:]


def _python(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(site)},
                          capture_output=True, text=True, check=False)


def test_check_fails_without_shims_with_a_fix_it_message(nnunet_copy: Path) -> None:
    result = _strokeseg(nnunet_copy, "nnunet", "check")
    assert result.returncode == 1
    assert "MISSING" in result.stdout
    assert "strokeseg nnunet install" in result.stdout


def test_install_check_uninstall_round_trip(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    before = {p.relative_to(root) for p in root.rglob("*") if "__pycache__" not in p.parts}
    assert _strokeseg(nnunet_copy, "nnunet", "install").returncode == 0
    installed = {p.relative_to(root): p.read_bytes() for p in root.rglob("strokeseg_*.py")}
    # idempotent: installing again (in process, on the route the first install chose) rewrites nothing
    nnunet_plugins.install(root, trainer_route=nnunet_plugins.read_manifest(root).trainer_route)
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("strokeseg_*.py")} == installed
    check = _strokeseg(nnunet_copy, "nnunet", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    exported = [name for kind in nnunet_plugins.KINDS for name in nnunet_plugins.exported_classes(kind)]
    for name in exported:
        assert f"{name}" in check.stdout
    assert "MISSING" not in check.stdout
    assert _strokeseg(nnunet_copy, "nnunet", "uninstall").returncode == 0
    after = {p.relative_to(root) for p in root.rglob("*") if "__pycache__" not in p.parts}
    assert after == before, "uninstall must remove exactly what install wrote"  # check then fails as on a new copy


def test_uninstall_keeps_a_shim_the_user_edited(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    nnunet_plugins.install(root, trainer_route=nnunet_plugins.SHIM_ROUTE)
    edited = nnunet_plugins.EXPORT_KINDS[0].shim_path(root)
    edited.write_text(edited.read_text() + "\n# local change\n")
    removed = nnunet_plugins.uninstall(root)
    assert edited.is_file()
    assert edited not in removed
    assert all(not kind.shim_path(root).exists()
               for kind in (*nnunet_plugins.EXPORT_KINDS[1:], nnunet_plugins.TRAINER_FALLBACK))


def test_untested_nnunet_version_is_refused(nnunet_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnunet_plugins, "nnunet_version", lambda: "2.9.0")
    with pytest.raises(NnunetIntegrationError, match=r"2\.9\.0.*--force"):
        nnunet_plugins.install(nnunet_copy / "nnunetv2")
    assert nnunet_plugins.install(nnunet_copy / "nnunetv2", force=True,
                                  trainer_route=nnunet_plugins.EXT_TRAINER_ROUTE).files


def test_left_over_shim_does_not_break_nnunet_lookups(nnunet_copy: Path) -> None:
    nnunet_plugins.install(nnunet_copy / "nnunetv2", trainer_route=nnunet_plugins.SHIM_ROUTE)
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


def test_trainers_take_nnunets_ext_trainer_route_where_nnunet_reaches_it(importable_nnunet_copy: Path) -> None:
    root = importable_nnunet_copy / "nnunetv2"
    manifest = nnunet_plugins.install(root)
    assert manifest.trainer_route == nnunet_plugins.EXT_TRAINER_ROUTE
    assert not nnunet_plugins.TRAINER_FALLBACK.shim_path(root).exists()  # nothing of the trainers in nnunetv2
    # conftest lists strokeseg's folder in nnUNet_extTrainer, as strokeseg's commands do for the stock tools
    check = _strokeseg(importable_nnunet_copy, "nnunet", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _check_row(check.stdout, "nnUNetTrainer_strokeseg_ZoomInOut_CPU") == [
        "nnUNet_extTrainer", "found", "strokeseg.trainers.zoom"]
    # a shell without the variable: trainers are missing, and check says which line fixes that
    shell = {k: v for k, v in os.environ.items() if k != EXT_TRAINER_VARIABLE}
    missing = _strokeseg(importable_nnunet_copy, "nnunet", "check", env=shell)
    assert missing.returncode == 1
    assert _check_row(missing.stdout, "nnUNetTrainer_strokeseg_ZoomInOut_CPU") == ["nnUNet_extTrainer", "MISSING", "-"]
    assert f"export {EXT_TRAINER_VARIABLE}={ext_trainer_folder()}" in missing.stdout
    assert _check_row(check.stdout, "StrokeDWIPlanner") == ["shim", "found", "strokeseg.planners.dwi"]


def test_trainers_fall_back_to_a_shim_where_nnunet_cannot_import_its_trainer_package(
        importable_nnunet_copy: Path) -> None:
    root = importable_nnunet_copy / "nnunetv2"
    (root / "training" / "nnUNetTrainer" / "variants" / "needs_a_missing_package.py").write_text(
        "import strokeseg_missing_dependency\n")
    manifest = nnunet_plugins.install(root)
    assert manifest.trainer_route == nnunet_plugins.SHIM_ROUTE
    assert "strokeseg_missing_dependency" in manifest.trainer_route_reason
    assert nnunet_plugins.TRAINER_FALLBACK.shim_path(root).is_file()
    # nnU-Net's own lookup finds strokeseg's trainers through the shim, and the tests' own trainers (listed in
    # nnUNet_extTrainer by conftest) through the shim's search of nnUNet_extTrainer, before the failing module
    code = ("from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name as find\n"
            "for name in ('nnUNetTrainer_strokeseg_ZoomInOut', 'nnUNetTrainer_strokeseg_BiConvLSTMUNet_Tiny'):\n"
            "    print(find(name).__module__)\n")
    result = _python(importable_nnunet_copy, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["strokeseg.trainers.zoom", "strokeseg_test_trainers"]
    check = _strokeseg(importable_nnunet_copy, "nnunet", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _check_row(check.stdout, "nnUNetTrainer_strokeseg_ZoomInOut_CPU") == ["shim", "found",
                                                                              "strokeseg.trainers.zoom"]


def test_stock_tools_do_not_start_without_the_shims(nnunet_copy: Path, tmp_path: Path) -> None:
    run = ("from pathlib import Path\n"
           "from strokeseg.nnunet.folders import NnunetPaths\n"
           "from strokeseg.nnunet.runner import run_nnunet\n"
           f"run_nnunet('nnUNetv2_plan_and_preprocess', ['-h'], NnunetPaths.under({str(tmp_path)!r}),"
           f" {str(tmp_path / 'log.txt')!r})\n"
           "print('ran')\n")
    refused = _python(nnunet_copy, run)
    assert refused.returncode != 0
    assert "NnunetIntegrationError" in refused.stderr
    assert "experiment_planning/strokeseg_planners.py is missing" in refused.stderr
    assert "nnunet install" in refused.stderr
    assert not (tmp_path / "log.txt").exists()  # nothing was started
    nnunet_plugins.install(nnunet_copy / "nnunetv2", trainer_route=nnunet_plugins.SHIM_ROUTE)
    ran = _python(nnunet_copy, run)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "ran"


def test_verify_installed_names_changed_and_outdated_shims(nnunet_copy: Path) -> None:
    root = nnunet_copy / "nnunetv2"
    nnunet_plugins.install(root, trainer_route=nnunet_plugins.SHIM_ROUTE)
    trainer_shim = nnunet_plugins.TRAINER_FALLBACK.shim_path(root)
    trainer_shim.write_text(trainer_shim.read_text() + "\n# local change\n")
    with pytest.raises(NnunetIntegrationError, match=r"strokeseg_trainers\.py was changed after install"):
        nnunet_plugins.verify_installed(root)
    # an older strokeseg wrote a trainer shim; this one takes the nnUNet_extTrainer route
    manifest = nnunet_plugins.install(root, trainer_route=nnunet_plugins.EXT_TRAINER_ROUTE)
    assert trainer_shim.is_file()  # edited, so install left it in place
    assert trainer_shim.relative_to(root).as_posix() not in manifest.files
    write_json_atomic(root / nnunet_plugins.MANIFEST_NAME, {
        **manifest.as_json(), "files": {**manifest.files, trainer_shim.relative_to(root).as_posix(): "old"}})
    with pytest.raises(NnunetIntegrationError, match="left over from an older strokeseg"):
        nnunet_plugins.verify_installed(root)


def test_env_prints_the_line_that_adds_strokesegs_trainer_folder(capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXT_TRAINER_VARIABLE, "/my/trainers")
    assert main(["nnunet", "env"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"export {EXT_TRAINER_VARIABLE}=/my/trainers{os.pathsep}{ext_trainer_folder()}")
    monkeypatch.setenv(EXT_TRAINER_VARIABLE, str(ext_trainer_folder()))
    assert main(["nnunet", "env"]) == 0
    assert capsys.readouterr().out.strip() == f"export {EXT_TRAINER_VARIABLE}={ext_trainer_folder()}"
