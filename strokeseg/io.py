"""Image reading, geometry checks and atomic writes.

Conventions:
    * Images are read with SimpleITK; arrays come back in SimpleITK's (z, y, x) index order, spacings
      are reported in the same order as the array axes unless a function says otherwise.
    * Every file strokeseg writes goes to a temporary file in the destination folder first and is then
      renamed over the target (``os.replace``), so a crash never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from strokeseg.errors import GeometryError, InputDataError, OutputExistsError
from strokeseg.image_integrity import check_image_complete

PathLike = str | os.PathLike[str]

#: File endings strokeseg reads as images.
IMAGE_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd")


def image_suffix(path: PathLike) -> str:
    """Return the image ending of ``path`` (``.nii.gz`` counts as one ending), or raise InputDataError."""
    name = Path(path).name.lower()
    for suffix in IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise InputDataError(f"{path}: not an image file strokeseg reads (expected one of {', '.join(IMAGE_SUFFIXES)})")


def strip_image_suffix(path: PathLike) -> str:
    """File name of ``path`` without its image ending (``case_001.nii.gz`` -> ``case_001``)."""
    name = Path(path).name
    return name[: len(name) - len(image_suffix(path))]


def image_files(folder: Path, what: str) -> dict[str, Path]:
    """case_id -> image file for every image in ``folder`` (not recursive); the case ID is the file name
    without its image ending. Files that are not images (nnU-Net's ``.json``, ``.npz``, ``.pkl``) and hidden
    files are ignored.

    Args:
        folder: the folder (references, predictions, brain masks ...).
        what: what the folder holds, for error messages.

    Raises:
        InputDataError: the folder is missing, or two files share a case ID (``a.nii`` and ``a.nii.gz``).
    """
    if not folder.is_dir():
        raise InputDataError(f"{what} folder {folder} does not exist")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or not path.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        case_id = strip_image_suffix(path)
        if case_id in files:
            raise InputDataError(f"{what} folder {folder} holds two files for case {case_id!r}: "
                                 f"{files[case_id].name} and {path.name}; keep one")
        files[case_id] = path
    return files


@dataclass(frozen=True)
class Geometry:
    """Voxel grid of an image in SimpleITK's physical conventions (x, y, z order, mm, LPS)."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @classmethod
    def of(cls, image: sitk.Image) -> Geometry:
        """Geometry of a SimpleITK image."""
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()),
                   tuple(image.GetDirection()))

    def differences(self, other: Geometry, tolerance: float = 1e-4) -> list[str]:
        """Human-readable differences to ``other``; empty when both grids agree within ``tolerance`` (mm)."""
        problems = []
        if self.size != other.size:
            problems.append(f"size {self.size} vs {other.size}")
        for name in ("spacing", "origin", "direction"):
            mine, theirs = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            if mine.shape != theirs.shape or not np.allclose(mine, theirs, atol=tolerance, rtol=0):
                problems.append(f"{name} {tuple(np.round(mine, 5).tolist())} vs {tuple(np.round(theirs, 5).tolist())}")
        return problems


def read_image(path: PathLike, what: str = "image") -> sitk.Image:
    """Read an image file with SimpleITK, after checking that a NIfTI file is complete and intact.

    Raises:
        CorruptImageError: a NIfTI file is cut off, fails its gzip checksum or has a broken header
            (:func:`strokeseg.image_integrity.check_image_complete`).
        InputDataError: the file is missing, not readable, or SimpleITK cannot read it; the message names the file.
    """
    return _read_checked(Path(path), what)[0]


def read_array(path: PathLike, what: str = "image") -> tuple[np.ndarray, Geometry]:
    """Read an image as a numpy array (z, y, x) and its geometry, rejecting damaged files and NaN/inf values.

    SimpleITK's NIfTI reader silently turns NaN and ±inf into 0, so the voxels of a NIfTI file are counted as
    stored, during the completeness check.

    Raises:
        CorruptImageError: the file is cut off or damaged.
        InputDataError: the file is missing or unreadable, or holds NaN or infinite voxels.
    """
    image, nonfinite = _read_checked(Path(path), what)
    array = sitk.GetArrayFromImage(image)
    if image_suffix(path) not in (".nii", ".nii.gz"):
        nonfinite = _count_nonfinite_array(array)
    if nonfinite:
        raise InputDataError(f"{what} {path} contains {nonfinite} NaN or infinite voxels; fix or exclude this case")
    return array, Geometry.of(image)


def _read_checked(path: Path, what: str) -> tuple[sitk.Image, int]:
    """(image read by SimpleITK, NaN/inf voxels a NIfTI file stores) after the completeness check."""
    nonfinite = _check_complete(path, what)
    try:
        return sitk.ReadImage(str(path)), nonfinite
    except RuntimeError as error:
        raise InputDataError(f"{what} {path} could not be read ({_itk_reason(str(error))}); is it a valid, "
                             "complete image file? Copy it again from its source") from None


