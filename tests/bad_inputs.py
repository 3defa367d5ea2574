"""Makers of bad image files for the tests: cut-off and checksum-broken gzip, broken headers, flipped, permuted
or shifted grids."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import SimpleITK as sitk


def volume(array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 2.0)) -> sitk.Image:
    """``array`` (z, y, x) as an image on the identity grid at ``spacing`` (x, y, z, mm)."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    return image


def write_volume(path: Path, array: np.ndarray | sitk.Image, spacing: tuple[float, float, float] = (1.0, 1.0, 2.0)
                 ) -> Path:
    """Write ``array`` (z, y, x; or an image as it is) at ``path`` (spacing x, y, z in mm for an array)."""
    image = array if isinstance(array, sitk.Image) else volume(array, spacing)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), path.name.endswith(".gz"))
    return path


def truncate(path: Path, keep: float = 0.6) -> Path:
    """Cut ``path`` to the first ``keep`` share of its bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def break_gzip_checksum(path: Path) -> Path:
    """Flip one bit of the gzip CRC-32 (the 8 last bytes are CRC-32 and length): decompresses, fails the check."""
    data = bytearray(path.read_bytes())
    data[-8] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def break_header(path: Path) -> Path:
    """Overwrite the NIfTI ``sizeof_hdr`` field with garbage (the file stays a valid gzip stream)."""
    compressed = path.name.endswith(".gz")
    data = bytearray(gzip.decompress(path.read_bytes()) if compressed else path.read_bytes())
    data[0:4] = b"\x07\x07\x07\x07"
    path.write_bytes(gzip.compress(bytes(data)) if compressed else bytes(data))
    return path


def flipped(image: sitk.Image) -> sitk.Image:
    """The same physical image stored with its y axis reversed (direction and origin follow the flip)."""
    return sitk.Flip(image, [False, True, False])


def permuted(image: sitk.Image) -> sitk.Image:
    """The same physical image stored in another axis order (x, y, z -> z, x, y; direction follows)."""
    return sitk.PermuteAxes(image, [2, 0, 1])


def shifted(image: sitk.Image, mm: float = 2.0) -> sitk.Image:
    """The same voxels moved ``mm`` along x: another grid, which no reorientation fixes."""
    moved = sitk.Image(image)
    origin = list(moved.GetOrigin())
    origin[0] += mm
    moved.SetOrigin(origin)
    return moved
