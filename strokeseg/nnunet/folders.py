"""The three nnU-Net data folders and the environment variables that name them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from strokeseg.errors import ConfigurationError

if TYPE_CHECKING:  # strokeseg.io loads SimpleITK; the CLI reads these names while building its parser
    from strokeseg.io import PathLike

#: nnU-Net's environment variables, as its tools read them.
RAW = "nnUNet_raw"
PREPROCESSED = "nnUNet_preprocessed"
RESULTS = "nnUNet_results"


def environment_folder(variable: str, given: PathLike | None = None, option: str | None = None) -> Path:
    """``given`` when set, else the folder in environment variable ``variable`` (``nnUNet_raw`` ...).

    Args:
        variable: the environment variable to fall back to.
        given: a folder the user passed explicitly (wins over the environment).
        option: the command-line option that could have given it, named in the error.

    Raises:
        ConfigurationError: neither is set.
    """
    if given is not None:
        return Path(given)
    value = os.environ.get(variable)
    if not value:
        where = f"pass {option} or " if option else ""
        raise ConfigurationError(f"${variable} is not set; {where}export it (as for the nnUNetv2_* tools)")
    return Path(value)


def optional_environment_folder(variable: str, given: PathLike | None = None) -> Path | None:
    """``given`` when set, else the folder in environment variable ``variable``, else None."""
    if given is not None:
        return Path(given)
    value = os.environ.get(variable)
    return Path(value) if value else None


@dataclass(frozen=True)
class NnunetPaths:
    """The three nnU-Net data folders."""

    raw: Path
    preprocessed: Path
    results: Path

    @classmethod
    def under(cls, root: PathLike) -> NnunetPaths:
        """``root/nnUNet_raw``, ``root/nnUNet_preprocessed``, ``root/nnUNet_results``."""
        root = Path(root)
        return cls(root / RAW, root / PREPROCESSED, root / RESULTS)

    @classmethod
    def from_environment(cls) -> NnunetPaths:
        """The folders named by the three environment variables.

        Raises:
            ConfigurationError: one of them is unset.
        """
        return cls(environment_folder(RAW), environment_folder(PREPROCESSED), environment_folder(RESULTS))

    def with_results(self, results: Path) -> NnunetPaths:
        """The same raw and preprocessed folders with another results folder."""
        return NnunetPaths(self.raw, self.preprocessed, results)

    def environment(self) -> dict[str, str]:
        """The environment variables nnU-Net reads, as strings."""
        return {RAW: str(self.raw), PREPROCESSED: str(self.preprocessed), RESULTS: str(self.results)}

    def create(self) -> None:
        """Create the three folders if they are missing."""
        for folder in (self.raw, self.preprocessed, self.results):
            folder.mkdir(parents=True, exist_ok=True)
