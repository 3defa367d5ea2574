"""How strokeseg starts a stock nnU-Net tool: the function behind its console script, in a new interpreter started
with ``-c`` (so that nnU-Net's spawned workers do not import the tool's main file again)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from strokeseg.errors import NnunetIntegrationError
from strokeseg.nnunet.runner import nnunet_command, nnunet_executable


@pytest.mark.parametrize("tool", ["nnUNetv2_train", "nnUNetv2_predict", "nnUNetv2_plan_and_preprocess"])
def test_the_command_calls_the_console_scripts_function_with_the_arguments(tool: str) -> None:
    (entry,) = entry_points(group="console_scripts", name=tool)
    command = nnunet_command(tool, ["7", "-x", "a b"])
    assert command[:2] == [sys.executable, "-c"]  # no main file for spawned workers to import again
    assert f"import {entry.module} as tool" in command[2] and f"tool.{entry.attr}()" in command[2]
    assert command[3:] == ["7", "-x", "a b"]


#: A stock tool that starts in a fraction of a second (no torch import), for the tests that only need its usage text.
LIGHT_TOOL = "nnUNetv2_convert_MSD_dataset"


def test_the_command_and_the_console_script_print_the_same_usage() -> None:
    ours = subprocess.run(nnunet_command(LIGHT_TOOL, ["-h"]), capture_output=True, text=True, check=True)
    script = subprocess.run([nnunet_executable(LIGHT_TOOL), "-h"], capture_output=True, text=True, check=True)
    assert f"usage: {LIGHT_TOOL} " in ours.stdout and ours.stdout == script.stdout


def test_an_unknown_tool_is_named() -> None:
    with pytest.raises(NnunetIntegrationError, match="console script nnUNetv2_no_such_tool"):
        nnunet_command("nnUNetv2_no_such_tool", [])
