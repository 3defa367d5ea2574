"""Typed errors. Every message says what is wrong, where (file, case), and what to do about it."""

from __future__ import annotations


class StrokesegError(Exception):
    """Base class of all errors strokeseg raises on purpose; the CLI prints them without a traceback."""

    exit_code: int = 2


class ConfigurationError(StrokesegError):
    """A setting, option or configuration file is invalid or inconsistent."""


class InputDataError(StrokesegError):
    """An input file or folder is missing, unreadable or malformed (e.g. a NaN image, a non-binary mask)."""


class CorruptImageError(InputDataError):
    """An image file is incomplete or damaged (cut off mid-copy, failed gzip checksum, broken header)."""


class GeometryError(InputDataError):
    """Two images that must share a voxel grid (shape, spacing, origin, direction) do not."""


class OutputExistsError(StrokesegError):
    """An output already exists and would be overwritten; pass ``--overwrite`` to replace it."""


class NnunetIntegrationError(StrokesegError):
    """nnU-Net is missing, of an untested version, not writable, or cannot find strokeseg's classes."""


class ExternalToolError(StrokesegError):
    """An external program (a stock nnU-Net CLI, dcm2niix, ...) failed; the message names its log."""
