"""The `strokeseg` entry point: version, help, and error reporting."""

from __future__ import annotations

import pytest

from strokeseg import __version__
from strokeseg.cli import COMMAND_MODULES, main
from strokeseg.errors import NnunetIntegrationError
from strokeseg.nnunet import plugins as nnunet_plugins


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("nnunet", "demo"):
        assert command in out
    assert len(COMMAND_MODULES) >= 2


def test_strokeseg_error_is_printed_without_traceback(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnunet_plugins.importlib.util, "find_spec", lambda name: None)
    assert main(["nnunet", "check"]) == NnunetIntegrationError.exit_code
    err = capsys.readouterr().err
    assert "strokeseg nnunet: error: nnunetv2 is not installed" in err
    assert "Traceback" not in err
