"""Phantom cohorts: determinism, contrasts, lesion plans, and the geometry/metadata of every layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from strokeseg.cases import canonical_vendor, read_cases
from strokeseg.cli import main
from strokeseg.defaults import PHANTOM_LESION_VOLUME_RANGES_ML, VOLUME_LARGE_ABOVE_ML, VOLUME_SMALL_BELOW_ML
from strokeseg.errors import ConfigurationError, OutputExistsError
from strokeseg.location.atlas import LOCATION_CLASSES
from strokeseg.synthetic import DWI_SITES, SiteProfile, generate_cohort
from strokeseg.synthetic.contrast import Pathology, adc_map, diffusion_signals
from strokeseg.synthetic.layouts import ATLAS_METADATA_COLUMNS, ATLAS_METADATA_FILE, MANIFEST_COLUMNS
from strokeseg.synthetic.phantom import case_rng, make_phantom, sample_lesions, sample_plan


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's atlas cache (shared with the location tests)."""
    return tmp_path_factory.getbasetemp() / "strokeseg_cache"


def _arrays(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def test_phantoms_are_deterministic_by_seed_and_index(cache_dir: Path) -> None:
    first = make_phantom(5, 11, DWI_SITES[2], "acute", cache_dir=cache_dir)
    again = make_phantom(5, 11, DWI_SITES[2], "acute", cache_dir=cache_dir)
    for name in ("dwi", "adc", "b0"):
        assert np.array_equal(_arrays(first.images[name]), _arrays(again.images[name]))
    assert np.array_equal(_arrays(first.label), _arrays(again.label))
    assert first.metadata == again.metadata
    assert sample_plan(case_rng(11, 5), DWI_SITES[2], "acute") == first.plan
    assert sample_plan(case_rng(11, 6), DWI_SITES[2], "acute") != first.plan


def test_acute_lesion_is_bright_on_dwi_and_dark_on_adc(cache_dir: Path) -> None:
    case = make_phantom(1, 3, DWI_SITES[0], "acute", lesion_classes=("corona radiata",), cache_dir=cache_dir)
    lesion = _arrays(case.label) > 0
    dwi, adc = _arrays(case.images["dwi"]).astype(float), _arrays(case.images["adc"]).astype(float)
    assert lesion.sum() > 20
    brain = (adc > 400) & (adc < 1100) & ~lesion  # parenchyma by its ADC (10^-6 mm²/s)
    assert np.median(dwi[lesion]) > 1.3 * np.median(dwi[brain])
    assert np.median(adc[lesion]) < 0.7 * np.median(adc[brain])
    assert case.metadata["location"] == "corona radiata"
    assert case.images["dwi"].GetPixelID() == sitk.sitkInt16


def test_distractors_are_bright_on_dwi_but_not_dark_on_adc() -> None:
    shape = (1, 1, 4)
    zeros = np.zeros(shape, np.float32)
    acute = np.array([[[0, 1, 0, 0]]], np.float32)
    shine = np.array([[[0, 0, 1, 0]]], np.float32)
    rim = np.array([[[0, 0, 0, 1]]], np.float32)
    pathology = Pathology(acute=acute, acute_adc_factor=np.full(shape, 0.5, np.float32), acute_t2_factor=1.1,
                          flair_factor=1.0, shine_through=shine, wmh=zeros, chronic_core=zeros, chronic_rim=zeros,
                          susceptibility=rim)
    wm = np.ones(shape, np.float32)
    b0, dwi = diffusion_signals(zeros, wm, zeros, zeros, pathology, DWI_SITES[0])
    adc = adc_map(b0, dwi, DWI_SITES[0].b_value, 0.0)[0, 0]
    normal, infarct, shine_through, artefact = dwi[0, 0]
    assert infarct > 1.3 * normal and shine_through > 1.3 * normal and artefact > 1.3 * normal
    assert adc[1] < 0.6 * adc[0]            # the infarct restricts diffusion
    assert adc[2] >= adc[0] and adc[3] == pytest.approx(adc[0], rel=1e-4)  # the distractors do not


def test_lesion_plans_cover_volume_strata_and_patterns() -> None:
    volumes, counts, multi_class = [], [], 0
    for index in range(300):
        specs = sample_lesions(case_rng(1, index))
        volumes += [spec.volume_ml for spec in specs]
        counts.append(len(specs))
        multi_class += len({name for spec in specs for name in spec.classes}) > 1
    volumes_array = np.asarray(volumes)
    assert (volumes_array < VOLUME_SMALL_BELOW_ML).any() and (volumes_array > VOLUME_LARGE_ABOVE_ML).any()
    assert ((volumes_array >= VOLUME_SMALL_BELOW_ML) & (volumes_array <= VOLUME_LARGE_ABOVE_ML)).any()
    assert 1 in counts and max(counts) >= 3 and multi_class > 20
    low, high = PHANTOM_LESION_VOLUME_RANGES_ML[0][0], PHANTOM_LESION_VOLUME_RANGES_ML[-1][1]
    assert volumes_array.min() >= 0.1 and volumes_array.max() <= high * 3
    assert low > 0
    with pytest.raises(ConfigurationError, match="unknown location class"):
        sample_lesions(case_rng(1, 0), ("hippocampus",))


def test_site_profile_validation() -> None:
    with pytest.raises(ConfigurationError, match="in_plane_mm"):
        SiteProfile("X", "GE", "GE MEDICAL SYSTEMS", "m", 3.0, in_plane_mm=(1.2, 0.8))
    with pytest.raises(ConfigurationError, match="orientation"):
        SiteProfile("X", "GE", "GE MEDICAL SYSTEMS", "m", 3.0, orientation="XYZ")
    vendors = {(site.vendor, site.field_strength_t) for site in DWI_SITES}
    assert {vendor for vendor, _ in vendors} == {"Siemens", "GE", "Philips"}
    assert {field for _, field in vendors} == {1.5, 3.0}
    assert all(canonical_vendor(site.manufacturer) == site.vendor for site in DWI_SITES)


# ------------------------------------------------------------------------------------------------
# Layouts on disk
# ------------------------------------------------------------------------------------------------
def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin()) and np.allclose(a.GetDirection(), b.GetDirection()))


