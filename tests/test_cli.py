"""The `strokeseg` entry point: version, help, error reporting, one option dialect, plain-text help, and a parser
that builds without the heavy libraries."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from strokeseg import __version__
from strokeseg.cli import COMMAND_MODULES, build_parser, main, parse_arguments
from strokeseg.cli_options import positive_int
from strokeseg.device import DEVICES
from strokeseg.errors import NnunetIntegrationError
from strokeseg.nnunet import plugins as nnunet_plugins

#: Libraries that building the parser and printing any help must not import (each costs 0.3-3 s).
HEAVY_MODULES = ("torch", "nnunetv2", "SimpleITK", "pandas", "scipy", "matplotlib", "nibabel", "submitit", "yaml")

#: RST / Sphinx markup that must not reach the plain-text help.
RST_MARKUP = re.compile(r"``|`[^`\n]+`_?|:(func|mod|class|meth|data|attr|ref|doc):|^\s*\.\. |::\s*$", re.MULTILINE)


def command_paths(parser: argparse.ArgumentParser | None = None,
                  path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every (sub-)command of the CLI, the top level () first."""
    parser = parser or build_parser()
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from command_paths(subparser, (*path, name))


def subparser_of(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return parser


ALL_PATHS = list(command_paths())
LEAF_PATHS = [path for path in ALL_PATHS
              if not any(isinstance(a, argparse._SubParsersAction) for a in subparser_of(path)._actions)]


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
    for command in {path[0] for path in ALL_PATHS if path}:
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


def test_strokeseg_error_is_printed_without_traceback(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nnunet_plugins.importlib.util, "find_spec", lambda name: None)
    assert main(["nnunet", "check"]) == NnunetIntegrationError.exit_code
    err = capsys.readouterr().err
    assert "strokeseg nnunet: error: nnunetv2 is not installed" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------------
# every (sub-)command: --help, plain text, and one invalid input
# ------------------------------------------------------------------------------------------------------
def test_the_cli_has_the_expected_commands() -> None:
    assert {" ".join(path) for path in LEAF_PATHS} >= {
        "nnunet install", "nnunet uninstall", "nnunet check", "nnunet env", "demo", "convert isles22",
        "convert atlas", "convert wmh", "convert registry", "split learning-curve", "split domain-adaptation",
        "split vendor", "split site", "split ensemble", "split train-dev-test", "preprocess", "synth", "location",
        "evaluate", "postprocess fit", "postprocess apply", "uncertainty", "report", "experiment run",
        "experiment status"}
    for path in LEAF_PATHS:
        assert callable(subparser_of(path).get_default("func")), path


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda path: " ".join(path) or "strokeseg")
def test_help_is_plain_text(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*path, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('strokeseg', *path))}")
    assert not RST_MARKUP.search(out), RST_MARKUP.search(out)
    assert "METRICS.md" not in out and "shared/" not in out  # help points to docs/ only