def _itk_reason(message: str) -> str:
    """The informative line of an ITK exception: its "ITK ERROR" line, else its last line.

    ITK ends the message of a cut-off ``.mha`` with the stale errno text "Reason: No such file or directory",
    which would mislead.
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ITK ERROR:"):
            return line.split(":", 2)[-1].strip() if line.count(":") >= 2 else line
    return lines[-1] if lines else "unknown reason"


def _check_complete(path: Path, what: str) -> int:
    """:func:`check_image_complete` with a missing or unopenable file as an InputDataError naming it."""
    if not path.is_file():
        raise InputDataError(f"{what} {path} does not exist")
    try:
        return check_image_complete(path, what)
    except PermissionError:
        raise InputDataError(f"{what} {path} cannot be opened (permission denied); make it readable "
                             f"(chmod u+r) or run as its owner") from None
    except OSError as error:
        raise InputDataError(f"{what} {path} could not be read ({error.strerror or error})") from None


def count_nonfinite_voxels(path: PathLike, array: np.ndarray | None = None, what: str = "image") -> int:
    """Number of NaN/inf voxels of an image file as stored.

    NIfTI files are counted while they are checked to be complete, because SimpleITK reads NaN and ±inf as 0
    (integer datatypes have none); other formats are checked on ``array`` (the data as read by SimpleITK),
    which is read when not given.

    Raises:
        CorruptImageError: a NIfTI file is cut off or damaged.
        InputDataError: the file is missing or unreadable.
    """
    path = Path(path)
    if image_suffix(path) in (".nii", ".nii.gz"):
        return _check_complete(path, what)
    if array is None:
        array = sitk.GetArrayFromImage(read_image(path, what))
    return _count_nonfinite_array(array)


def _count_nonfinite_array(array: np.ndarray) -> int:
    if not np.issubdtype(array.dtype, np.inexact):
        return 0
    return int(np.size(array) - np.count_nonzero(np.isfinite(array)))


def require_same_grid(reference: PathLike, other: PathLike, tolerance: float = 1e-4) -> None:
    """Raise GeometryError unless the two image files share one voxel grid (headers only are read)."""
    first, second = read_header_geometry(reference), read_header_geometry(other)
    problems = first.differences(second, tolerance)
    if problems:
        raise GeometryError(f"{other} is not on the grid of {reference}: {'; '.join(problems)}")


def read_header_geometry(path: PathLike) -> Geometry:
    """Geometry from the image header only (fast; the voxel data are not read)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"image {path} does not exist")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputDataError(f"image {path} could not be read; is it a valid image file?") from None
    return Geometry(tuple(reader.GetSize()), tuple(reader.GetSpacing()), tuple(reader.GetOrigin()),
                    tuple(reader.GetDirection()))


@contextlib.contextmanager
def atomic_path(target: PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` when the block succeeds.

    The temporary name keeps the target's ending so that writers that choose a format by extension
    (SimpleITK, matplotlib) work, and the file gets the permissions the user's umask gives any new file. On
    an exception the temporary file is removed and ``target`` is untouched.

    Raises:
        OutputExistsError: ``target`` exists and ``overwrite`` is false.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary_path = _create_temporary(target)
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def _create_temporary(target: Path) -> Path:
    """Create an empty, new file beside ``target`` with the permissions of a normally created file.

    ``tempfile.mkstemp`` would create it with mode 0600, so a shared output (a group-readable nnUNet_raw)
    would become private; ``os.open`` with mode 0666 lets the user's umask decide, as for any new file.
    """
    for _ in range(100):
        candidate = target.parent / f".{target.name}.{secrets.token_hex(6)}{_full_suffix(target)}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not create a temporary file beside {target}")


def staging_directory(parent: Path, prefix: str) -> Path:
    """Create a new, empty folder in ``parent`` (named ``prefix`` + random hex) with the permissions of a normally
    created folder, for outputs that are moved into place when complete.

    ``tempfile.mkdtemp`` would create it with mode 0700, so a shared cache (the location atlas) would become
    private; ``mkdir`` with mode 0777 lets the user's umask decide.
    """
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            candidate.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not create a staging folder in {parent}")


def _full_suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix


def read_json(path: PathLike) -> Any:
    """The content of a JSON file.

    Raises:
        InputDataError: the file is missing or not valid JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputDataError(f"{path} is not valid JSON ({error})") from None


def write_text_atomic(target: PathLike, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the path."""
    with atomic_path(target, overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(target)


def write_json_atomic(target: PathLike, data: Any, overwrite: bool = True) -> Path:
    """Write ``data`` as indented JSON to ``target`` atomically and return the path."""
    return write_text_atomic(target, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n",
                             overwrite)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_image_atomic(image: sitk.Image, target: PathLike, overwrite: bool = True,
                       compress: bool = True) -> Path:
    """Write a SimpleITK image to ``target`` atomically and return the path."""
    with atomic_path(target, overwrite) as temporary:
        sitk.WriteImage(image, str(temporary), compress)
    return Path(target)


def array_to_image(array: np.ndarray, like: sitk.Image | Geometry) -> sitk.Image:
    """A SimpleITK image holding ``array`` (z, y, x) on the grid of ``like``."""
    image = sitk.GetImageFromArray(array)
    geometry = like if isinstance(like, Geometry) else Geometry.of(like)
    if tuple(image.GetSize()) != geometry.size:
        raise GeometryError(f"array of shape {array.shape} does not fit a grid of size {geometry.size} (x, y, z)")
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    return image
