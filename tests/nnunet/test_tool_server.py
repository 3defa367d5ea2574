"""Stock nnU-Net tools from a warm server (strokeseg.nnunet.tool_server): the same output and exit status as from a
new interpreter, each tool with its own nnU-Net folders, a server of its own for another environment, and a new
interpreter when the server is busy or gone. The demo and the experiment tests run every tool through it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from strokeseg.errors import ExternalToolError
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import nnunet_command, run_nnunet, tool_environment
from strokeseg.nnunet.tool_server import StartedTool, ToolLauncher, forking_supported, server_key

pytestmark = pytest.mark.skipif(not forking_supported(), reason="needs fork and Unix sockets")

#: A tool run that fails inside nnU-Net (no dataset 999): a traceback that names the folders, exit status 1.
MISSING_DATASET = ("nnUNetv2_plan_and_preprocess", ["-d", "999", "-np", "1"])


def output_and_status(started: StartedTool) -> tuple[str, int]:
    with started.stdout:
        text = started.stdout.read().decode()
    return text, started.wait()


def without_frames(result: tuple[str, int]) -> tuple[list[str], int]:
    """Output lines and status without a traceback's frame lines (indented; the warm child's frames start in the
    server's loop instead of ``python -c``)."""
    text, status = result
    return [line for line in text.splitlines() if not line.startswith(" ")], status


def folders(tmp_path: Path, name: str) -> NnunetPaths:
    paths = NnunetPaths.under(tmp_path / name)
    paths.create()
    return paths


def test_a_warm_tool_runs_with_its_own_folders_and_ends_as_a_new_interpreter(tmp_path: Path) -> None:
    first, second = folders(tmp_path, "first"), folders(tmp_path, "second")
    tool, arguments = MISSING_DATASET
    cold_text, cold_status = output_and_status(StartedTool.popen(nnunet_command(tool, arguments),
                                                                 tool_environment(first)))
    with ToolLauncher() as launcher:
        runs = {}
        for name, paths in (("first", first), ("second", second)):
            environment = tool_environment(paths)
            started = launcher.start(tool, arguments, environment, nnunet_command(tool, arguments))
            assert started.from_server
            runs[name] = output_and_status(started)
        assert launcher.started_servers == 1  # the folders are nnU-Net variables: one server for both
    assert cold_status == 1 and "Traceback" in cold_text
    for name, (text, status) in runs.items():
        assert f"nnUNet_raw={tmp_path / name / 'nnUNet_raw'}" in text  # nnunetv2 imported with the child's folders
        expected = cold_text.replace(str(tmp_path / "first"), str(tmp_path / name))
        assert without_frames((text, status)) == without_frames((expected, cold_status))


def test_exit_statuses_output_and_directory_match_the_console_script(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    environment = tool_environment(folders(tmp_path, "f"))
    monkeypatch.chdir(tmp_path)  # the server starts here
    with ToolLauncher() as launcher:
        for arguments in (["--help"], ["--no-such-option"]):  # argparse: exit 0 with the help; exit 2 with usage
            command = nnunet_command("nnUNetv2_train", arguments)
            cold = output_and_status(StartedTool.popen(command, environment))
            warm = launcher.start("nnUNetv2_train", arguments, environment, command)
            assert warm.from_server
            assert output_and_status(warm) == cold
            assert cold[1] == (0 if arguments == ["--help"] else 2)
        # a relative nnUNet_raw is found from the caller's working directory, not from the server's
        (tmp_path / "work" / "raw" / "Dataset999_Here").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / "work")
        relative = {**environment, "nnUNet_raw": "raw"}
        command = nnunet_command(*MISSING_DATASET)
        cold = output_and_status(StartedTool.popen(command, relative))
        warm = launcher.start(*MISSING_DATASET, relative, command)
        assert warm.from_server
        assert without_frames(output_and_status(warm)) == without_frames(cold)
        assert "Dataset999_Here" in cold[0] and "Traceback" in cold[0]


def test_another_environment_gets_its_own_server_and_a_busy_or_dead_one_a_new_interpreter(tmp_path: Path) -> None:
    environment = tool_environment(folders(tmp_path, "f"))
    other = {**environment, "OMP_NUM_THREADS": "3"}
    assert server_key(environment) != server_key(other)
    assert server_key(environment) == server_key({**environment, "nnUNet_def_n_proc": "7"})
    command = nnunet_command("nnUNetv2_train", ["--help"])
    with ToolLauncher() as launcher:
        running = launcher.start("nnUNetv2_train", ["--help"], environment, command)
        busy = launcher.start("nnUNetv2_train", ["--help"], environment, command)  # first not yet waited for
        assert running.from_server and not busy.from_server
        assert output_and_status(busy) == output_and_status(running)
        assert launcher.start("nnUNetv2_train", ["--help"], other, command).from_server
        assert launcher.started_servers == 2
        pids = launcher.server_processes()
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while launcher.server_processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        gone = launcher.start("nnUNetv2_train", ["--help"], environment, command)
        assert not gone.from_server and output_and_status(gone)[1] == 0
        assert launcher.started_servers == 2  # a server that died is not started again
    assert launcher.server_processes() == []


def test_run_nnunet_through_a_launcher_logs_and_raises_like_a_new_interpreter(tmp_path: Path) -> None:
    paths = folders(tmp_path, "f")
    tool, arguments = MISSING_DATASET
    lines: list[str] = []
    with ToolLauncher() as launcher, pytest.raises(ExternalToolError, match="exit code 1"):
        run_nnunet(tool, arguments, paths, tmp_path / "warm.log", on_line=lines.append, launcher=launcher)
    with pytest.raises(ExternalToolError, match="exit code 1"):
        run_nnunet(tool, arguments, paths, tmp_path / "cold.log")
    warm, cold = ((tmp_path / f"{name}.log").read_text() for name in ("warm", "cold"))
    assert without_frames((warm, 1)) == without_frames((cold, 1))
    assert lines == warm.splitlines()[2:]  # every line after the "$ tool ..." header