#: One invalid command line per (sub-)command (after ``strokeseg``) and a piece of argparse's message.
INVALID_INPUTS: dict[str, tuple[list[str], str]] = {
    "": ([], "the following arguments are required: COMMAND"),
    "nnunet": (["nnunet", "reinstall"], "invalid choice: 'reinstall'"),
    "nnunet install": (["nnunet", "install", "--trainer-route", "path"], "invalid choice: 'path'"),
    "nnunet uninstall": (["nnunet", "uninstall", "--force"], "unrecognized arguments: --force"),
    "nnunet check": (["nnunet", "check", "trainers"], "unrecognized arguments: trainers"),
    "nnunet env": (["nnunet", "env", "--shell", "fish"], "unrecognized arguments: --shell fish"),
    "demo": (["demo", "-j", "0"], "argument -j/--workers: must be at least 1, got 0"),
    "convert": (["convert"], "the following arguments are required: COHORT"),
    "convert isles22": (["convert", "isles22", "src", "-d", "five"], "argument -d/--dataset"),
    "convert atlas": (["convert", "atlas", "src", "-d", "7", "--release", "3.0"], "invalid choice: '3.0'"),
    "convert wmh": (["convert", "wmh", "src"], "the following arguments are required: -d/--dataset"),
    "convert registry": (["convert", "registry", "src", "-d", "7", "--registration", "elastic"],
                         "invalid choice: 'elastic'"),
    "split": (["split", "kfold"], "invalid choice: 'kfold'"),
    "split learning-curve": (["split", "learning-curve"], "the following arguments are required: -d/--dataset"),
    "split domain-adaptation": (["split", "domain-adaptation", "-d", "5"],
                                "the following arguments are required: --derived-id"),
    "split vendor": (["split", "vendor", "-d", "5"], "the following arguments are required: --groups"),
    "split site": (["split", "site", "-d", "5", "--derived-id", "6", "--link", "move"], "invalid choice: 'move'"),
    "split ensemble": (["split", "ensemble", "-d", "5", "--members", "many"], "argument --members: invalid int"),
    "split train-dev-test": (["split", "train-dev-test", "-d", "5"], "the following arguments are required: "
                                                                      "--derived-id"),
    "preprocess": (["preprocess", "-o", "out"], "the following arguments are required: -i/--images"),
    "synth": (["synth", "-o", "out", "-n", "3", "--layout", "brats"], "invalid choice: 'brats'"),
    "location": (["location", "image.nii.gz"], "the following arguments are required: mask"),
    "evaluate": (["evaluate", "-ref", "ref", "-o", "out", "-j", "-2"], "argument -j/--workers: must be at least 1"),
    "postprocess": (["postprocess"], "the following arguments are required: ACTION"),
    "postprocess fit": (["postprocess", "fit", "-pred", "p", "-ref", "r", "-o", "o.json", "--objective", "hd95"],
                        "invalid choice: 'hd95'"),
    "postprocess apply": (["postprocess", "apply", "-pred", "p", "-o", "out"],
                          "the following arguments are required: --params"),
    "uncertainty": (["uncertainty", "-o", "out"], "the following arguments are required: --members"),
    "report": (["report", "-pred", "p", "-i", "i", "-o", "o", "--connectivity", "8"], "invalid choice: 8"),
    "predict": (["predict", "dicom_export", "out"], "the following arguments are required: -m/--model"),
    "experiment": (["experiment", "resume", "study.yaml"], "invalid choice: 'resume'"),
    "experiment run": (["experiment", "run"], "the following arguments are required: config"),
    "experiment status": (["experiment", "status", "study.yaml", "--failed"], "unrecognized arguments: --failed"),
}


def test_every_command_has_an_invalid_input_case() -> None:
    assert set(INVALID_INPUTS) == {" ".join(path) for path in ALL_PATHS}