def test_registry_layout_and_resume(tmp_path: Path, cache_dir: Path) -> None:
    out = generate_cohort(tmp_path / "registry", "registry", 3, seed=5, workers=2, cache_dir=cache_dir,
                          flair=True, montage_cases=2)
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns) == [*MANIFEST_COLUMNS, "flair"]
    cases = read_cases(out / "manifest.csv")  # the cases.csv reader understands the manifest's types
    assert cases["chronic_infarct"].dtype == "boolean"
    truth = pd.read_csv(out / "phantom_truth.csv")
    for row in manifest.itertuples():
        site = next(s for s in DWI_SITES if s.name == row.site)
        dwi = sitk.ReadImage(str(out / row.dwi))
        for column in ("adc", "b0", "mask"):
            assert _same_grid(dwi, sitk.ReadImage(str(out / getattr(row, column))))
        flair = sitk.ReadImage(str(out / row.flair))
        assert not _same_grid(dwi, flair)
        low, high = site.in_plane_mm
        assert low - 1e-6 <= dwi.GetSpacing()[0] <= high + 1e-6
        assert dwi.GetSpacing()[2] in site.slice_thickness_mm
        mask = _arrays(sitk.ReadImage(str(out / row.mask)))
        assert set(np.unique(mask)) <= {0, 1}
        assert row.vendor == site.vendor and row.field_strength_t == site.field_strength_t
        assert row.location in (*LOCATION_CLASSES, "multiple")
        volume = mask.sum() * np.prod(dwi.GetSpacing()) / 1000.0
        assert truth.loc[truth.case_id == row.case_id, "lesion_volume_ml"].item() == pytest.approx(volume, abs=1e-3)
    assert manifest["site"].nunique() == 3
    assert (out / "montage.png").read_bytes()[:4] == b"\x89PNG"
    # the same call again resumes (nothing to do); other arguments need --overwrite
    stamp = (out / manifest["dwi"][0]).stat().st_mtime_ns
    generate_cohort(out, "registry", 3, seed=5, cache_dir=cache_dir, flair=True, montage_cases=0)
    assert (out / manifest["dwi"][0]).stat().st_mtime_ns == stamp
    # --overwrite only replaces a cohort made with other arguments: the same arguments still resume
    generate_cohort(out, "registry", 3, seed=5, cache_dir=cache_dir, flair=True, montage_cases=0, overwrite=True)
    assert (out / manifest["dwi"][0]).stat().st_mtime_ns == stamp
    with pytest.raises(OutputExistsError, match="--overwrite"):
        generate_cohort(out, "registry", 3, seed=6, cache_dir=cache_dir)


