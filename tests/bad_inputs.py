"""Makers of damaged image files for the tests: cut-off and checksum-broken gzip, broken headers, flipped axes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import SimpleITK as sitk


def write_volume(path: Path, array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
                 direction: tuple[float, ...] | None = None) -> Path:
    """Write ``array`` (z, y, x) as an image at ``path`` (spacing x, y, z in mm; direction row-major 3×3)."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    if direction is not None:
        image.SetDirection(direction)
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


def flipped_direction(axis: int) -> tuple[float, ...]:
    """Identity direction (x, y, z) with ``axis`` reversed."""
    direction = np.eye(3)
    direction[axis, axis] = -1
    return tuple(direction.ravel().tolist())


def flip_axis_keeping_world(array_zyx: np.ndarray, spacing: tuple[float, float, float],
                            axis_xyz: int) -> sitk.Image:
    """The same physical image as ``array_zyx`` on the identity grid, stored with axis ``axis_xyz`` reversed.

    The voxel order and direction change, the origin moves to the other end; every voxel keeps its world
    position, so a correct reader finds the same lesion.
    """
    flipped = np.flip(array_zyx, axis=2 - axis_xyz).copy()
    image = sitk.GetImageFromArray(flipped)
    image.SetSpacing(spacing)
    image.SetDirection(flipped_direction(axis_xyz))
    origin = [0.0, 0.0, 0.0]
    origin[axis_xyz] = (array_zyx.shape[2 - axis_xyz] - 1) * spacing[axis_xyz]
    image.SetOrigin(origin)
    return image
