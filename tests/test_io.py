"""Image reading, geometry checks and atomic writes on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from strokeseg.errors import GeometryError, InputDataError, OutputExistsError
from strokeseg.io import (
    Geometry,
    array_to_image,
    atomic_path,
    image_files,
    read_array,
    read_json,
    require_same_grid,
    strip_image_suffix,
    write_image_atomic,
    write_json_atomic,
)


def _image(shape=(4, 5, 6), spacing=(1.0, 1.0, 3.0), value=1.0) -> sitk.Image:
    image = sitk.GetImageFromArray(np.full(shape, value, dtype=np.float32))
    image.SetSpacing(spacing)
    return image


def test_strip_image_suffix_handles_double_endings() -> None:
    assert strip_image_suffix("a/case_001_0000.nii.gz") == "case_001_0000"
    assert strip_image_suffix("b.mha") == "b"
    with pytest.raises(InputDataError, match="not an image file"):
        strip_image_suffix("notes.txt")


def test_image_files_keys_images_by_case_id_and_skips_other_files(tmp_path: Path) -> None:
    for name in ("case_2.nii.gz", "case_1.mha", "case_1.npz", "case_1.pkl", ".hidden.nii.gz", "plans.json"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.nii.gz").mkdir()
    assert image_files(tmp_path, "predictions") == {"case_1": tmp_path / "case_1.mha",
                                                    "case_2": tmp_path / "case_2.nii.gz"}
    (tmp_path / "case_2.nii").write_bytes(b"")
    with pytest.raises(InputDataError, match=r"predictions folder .* two files for case 'case_2'"):
        image_files(tmp_path, "predictions")
    with pytest.raises(InputDataError, match=r"references folder .*missing does not exist"):
        image_files(tmp_path / "missing", "references")


def test_read_json_names_a_missing_or_invalid_file(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "good.json", {"val": ["a"]})
    assert read_json(tmp_path / "good.json") == {"val": ["a"]}
    with pytest.raises(InputDataError, match=r"missing\.json does not exist"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"bad\.json is not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_read_array_rejects_nan_and_names_the_file(tmp_path: Path) -> None:
    image = _image(value=np.nan)
    path = write_image_atomic(image, tmp_path / "bad.nii.gz")
    with pytest.raises(InputDataError, match=r"bad\.nii\.gz contains 120 NaN"):
        read_array(path)


def test_read_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        read_array(tmp_path / "missing.nii.gz")
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"not an image")
    with pytest.raises(InputDataError, match="could not be read"):
        read_array(corrupt)


def test_require_same_grid_reports_the_difference(tmp_path: Path) -> None:
    a = write_image_atomic(_image(), tmp_path / "a.nii.gz")
    b = write_image_atomic(_image(spacing=(1.0, 1.0, 5.0)), tmp_path / "b.nii.gz")
    require_same_grid(a, a)
    with pytest.raises(GeometryError, match="spacing"):
        require_same_grid(a, b)


def test_atomic_path_leaves_target_untouched_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_refuses_to_overwrite_without_permission(tmp_path: Path) -> None:
    target = write_json_atomic(tmp_path / "x.json", {"a": np.int64(3)})
    assert target.read_text().strip() == '{\n  "a": 3\n}'
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_json_atomic(target, {}, overwrite=False)


def test_array_to_image_keeps_geometry() -> None:
    like = _image()
    image = array_to_image(np.zeros((4, 5, 6), dtype=np.uint8), like)
    assert Geometry.of(image) == Geometry.of(like)
    with pytest.raises(GeometryError):
        array_to_image(np.zeros((4, 5, 7)), like)