@pytest.mark.parametrize("command", INVALID_INPUTS, ids=lambda command: command or "strokeseg")
def test_invalid_input_exits_2_with_a_clear_message(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    arguments, message = INVALID_INPUTS[command]
    with pytest.raises(SystemExit) as stop:
        main(arguments)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: strokeseg")
    assert f"strokeseg{' ' if command else ''}{command}: error: " in err and message in err, err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------------
# one dialect
# ------------------------------------------------------------------------------------------------------
#: dest -> the only spellings an option with that dest may show (docs/cli.md lists them).
DIALECT: dict[str, tuple[str, ...]] = {
    "workers": ("-j", "--workers"),
    "out": ("-o", "--out"),
    "images": ("-i", "--images"),
    "dataset": ("-d", "--dataset"),
    "references": ("-ref", "--references"),
    "predictions": ("-pred", "--predictions"),
    "overwrite": ("--overwrite",),
    "device": ("--device",),
    "raw": ("--raw",),
    "preprocessed": ("--preprocessed",),
    "seed": ("--seed",),
    "connectivity": ("--connectivity",),
    "location_min_fraction": ("--location-min-fraction",),
    "atlas_source": ("--atlas-source",),
    "cache_dir": ("--cache-dir",),
    "uncertainty_threshold": ("--uncertainty-threshold",),
    "uncertainty_prior": ("--uncertainty-prior",),
    "review_cut": ("--review-cut",),
}
#: Spellings no command shows any more (some still work as deprecated aliases).
RETIRED = {"--jobs", "--ref", "--pred", "--ref-split", "--dataset-id", "--min-fraction", "--divergence-threshold",
           "--prior", "--resume"}


def _options(path: tuple[str, ...]) -> Iterator[argparse.Action]:
    yield from (action for action in subparser_of(path)._actions if action.option_strings)


@pytest.mark.parametrize("path", LEAF_PATHS, ids=" ".join)
def test_shared_options_have_one_spelling(path: tuple[str, ...]) -> None:
    for action in _options(path):
        shown = tuple(action.option_strings)
        if action.dest in DIALECT:
            assert shown == DIALECT[action.dest], (path, shown)
        assert not RETIRED & set(shown), (path, shown)
        for spelling in shown:
            assert re.fullmatch(r"-[a-z]{1,4}|--[a-z0-9]+(-[a-z0-9]+)*", spelling), (path, spelling)
        if action.dest == "device":
            assert tuple(action.choices or ()) == DEVICES and action.default == "auto"
        if action.dest == "workers":
            assert action.type is positive_int
        if action.dest == "overwrite":
            assert isinstance(action, argparse._StoreTrueAction) and (action.help or "").startswith("replace ")


@pytest.mark.parametrize(("command", "old", "new", "value"), [
    (["evaluate", "-o", "out"], "--ref", "--references", "labels"),
    (["evaluate", "-ref", "r", "-o", "out"], "--pred", "--predictions", "preds"),
    (["evaluate", "-ref", "r", "-o", "out"], "--ref-split", "--references-split", "Tr"),
    (["evaluate", "-ref", "r", "-o", "out"], "--jobs", "--workers", "3"),
    (["report", "-pred", "p", "-i", "i", "-o", "o"], "--jobs", "--workers", "3"),
    (["report", "-pred", "p", "-i", "i", "-o", "o"], "--min-fraction", "--location-min-fraction", "0.3"),
    (["location", "image.nii.gz", "mask.nii.gz"], "--min-fraction", "--location-min-fraction", "0.3"),
    (["uncertainty", "--members", "m", "-o", "o"], "--divergence-threshold", "--uncertainty-threshold", "0.4"),
    (["uncertainty", "--members", "m", "-o", "o"], "--prior", "--uncertainty-prior", "0.4"),
    (["convert", "registry", "src"], "--dataset-id", "--dataset", "7"),
    (["convert", "registry", "src", "-d", "7"], "--out", "--raw", "raw"),
    (["synth", "-o", "out", "--layout", "wmh"], "--cases", "--n-cases", "3"),
])
def test_deprecated_spellings_still_work_with_a_warning_and_are_not_shown(command: list[str], old: str, new: str,
                                                                          value: str,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with_old = parse_arguments([*command, old, value])
    assert f"warning: {old} is deprecated; use " in capsys.readouterr().err
    with_new = parse_arguments([*command, new, value])
    assert capsys.readouterr().err == ""
    assert vars(with_old) == vars(with_new)
    path = tuple(word for word in command[:2] if not word.startswith("-") and "." not in word and word != "src")
    assert not re.search(rf"(?<![\w-]){old}(?![\w-])", subparser_of(path).format_help())


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_workers_must_be_a_positive_whole_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int(text)
    assert positive_int("3") == 3


# ------------------------------------------------------------------------------------------------------
# start-up: no heavy library for the parser or any help (timings: benchmarks/bench_startup.py)
# ------------------------------------------------------------------------------------------------------
HELP_IN_A_FRESH_INTERPRETER = """
import contextlib, io, json, sys
from strokeseg.cli import main
for path in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main([*path, "--help"])
print(json.dumps(sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)))
"""


def test_no_help_imports_a_heavy_library() -> None:
    result = subprocess.run([sys.executable, "-c", HELP_IN_A_FRESH_INTERPRETER, json.dumps(ALL_PATHS),
                             json.dumps(HEAVY_MODULES)], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_python_m_strokeseg_help_imports_no_heavy_library() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "strokeseg", "--help"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.startswith("usage: strokeseg")
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "strokeseg" in imported and not imported & set(HEAVY_MODULES)
