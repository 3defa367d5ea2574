"""Damaged NIfTI files are refused by name, for every datatype and both endings; intact ones pass."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from bad_inputs import break_gzip_checksum, break_header, truncate, write_volume

from strokeseg.errors import CorruptImageError, InputDataError
from strokeseg.image_integrity import check_image_complete
from strokeseg.io import (
    count_nonfinite_voxels,
    read_array,
    staging_directory,
    write_image_atomic,
    write_json_atomic,
)

DTYPES = (np.uint8, np.int16, np.int32, np.float32, np.float64)


def _mask(dtype: type = np.uint8) -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.random((12, 20, 24)) > 0.7).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ending", [".nii.gz", ".nii"])
def test_a_cut_off_file_of_any_dtype_is_refused_by_name(tmp_path: Path, dtype: type, ending: str) -> None:
    path = truncate(write_volume(tmp_path / f"case_7{ending}", _mask(dtype)), keep=0.7)
    with pytest.raises(CorruptImageError, match=r"reference .*case_7.* is incomplete.*copy the file again"):
        read_array(path, "reference")


def test_sitk_alone_reads_the_cut_off_mask_as_a_smaller_lesion(tmp_path: Path) -> None:
    """The failure this module exists for: without the check the missing voxels silently read as 0."""
    mask = _mask()
    path = truncate(write_volume(tmp_path / "cut.nii", mask), keep=0.5)
    silently = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert silently.sum() < mask.sum()
    with pytest.raises(CorruptImageError):
        check_image_complete(path)


def test_a_gzip_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    path = break_gzip_checksum(write_volume(tmp_path / "case.nii.gz", _mask()))
    with pytest.raises(CorruptImageError, match="gzip stream fails to decompress"):
        read_array(path, "prediction")


def test_a_broken_header_is_refused(tmp_path: Path) -> None:
    for ending in (".nii.gz", ".nii"):
        path = break_header(write_volume(tmp_path / f"case{ending}", _mask()))
        with pytest.raises(CorruptImageError, match="no valid NIfTI header"):
            read_array(path)


def test_an_unknown_datatype_code_is_refused(tmp_path: Path) -> None:
    path = write_volume(tmp_path / "case.nii", _mask())
    data = bytearray(path.read_bytes())
    data[70:72] = (999).to_bytes(2, "little")  # NIfTI-1 datatype field
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match="unknown datatype code 999"):
        read_array(path)


def test_a_cut_off_float_file_is_refused_before_the_nan_check(tmp_path: Path) -> None:
    """nibabel's NaN count used to abort with a bare EOFError on such a file."""
    path = truncate(write_volume(tmp_path / "image.nii.gz", _mask(np.float32)), keep=0.5)
    with pytest.raises(CorruptImageError, match="incomplete"):
        count_nonfinite_voxels(path)


@pytest.mark.parametrize("ending", [".nii.gz", ".nii"])
def test_nan_and_inf_are_counted_across_pieces_and_byte_orders(tmp_path: Path, ending: str) -> None:
    """The count made while checking equals numpy's on the array, for a file larger than one piece."""
    array = np.zeros((300, 100, 100), dtype=np.float32)  # 12 MB: more than one decompressed piece
    flat = array.reshape(-1)
    positions = [0, 2_097_151, 2_097_152, 2_500_000, flat.size - 1]  # around the 8 MiB piece boundary, the ends
    flat[positions[:3]] = np.nan
    flat[positions[3:]] = [np.inf, -np.inf]
    assert count_nonfinite_voxels(write_volume(tmp_path / f"a{ending}", array)) == 5
    big_endian = tmp_path / f"big{ending}"
    data = np.zeros((7, 5, 3), dtype=np.float64)
    data[1, 2, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4), nib.Nifti1Header(endianness=">")), str(big_endian))
    assert count_nonfinite_voxels(big_endian) == 1
    with pytest.raises(InputDataError, match="contains 1 NaN or infinite voxels"):
        read_array(big_endian)


@pytest.mark.parametrize("dtype", DTYPES)
def test_intact_files_pass_and_read_unchanged(tmp_path: Path, dtype: type) -> None:
    mask = _mask(dtype)
    for ending in (".nii.gz", ".nii"):
        array, _ = read_array(write_volume(tmp_path / f"case{ending}", mask))
        np.testing.assert_array_equal(array, mask)


def test_nifti2_big_endian_and_multi_member_gzip_pass(tmp_path: Path) -> None:
    mask = _mask(np.int16)
    nifti2 = tmp_path / "two.nii.gz"
    nib.save(nib.Nifti2Image(mask.T, np.eye(4)), str(nifti2))
    check_image_complete(nifti2)
    big_endian = tmp_path / "big.nii"
    nib.save(nib.Nifti1Image(mask.T, np.eye(4), nib.Nifti1Header(endianness=">")), str(big_endian))
    assert nib.load(str(big_endian)).header.endianness == ">"
    check_image_complete(big_endian)
    truncate(big_endian, keep=0.9)
    with pytest.raises(CorruptImageError):
        check_image_complete(big_endian)
    plain = write_volume(tmp_path / "plain.nii", mask).read_bytes()
    members = tmp_path / "members.nii.gz"
    members.write_bytes(gzip.compress(plain[:1000]) + gzip.compress(plain[1000:]))
    check_image_complete(members)
    members.write_bytes(gzip.compress(plain[:1000]) + gzip.compress(plain[1000:])[:-20])
    with pytest.raises(CorruptImageError, match=r"ends early|fails"):
        check_image_complete(members)


def test_a_compressible_mask_is_checked_in_bounded_pieces(tmp_path: Path) -> None:
    """An all-zero 200³ mask inflates ~1000-fold; the check still finds the cut."""
    path = write_volume(tmp_path / "zeros.nii.gz", np.zeros((200, 200, 200), np.uint8))
    check_image_complete(path)
    truncate(path, keep=0.8)
    with pytest.raises(CorruptImageError):
        check_image_complete(path)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = write_volume(tmp_path / "case.nii.gz", _mask())
    path.chmod(0)
    with pytest.raises(InputDataError, match="permission denied"):
        read_array(path, "reference")


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_get_the_permissions_of_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        json_file = write_json_atomic(tmp_path / "a.json", {"a": 1})
        image_file = write_image_atomic(sitk.Image(2, 2, 2, sitk.sitkUInt8), tmp_path / "b.nii.gz")
    finally:
        os.umask(previous)
    for path in (json_file, image_file):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.nii.gz"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_staging_folders_get_the_permissions_of_the_umask(tmp_path: Path, umask: int) -> None:
    """The location atlas is built in a staging folder that becomes the shared cache folder."""
    previous = os.umask(umask)
    try:
        first, second = (staging_directory(tmp_path, ".atlas.") for _ in range(2))
    finally:
        os.umask(previous)
    assert first != second and first.name.startswith(".atlas.")
    for folder in (first, second):
        assert folder.is_dir() and not any(folder.iterdir())
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
