"""Run the stock nnU-Net command-line tools (``nnUNetv2_*``) as subprocesses.

strokeseg drives nnU-Net the way a user does: each tool is the function behind its console script (nnunetv2's
installed entry point), run with the same arguments in a new interpreter, with the
``nnUNet_raw``/``nnUNet_preprocessed``/``nnUNet_results`` environment variables pointing at the chosen folders,
strokeseg's trainer folder added to ``nnUNet_extTrainer`` and glibc's heap settings for large arrays
(:mod:`strokeseg.cpu_allocator`). The interpreter starts the function with
``python -c`` instead of running the console-script file: nnU-Net's worker processes are started with ``spawn``
(validation export and metrics at the end of ``nnUNetv2_train``, preprocessing and export in
``nnUNetv2_predict``), and a spawned worker imports its parent's main *file* again, which for
``nnUNetv2_train`` is the whole training stack (7 s on one core); a ``-c`` parent has no main file to import.
Given a :class:`~strokeseg.nnunet.tool_server.ToolLauncher` (the experiments' sequential executor and the demo),
the same entry point runs in a process forked from a warm interpreter instead, which saves each tool the import of
torch and the other heavy libraries. Before the first tool of a process runs, a cheap check makes sure that
strokeseg's shims are in nnunetv2 (``plugins.verify_installed``). Output goes to a log file; a failure raises
ExternalToolError that names the log and quotes its end.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TextIO

from strokeseg.cpu_allocator import allocator_environment
from strokeseg.errors import ExternalToolError, NnunetIntegrationError
from strokeseg.io import PathLike
from strokeseg.nnunet.ext_trainer import nnunet_environment
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.live_progress import clean_output
from strokeseg.nnunet.plugins import verify_installed
from strokeseg.nnunet.tool_server import StartedTool, ToolLauncher


def nnunet_command(tool: str, arguments: Sequence[str]) -> list[str]:
    """The command that runs the nnU-Net tool ``tool`` (e.g. ``nnUNetv2_train``) with ``arguments``: its console
    script's entry point called in a new interpreter (this one's executable), ``sys.argv[0]`` set to the tool's name.

    Raises:
        NnunetIntegrationError: no installed distribution declares a console script called ``tool``.
    """
    found = entry_points(group="console_scripts", name=tool)
    if not found:
        raise NnunetIntegrationError(f"no installed package declares the console script {tool}; is nnunetv2 "
                                     f"installed in the environment of {sys.executable}?")
    entry = next(iter(found))
    code = f"import sys; import {entry.module} as tool; sys.argv[0] = {tool!r}; sys.exit(tool.{entry.attr}())"
    return [sys.executable, "-c", code, *arguments]


def tool_environment(paths: NnunetPaths, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every stock tool runs in: this process's, the nnU-Net folders of ``paths``, ``extra_env``,
    strokeseg's trainer folder added to ``nnUNet_extTrainer``, and glibc's heap settings for large arrays
    (:func:`strokeseg.cpu_allocator.allocator_environment`)."""
    return allocator_environment(nnunet_environment({**os.environ, **paths.environment(), **(extra_env or {})}))


def nnunet_executable(tool: str) -> str:
    """Path of an nnU-Net console script, preferring the one beside the running Python interpreter."""
    beside = Path(sys.executable).parent / tool
    if beside.is_file():
        return str(beside)
    found = shutil.which(tool)
    if found is None:
        raise NnunetIntegrationError(f"{tool} was not found beside {sys.executable} nor on PATH; is nnunetv2 "
                                     "installed in this environment?")
    return found


def run_nnunet(tool: str, arguments: Sequence[str], paths: NnunetPaths, log_file: PathLike,
               extra_env: Mapping[str, str] | None = None, tail_lines: int = 25,
               on_line: Callable[[str], None] | None = None, launcher: ToolLauncher | None = None) -> None:
    """Run ``tool arguments...`` with the nnU-Net folders in its environment; output appended to ``log_file``.

    ``extra_env`` may list further trainer folders in ``nnUNet_extTrainer``; strokeseg's is always added.
    ``on_line`` is called with every output line (progress-bar redraws removed) while the tool runs.
    ``launcher``: start the tool from its warm interpreter (:mod:`strokeseg.nnunet.tool_server`; None: a new
    interpreter).

    Raises:
        NnunetIntegrationError: strokeseg's shims are missing from nnunetv2 (the message says how to fix it).
        ExternalToolError: the tool exited non-zero; the message quotes the end of the log.
    """
    verify_installed()
    log_path = Path(log_file)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = nnunet_command(tool, arguments)
    environment = tool_environment(paths, extra_env)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join([tool, *arguments])}\n")
        log.flush()
        started = StartedTool.popen(command, environment) if launcher is None \
            else launcher.start(tool, arguments, environment, command)
        returncode = _stream(started, log, on_line)
    if returncode != 0:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        tail = "\n".join(lines[-tail_lines:])
        raise ExternalToolError(f"{tool} failed with exit code {returncode}; full log: {log_path}\n"
                                f"--- last lines ---\n{tail}")


def _stream(tool: StartedTool, log: TextIO, on_line: Callable[[str], None] | None) -> int:
    """A started tool's output, line by line without progress-bar redraws, to ``log`` and ``on_line``.

    Returns:
        the exit code.
    """
    with tool.stdout:
        for raw in tool.stdout:  # bytes up to each "\n" (carriage returns stay inside the line)
            line = clean_output(raw.decode("utf-8", errors="replace").rstrip("\n"))
            log.write(line + "\n")
            log.flush()
            if on_line is not None:
                on_line(line)
    return tool.wait()