def test_written_cohort_does_not_depend_on_workers(tmp_path: Path, cache_dir: Path) -> None:
    out = generate_cohort(tmp_path / "two", "registry", 2, seed=9, workers=2, cache_dir=cache_dir, montage_cases=0)
    in_process = make_phantom(1, 9, DWI_SITES[1], "acute", cache_dir=cache_dir)  # case 1 of that cohort
    written = pd.read_csv(out / "manifest.csv").iloc[1]
    assert np.array_equal(_arrays(sitk.ReadImage(str(out / written["dwi"]))), _arrays(in_process.images["dwi"]))
    assert np.array_equal(_arrays(sitk.ReadImage(str(out / written["mask"]))), _arrays(in_process.label))
    assert written["location"] == in_process.metadata["location"]


def test_overwrite_never_deletes_foreign_folders(tmp_path: Path, cache_dir: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    with pytest.raises(OutputExistsError, match="refusing to delete"):
        generate_cohort(foreign, "registry", 1, seed=1, overwrite=True, cache_dir=cache_dir)
    assert (foreign / "notes.txt").read_text() == "precious"
    with pytest.raises(ConfigurationError, match="unknown layout"):
        generate_cohort(tmp_path / "x", "brats", 1, seed=1)


def test_isles22_layout(tmp_path: Path, cache_dir: Path) -> None:
    out = generate_cohort(tmp_path / "isles", "isles22", 2, seed=4, cache_dir=cache_dir, montage_cases=0)
    participants = pd.read_csv(out / "participants.tsv", sep="\t")
    assert list(participants["participant_id"]) == ["sub-strokecase0001", "sub-strokecase0002"]
    flat = out / "rawdata/sub-strokecase0001/ses-0001"
    nested = out / "rawdata/sub-strokecase0002/ses-0001"
    assert (flat / "sub-strokecase0001_ses-0001_dwi.nii.gz").is_file()
    assert (flat / "sub-strokecase0001_ses-0001_flair.nii.gz").is_file()
    assert (nested / "dwi/sub-strokecase0002_ses-0001_adc.nii.gz").is_file()
    assert (nested / "anat/sub-strokecase0002_ses-0001_FLAIR.nii.gz").is_file()
    sidecar = json.loads((nested / "dwi/sub-strokecase0002_ses-0001_dwi.json").read_text())
    for key in ("Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "DiffusionBValue", "SliceThickness"):
        assert key in sidecar
    assert canonical_vendor(sidecar["Manufacturer"]) == participants["vendor"][1]
    assert sidecar["DiffusionBValue"] == 1000.0
    dwi = sitk.ReadImage(str(nested / "dwi/sub-strokecase0002_ses-0001_dwi.nii.gz"))
    mask = sitk.ReadImage(str(out / "derivatives/sub-strokecase0002/ses-0001/sub-strokecase0002_ses-0001_msk.nii.gz"))
    assert mask.GetPixelID() == sitk.sitkUInt16 and _same_grid(dwi, mask)
    assert set(np.unique(_arrays(mask))) <= {0, 1}
    assert json.loads((out / "dataset_description.json").read_text())["BIDSVersion"]


def test_atlas2_layout(tmp_path: Path, cache_dir: Path) -> None:
    out = generate_cohort(tmp_path / "atlas", "atlas2", 4, seed=4, workers=2, cache_dir=cache_dir, montage_cases=1)
    metadata = pd.read_csv(out / "ATLAS_2" / ATLAS_METADATA_FILE)
    assert list(metadata.columns) == list(ATLAS_METADATA_COLUMNS)
    assert set(metadata["Split"]) == {"Training", "Testing"}
    for row in metadata.itertuples():
        subject = row[1]
        folder = out / "ATLAS_2" / row.Split / row.Site / subject / "ses-1" / "anat"
        stem = f"{subject}_ses-1_space-MNI152NLin2009aSym"
        t1 = sitk.ReadImage(str(folder / f"{stem}_T1w.nii.gz"))
        assert t1.GetSize() == (197, 233, 189) and np.allclose(t1.GetSpacing(), 1.0)
        mask_path = folder / f"{stem}_label-L_desc-T1lesion_mask.nii.gz"
        assert mask_path.is_file() == (row.Split == "Training")
        if mask_path.is_file():
            assert _arrays(sitk.ReadImage(str(mask_path))).sum() > 0
        assert subject.startswith(f"sub-r{row.Site[1:]}s")


def test_wmh_layout(tmp_path: Path, cache_dir: Path) -> None:
    out = generate_cohort(tmp_path / "wmh", "wmh", 3, seed=8, cache_dir=cache_dir, montage_cases=0)
    folders = sorted(p.relative_to(out / "training").as_posix() for p in (out / "training").glob("*/*"))
    assert folders == ["GE3T/100", "Singapore/50", "Utrecht/0"]
    labels_seen: set[int] = set()
    for folder in folders:
        case = out / "training" / folder
        flair = sitk.ReadImage(str(case / "pre/FLAIR.nii.gz"))
        assert _same_grid(flair, sitk.ReadImage(str(case / "pre/T1.nii.gz")))
        wmh = sitk.ReadImage(str(case / "wmh.nii.gz"))
        assert _same_grid(flair, wmh) and flair.GetSpacing()[2] == pytest.approx(3.0)
        labels_seen |= set(np.unique(_arrays(wmh)).tolist())
    assert labels_seen <= {0, 1, 2} and 1 in labels_seen


def test_synth_cli_writes_cohort_and_montage(tmp_path: Path, cache_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["synth", "--out", str(out), "--layout", "registry", "--n-cases", "1", "--seed", "3",
                 "--sites", "HospitalC", "--cache-dir", str(cache_dir), "--montage-cases", "1"])
    assert code == 0
    assert "montage" in capsys.readouterr().out
    assert set(pd.read_csv(out / "manifest.csv")["vendor"]) == {"Philips"}
    assert (out / "montage.png").is_file()
    assert main(["synth", "--out", str(out), "--layout", "registry", "--n-cases", "2", "--sites", "Nowhere"]) == 2


def test_wmh_registry_layout_converts_flair_only_with_ignore_label_and_infarct_masks(
        tmp_path: Path, cache_dir: Path) -> None:
    out = tmp_path / "wmh_registry"  # two cases: WMH phantoms are the slowest to make
    assert main(["synth", "--out", str(out), "--layout", "wmh-registry", "--n-cases", "2", "--seed", "8",
                 "--cache-dir", str(cache_dir), "--montage-cases", "0"]) == 0
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False).set_index("case_id")
    assert list(manifest.columns) == ["flair", "mask", "infarct_mask", "site", "vendor", "field_strength_t",
                                      "chronic_infarct", "split"]
    assert list(manifest["site"]) == ["Utrecht", "Singapore"]
    raw = tmp_path / "raw"
    assert main(["convert", "registry", str(out), "-d", "120", "--raw", str(raw), "--channels", "FLAIR",
                 "--ignore-label", "--allow-empty-masks"]) == 0
    dataset = raw / "Dataset120_StrokeRegistry"
    assert json.loads((dataset / "dataset.json").read_text())["channel_names"] == {"0": "FLAIR"}
    cases = read_cases(dataset / "cases.csv").set_index("case_id")
    truth = pd.read_csv(out / "phantom_truth.csv").set_index("case_id")
    assert sorted(cases.index) == sorted(manifest.index)
    for case_id, row in cases.iterrows():
        labels = sitk.ReadImage(str(out / manifest.loc[case_id, "mask"]))
        voxel_ml = float(np.prod(labels.GetSpacing())) / 1000
        assert row["lesion_volume_ml"] == pytest.approx(np.count_nonzero(_arrays(labels) == 1) * voxel_ml)
        assert row["vendor"] == truth.loc[case_id, "vendor"]  # from the FLAIR's sidecar
        assert pd.isna(row["infarct_volume_ml"]) == (manifest.loc[case_id, "infarct_mask"] == "")
        if manifest.loc[case_id, "infarct_mask"]:  # the infarct mask is the ignore-labelled region
            assert manifest.loc[case_id, "chronic_infarct"] == "yes"
            assert row["infarct_volume_ml"] == pytest.approx(row["ignore_volume_ml"])
